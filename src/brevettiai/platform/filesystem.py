"""``brevettiai://<resource id>/<path>``: the platform's files API as an fsspec filesystem.

A job running against a platform reads and writes its job directory and its datasets through this
filesystem, with its job key, and needs no cloud credentials. Every `IoTools` operation (and with it
``job.io``, ``artifact_path``, ``walk`` and the read cache, which validates by ETag) works unchanged.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from brevettiai.errors import PlatformNotFoundError
from brevettiai.platform._http import PlatformClient

_CHUNK = 1 << 20


class PlatformFileSystem(AbstractFileSystem):
    """Files of one platform seen with one token: ``brevettiai://<resource id>/<path>``."""

    protocol = ("brevettiai",)
    root_marker = ""

    def __init__(self, host: str | None = None, api_key: str | None = None, client: PlatformClient | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if client is None:
            host = host or os.environ.get("BREVETTI_AI_HOST")
            if not host:
                raise ValueError("brevettiai:// paths need the platform's host: pass storage option 'host' "
                                 "or set BREVETTI_AI_HOST")
            client = PlatformClient(host, api_key or os.environ.get("BREVETTI_AI_API_KEY"))
        self.client = client

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        path = str(path)
        if path.startswith("brevettiai://"):
            path = path[len("brevettiai://"):]
        return path.strip("/")

    @staticmethod
    def _url(kind: str, path: str) -> str:
        return f"/api/{kind}/{quote(path, safe='/')}"

    # Listing and metadata ----------------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
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

    def find_recursive(self, path: str) -> list[dict[str, Any]]:
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

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
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

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        """The bytes of a file, or of the range [start, end)."""
        path = self._strip_protocol(path)
        headers = {}
        if start is not None or end is not None:
            first = start or 0
            if end is not None and end <= first:
                return b""
            headers["Range"] = f"bytes={first}-{'' if end is None else end - 1}"
        response = self.client.get(self._url("files", path), headers=headers, expected=(404, 416))
        if response.status_code == 404:
            raise FileNotFoundError(path)
        if response.status_code == 416:
            return b""
        return response.content

    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        """Download a file to a local path, streamed."""
        path = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            lpath = os.path.join(lpath, os.path.basename(path))
        url = self._url("files", path)
        with self.client.stream("GET", url) as response:
            if response.status_code == 404:
                raise FileNotFoundError(path)
            self.client.check("GET", url, response)
            with open(lpath, "wb") as handle:
                for chunk in response.iter_bytes(_CHUNK):
                    handle.write(chunk)

    # Writing -------------------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        """Write a whole file."""
        path = self._strip_protocol(path)
        self.client.put(self._url("files", path), content=bytes(value), expected=())
        self.invalidate_cache(path)

    def put_file(self, lpath: str, rpath: str, callback: Any = None, **kwargs: Any) -> None:
        """Upload a local file, streamed from disk."""
        if os.path.isdir(lpath):
            return
        path = self._strip_protocol(rpath)
        with open(lpath, "rb") as handle:
            self._upload_stream(path, handle)

    def _upload_stream(self, path: str, handle: Any) -> None:
        def chunks() -> Iterator[bytes]:
            handle.seek(0)
            while chunk := handle.read(_CHUNK):
                yield chunk

        size = os.fstat(handle.fileno()).st_size if hasattr(handle, "fileno") else None
        headers = {"Content-Length": str(size)} if size is not None else None
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

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
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

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files, or whole folders with `recursive` (one request per folder)."""
        paths = path if isinstance(path, list) else [path]
        for item in paths:
            stripped = self._strip_protocol(item)
            if recursive and self.isdir(stripped):
                self.client.delete(self._url("files", stripped))
                self.invalidate_cache(stripped)
            else:
                self.rm_file(stripped)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
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
    """Reads a platform file in ranges as it is consumed."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start=start, end=end)


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
