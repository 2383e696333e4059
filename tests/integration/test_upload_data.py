"""upload-data against the real platform server: upload, skip, re-upload changes, resume, exit codes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from platform_fixture import admin_name

from brevettiai.errors import PlatformUnavailableError, PlatformValidationError
from brevettiai.platform.web_api import PlatformAPI
from brevettiai.utils.upload_data import UploadResult, main, upload_folder

pytestmark = pytest.mark.usefixtures("home")

ROOT = Path(__file__).resolve().parents[2]






@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    files = {
        "ok/a.png": b"a" * 10,
        "ok/b.png": b"b" * 20,
        "defect/scratch/c.bmp": b"c" * 30,
        "readme.txt": b"hello",
        "big.bin": os.urandom(3 * 1024 * 1024 + 17),  # several chunks
        "with space/d #1.png": b"d",
        ".hidden.png": b"not uploaded",
        ".annotations/ok/a.png.json": b"not uploaded either",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


VISIBLE = {"ok/a.png", "ok/b.png", "defect/scratch/c.bmp", "readme.txt", "big.bin", "with space/d #1.png"}


def _remote(web: PlatformAPI, dataset_id: str) -> dict[str, str]:
    return {e["name"].split("/", 1)[1]: e["md5"] for e in web.ls(dataset_id, recursive=True)
            if e.get("type", "file") == "file"}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_upload_then_rerun_skips_everything_and_changes_are_uploaded(web: PlatformAPI, folder: Path) -> None:
    name = f"upload-{uuid.uuid4().hex[:8]}"
    first = upload_folder(web, folder, dataset_name=name, workers=4, progress=False)
    assert isinstance(first, UploadResult) and first.ok
    assert (first.uploaded, first.skipped, first.failed) == (len(VISIBLE), 0, 0)
    assert first.bytes == sum((folder / r).stat().st_size for r in VISIBLE)
    remote = _remote(web, first.dataset.id)
    assert set(remote) == VISIBLE
    assert all(remote[r] == _md5(folder / r) for r in VISIBLE)
    assert web.download_url(f"/api/files/{first.dataset.id}/big.bin") == (folder / "big.bin").read_bytes()

    again = upload_folder(web, folder, dataset_name=name, progress=False)
    assert again.dataset.id == first.dataset.id
    assert (again.uploaded, again.skipped, again.failed, again.bytes) == (0, len(VISIBLE), 0, 0)

    (folder / "ok" / "a.png").write_bytes(b"changed, and longer")
    (folder / "ok" / "b.png").write_bytes(b"B" * 20)  # same size, other content
    (folder / "new.png").write_bytes(b"new")
    changed = upload_folder(web, folder, dataset_id=first.dataset.id, progress=False)
    assert (changed.uploaded, changed.skipped, changed.failed) == (3, len(VISIBLE) - 2, 0)
    remote = _remote(web, first.dataset.id)
    assert remote["ok/a.png"] == _md5(folder / "ok" / "a.png") and remote["ok/b.png"] == _md5(folder / "ok/b.png")
    assert "new.png" in remote
    assert len(web.get_dataset(name=name)) == 1


def test_failed_files_are_reported_and_a_rerun_resumes(web: PlatformAPI, folder: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real_upload = PlatformAPI.upload_file

    def flaky(self: PlatformAPI, resource: Any, path: str, local_file: Any, progress: Any = None) -> dict:
        if path == "big.bin":  # large files go one request each
            raise PlatformUnavailableError(f"connection dropped while sending {path}")
        return real_upload(self, resource, path, local_file, progress)

    monkeypatch.setattr(PlatformAPI, "upload_file", flaky)
    name = f"resume-{uuid.uuid4().hex[:8]}"
    dataset = web.create_dataset(name)
    # A file where the folder "defect" should be: the platform refuses defect/scratch/c.bmp (409), and only it,
    # although it travels in one archive with the other small files.
    web.upload_file(dataset.id, "defect", folder / "readme.txt")
    partial = upload_folder(web, folder, dataset_id=dataset.id, progress=False)
    assert not partial.ok and partial.failed == 2 and partial.uploaded == len(VISIBLE) - 2
    errors = dict(partial.errors)
    assert set(errors) == {"big.bin", "defect/scratch/c.bmp"}
    assert "connection dropped" in errors["big.bin"] and "409" in errors["defect/scratch/c.bmp"]
    assert set(_remote(web, dataset.id)) == VISIBLE - {"big.bin", "defect/scratch/c.bmp"} | {"defect"}

    monkeypatch.setattr(PlatformAPI, "upload_file", real_upload)
    web.client.delete(f"/api/files/{dataset.id}/defect")
    resumed = upload_folder(web, folder, dataset_id=dataset.id, progress=False)
    assert resumed.ok and (resumed.uploaded, resumed.skipped) == (2, len(VISIBLE) - 2)
    remote = _remote(web, dataset.id)
    assert set(remote) == VISIBLE and all(remote[r] == _md5(folder / r) for r in VISIBLE)


def test_ambiguous_dataset_name_is_an_error(web: PlatformAPI, folder: Path) -> None:
    name = f"twice-{uuid.uuid4().hex[:8]}"
    web.create_dataset(name)
    web.create_dataset(name)
    with pytest.raises(PlatformValidationError, match="--dataset_id"):
        upload_folder(web, folder, dataset_name=name, progress=False)


def test_default_dataset_name_is_the_folder_name(web: PlatformAPI, tmp_path: Path) -> None:
    folder = tmp_path / f"named-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"x")
    result = upload_folder(web, folder, progress=False)
    assert result.dataset.name == folder.name and result.uploaded == 1


# -- the command ------------------------------------------------------------------------------------


def _command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brevettiai.utils.upload_data", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**os.environ, **(env or {})})


def test_command_uploads_then_skips(platform_server: Any, folder: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    login = ["--host", platform_server.url, "--username", admin_name(platform_server),
             "--password", platform_server.admin_password]
    first = _command(str(folder), "--dataset_name", name, *login)
    assert first.returncode == 0, first.stderr
    assert f"{len(VISIBLE)} uploaded" in first.stdout and "0 failed" in first.stdout
    assert first.stdout.count("\n") == 1
    env = {"BREVETTI_AI_HOST": platform_server.url, "BREVETTI_AI_USER": admin_name(platform_server),
           "BREVETTI_AI_PW": platform_server.admin_password}
    again = _command(str(folder), "--dataset_name", name, env=env)
    assert again.returncode == 0, again.stderr
    assert "0 uploaded" in again.stdout and f"{len(VISIBLE)} skipped" in again.stdout


def test_command_bad_input_exits_2_with_a_clear_message(platform_server: Any, tmp_path: Path) -> None:
    missing = _command(str(tmp_path / "nope"), "--dataset_name", "x", "--host", platform_server.url)
    assert missing.returncode == 2 and "nope" in missing.stderr and "not a folder" in missing.stderr
    assert "Traceback" not in missing.stderr
    wrong = _command(str(tmp_path), "--host", platform_server.url, "--username", admin_name(platform_server),
                     "--password", "wrong password")
    assert wrong.returncode == 2 and "401" in wrong.stderr and "Traceback" not in wrong.stderr
    no_host = _command(str(tmp_path), "--username", "u", "--password", "p")
    assert no_host.returncode == 2 and "--host URL (or set BREVETTI_AI_HOST)" in no_host.stderr
    no_login = _command(str(tmp_path), "--host", platform_server.url)
    assert no_login.returncode == 2, no_login.stderr
    assert "pass --username and --password" in no_login.stderr and "PlatformAPI(" not in no_login.stderr
    unknown = _command(str(tmp_path), "--dataset_id", "no-such-dataset", "--host", platform_server.url,
                       "--username", admin_name(platform_server), "--password", platform_server.admin_password)
    assert unknown.returncode == 2 and "no-such-dataset" in unknown.stderr


def test_main_returns_the_exit_code(tmp_path: Path) -> None:
    assert main([str(tmp_path / "missing")]) == 2


def test_a_bad_flag_is_named_by_the_upload_data_command(tmp_path: Path) -> None:
    """Usage errors say which command refused what (not the main program's usage), exit 2, no traceback."""
    brevettiai = [sys.executable, "-c", "from brevettiai.cli import main; main()", "upload-data"]
    unknown = subprocess.run([*brevettiai, str(tmp_path), "--nope", "3"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "brevettiai upload-data: error: unrecognized arguments: --nope 3" in unknown.stderr
    assert "--dataset_name DATASET_NAME" in unknown.stderr  # its own usage line
    missing = subprocess.run(brevettiai, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "brevettiai upload-data: error:" in missing.stderr and "folder" in missing.stderr
