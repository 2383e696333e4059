"""Large bodies received from the socket itself: a body cut short is an error, never a short file; bodies
the socket path cannot take (chunked) still arrive whole through httpx. Served over real HTTP by a small
server that answers as a broken proxy or another server would."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brevettiai.errors import PlatformUnavailableError, StorageError
from brevettiai.io import IoTools
from brevettiai.platform._body import DIRECT_BODY_MIN
from brevettiai.platform._http import PlatformClient
from brevettiai.platform.filesystem import PlatformFileSystem

DATA = os.urandom(DIRECT_BODY_MIN + 1_000_003)


def _answer(connection: socket.socket) -> None:
    with connection:
        request = b""
        while b"\r\n\r\n" not in request:
            piece = connection.recv(65536)
            if not piece:
                return
            request += piece
        method, target = request.split(b" ", 2)[:2]
        if target.endswith(b"/chunked.bin") and method == b"GET":
            connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            for start in range(0, len(DATA), 1 << 20):
                piece = DATA[start:start + (1 << 20)]
                connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.sendall(b"0\r\n\r\n")
            return
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(DATA)}\r\nConnection: close\r\n\r\n".encode()
        # cut.bin: the connection ends halfway through the body its header announced
        connection.sendall(head if method == b"HEAD" else head + DATA[:len(DATA) // 2])


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    socket.create_connection(listener.getsockname()).close()  # wakes the accept() to see the stop
    thread.join()
    listener.close()


@pytest.fixture
def fs(server_url: str) -> PlatformFileSystem:
    return PlatformFileSystem(client=PlatformClient(server_url, "key", retries=1, backoff=0.01))


def test_a_body_cut_short_is_an_error_and_leaves_no_file(fs: PlatformFileSystem, server_url: str,
                                                          tmp_path: Path) -> None:
    with pytest.raises(PlatformUnavailableError, match="complete message body"):
        fs.cat_file("r/cut.bin")
    with pytest.raises(httpx.RemoteProtocolError, match=f"expected {len(DATA)}"):
        fs.get_file("r/cut.bin", str(tmp_path / "got.bin"))
    with fs.open("r/cut.bin", "rb") as handle, pytest.raises(httpx.RemoteProtocolError):
        handle.read()
    tools = IoTools(storage_options={"brevettiai": {"host": server_url, "api_key": "key"}})
    with pytest.raises(StorageError, match="brevettiai://r/cut.bin"):
        tools.copy("brevettiai://r/cut.bin", str(tmp_path / "copy.bin"))
    assert not [path.name for path in tmp_path.iterdir() if "copy" in path.name]  # nor its temporary file


def test_a_chunked_body_arrives_whole_through_httpx(fs: PlatformFileSystem, tmp_path: Path) -> None:
    assert fs.cat_file("r/chunked.bin") == DATA
    fs.get_file("r/chunked.bin", str(tmp_path / "got.bin"))
    assert (tmp_path / "got.bin").read_bytes() == DATA
