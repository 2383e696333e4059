"""``PUT /api/archive``: many files in one tar stream, over HTTP to the real server process.

Each file is stored as ``PUT /api/files`` would store it (md5, path rules, write rules); refused files
are listed with their reason while the others are stored; a broken archive keeps what came before.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import dataset, job_client, model


@pytest.fixture(scope="module")
def admin(platform_server: PlatformServer) -> httpx.Client:
    with platform_server.client() as client:
        yield client


def tar_of(files: dict[str, bytes], links: dict[str, str] | None = None, folders: tuple[str, ...] = ()) -> bytes:
    """A tar archive of these files (and symbolic links, and folder entries), as `tar cf -` writes it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in folders:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return out.getvalue()


def listed(client: httpx.Client, rid: str) -> dict[str, str | None]:
    return {e["name"].split("/", 1)[1]: e["md5"] for e in client.get(f"/api/ls/{rid}", params={"recursive": "true"}).json()}


def test_every_file_is_stored_with_its_md5_below_the_folder(admin: httpx.Client) -> None:
    rid = dataset(admin)["id"]
    files = {"ok/a.png": os.urandom(10_000), "ok/b.png": b"", "défaut/ç 1.png": os.urandom(3 * (1 << 20) + 5),
             "x" * 150 + "/long.png": b"long name"}  # beyond ustar's 100 bytes: a PAX header
    answer = admin.put(f"/api/archive/{rid}/images", content=tar_of(files, folders=("ok", "défaut")))
    assert answer.status_code == 201, answer.text
    md5s = {f"images/{name}": hashlib.md5(content).hexdigest() for name, content in files.items()}
    assert {f["path"]: f["md5"] for f in answer.json()["files"]} == {f"{rid}/{p}": m for p, m in md5s.items()}
    assert answer.json()["refused"] == []
    assert listed(admin, rid) == md5s  # the md5 index knows every file: listings need not read them
    got = admin.get(f"/api/files/{rid}/images/défaut/ç 1.png")
    assert got.content == files["défaut/ç 1.png"] and got.headers["etag"] == f'"{md5s["images/défaut/ç 1.png"]}"'
    again = admin.put(f"/api/archive/{rid}", content=tar_of({"ok/a.png": b"replaced"}))
    assert again.status_code == 201 and admin.get(f"/api/files/{rid}/ok/a.png").content == b"replaced"


def test_refused_files_are_listed_and_the_others_stored(admin: httpx.Client) -> None:
    rid = dataset(admin)["id"]
    assert admin.put(f"/api/files/{rid}/taken", content=b"a file").status_code == 201
    archive = tar_of({"good.png": b"good", "../escape.png": b"x", "/etc/evil": b"x", "taken/below.png": b"x",
                      "also-good.png": b"also"}, links={"link.png": "/etc/passwd"})
    answer = admin.put(f"/api/archive/{rid}", content=archive)
    assert answer.status_code == 201, answer.text
    refused = {r["name"]: r["status"] for r in answer.json()["refused"]}
    assert refused == {"../escape.png": 400, "/etc/evil": 400, "taken/below.png": 409, "link.png": 400}
    assert all(r["detail"] for r in answer.json()["refused"])
    assert set(listed(admin, rid)) == {"good.png", "also-good.png", "taken"}


def test_no_file_lands_through_a_symbolic_link_or_on_a_folder(admin: httpx.Client, tmp_path,
                                                              platform_server: PlatformServer) -> None:
    rid = dataset(admin)["id"]
    outside = tmp_path / "outside"
    outside.mkdir()
    storage = platform_server.data_dir / "storage" / rid
    (storage / "real").mkdir(parents=True)
    (storage / "linked").symlink_to(outside)  # made behind the server's back (the API makes no links)
    (storage / "real" / "inner").symlink_to(storage / "real")
    files = {"real/a.png": b"a", "linked/b.png": b"b", "linked/deeper/c.png": b"c", "real/inner/d.png": b"d",
             "real": b"a file where a folder is", "real/e.png": b"e"}
    answer = admin.put(f"/api/archive/{rid}", content=tar_of(files))
    assert answer.status_code == 201, answer.text
    refused = {r["name"]: r["status"] for r in answer.json()["refused"]}
    assert refused == {"linked/b.png": 409, "linked/deeper/c.png": 409, "real/inner/d.png": 409, "real": 409}
    assert list(outside.iterdir()) == []
    assert set(listed(admin, rid)) == {"real/a.png", "real/e.png"}
    assert admin.get(f"/api/files/{rid}/real/e.png").content == b"e"


def test_a_broken_archive_is_400_and_keeps_the_files_before_the_break(admin: httpx.Client,
                                                                       platform_server: PlatformServer) -> None:
    rid = dataset(admin)["id"]
    whole = tar_of({"first.png": b"1" * 1000, "second.png": os.urandom(200_000)})
    answer = admin.put(f"/api/archive/{rid}", content=whole[:2048 + 100_000])  # ends inside the second file
    assert answer.status_code == 400 and "broken" in answer.json()["detail"]
    assert listed(admin, rid) == {"first.png": hashlib.md5(b"1" * 1000).hexdigest()}
    assert admin.put(f"/api/archive/{rid}", content=b"no tar at all" * 100).status_code == 400
    uploads = platform_server.data_dir / "storage" / ".uploads"
    assert not uploads.exists() or not [p for p in uploads.iterdir() if p.stat().st_size > 0]


def test_a_job_key_writes_only_its_own_job_and_never_info_json(admin: httpx.Client,
                                                               platform_server: PlatformServer) -> None:
    given = dataset(admin)["id"]
    job = model(admin, datasetIds=[given])
    with job_client(platform_server.url, job["apiKey"]) as client:
        own = client.put(f"/api/archive/{job['id']}", content=tar_of({"artifacts/a.txt": b"a", "info.json": b"{}"}))
        assert own.status_code == 201, own.text
        assert [r["status"] for r in own.json()["refused"]] == [403]
        assert client.get(f"/api/files/{job['id']}/artifacts/a.txt").content == b"a"
        assert client.put(f"/api/archive/{given}", content=tar_of({"a.txt": b"a"})).status_code == 403
        assert client.put(f"/api/archive/{dataset(admin)['id']}", content=tar_of({"a.txt": b"a"})).status_code == 404
    assert httpx.put(f"{platform_server.url}/api/archive/{given}", content=tar_of({"a.txt": b"a"})).status_code == 401
    assert "info.json" not in listed(admin, job["id"]) or admin.get(f"/api/files/{job['id']}/info.json").json() != {}
