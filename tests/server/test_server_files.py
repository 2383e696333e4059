"""The files API over HTTP: streaming, Range, HEAD, ETag, listings, deletes, limits and server memory."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from email.utils import parsedate_to_datetime

import httpx
import psutil
import pytest
from platform_fixture import PlatformServer
from server_helpers import dataset, model

MiB = 1 << 20


@pytest.fixture(scope="module")
def admin(platform_server: PlatformServer) -> httpx.Client:
    with platform_server.client() as client:
        yield client


@pytest.fixture
def rid(admin: httpx.Client) -> str:
    return dataset(admin)["id"]


def test_put_get_head_etag(admin: httpx.Client, rid: str) -> None:
    data = os.urandom(100_000)
    stored = admin.put(f"/api/files/{rid}/images/a.png", content=data)
    assert stored.status_code == 201
    md5 = hashlib.md5(data).hexdigest()
    assert stored.json() == {"path": f"{rid}/images/a.png", "size": len(data), "md5": md5}
    got = admin.get(f"/api/files/{rid}/images/a.png")
    assert got.status_code == 200 and got.content == data
    assert got.headers["etag"] == f'"{md5}"' and got.headers["content-length"] == str(len(data))
    assert got.headers["content-type"] == "image/png" and got.headers["accept-ranges"] == "bytes"
    assert abs(parsedate_to_datetime(got.headers["last-modified"]).timestamp() - time.time()) < 120
    head = admin.head(f"/api/files/{rid}/images/a.png")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == got.headers["etag"] and head.headers["content-length"] == str(len(data))
    assert admin.get(f"/api/files/{rid}/images/a.png", headers={"If-None-Match": f'"{md5}"'}).status_code == 304
    assert admin.put(f"/api/files/{rid}/images/a.png", content=b"other").status_code == 201
    assert admin.head(f"/api/files/{rid}/images/a.png").headers["etag"] == f'"{hashlib.md5(b"other").hexdigest()}"'
    assert admin.get(f"/api/files/{rid}/images/missing.png").status_code == 404
    assert admin.head(f"/api/files/{rid}/images/missing.png").status_code == 404
    assert admin.get(f"/api/files/{rid}/images").status_code == 404  # a folder is not a file


def test_ranges(admin: httpx.Client, rid: str) -> None:
    data = bytes(range(256)) * 40
    admin.put(f"/api/files/{rid}/r.bin", content=data)
    cases = {"bytes=2-5": (2, 5), "bytes=10240-": None, "bytes=100-": (100, len(data) - 1),
             "bytes=-3": (len(data) - 3, len(data) - 1), "bytes=5000-99999": (5000, len(data) - 1)}
    for header, span in cases.items():
        answer = admin.get(f"/api/files/{rid}/r.bin", headers={"Range": header})
        if span is None:
            assert answer.status_code == 416 and answer.headers["content-range"] == f"bytes */{len(data)}"
            continue
        assert answer.status_code == 206, header
        assert answer.content == data[span[0]:span[1] + 1]
        assert answer.headers["content-range"] == f"bytes {span[0]}-{span[1]}/{len(data)}"
        assert answer.headers["content-length"] == str(span[1] - span[0] + 1)
    head = admin.head(f"/api/files/{rid}/r.bin", headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.headers["content-length"] == "10"
    whole = admin.get(f"/api/files/{rid}/r.bin", headers={"Range": "bytes=0-1,5-6"})
    assert whole.status_code == 200 and whole.content == data


def test_etag_of_a_file_written_behind_the_servers_back(platform_server: PlatformServer, admin: httpx.Client,
                                                          rid: str) -> None:
    folder = platform_server.data_dir / "storage" / rid / "copied"
    folder.mkdir(parents=True)
    (folder / "x.txt").write_bytes(b"copied in")
    answer = admin.get(f"/api/files/{rid}/copied/x.txt")
    assert answer.content == b"copied in" and answer.headers["etag"] == f'"{hashlib.md5(b"copied in").hexdigest()}"'
    before = (folder / "x.txt").stat()
    (folder / "x.txt").write_bytes(b"changed!!")  # same size; a later mtime is all that tells it changed
    os.utime(folder / "x.txt", ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert admin.head(f"/api/files/{rid}/copied/x.txt").headers["etag"] == f'"{hashlib.md5(b"changed!!").hexdigest()}"'


def test_listings(admin: httpx.Client, rid: str) -> None:
    for path in ("a/one.txt", "a/two.txt", "a/sub/three.txt", "top.txt"):
        assert admin.put(f"/api/files/{rid}/{path}", content=path.encode()).status_code == 201
    root = admin.get(f"/api/ls/{rid}/").json()
    assert [(e["name"], e["type"]) for e in root] == [(f"{rid}/a", "directory"), (f"{rid}/top.txt", "file")]
    assert admin.get(f"/api/ls/{rid}").json() == root
    children = {e["name"]: e for e in admin.get(f"/api/ls/{rid}/a").json()}
    assert set(children) == {f"{rid}/a/one.txt", f"{rid}/a/two.txt", f"{rid}/a/sub"}
    one = children[f"{rid}/a/one.txt"]
    assert one["size"] == len(b"a/one.txt") and one["md5"] == hashlib.md5(b"a/one.txt").hexdigest()
    assert isinstance(one["mtime"], float)
    everything = admin.get(f"/api/ls/{rid}/", params={"recursive": "true"}).json()
    assert sorted(e["name"] for e in everything) == sorted(f"{rid}/{p}" for p in
                                                            ("a/one.txt", "a/two.txt", "a/sub/three.txt", "top.txt"))
    assert all(e["type"] == "file" for e in everything)
    assert [e["name"] for e in admin.get(f"/api/ls/{rid}/top.txt").json()] == [f"{rid}/top.txt"]
    assert admin.get(f"/api/ls/{rid}/nothing/here").status_code == 404
    assert admin.get(f"/api/ls/{dataset(admin)['id']}/").json() == []


def test_delete_file_and_folder(admin: httpx.Client, rid: str) -> None:
    for path in ("d/1.txt", "d/e/2.txt", "keep.txt"):
        admin.put(f"/api/files/{rid}/{path}", content=b"x")
    assert admin.delete(f"/api/files/{rid}/keep.txt").status_code == 204
    assert admin.get(f"/api/files/{rid}/keep.txt").status_code == 404
    assert admin.delete(f"/api/files/{rid}/d").status_code == 204
    assert admin.get(f"/api/ls/{rid}/d").status_code == 404
    assert admin.delete(f"/api/files/{rid}/d").status_code == 404


def test_a_deleted_dataset_or_model_takes_no_more_files(platform_server: PlatformServer, admin: httpx.Client) -> None:
    for rid, route in ((dataset(admin)["id"], "/api/datasets"), (model(admin)["id"], "/api/models")):
        assert admin.put(f"/api/files/{rid}/a.txt", content=b"x").status_code == 201  # the server knows it exists
        assert admin.delete(f"{route}/{rid}").status_code == 204
        assert admin.put(f"/api/files/{rid}/b.txt", content=b"y").status_code == 404
        assert admin.get(f"/api/ls/{rid}").status_code == 404
        assert not (platform_server.data_dir / "storage" / rid).exists()


def test_writing_below_a_file_is_a_conflict(admin: httpx.Client, rid: str) -> None:
    admin.put(f"/api/files/{rid}/plain", content=b"x")
    assert admin.put(f"/api/files/{rid}/plain/inner.txt", content=b"y").status_code == 409
    admin.put(f"/api/files/{rid}/dir/inner.txt", content=b"y")
    assert admin.put(f"/api/files/{rid}/dir", content=b"z").status_code == 409
    assert admin.get(f"/api/files/{rid}/plain").content == b"x"


class _PeakRss:
    """Samples a process's resident memory in a thread; `peak` in bytes."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.slow
def test_a_256_mib_upload_and_download_stream(platform_server: PlatformServer, admin: httpx.Client, rid: str) -> None:
    block = os.urandom(MiB)
    expected = hashlib.md5()
    for _ in range(256):
        expected.update(block)

    def body():
        for _ in range(256):
            yield block

    with _PeakRss(platform_server.process.pid) as upload_rss:
        stored = admin.put(f"/api/files/{rid}/big.bin", content=body())
    assert stored.status_code == 201, stored.text
    assert stored.json()["size"] == 256 * MiB and stored.json()["md5"] == expected.hexdigest()
    received = hashlib.md5()
    size = 0
    with _PeakRss(platform_server.process.pid) as download_rss, \
            admin.stream("GET", f"/api/files/{rid}/big.bin") as answer:
        for chunk in answer.iter_bytes(MiB):
            received.update(chunk)
            size += len(chunk)
    assert size == 256 * MiB and received.hexdigest() == expected.hexdigest()
    print(f"server RSS {upload_rss.start / MiB:.0f} MiB before; peak {upload_rss.peak / MiB:.0f} MiB uploading, "
          f"{download_rss.peak / MiB:.0f} MiB downloading 256 MiB")
    # Streaming, not buffering: the 256 MiB never sits in the server's memory (absolute figures: bench/).
    assert upload_rss.peak - upload_rss.start < 64 * MiB and download_rss.peak - upload_rss.start < 64 * MiB
    assert admin.delete(f"/api/files/{rid}/big.bin").status_code == 204


def test_a_file_read_through_brevettiai_paths_in_any_order_of_reads(platform_server: PlatformServer,
                                                                     admin: httpx.Client, rid: str) -> None:
    from brevettiai.platform.filesystem import PlatformFileSystem

    data = os.urandom(3 * MiB + 123)
    assert admin.put(f"/api/files/{rid}/f.bin", content=data).status_code == 201
    fs = PlatformFileSystem(host=platform_server.url, api_key=admin.headers["Authorization"].split()[1])
    with fs.open(f"{rid}/f.bin", "rb") as handle:
        assert handle.read(10) == data[:10]  # small: through the read-ahead cache
        assert handle.read(2 * MiB) == data[10:10 + 2 * MiB]  # large: straight from the stream
        handle.seek(5)
        assert handle.read(3) == data[5:8]
        handle.seek(MiB)
        assert handle.read(-1) == data[MiB:] and handle.read(MiB) == b""
        handle.seek(100)
        assert handle.read() == data[100:] and handle.tell() == len(data)
    assert fs.cat_file(f"{rid}/f.bin") == data


def test_a_large_file_arrives_whole_by_every_way_of_reading_it_and_the_client_goes_on(
        platform_server: PlatformServer, admin: httpx.Client, rid: str, tmp_path) -> None:
    from brevettiai.io import IoTools
    from brevettiai.platform._body import DIRECT_BODY_MIN
    from brevettiai.platform.filesystem import PlatformFileSystem

    data = os.urandom(2 * DIRECT_BODY_MIN + 12345)  # received from the socket itself, past httpx's first piece
    assert admin.put(f"/api/files/{rid}/big.bin", content=data).status_code == 201
    key = admin.headers["Authorization"].split()[1]
    tools = IoTools(storage_options={"brevettiai": {"host": platform_server.url, "api_key": key}})
    remote = f"brevettiai://{rid}/big.bin"
    assert tools.read_file(remote, cache=False) == data
    tools.copy(remote, str(tmp_path / "copy.bin"))
    assert (tmp_path / "copy.bin").read_bytes() == data
    (tmp_path / "cache").mkdir()
    tools.set_cache_root(str(tmp_path / "cache"))
    assert tools.read_file(remote) == data
    fs = PlatformFileSystem(host=platform_server.url, api_key=key)
    fs.get_file(f"{rid}/big.bin", str(tmp_path / "got.bin"))
    assert (tmp_path / "got.bin").read_bytes() == data
    assert fs.cat_file(f"{rid}/big.bin", start=7, end=DIRECT_BODY_MIN + 9) == data[7:DIRECT_BODY_MIN + 9]
    with fs.open(f"{rid}/big.bin", "rb") as handle:
        buffer = bytearray(DIRECT_BODY_MIN)
        handle.seek(3)
        assert handle.readinto(buffer) == len(buffer) and buffer == data[3:3 + len(buffer)]
        assert handle.read(3 * MiB) == data[3 + len(buffer):3 + len(buffer) + 3 * MiB]  # the same stream goes on
        handle.seek(len(data) - 5)
        assert handle.readinto(buffer) == 5 and buffer[:5] == data[-5:] and handle.readinto(buffer) == 0
        handle.seek(1)
        assert handle.read() == data[1:]
    # Each such body leaves its connection closed (h11 never saw it end): the next requests open new ones.
    assert fs.cat_file(f"{rid}/big.bin", start=0, end=10) == data[:10]
    with open(tmp_path / "copy.bin", "rb") as handle:  # an open local file, sent from where it stands
        handle.seek(10)
        tools.write_file(f"brevettiai://{rid}/from-handle.bin", handle)
    stored = admin.head(f"/api/files/{rid}/from-handle.bin")
    assert stored.headers["etag"] == f'"{hashlib.md5(data[10:]).hexdigest()}"'


def test_an_upload_cut_off_midway_leaves_no_file_and_no_temporary_file(platform_server: PlatformServer,
                                                                       admin: httpx.Client, rid: str) -> None:
    import socket
    from urllib.parse import urlsplit

    from services import wait_for

    url = urlsplit(platform_server.url)
    uploads = platform_server.data_dir / "storage" / ".uploads"
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(f"PUT /api/files/{rid}/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: {10 * MiB}\r\n"
                     f"Authorization: {admin.headers['Authorization']}\r\n\r\n".encode())
        for _ in range(3):  # past the first MiB: the md5 is being computed in its own thread
            sock.sendall(os.urandom(MiB))
        wait_for(lambda: uploads.exists() and any(p.stat().st_size > 0 for p in uploads.iterdir()), 30,
                 what="the upload's temporary file")
    wait_for(lambda: not any(uploads.iterdir()), 30, what="the temporary file to be removed")
    assert admin.get(f"/api/files/{rid}/cut.bin").status_code == 404
    assert admin.put(f"/api/files/{rid}/cut.bin", content=b"whole").status_code == 201
    # A small file (received whole before it is written) cut off: nothing of it is stored either
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(f"PUT /api/files/{rid}/small.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n"
                     f"Authorization: {admin.headers['Authorization']}\r\n\r\n".encode() + os.urandom(20_000))
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1) == b""  # the server closes the connection without an answer
    assert admin.get(f"/api/files/{rid}/small.bin").status_code == 404 and not any(uploads.iterdir())
    assert admin.put(f"/api/files/{rid}/small.bin", content=b"whole").status_code == 201


def test_downloads_sent_by_the_kernel_survive_slow_readers_and_clients_that_leave(
        platform_server: PlatformServer, admin: httpx.Client, rid: str) -> None:
    import socket
    from urllib.parse import urlsplit

    data = os.urandom(24 * MiB + 7)  # far more than a socket buffer: the server waits for the reader
    assert admin.put(f"/api/files/{rid}/d.bin", content=data).status_code == 201
    url = urlsplit(platform_server.url)
    request = (f"GET /api/files/{rid}/d.bin HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {admin.headers['Authorization']}\r\n").encode()
    for _ in range(10):  # clients that read a little, then go away mid-body; each new one gets only its own bytes
        with socket.create_connection((url.hostname, url.port)) as sock:
            sock.sendall(request + b"\r\n")
            assert sock.recv(64 * 1024).startswith(b"HTTP/1.1 200")
    with socket.create_connection((url.hostname, url.port)) as sock:  # a reader taking small bites
        sock.sendall(request + b"Range: bytes=1000-\r\n\r\n")
        received = bytearray()
        while b"\r\n\r\n" not in received or len(received) - received.index(b"\r\n\r\n") - 4 < len(data) - 1000:
            piece = sock.recv(4096)
            assert piece, "the server closed the connection before the whole body"
            received += piece
        head, _, body = bytes(received).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 206") and f"content-length: {len(data) - 1000}".encode() in head.lower()
        assert body == data[1000:]
    # The same keep-alive connection goes on after a whole body, and the server after the ones cut off.
    for _ in range(2):
        got = admin.get(f"/api/files/{rid}/d.bin")
        assert got.status_code == 200 and hashlib.md5(got.content).digest() == hashlib.md5(data).digest()
    assert admin.get(f"/api/files/{rid}/d.bin", headers={"Range": "bytes=-5"}).content == data[-5:]
