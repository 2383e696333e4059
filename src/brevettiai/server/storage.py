"""The storage root: ``<root>/<resource id>/<path>`` on a local folder or any fsspec URL.

Everything streams: uploads are written chunk by chunk to a temporary name below ``<root>/.uploads``
and moved into place when complete (an atomic rename on a local disk), with their md5 computed on
the way; downloads are read chunk by chunk. No file is ever held whole in memory.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import posixpath
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("brevettiai.server.storage")

CHUNK = 1 << 20
UPLOADS = ".uploads"


class PathRejected(ValueError):
    """A client path that could leave its resource (``..``, absolute, backslash, NUL)."""


def clean_path(path: str, *, allow_empty: bool = True) -> str:
    """The normalised relative path inside a resource; `PathRejected` if it could escape it."""
    if "\x00" in path:
        raise PathRejected("the path contains a NUL character")
    if "\\" in path:
        raise PathRejected("the path contains a backslash; use '/' between folders")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise PathRejected(f"the path {path!r} is absolute; give it relative to the resource")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathRejected(f"the path {path!r} contains a '..' segment")
    if not parts and not allow_empty:
        raise PathRejected("a file path is needed after the resource id")
    return "/".join(parts)


def clean_resource_id(rid: str) -> str:
    """A resource id is one safe path segment."""
    if rid in ("", ".", "..") or "/" in rid or "\\" in rid or "\x00" in rid or rid.startswith("."):
        raise PathRejected(f"{rid!r} is not a resource id")
    return rid


@dataclass(frozen=True)
class FileInfo:
    """What storage knows about one entry."""

    path: str  # relative to the resource
    type: str  # "file" or "directory"
    size: int
    mtime: float | None


def _mtime(info: dict[str, Any]) -> float | None:
    """Modification time (epoch seconds) from an fsspec info dict, whatever the backend calls it."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


class Upload:
    """A file being written: chunks go to a temporary name; `commit` moves it into place."""

    def __init__(self, storage: Storage, target: str) -> None:
        self._storage = storage
        self._target = target
        self._temp = storage.join(UPLOADS, uuid.uuid4().hex)
        self._md5 = hashlib.md5()
        self.size = 0
        storage.fs.makedirs(storage.join(UPLOADS), exist_ok=True)
        self._file = storage.fs.open(self._temp, "wb")

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append a chunk."""
        self._file.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def commit(self) -> tuple[int, str]:
        """Move the complete file into place; returns its size and md5 hex digest."""
        self._file.close()
        fs = self._storage.fs
        parent = posixpath.dirname(self._target)
        if fs.isfile(parent):
            self.abort()
            raise NotADirectoryError(f"{parent} is a file")
        if fs.isdir(self._target):
            self.abort()
            raise IsADirectoryError(f"{self._target} is a folder")
        fs.makedirs(parent, exist_ok=True)
        fs.mv(self._temp, self._target)
        return self.size, self._md5.hexdigest()

    def abort(self) -> None:
        """Drop the partial file."""
        try:
            self._file.close()
        except Exception:  # the upload already failed; closing is best effort
            pass
        try:
            self._storage.fs.rm(self._temp)
        except (FileNotFoundError, OSError):
            pass


class Storage:
    """Files of resources below one root, through fsspec."""

    def __init__(self, root: str) -> None:
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        self.url = root
        self.fs, self.root = url_to_fs(root)
        self.root = self.root.rstrip("/") or "/"
        self.is_local = isinstance(self.fs, LocalFileSystem)
        if self.is_local:
            self.fs.makedirs(self.root, exist_ok=True)

    def join(self, rid: str, path: str = "") -> str:
        """The backend path of a resource's file (arguments already checked)."""
        return "/".join(part for part in (self.root.rstrip("/"), rid, path) if part)

    def local_path(self, rid: str, path: str = "") -> str | None:
        """The local filesystem path of a resource's file, when storage is a local folder."""
        return self.join(rid, path) if self.is_local else None

    # Reading ------------------------------------------------------------------------------------

    def info(self, rid: str, path: str = "") -> FileInfo | None:
        """The entry at a path, or None when nothing is there."""
        try:
            info = self.fs.info(self.join(rid, path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        kind = "directory" if info.get("type") == "directory" else "file"
        return FileInfo(path, kind, int(info.get("size") or 0) if kind == "file" else 0, _mtime(info))

    def read_chunks(self, rid: str, path: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of a file from `start`, `length` of them (all when None), in chunks."""
        with self.fs.open(self.join(rid, path), "rb") as handle:
            if start:
                handle.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def read_bytes(self, rid: str, path: str) -> bytes:
        """A small file's content."""
        with self.fs.open(self.join(rid, path), "rb") as handle:
            return handle.read()

    def md5(self, rid: str, path: str) -> str:
        """The md5 hex digest of a file, read in chunks."""
        digest = hashlib.md5()
        for chunk in self.read_chunks(rid, path):
            digest.update(chunk)
        return digest.hexdigest()

    def list(self, rid: str, path: str = "", recursive: bool = False) -> list[FileInfo] | None:
        """Entries below a folder (direct children, or every file when `recursive`); None if it is missing."""
        base = self.join(rid, path)
        try:
            if recursive:
                found = self.fs.find(base, detail=True)
                raw = list(found.values()) if isinstance(found, dict) else found
            else:
                raw = self.fs.ls(base, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return None
        prefix = self.join(rid) + "/"
        entries = []
        for info in raw:
            name = str(info["name"]).rstrip("/")
            if not name.startswith(prefix):
                continue
            relative = name[len(prefix):]
            kind = "directory" if info.get("type") == "directory" else "file"
            size = int(info.get("size") or 0) if kind == "file" else 0
            entries.append(FileInfo(relative, kind, size, _mtime(info)))
        return sorted(entries, key=lambda e: e.path)

    # Writing ------------------------------------------------------------------------------------

    def begin_upload(self, rid: str, path: str) -> Upload:
        """Start writing a file; call `write` with chunks, then `commit` (or `abort`)."""
        return Upload(self, self.join(rid, path))

    def write_bytes(self, rid: str, path: str, data: bytes) -> tuple[int, str]:
        """Write a small file atomically; returns its size and md5."""
        upload = self.begin_upload(rid, path)
        try:
            upload.write(data)
            return upload.commit()
        except BaseException:
            upload.abort()
            raise

    def make_resource(self, rid: str) -> None:
        """Create a resource's folder (object stores need none)."""
        if self.is_local:
            self.fs.makedirs(self.join(rid), exist_ok=True)

    def delete(self, rid: str, path: str = "") -> bool:
        """Delete a file or a folder with everything in it; False when nothing was there."""
        target = self.join(rid, path)
        try:
            if self.fs.isdir(target):
                self.fs.rm(target, recursive=True)
                return True
            if self.fs.isfile(target):
                self.fs.rm(target)
                return True
        except FileNotFoundError:
            pass
        return False
