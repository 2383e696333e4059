"""``brevettiai://<resource id>/<path>``: the platform's files API as an fsspec filesystem.

A job running against a platform reads and writes its job directory and its datasets through this
filesystem, with its job key, and needs no cloud credentials. Every `IoTools` operation (and with it
``job.io``, ``artifact_path``, ``walk`` and the read cache, which validates by ETag) works unchanged.

When the platform keeps its files on S3, the bytes go straight between this process and the bucket:
reads follow the server's redirect to a presigned URL, writes of 1 MiB and more get a presigned PUT
URL from ``POST /api/transfer/<resource>``. The URLs are valid for one object and a few minutes; the
job key stays the only credential the job holds. With a local storage folder everything streams
through the server as before.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import quote

import httpx
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from brevettiai._env import env_value
from brevettiai.contract import scheme
from brevettiai.contract.jsontypes import JSONObject
from brevettiai.errors import (
    PlatformError,
    PlatformNotFoundError,
    PlatformUnavailableError,
    PlatformValidationError,
)
from brevettiai.io.buffers import copy_stream
from brevettiai.platform._body import BodyReader, filled_bytes
from brevettiai.platform._http import PlatformClient

_CHUNK = 1 << 20
_STREAM_READINTO_MIN = 256 << 10  # a copy's buffer (io.buffers): smaller reads go through the read-ahead cache
DIRECT_HEADERS = {"X-Direct-Transfer": "allowed"}  # "I can follow a redirect to the storage itself"
DIRECT_WRITE_MIN = 1 << 20  # smaller writes go through the server: one request instead of two
DIRECT_WRITE_MAX = 5 << 30  # S3's limit of one PUT; larger files stream through the server (multipart there)
_STORAGE_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def storage_client() -> httpx.Client:
    """An HTTP client for presigned storage URLs: no platform token ever goes to the storage."""
    return httpx.Client(timeout=_STORAGE_TIMEOUT, follow_redirects=False)


def request_transfer(client: PlatformClient, rid: str, files: Sequence[tuple[str, int | None]],
                     method: str = "PUT") -> list[str] | None:
    """Presigned URLs for `files` (path inside `rid`, size) of a resource; None when the platform has none."""
    response = client.post(f"/api/transfer/{quote(rid, safe='')}", idempotent=True, expected=(404, 405),
                           json={"method": method, "files": [{"path": p, "size": n} for p, n in files]})
    if response.status_code in (404, 405):  # a platform without direct transfer
        return None
    answer = response.json()
    if not answer.get("direct"):
        return None
    return [item["url"] for item in answer["urls"]]


def put_presigned(http: httpx.Client, url: str, local: str | IO[bytes],
                  progress: Callable[[int], object] | None = None, retries: int = 2) -> str:
    """PUT a local file (a path, or an open regular file from its position on) to a presigned URL, streamed;
    returns its md5, checked against the stored ETag."""
    source = LocalSource(local)
    size = source.size
    for attempt in range(retries + 1):
        digest = _HashAside() if size > _CHUNK else hashlib.md5(usedforsecurity=False)

        def chunks(digest: Any = digest) -> Iterator[bytes]:
            with source.reading() as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    if progress is not None:
                        progress(len(chunk))
                    yield chunk

        try:
            response = http.put(url, content=chunks() if size > _CHUNK else _read_all(source, digest, progress),
                                headers={"Content-Length": str(size)})
        except httpx.TransportError as exc:
            _stop_hashing(digest)
            if attempt == retries:
                raise PlatformUnavailableError(f"PUT to the platform's storage failed: {type(exc).__name__}: {exc}") \
                    from exc
            time.sleep(0.5 * (attempt + 1))
            continue
        if response.status_code >= 400:
            _stop_hashing(digest)
        if response.status_code >= 500 and attempt < retries:
            time.sleep(0.5 * (attempt + 1))
            continue
        if response.status_code >= 400:
            raise PlatformError(f"PUT to the platform's storage answered {response.status_code}: "
                                f"{_s3_message(response)}", response.status_code, None)
        md5 = digest.hexdigest()
        etag = response.headers.get("etag", "").strip('"')
        if etag and "-" not in etag and etag != md5:
            raise PlatformValidationError(f"the storage stored md5 {etag} but {source.name} has md5 {md5} "
                                          f"(changed while uploading?)")
        return md5
    raise AssertionError("unreachable")


class _HashAside:
    """The md5 of chunks, hashed by a thread of its own while the caller sends them (hashlib lets go of
    the GIL for large buffers): sending and hashing overlap. At most `backlog` chunks wait."""

    def __init__(self, backlog: int = 8) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._queue: queue.Queue[bytes | None] = queue.Queue(backlog)
        self._thread: threading.Thread | None = None

    def update(self, chunk: bytes) -> None:
        """Add a chunk (bytes: never changed afterwards)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="upload-md5", daemon=True)
            self._thread.start()
        self._queue.put(chunk)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._md5.update(chunk)

    def close(self) -> None:
        """Let the hashing thread finish what it was given, and end."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def hexdigest(self) -> str:
        """The md5 of every chunk added."""
        self.close()
        return self._md5.hexdigest()


def _stop_hashing(digest: Any) -> None:
    if isinstance(digest, _HashAside):
        digest.close()


class LocalSource:
    """What an upload sends: a local file by path, or an open regular file from its current position to its end."""

    def __init__(self, local: str | IO[bytes]) -> None:
        self.local = local
        if isinstance(local, str):
            self.name, self.start, self.size = local, 0, os.path.getsize(local)
        else:
            self.name = str(getattr(local, "name", "the file object"))
            self.start = local.tell()
            self.size = max(0, os.fstat(local.fileno()).st_size - self.start)

    @contextmanager
    def reading(self) -> Iterator[IO[bytes]]:
        """The bytes from the start (each retry reads them again); an open file given is left open."""
        if isinstance(self.local, str):
            with open(self.local, "rb") as handle:
                yield handle
        else:
            self.local.seek(self.start)
            yield self.local


def _read_all(source: LocalSource, digest: Any, progress: Callable[[int], object] | None) -> bytes:
    with source.reading() as handle:
        data = handle.read()
    digest.update(data)
    if progress is not None:
        progress(len(data))
    return data


def _s3_message(response: httpx.Response) -> str:
    text = response.text
    start, end = text.find("<Message>"), text.find("</Message>")
    return text[start + 9:end] if 0 <= start < end else text[:200]


class PlatformFileSystem(AbstractFileSystem):
    """Files of one platform seen with one token: ``brevettiai://<resource id>/<path>``."""

    protocol = (scheme.PROTOCOL,)
    root_marker = ""

    def __init__(self, host: str | None = None, api_key: str | None = None, client: PlatformClient | None = None,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()
        self._direct_writes: bool | None = None  # None: not known yet
        if client is None:
            host = host or env_value("host")
            if not host:
                raise ValueError("brevettiai:// paths need the platform's host: pass storage option 'host' "
                                 "or set BREVETTI_AI_HOST")
            client = PlatformClient(host, api_key or env_value("api_key"))
        self.client = client

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        return scheme.strip_scheme(str(path)).strip("/")

    @staticmethod
    def _url(kind: str, path: str) -> str:
        return f"/api/{kind}/{quote(path, safe='/')}"

    # Listing and metadata ----------------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, **kwargs: object) -> list[JSONObject] | list[str]:
        """Direct children of a folder (or the file itself)."""
        path = self._strip_protocol(path)
        response = self.client.get(self._url("ls", path) + ("/" if "/" not in path else ""), expected=(404,))
        entries = [] if response.status_code == 404 else [self._entry(item) for item in response.json()]
        if not entries and "/" in path:
            info = self._head(path)  # a file, listed as itself
            if info is not None:
                entries = [info]
            else:
                raise FileNotFoundError(path)
        elif response.status_code == 404:
            raise FileNotFoundError(path)
        return entries if detail else [e["name"] for e in entries]

    def find_recursive(self, path: str) -> list[JSONObject]:
        """Every file below a folder, in one request."""
        path = self._strip_protocol(path)
        response = self.client.get(self._url("ls", path) + "/", params={"recursive": "true"}, expected=(404,))
        if response.status_code == 404:
            raise FileNotFoundError(path)
        return [self._entry(item) for item in response.json()]

    @staticmethod
    def _is_resource_root(path: str) -> bool:
        return "/" not in path

    @staticmethod
    def _entry(item: dict[str, Any]) -> dict[str, Any]:
        entry = {"name": item["name"].strip("/"), "size": item.get("size") or 0,
                 "type": "directory" if item.get("type") == "directory" else "file"}
        if item.get("md5"):
            entry["ETag"] = item["md5"]
        if item.get("mtime") is not None:
            entry["mtime"] = item["mtime"]
        return entry

    def _head(self, path: str) -> dict[str, Any] | None:
        response = self.client.request("HEAD", self._url("files", path), expected=(404, 405))
        if response.status_code >= 400:
            return None
        info: dict[str, Any] = {"name": path, "type": "file", "size": int(response.headers.get("content-length", 0))}
        etag = response.headers.get("etag")
        if etag:
            info["ETag"] = etag.strip('"')
        modified = response.headers.get("last-modified")
        if modified:
            info["mtime"] = parsedate_to_datetime(modified).timestamp()
        return info

    def info(self, path: str, **kwargs: object) -> JSONObject:
        """Size, type and ETag of a file, or type directory for a folder."""
        path = self._strip_protocol(path)
        if "/" in path:
            found = self._head(path)
            if found is not None:
                return found
        parent, _, _ = path.rpartition("/")
        try:
            children = self.ls(path, detail=True)
        except FileNotFoundError:
            children = []
        if children or self._is_resource_root(path):
            return {"name": path, "type": "directory", "size": 0}
        raise FileNotFoundError(path)

    def ukey(self, path: str) -> str:
        """A key that changes when the file changes (its md5)."""
        return str(self.info(path).get("ETag") or self.info(path).get("mtime"))

    # Reading -------------------------------------------------------------------------------------

    def _get(self, path: str, headers: dict[str, str] | None = None, stream: bool = False) -> httpx.Response:
        """GET a file (with `headers`), from the storage itself when the server redirects there.

        A 404 raises FileNotFoundError; a 416 is returned for the caller. A streamed response must be closed.
        """
        url = self._url("files", path)
        asked = {**(headers or {}), **DIRECT_HEADERS}
        if stream:
            response = self.client.open_stream("GET", url, headers=asked)
        else:
            response = self.client.get(url, headers=asked, expected=(404, 416))
        if response.status_code == 307 and response.headers.get("location"):
            location = response.headers["location"]
            response.close()
            response = self._storage_get(location, headers or {}, stream)
            if response.status_code >= 400 and response.status_code != 416:
                status = response.status_code
                response.close()
                if status == 404:
                    raise FileNotFoundError(path)
                # an expired URL, a missing key on a bucket without ListBucket (403), a storage hiccup:
                # this once, through the server
                response = self._get_through_server(url, headers, stream)
        if response.status_code == 404:
            response.close()
            raise FileNotFoundError(path)
        if stream and response.status_code >= 400 and response.status_code != 416:
            self.client.check("GET", url, response)
        return response

    def _get_through_server(self, url: str, headers: dict[str, str] | None, stream: bool) -> httpx.Response:
        if stream:
            return self.client.open_stream("GET", url, headers=headers)
        return self.client.get(url, headers=headers, expected=(404, 416))

    def _storage_get(self, location: str, headers: dict[str, str], stream: bool) -> httpx.Response:
        http = self._storage_http()
        if stream:
            return http.send(http.build_request("GET", location, headers=headers), stream=True)
        return http.get(location, headers=headers)

    def _storage_http(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = storage_client()
            return self._http

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: object) -> bytes:
        """The bytes of a file, or of the range [start, end)."""
        path = self._strip_protocol(path)
        headers = {}
        if start is not None or end is not None:
            first = start or 0
            if end is not None and end <= first:
                return b""
            headers["Range"] = f"bytes={first}-{'' if end is None else end - 1}"
        attempts = self.client.retries + 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.client.retry_delay(attempt))
            try:
                response = self._get(path, headers, stream=True)
                try:
                    return b"" if response.status_code == 416 else BodyReader(response).read_all()
                finally:
                    response.close()
            except httpx.TransportError as exc:  # before or during the body: the whole GET again
                failure: Exception = exc
            except PlatformUnavailableError as exc:  # a 5xx answer
                failure = exc
            if attempt + 1 == attempts:
                if isinstance(failure, PlatformError):
                    raise failure
                raise PlatformUnavailableError(
                    f"the platform at {self.client.host} did not answer GET {self._url('files', path)} after "
                    f"{attempts} attempts: {type(failure).__name__}: {failure}") from failure
        raise AssertionError("unreachable")

    def get_file(self, rpath: str, lpath: str, callback: object = None, **kwargs: object) -> None:
        """Download a file to a local path, streamed."""
        path = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            lpath = os.path.join(lpath, os.path.basename(path))
        response = self._get(path, stream=True)
        try:
            with open(lpath, "wb") as handle:
                copy_stream(BodyReader(response), handle)
        finally:
            response.close()

    # Writing -------------------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, **kwargs: object) -> None:
        """Write a whole file."""
        path = self._strip_protocol(path)
        if len(value) >= DIRECT_WRITE_MIN and self._direct_writes is not False:
            with tempfile.NamedTemporaryFile() as handle:
                handle.write(value)
                handle.flush()
                self.put_file(handle.name, path)
            return
        self.client.put(self._url("files", path), content=bytes(value), expected=())
        self.invalidate_cache(path)

    def put_file(self, lpath: str, rpath: str, callback: object = None, **kwargs: object) -> None:
        """Upload a local file, streamed from disk (straight to the storage when the platform offers it)."""
        if os.path.isdir(lpath):
            return
        self._put_local(LocalSource(lpath), rpath)

    def put_fileobj(self, handle: IO[bytes], rpath: str) -> None:
        """Upload an open regular file on a local disk from its position to its end, like `put_file`."""
        self._put_local(LocalSource(handle), rpath)

    def _put_local(self, source: LocalSource, rpath: str) -> None:
        path = self._strip_protocol(rpath)
        if DIRECT_WRITE_MIN <= source.size <= DIRECT_WRITE_MAX and self._direct_writes is not False:
            url = self._direct_put_url(path, source.size)
            if url is not None:
                put_presigned(self._storage_http(), url, source.local)
                self.invalidate_cache(path)
                return
        self._upload_stream(path, source)

    def _direct_put_url(self, path: str, size: int) -> str | None:
        rid, _, inside = path.partition("/")
        urls = request_transfer(self.client, rid, [(inside, size)]) if inside else None
        self._direct_writes = urls is not None
        return urls[0] if urls else None

    def _upload_stream(self, path: str, source: LocalSource) -> None:
        def chunks() -> Iterator[bytes]:
            with source.reading() as handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk

        headers = {"Content-Length": str(source.size)}
        # A generator can be sent only once, so retries happen here, each with a fresh one.
        attempts = self.client.retries + 1
        for attempt in range(attempts):
            try:
                self.client.request("PUT", self._url("files", path), content=chunks(), headers=headers, retries=0)
                break
            except ConnectionError:
                if attempt + 1 == attempts:
                    raise
                time.sleep(self.client.retry_delay(attempt + 1))
        self.invalidate_cache(path)

    def cp_file(self, path1: str, path2: str, **kwargs: object) -> None:
        """Copy a file through a local temporary file."""
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, "copy")
            self.get_file(path1, local)
            self.put_file(local, path2)

    def rm_file(self, path: str) -> None:
        """Delete a file."""
        path = self._strip_protocol(path)
        response = self.client.delete(self._url("files", path), expected=(404,))
        if response.status_code == 404:
            raise FileNotFoundError(path)
        self.invalidate_cache(path)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files, or whole folders with `recursive` (one request per folder)."""
        paths = path if isinstance(path, list) else [path]
        for item in paths:
            stripped = self._strip_protocol(item)
            if recursive and self.isdir(stripped):
                self.client.delete(self._url("files", stripped))
                self.invalidate_cache(stripped)
            else:
                self.rm_file(stripped)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: object) -> None:
        """Folders exist implicitly on the platform."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Folders exist implicitly on the platform."""

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, autocommit: bool = True,
              cache_options: dict | None = None, **kwargs: Any) -> Any:
        path = self._strip_protocol(path)
        if "r" in mode:
            return _PlatformReadFile(self, path, mode, block_size=block_size or 5 * _CHUNK,
                                     cache_options=cache_options or {})
        return _PlatformWriteFile(self, path)


class _PlatformReadFile(AbstractBufferedFile):
    """Reads a platform file as it is consumed: sequential reads share one streamed GET."""

    _response: httpx.Response | None = None
    _body: BodyReader | None = None
    _position = -1

    def read(self, length: int = -1) -> bytes:
        """Large reads come straight from the stream; small ones go through fsspec's read-ahead cache."""
        if length is not None and 0 <= length < _CHUNK:
            return super().read(length)
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        end = self.size if length is None or length < 0 else min(self.size, self.loc + length)
        data = self._fetch_range(self.loc, end)
        self.loc += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        """Large reads are received straight into `buffer`; small ones go through fsspec's read-ahead cache."""
        view = memoryview(buffer).cast("B")
        if view.nbytes < _STREAM_READINTO_MIN:
            return int(super().readinto(buffer))
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        end = min(self.size, self.loc + view.nbytes)
        got = self._fetch_into(self.loc, end, view)
        self.loc += got
        return got

    def _fetch_range(self, start: int, end: int) -> bytes:
        if start >= end:
            return b""
        return filled_bytes(end - start, lambda view: self._fetch_into(start, end, view))

    def _fetch_into(self, start: int, end: int, view: memoryview) -> int:
        """Receive the bytes [start, end) of the file into `view`; how many arrived (fewer at its end)."""
        if start >= end:
            return 0
        if self._body is None or start != self._position:
            self._drop_stream()
            self._response = self.fs._get(self.path, {"Range": f"bytes={start}-"}, stream=True)
            if self._response.status_code == 416:
                self._drop_stream()
                return 0
            self._body, self._position = BodyReader(self._response), start
        got = self._body.readinto(view[:end - start])
        self._position += got
        return got

    def _drop_stream(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response, self._body, self._position = None, None, -1

    def close(self) -> None:
        self._drop_stream()
        super().close()


class _PlatformWriteFile(io.RawIOBase):
    """Collects written bytes in a local spool file and uploads them in one PUT when closed."""

    def __init__(self, fs: PlatformFileSystem, path: str) -> None:
        super().__init__()
        self.fs = fs
        self.path = path
        self._spool = tempfile.SpooledTemporaryFile(max_size=16 * _CHUNK)  # noqa: SIM115 - closed in close()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._spool.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._spool.seek(0)
            if isinstance(self._spool._file, io.BytesIO):  # small: one PUT of the bytes
                self.fs.pipe_file(self.path, self._spool.read())
            else:
                with tempfile.NamedTemporaryFile() as handle:
                    shutil.copyfileobj(self._spool, handle)
                    handle.flush()
                    self.fs.put_file(handle.name, self.path)
        finally:
            self._spool.close()
            super().close()

    def discard(self) -> None:
        """Drop what was written without uploading."""
        self._spool.close()
        super().close()


__all__ = ["PlatformFileSystem", "PlatformNotFoundError"]
