"""Local storage under attack or stress: symlinks, crashed uploads, a full disk, file modes, path limits.

Every case goes through the real server process over HTTP with a job key or the admin's token.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import job_client, model


def _job(admin: httpx.Client) -> tuple[str, str]:
    created = model(admin)
    return created["id"], created["apiKey"]


def _storage(server: PlatformServer) -> Path:
    return server.data_dir / "storage"


def test_a_symlink_in_a_job_folder_reaches_nothing_outside_it(fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    with server.client() as admin:
        job_id, key = _job(admin)
        victim_id, _ = _job(admin)
        assert admin.put(f"/api/files/{victim_id}/artifacts/secret.txt", content=b"victim's").status_code == 201
        job_dir = _storage(server) / job_id
        (job_dir / "artifacts").mkdir(exist_ok=True)
        (job_dir / "artifacts" / "passwd").symlink_to("/etc/passwd")
        (job_dir / "other").symlink_to(_storage(server) / victim_id)
        (job_dir / "same").symlink_to(job_dir / "artifacts")
        with job_client(server.url, key) as job:
            assert job.get(f"/api/files/{job_id}/artifacts/passwd").status_code == 404
            assert job.head(f"/api/files/{job_id}/artifacts/passwd").status_code == 404
            assert job.get(f"/api/files/{job_id}/other/artifacts/secret.txt").status_code == 404
            assert job.get(f"/api/ls/{job_id}/other/artifacts").status_code == 404
            assert job.get(f"/api/ls/{job_id}/same").status_code == 404
            # writing through the link: refused, nothing lands in the other job's folder
            written = job.put(f"/api/files/{job_id}/other/artifacts/secret.txt", content=b"overwritten")
            assert written.status_code == 409 and "symbolic link" in written.json()["detail"]
            created = job.put(f"/api/files/{job_id}/other/new/file.txt", content=b"planted")
            assert created.status_code == 409
            assert not (_storage(server) / victim_id / "new").exists()
            # deleting through the link: nothing there; deleting the folder holding links keeps their targets
            assert job.delete(f"/api/files/{job_id}/other/artifacts/secret.txt").status_code == 404
            assert job.delete(f"/api/files/{job_id}/other").status_code == 404
            listed = {e["name"] for e in job.get(f"/api/ls/{job_id}/").json()}
            assert f"{job_id}/other" not in listed and f"{job_id}/same" not in listed
            every = {e["name"] for e in job.get(f"/api/ls/{job_id}/", params={"recursive": "true"}).json()}
            assert not any("secret" in name or "passwd" in name for name in every), every
            assert job.delete(f"/api/files/{job_id}/artifacts").status_code == 204
        assert admin.get(f"/api/files/{victim_id}/artifacts/secret.txt").content == b"victim's"
        assert Path("/etc/passwd").exists()


def test_stale_upload_temp_files_are_removed_at_start(fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    uploads = _storage(server) / ".uploads"
    uploads.mkdir(exist_ok=True)
    stale, recent = uploads / "crashed-upload", uploads / "upload-in-progress"
    stale.write_bytes(b"x" * 1000)
    recent.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    server.restart()
    assert not stale.exists() and recent.exists()


def test_data_files_and_the_database_are_private(fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    with server.client() as admin:
        job_id, key = _job(admin)
        with job_client(server.url, key) as job:
            assert job.put(f"/api/files/{job_id}/artifacts/deep/model.bin", content=b"weights").status_code == 201
    stored = _storage(server) / job_id / "artifacts" / "deep" / "model.bin"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((_storage(server) / job_id).stat().st_mode) == 0o700
    assert stat.S_IMODE((server.data_dir / "brevettiai.db").stat().st_mode) == 0o600


def test_an_older_world_readable_database_becomes_private(fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    database = server.data_dir / "brevettiai.db"
    server.stop()
    database.chmod(0o644)
    server.start()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


@pytest.mark.parametrize("method", ["PUT", "GET", "HEAD", "DELETE"])
def test_names_over_255_bytes_and_paths_too_deep_or_long_are_4xx(method: str, platform_server: PlatformServer) -> None:
    server = platform_server
    with server.client() as admin:
        job_id, _ = _job(admin)
        cases = {
            "n" * 256: (400, "255 bytes"),
            "é" * 128: (400, "255 bytes"),  # 256 bytes in UTF-8
            "a/" * 2100 + "f.txt": (414, "levels"),
            "/".join(["d" * 200] * 6): (414, "1024 bytes"),
        }
        for path, (status, rule) in cases.items():
            answer = admin.request(method, f"/api/files/{job_id}/{path}", content=b"x" if method == "PUT" else None)
            assert answer.status_code == status, (path[:20], answer.status_code, answer.text[:200])
            if method != "HEAD":
                assert rule in answer.json()["detail"]
        assert admin.get(f"/api/ls/{job_id}/" + "a/" * 100).status_code == 414
        names = {e["name"] for e in admin.get(f"/api/ls/{job_id}/", params={"recursive": "true"}).json()}
        assert names == {f"{job_id}/info.json"}
        # at the limits themselves, all is well
        ok = "n" * 255 + "/" + "/".join(["d"] * 62)
        assert admin.put(f"/api/files/{job_id}/{ok}", content=b"fits").status_code == 201
        assert admin.get(f"/api/files/{job_id}/{ok}").content == b"fits"


@contextlib.contextmanager
def _small_disk(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_answers_507_and_the_server_carries_on(platform_server_factory: object, tmp_path: Path) -> None:
    with _small_disk(tmp_path / "small", "2m") as disk:
        server: PlatformServer = platform_server_factory("--storage", str(disk))  # type: ignore[operator]
        with server.client() as admin:
            job_id, key = _job(admin)
            with job_client(server.url, key) as job:
                full = job.put(f"/api/files/{job_id}/artifacts/big.bin", content=os.urandom(4 << 20))
                assert full.status_code == 507, full.text
                assert "storage is full" in full.json()["detail"] and "artifacts/big.bin" in full.json()["detail"]
                assert job.get(f"/api/files/{job_id}/artifacts/big.bin").status_code == 404
                assert not list((disk / ".uploads").iterdir())  # the partial file is gone, the space free again
                assert job.put(f"/api/files/{job_id}/artifacts/small.txt", content=b"fits").status_code == 201
                assert job.get(f"/api/files/{job_id}/artifacts/small.txt").content == b"fits"
        server.stop()  # before the disk goes away


def test_healthz_is_503_naming_the_storage_while_it_is_full(platform_server_factory: object, tmp_path: Path) -> None:
    from services import wait_for

    with _small_disk(tmp_path / "tiny", "1m") as disk:
        server: PlatformServer = platform_server_factory("--storage", str(disk))  # type: ignore[operator]
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        filler = disk / "filler.bin"
        with open(filler, "wb", buffering=0) as handle, contextlib.suppress(OSError):  # fill the disk up
            while True:
                handle.write(b"\0" * 4096)
        answer = wait_for(lambda: (r := httpx.get(f"{server.url}/healthz")).status_code == 503 and r,
                          timeout=20, what="/healthz noticing the full storage")
        assert answer.json()["detail"].startswith("storage: cannot write")
        filler.unlink()
        wait_for(lambda: httpx.get(f"{server.url}/healthz").status_code == 200, timeout=20,
                 what="/healthz noticing the storage has room again")
        server.stop()
