"""The storage root: ``<root>/<resource id>/<path>`` on a local folder or any fsspec URL.

Everything streams and no file is ever held whole in memory. How a write becomes visible depends on
the backend, but readers always see the old file or the whole new one:

- a local folder: chunks go to a temporary file below ``<root>/.uploads`` (mode 0600), renamed into
  place when complete. Paths never pass through a symbolic link: a path whose resolved location
  differs from its spelled-out location inside the resource counts as missing;
- an object store (S3 and friends): chunks go straight to the final key; the object appears only when
  its single PUT (or the last part of its multipart upload) completes;
- any other fsspec backend: a temporary name below ``.uploads``, then moved into place.

On S3 the server can also hand out presigned URLs (`Storage.presigned_urls`) so clients move the
bytes themselves; the object's ETag, the md5 of a single-PUT object, keeps ETags and listings right
without the server ever reading the object.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import errno
import hashlib
import logging
import os
import posixpath
import queue
import re
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from brevettiai.contract import paths
from brevettiai.errors import ServerError

log = logging.getLogger("brevettiai.server.storage")

CHUNK = 1 << 20
UPLOADS = ".uploads"
MAX_NAME_BYTES, MAX_PATH_BYTES, MAX_PATH_DEPTH = paths.MAX_NAME_BYTES, paths.MAX_PATH_BYTES, paths.MAX_PATH_DEPTH
STALE_UPLOAD_SECONDS = 3600.0  # an unfinished upload untouched this long belongs to a crashed server
DIRECT_URL_SECONDS = 900
OBJECT_BLOCK = 8 << 20  # part size of server-side writes to S3; smaller objects are one PUT
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")


class PathRejected(ServerError, ValueError):
    """A client path that could leave its resource or that breaks a path rule; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class StorageUnavailable(ServerError, RuntimeError):
    """The storage root cannot be used (missing bucket, refused credentials, unreachable endpoint)."""


def is_full(exc: BaseException) -> bool:
    """True when an error means the storage has no room left (disk full, quota, file size limit)."""
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def clean_path(path: str, *, allow_empty: bool = True) -> str:
    """The normalised relative path inside a resource; `PathRejected` if it breaks a path rule
    (`brevettiai.contract.paths`: 414 for a length or depth limit, else 400)."""
    try:
        return paths.clean_relative_path(path, allow_empty=allow_empty)
    except paths.PathRuleError as exc:
        raise PathRejected(exc.reason, 414 if exc.too_long else 400) from None


def clean_resource_id(rid: str) -> str:
    """A resource id is one safe path segment."""
    problem = paths.resource_id_problem(rid)
    if problem is not None:
        raise PathRejected(problem)
    return rid


@dataclass(frozen=True)
class FileInfo:
    """What storage knows about one entry."""

    path: str  # relative to the resource
    type: Literal["file", "directory"]
    size: int
    mtime: float | None
    md5: str | None = None  # known without reading: an object store's ETag of a single-PUT object


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


def _etag_md5(info: dict[str, Any]) -> str | None:
    """The md5 an object store's ETag gives (single-PUT objects); None for multipart ETags or none."""
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"').lower()
    return etag if _MD5_ETAG.fullmatch(etag) else None


# Uploads ------------------------------------------------------------------------------------------


class _Md5:
    """The md5 of chunks as they are written; past the first `inline` bytes, hashed in a thread of its own.

    md5 takes about as long as writing to the page cache, so a large upload hashes one chunk while
    the next is written. At most `backlog` chunks wait for the hashing thread (bounded memory).
    """

    def __init__(self, inline: int = CHUNK, backlog: int = 16) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._inline, self._backlog = inline, backlog
        self._size = 0
        self._queue: queue.Queue[bytes | bytearray | memoryview | None] | None = None
        self._thread: threading.Thread | None = None

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add a chunk (the caller must not change it afterwards)."""
        self._size += len(chunk)
        if self._queue is None and self._size <= self._inline:
            self._md5.update(chunk)
            return
        if self._queue is None:
            self._queue = queue.Queue(self._backlog)
            self._thread = threading.Thread(target=self._run, name="upload-md5", daemon=True)
            self._thread.start()
        self._queue.put(chunk)

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            self._md5.update(chunk)

    def hexdigest(self) -> str:
        """The md5 of every chunk added, once the hashing thread (if any) has caught up."""
        self.close()
        return self._md5.hexdigest()

    def close(self) -> None:
        """Stop the hashing thread (after it has hashed what it was given)."""
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


class Upload:
    """A file being written: `write` chunks, then `commit` (or `abort`). Its md5 is computed on the way."""

    def __init__(self) -> None:
        self._md5 = _Md5()
        self.size = 0
        self.mtime: float | None = None  # set by `commit` where the backend tells it without another look
        self._file: Any = None

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append a chunk (not to be changed afterwards: it may still be being hashed)."""
        self._file.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def commit(self) -> tuple[int, str]:
        """Make the complete file visible; returns its size and md5 hex digest."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop the partial file."""
        self._md5.close()
        self._discard()

    def _discard(self) -> None:
        raise NotImplementedError


def _drop_temp_file(handle: Any, remove: Callable[[], object]) -> None:
    """Close and remove an upload's temporary file, best effort: the upload has failed already."""
    with contextlib.suppress(Exception):
        handle.close()
    with contextlib.suppress(OSError):
        remove()


class _DescriptorUpload(Upload):
    """An upload written to an open file descriptor (`_fd`) of a local temporary file."""

    _fd: int | None

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view):]
        self._md5.update(chunk)
        self.size += len(chunk)


class _LocalUpload(_DescriptorUpload):
    """A temporary file below ``.uploads`` (0600), renamed into place; never through a symlink."""

    def __init__(self, storage: Storage, rid: str, path: str) -> None:
        super().__init__()
        self._storage, self._rid, self._path = storage, rid, path
        storage.real_path(rid, path)  # refuses paths through a symlink before any byte is taken
        uploads = os.path.join(storage.root, UPLOADS)
        self._temp = os.path.join(uploads, uuid.uuid4().hex)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            self._fd: int | None = os.open(self._temp, flags, 0o600)
        except FileNotFoundError:  # the first upload (or someone removed the folder)
            os.makedirs(uploads, mode=0o700, exist_ok=True)
            self._fd = os.open(self._temp, flags, 0o600)

    def commit(self) -> tuple[int, str]:
        try:
            assert self._fd is not None
            self.mtime = os.fstat(self._fd).st_mtime  # renaming keeps it: the index needs no further stat
            os.close(self._fd)
            self._fd = None
            self._move_into_place()
        except BaseException:
            self.abort()
            raise
        return self.size, self._md5.hexdigest()

    def _move_into_place(self) -> None:
        """Rename the complete file to its path: the folders on the way created, never through a link."""
        target = self._storage.real_path(self._rid, self._path)  # again: a link may have appeared meanwhile
        try:
            os.replace(self._temp, target)
            return
        except IsADirectoryError:
            raise IsADirectoryError(f"{self._path} is a folder") from None
        except NotADirectoryError:
            raise NotADirectoryError(f"{self._path.rpartition('/')[0]} is a file") from None
        except FileNotFoundError:
            pass  # a folder on the way is missing
        parent = os.path.dirname(target)
        try:
            os.makedirs(parent, mode=0o700, exist_ok=True)
        except FileExistsError:  # a file where a folder should be
            raise NotADirectoryError(f"{self._path.rpartition('/')[0]} is a file") from None
        except NotADirectoryError:
            raise NotADirectoryError(f"{self._path.rpartition('/')[0]} is a file") from None
        target = self._storage.real_path(self._rid, self._path)  # the folders just made are real ones
        if os.path.isdir(target) and not os.path.islink(target):
            raise IsADirectoryError(f"{self._path} is a folder")
        os.replace(self._temp, target)

    def _discard(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(OSError):
            os.remove(self._temp)


class UploadBatch:
    """Many files written into one resource (an archive's): `begin` each, then `close` the batch.

    On a local folder each folder is checked for symbolic links and opened once, and every file of
    it is created and renamed relative to that open folder (``dir_fd``): a link that appears later
    on the way to it cannot redirect the writes. `mtimes` holds each committed file's mtime, so
    indexing them needs no further look at the disk. Other backends write as `begin_upload` does.
    """

    def __init__(self, storage: Storage, rid: str) -> None:
        self._storage, self._rid = storage, rid
        self._folders: dict[str, int] = {}  # folder inside the resource -> its open descriptor
        self._uploads_fd: int | None = None
        self._prefix, self._count = uuid.uuid4().hex[:16], 0
        self.mtimes: dict[str, float] = {}

    def begin(self, rid: str, path: str) -> Upload:
        """Start writing `path` (of this batch's resource); `commit` or `abort` it like any upload."""
        if rid != self._rid or not self._storage.is_local:
            return self._storage.begin_upload(rid, path)
        folder, _, name = path.rpartition("/")
        folder_fd = self._folder(folder)
        if self._uploads_fd is None:
            uploads = os.path.join(self._storage.root, UPLOADS)
            os.makedirs(uploads, mode=0o700, exist_ok=True)
            self._uploads_fd = os.open(uploads, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        self._count += 1
        return _FolderUpload(self, path, folder_fd, name, f"{self._prefix}-{self._count}", self._uploads_fd)

    def _folder(self, folder: str) -> int:
        """The open descriptor of a folder of the resource, created if missing; never reached through a link."""
        found = self._folders.get(folder)
        if found is not None:
            return found
        spelled = self._storage.real_path(self._rid, folder)  # refuses a path through a symlink
        if os.path.isfile(spelled):
            raise NotADirectoryError(f"{folder} is a file")
        os.makedirs(spelled, mode=0o700, exist_ok=True)
        fd = os.open(spelled, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:  # the folder opened is the one checked: no link swapped in between
            opened = os.fstat(fd)
            checked = os.stat(self._storage.real_path(self._rid, folder))
            if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
                raise FileNotFoundError(errno.ENOENT, "the path passes through a symbolic link", f"{self._rid}/{folder}")
        except BaseException:
            os.close(fd)
            raise
        self._folders[folder] = fd
        return fd

    def close(self) -> None:
        """Release the folders held open."""
        for fd in self._folders.values():
            os.close(fd)
        self._folders.clear()
        if self._uploads_fd is not None:
            os.close(self._uploads_fd)
            self._uploads_fd = None

    def __enter__(self) -> UploadBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _FolderUpload(_DescriptorUpload):
    """A temporary file below ``.uploads`` renamed into a folder held open by its `UploadBatch`."""

    def __init__(self, batch: UploadBatch, path: str, folder_fd: int, name: str, temp: str, uploads_fd: int) -> None:
        super().__init__()
        self._batch, self._path, self._folder_fd, self._name = batch, path, folder_fd, name
        self._temp, self._uploads_fd = temp, uploads_fd
        self._fd: int | None = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                                       dir_fd=uploads_fd)

    def commit(self) -> tuple[int, str]:
        try:
            assert self._fd is not None
            mtime = os.fstat(self._fd).st_mtime
            os.close(self._fd)
            self._fd = None
            os.replace(self._temp, self._name, src_dir_fd=self._uploads_fd, dst_dir_fd=self._folder_fd)
        except IsADirectoryError:
            self.abort()
            raise IsADirectoryError(f"{self._path} is a folder") from None
        except BaseException:
            self.abort()
            raise
        self._batch.mtimes[self._path] = self.mtime = mtime
        return self.size, self._md5.hexdigest()

    def _discard(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(OSError):
            os.remove(self._temp, dir_fd=self._uploads_fd)


class _ObjectUpload(Upload):
    """Straight to the final key: an object store publishes an object only once it is complete."""

    def __init__(self, storage: Storage, target: str) -> None:
        super().__init__()
        self._file = storage.fs.open(target, "wb", block_size=OBJECT_BLOCK)

    def commit(self) -> tuple[int, str]:
        try:
            self._file.close()
        except BaseException:
            self.abort()
            raise
        return self.size, self._md5.hexdigest()

    def _discard(self) -> None:
        try:
            self._file.discard()  # aborts a multipart upload; a single PUT was never sent
        except Exception:  # best effort: the upload already failed
            pass
        self._file.closed = True


class _MovedUpload(Upload):
    """Other fsspec backends: a temporary name below ``.uploads``, moved into place when complete."""

    def __init__(self, storage: Storage, target: str) -> None:
        super().__init__()
        self._storage, self._target = storage, target
        self._temp = storage.join(UPLOADS, uuid.uuid4().hex)
        storage.fs.makedirs(storage.join(UPLOADS), exist_ok=True)
        self._file = storage.fs.open(self._temp, "wb")

    def commit(self) -> tuple[int, str]:
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

    def _discard(self) -> None:
        _drop_temp_file(self._file, lambda: self._storage.fs.rm(self._temp))


# Storage ------------------------------------------------------------------------------------------

_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


class Storage:
    """Files of resources below one root, through fsspec (a local folder directly, never through symlinks)."""

    def __init__(self, root: str) -> None:
        from fsspec.core import split_protocol, url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        self.url = root
        protocol = split_protocol(root)[0] or "file"
        self.is_local = protocol in ("file", "local")
        # Several servers may share the storage: a cached listing would hide what the others wrote.
        options: dict[str, Any] = {} if self.is_local else {"use_listings_cache": False}
        if protocol in ("s3", "s3a"):  # presigned URLs signed with SigV4 (botocore's default for them is SigV2)
            options["config_kwargs"] = {"signature_version": "s3v4"}
        try:
            self.fs, self.root = url_to_fs(root, **options)
        except TypeError:
            self.fs, self.root = url_to_fs(root)
        self.root = self.root.rstrip("/") or "/"
        self._real_root: str | None = None
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.is_object_store = not self.is_local and protocol in _OBJECT_STORES
        self.can_presign = type(self.fs).__name__ == "S3FileSystem" and hasattr(self.fs, "get_s3")
        if self.is_local:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            self.clean_stale_uploads()

    def join(self, rid: str, path: str = "") -> str:
        """The backend path of a resource's file (arguments already checked)."""
        return "/".join(part for part in (self.root.rstrip("/"), rid, path) if part)

    def local_path(self, rid: str, path: str = "") -> str | None:
        """The local filesystem path of a resource's file, when storage is a local folder."""
        return self.join(rid, path) if self.is_local else None

    def real_path(self, rid: str, path: str = "") -> str:
        """A local file's path, or FileNotFoundError when reaching it would pass through a symbolic link.

        Comparing the resolved path with the spelled-out one refuses a link anywhere below the root,
        whether it points outside (``/etc``), into another resource, or back into the same one.
        """
        root = self._real_root
        if root is None:  # resolved once: the root is the administrator's; what lies below it is the clients'
            root = self._real_root = os.path.realpath(self.root)
        # Checked path is already clean (no "..", no empty parts): resolving it means looking at each
        # part below the root in turn, up to the first that does not exist.
        spelled, not_found = root.rstrip("/"), False
        for part in (rid, *path.split("/")) if path else (rid,):
            spelled = f"{spelled}/{part}"
            if not_found:
                continue
            try:
                mode = os.lstat(spelled).st_mode
            except (FileNotFoundError, NotADirectoryError):
                not_found = True  # nothing below exists, so no link either
                continue
            if stat.S_ISLNK(mode):
                raise FileNotFoundError(errno.ENOENT, "the path passes through a symbolic link", f"{rid}/{path}")
        return spelled

    # Start-up -------------------------------------------------------------------------------------

    def check(self, timeout: float = 8.0) -> None:
        """Raise `StorageUnavailable` (one line) when the root cannot be used; clean stale local uploads."""
        if self.is_local:
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise StorageUnavailable(f"the folder {self.root} is not writable by this user")
            return
        if self.can_presign:
            self._check_bucket(timeout)
            return
        try:
            self.fs.ls(self.root)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise StorageUnavailable(f"cannot list {self.url}: {type(exc).__name__}: {exc}") from None

    def _check_bucket(self, timeout: float) -> None:
        from fsspec.asyn import sync

        bucket = self.fs.split_path(self.root)[0]

        async def head() -> None:
            await self.fs.set_session()
            s3 = await self.fs.get_s3(bucket)
            await s3.head_bucket(Bucket=bucket)

        try:
            sync(self.fs.loop, head, timeout=timeout)
        except Exception as exc:
            raise StorageUnavailable(_s3_problem(exc, bucket, self.fs)) from None

    def clean_stale_uploads(self, older_than: float = STALE_UPLOAD_SECONDS) -> int:
        """Remove temporary files of uploads that crashed (untouched for `older_than` seconds); how many."""
        folder = os.path.join(self.root, UPLOADS)
        removed, now = 0, time.time()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > older_than:
                    os.remove(entry.path)
                    removed += 1
            except OSError:
                continue
        if removed:
            log.info("Removed %d temporary files of unfinished uploads from %s", removed, folder)
        return removed

    # Reading ------------------------------------------------------------------------------------

    def info(self, rid: str, path: str = "") -> FileInfo | None:
        """The entry at a path, or None when nothing is there."""
        if self.is_local:
            try:
                st = os.stat(self.real_path(rid, path))
            except (FileNotFoundError, NotADirectoryError):
                return None
            kind: Literal["file", "directory"] = "directory" if stat.S_ISDIR(st.st_mode) else "file"
            return FileInfo(path, kind, st.st_size if kind == "file" else 0, st.st_mtime)
        try:
            info = self.fs.info(self.join(rid, path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        kind = "directory" if info.get("type") == "directory" else "file"
        size = int(info.get("size") or 0) if kind == "file" else 0
        return FileInfo(path, kind, size, _mtime(info), _etag_md5(info) if kind == "file" else None)

    def open_read(self, rid: str, path: str) -> Any:
        """A file opened for binary reading (a local file never through a symbolic link); the caller closes it."""
        return self._open_read(rid, path)

    def _open_read(self, rid: str, path: str) -> Any:
        if self.is_local:
            return open(self.real_path(rid, path), "rb")  # noqa: SIM115 - the caller closes it
        return self.fs.open(self.join(rid, path), "rb")

    def read_chunks(self, rid: str, path: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of a file from `start`, `length` of them (all when None), in chunks."""
        with self._open_read(rid, path) as handle:
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
        with self._open_read(rid, path) as handle:
            return handle.read()

    def md5(self, rid: str, path: str) -> str:
        """The md5 hex digest of a file, read in chunks."""
        digest = hashlib.md5()
        for chunk in self.read_chunks(rid, path):
            digest.update(chunk)
        return digest.hexdigest()

    def list(self, rid: str, path: str = "", recursive: bool = False) -> builtins.list[FileInfo] | None:
        """Entries below a folder (direct children, or every file when `recursive`); None if it is missing."""
        if self.is_local:
            return self._list_local(rid, path, recursive)
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
            kind: Literal["file", "directory"] = "directory" if info.get("type") == "directory" else "file"
            size = int(info.get("size") or 0) if kind == "file" else 0
            entries.append(FileInfo(relative, kind, size, _mtime(info), _etag_md5(info) if kind == "file" else None))
        return sorted(entries, key=lambda e: e.path)

    def _list_local(self, rid: str, path: str, recursive: bool) -> builtins.list[FileInfo] | None:
        """A local listing that neither shows nor enters symbolic links."""
        try:
            base = self.real_path(rid, path)
            st = os.stat(base)
        except (FileNotFoundError, NotADirectoryError):
            return None
        prefix = path + "/" if path else ""
        if not stat.S_ISDIR(st.st_mode):
            return [FileInfo(path, "file", st.st_size, st.st_mtime)]
        entries = []
        for current, dirs, files in os.walk(base):  # os.walk does not descend into linked folders
            relative = os.path.relpath(current, base).replace(os.sep, "/")
            relative = "" if relative == "." else relative + "/"
            names = [(name, False) for name in files] + ([] if recursive else [(name, True) for name in dirs])
            for name, is_dir in names:
                full = os.path.join(current, name)
                try:
                    entry = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISLNK(entry.st_mode):
                    continue
                entries.append(FileInfo(prefix + relative + name, "directory" if is_dir else "file",
                                        0 if is_dir else entry.st_size, entry.st_mtime))
            if not recursive:
                break
        return sorted(entries, key=lambda e: e.path)

    # Writing ------------------------------------------------------------------------------------

    def begin_upload(self, rid: str, path: str) -> Upload:
        """Start writing a file; call `write` with chunks, then `commit` (or `abort`)."""
        if self.is_local:
            return _LocalUpload(self, rid, path)
        if self.is_object_store:
            return _ObjectUpload(self, self.join(rid, path))
        return _MovedUpload(self, self.join(rid, path))

    def batch(self, rid: str) -> UploadBatch:
        """Many uploads into one resource, sharing their folder checks (close it when done)."""
        return UploadBatch(self, rid)

    def md5_from_listing(self, size: int) -> bool:
        """True when a file of this size written through `begin_upload` gets its md5 as ETag (one PUT)."""
        return self.can_presign and size < OBJECT_BLOCK

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
            os.makedirs(self.join(rid), mode=0o700, exist_ok=True)

    def delete(self, rid: str, path: str = "") -> bool:
        """Delete a file or a folder with everything in it; False when nothing was there."""
        if self.is_local:
            return self._delete_local(rid, path)
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

    def _delete_local(self, rid: str, path: str) -> bool:
        import shutil

        try:
            target = self.real_path(rid, path)
            st = os.lstat(target)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(target)  # removes links inside, never what they point to
        else:
            os.remove(target)
        return True

    # Direct transfer ----------------------------------------------------------------------------

    def presigned_urls(self, rid: str, paths: builtins.list[str], method: str, sizes: builtins.list[int] | None = None,
                       expires: int = DIRECT_URL_SECONDS) -> builtins.list[str]:
        """URLs that let their holder GET or PUT exactly these keys, for `expires` seconds (S3 only).

        A PUT URL with a size signs ``Content-Length`` too: S3 refuses a body of any other length.
        """
        from fsspec.asyn import sync

        if not self.can_presign:
            raise ValueError("presigned URLs need S3 storage")
        client_method = {"GET": "get_object", "PUT": "put_object"}[method]
        keys = [self.fs.split_path(self.join(rid, path))[:2] for path in paths]

        async def sign() -> builtins.list[str]:
            await self.fs.set_session()
            s3 = await self.fs.get_s3(keys[0][0] if keys else None)
            urls = []
            for index, (bucket, key) in enumerate(keys):
                params: dict[str, Any] = {"Bucket": bucket, "Key": key}
                if sizes is not None and method == "PUT":
                    params["ContentLength"] = sizes[index]
                urls.append(await s3.generate_presigned_url(ClientMethod=client_method, Params=params,
                                                            ExpiresIn=expires))
            return urls

        return sync(self.fs.loop, sign)


def _s3_problem(exc: BaseException, bucket: str, fs: Any) -> str:
    """One line on why S3 refused or could not be reached."""
    endpoint = (getattr(fs, "client_kwargs", None) or {}).get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") \
        or "the default AWS endpoint"
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return f"the bucket '{bucket}' does not exist at {endpoint}; create it first"
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return (f"{endpoint} refused access to bucket '{bucket}' ({code}): check AWS_ACCESS_KEY_ID and "
                    f"AWS_SECRET_ACCESS_KEY (or FSSPEC_S3_KEY/FSSPEC_S3_SECRET)")
        return f"S3 at {endpoint} answered {code or type(exc).__name__} for bucket '{bucket}'"
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the server"
    if isinstance(exc, TimeoutError) or name in ("FSTimeoutError", "EndpointConnectionError", "ConnectTimeoutError",
                                                  "ConnectionError", "ClientConnectorError"):
        return f"cannot reach the S3 endpoint {endpoint} ({name})"
    return f"cannot use bucket '{bucket}' at {endpoint}: {name}: {str(exc)[:200]}"


def storage_problem(url: str) -> str | None:
    """Why the storage root at `url` cannot be used, in one line; None when it can."""
    try:
        Storage(url).check()
    except StorageUnavailable as exc:
        return str(exc)
    except ImportError as exc:
        return f"its fsspec backend is not installed ({exc}); for s3:// that is pip install 'brevettiai[s3]'"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
