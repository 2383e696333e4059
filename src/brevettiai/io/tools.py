"""IoTools: read, write, copy, list and remove files on local disk or any fsspec URL.

Plain local paths (and ``file://`` URLs) go straight to `os`/`shutil`; other URLs go through an
fsspec filesystem per protocol, created on first use so that importing this module never imports
fsspec. Writes are atomic, backend errors become `FileNotFoundError` or `StorageError`, and reads of
remote files can go through a validated local cache (see `brevettiai.io.cache`).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import posixpath
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, NamedTuple

from brevettiai.errors import BrevettiError, StorageError, StoragePathError
from brevettiai.io import path as iopath
from brevettiai.io.atomic import atomic_write
from brevettiai.io.buffers import copy_stream
from brevettiai.io.cache import ReadCache, remote_signature
from brevettiai.io.path import PathArg
from brevettiai.io.progress import Advance, byte_progress, no_progress

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Remote writes up to this size are sent in one put; larger ones are first spooled to a local temp
# file, so a source that fails midway never leaves a partial object behind.
SINGLE_PUT_BYTES = 16 << 20
# Object stores have no real folders, so make_dirs does nothing there.
OBJECT_STORE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})
# os.replace errors after which move falls back to copy + remove.
_RENAME_FALLBACK_ERRNOS = frozenset({errno.EXDEV, errno.ENOTEMPTY, errno.EEXIST})

Content = str | bytes | bytearray | memoryview | IO[bytes] | IO[str]
WalkEntry = tuple[str, list[str], list[str]]


class _Target(NamedTuple):
    """A user path resolved to a local path (``fs`` is None) or a key on an fsspec filesystem."""

    given: str
    key: str
    protocol: str | None = None
    fs: Any = None

    @property
    def is_local(self) -> bool:
        return self.fs is None


class IoTools:
    """File access for local paths and fsspec URLs, with atomic writes and a validated read cache."""

    def __init__(
        self,
        cache_root: PathArg | None = None,
        storage_options: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self._storage_options = {protocol: dict(opts) for protocol, opts in (storage_options or {}).items()}
        self._filesystems: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._cache: ReadCache | None = None
        self.set_cache_root(cache_root)

    @classmethod
    def factory(cls, *, cache_root: PathArg | None = None,
                storage_options: Mapping[str, Mapping[str, object]] | None = None) -> IoTools:
        """Return a new instance built with these keyword arguments."""
        return cls(cache_root=cache_root, storage_options=storage_options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cache_root={self.cache_root!r})"

    @property
    def cache_root(self) -> str | None:
        """The local folder holding cached remote files, or None when caching is off."""
        return None if self._cache is None else self._cache.root

    def set_cache_root(self, root: PathArg | None) -> None:
        """Cache remote reads below ``root`` (an existing local folder); None turns caching off."""
        self._cache = None if root is None else ReadCache(root)

    # -- reading -------------------------------------------------------------------------------

    def read_file(self, path: PathArg, cache: bool | None = None) -> bytes:
        """Return the file's bytes; remote reads use the cache when a root is set (or cache=True)."""
        target = self._resolve(path)
        use_cache = self._use_cache(cache, "read_file", target)
        with _backend_errors("read_file", target.given):
            if target.is_local:
                with open(target.key, "rb") as handle:
                    return handle.read()
            if use_cache:
                with open(self._ensure_cached(target), "rb") as handle:
                    return handle.read()
            return target.fs.cat_file(target.key)

    def ensure_in_cache(self, path: PathArg) -> str:
        """Return a local path holding the file's current content (a local file is returned as is)."""
        target = self._resolve(path)
        if target.is_local:
            return target.key
        self._use_cache(True, "ensure_in_cache", target)
        with _backend_errors("ensure_in_cache", target.given):
            return self._ensure_cached(target)

    def get_md5(self, path: PathArg) -> str:
        """Return the hex md5 digest of the file's content, read in chunks."""
        target = self._resolve(path)
        with _backend_errors("get_md5", target.given):
            import hashlib

            digest = hashlib.md5(usedforsecurity=False)
            with _open_read(target) as handle:
                for chunk in _read_chunks(handle):
                    digest.update(chunk)
            return digest.hexdigest()

    # -- writing -------------------------------------------------------------------------------

    def write_file(self, path: PathArg, content: Content) -> None:
        """Atomically replace the file with ``content`` (str as utf-8, bytes, or a file object)."""
        target = self._resolve(path)
        chunks = _content_chunks(content)
        with _backend_errors("write_file", target.given):
            put_fileobj = None if target.is_local else getattr(target.fs, "put_fileobj", None)
            local_file = None if put_fileobj is None or isinstance(chunks, list) else _regular_file(content)
            if put_fileobj is not None and local_file is not None:
                # A file on a local disk can be read again and its size is known: it is sent as it is, as
                # `copy` sends a local file, without first spooling it to a temporary file.
                self._make_remote_parent(target)
                put_fileobj(local_file, target.key)
            elif target.is_local:
                _write_local(target.key, chunks)
            elif isinstance(chunks, list):
                self._make_remote_parent(target)
                target.fs.pipe_file(target.key, b"".join(chunks))
            else:
                self._write_remote(target, chunks)
            self._forget_cached(target)

    def copy(self, src: PathArg, dst: PathArg) -> None:
        """Copy a file or folder tree across any two backends; ``dst`` is the copy's own path."""
        source, destination = self._resolve(src), self._resolve(dst)
        if _same_place(source, destination):
            return
        with _backend_errors(f"copy to {destination.given!r}", source.given):
            is_tree, files = self._list_copy_files(source)
            if is_tree:
                _refuse_copy_into_itself(source, destination)
                if destination.is_local:
                    os.makedirs(destination.key, exist_ok=True)
            total = sum(size for _, size in files)
            with byte_progress(total, f"copy {source.given}") as advance:
                for relative, size in files:
                    self._copy_file(
                        self._child(source, relative), self._child(destination, relative), size, advance
                    )
            self._forget_cached(destination)

    def move(self, src: PathArg, dst: PathArg) -> None:
        """Move a file or tree: a rename on one local disk, else copy then remove."""
        source, destination = self._resolve(src), self._resolve(dst)
        if _same_place(source, destination):
            return
        if source.is_local and destination.is_local:
            with _backend_errors(f"move to {destination.given!r}", source.given):
                if not os.path.lexists(source.key):
                    raise FileNotFoundError(errno.ENOENT, "No such file or directory", source.given)
                os.makedirs(os.path.dirname(os.path.abspath(destination.key)), exist_ok=True)
                try:
                    os.replace(source.key, destination.key)
                    return
                except OSError as error:
                    if error.errno not in _RENAME_FALLBACK_ERRNOS:
                        raise
        self.copy(src, dst)
        self.remove(src)

    def remove(self, path: PathArg) -> None:
        """Delete a file or a whole tree; a missing path raises FileNotFoundError."""
        target = self._resolve(path)
        with _backend_errors("remove", target.given):
            if target.is_local:
                if os.path.isdir(target.key) and not os.path.islink(target.key):
                    import shutil

                    shutil.rmtree(target.key)
                else:
                    os.remove(target.key)
                return
            target.fs.invalidate_cache(target.key)
            if not target.fs.exists(target.key):
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", target.given)
            target.fs.rm(target.key, recursive=True)
            self._forget_cached(target)

    def make_dirs(self, path: PathArg) -> None:
        """Create a folder and its parents; a no-op on object stores, which have no folders."""
        target = self._resolve(path)
        with _backend_errors("make_dirs", target.given):
            if target.is_local:
                os.makedirs(target.key, exist_ok=True)
            elif target.protocol not in OBJECT_STORE_PROTOCOLS:
                target.fs.makedirs(target.key, exist_ok=True)

    # -- listing -------------------------------------------------------------------------------

    def walk(self, path: PathArg, exclude_hidden: bool = False) -> Iterator[WalkEntry]:
        """Yield ``(root, dirs, files)`` top-down like `os.walk`; roots keep the form of ``path``."""
        target = self._resolve(path)
        with _backend_errors("walk", target.given):
            walker = _walk_local(target) if target.is_local else _walk_remote(target)
            for root, dirs, files in walker:
                if exclude_hidden:
                    dirs[:] = [name for name in dirs if not name.startswith(".")]
                    files = [name for name in files if not name.startswith(".")]
                # Yielding the same `dirs` list lets callers prune the walk in place, as with os.walk.
                yield root, dirs, files

    def ls(self, path: PathArg) -> list[str]:
        """Return the sorted full paths of the folder's direct children."""
        target = self._resolve(path)
        with _backend_errors("ls", target.given):
            if target.is_local:
                names = os.listdir(target.key)
            else:
                dirs, files, is_file = _remote_children(target)
                if is_file:
                    raise NotADirectoryError(errno.ENOTDIR, "Not a directory", target.given)
                names = dirs + files
            return sorted(iopath.join(target.given, name) for name in names)

    def exists(self, path: PathArg) -> bool:
        """Return True when a file or folder exists at ``path``."""
        target = self._resolve(path)
        with _backend_errors("exists", target.given):
            if target.is_local:
                return os.path.exists(target.key)
            target.fs.invalidate_cache(target.key)
            return bool(target.fs.exists(target.key))

    def isfile(self, path: PathArg) -> bool:
        """Return True when ``path`` is an existing file."""
        target = self._resolve(path)
        with _backend_errors("isfile", target.given):
            if target.is_local:
                return os.path.isfile(target.key)
            target.fs.invalidate_cache(target.key)
            return bool(target.fs.isfile(target.key))

    # -- internals -----------------------------------------------------------------------------

    def _resolve(self, path: PathArg) -> _Target:
        """Turn a user path into a local path or a (filesystem, key) pair."""
        given = os.fspath(path)
        if not isinstance(given, str):
            raise TypeError(f"paths must be str or os.PathLike[str]; given {type(given).__name__}")
        local = iopath.local_path(given)
        if local is not None:
            return _Target(given, local)
        protocol, _ = iopath.split_protocol(given)
        assert protocol is not None  # not local, so it is a URL
        fs = self._filesystem(protocol)
        return _Target(given, fs._strip_protocol(given), protocol, fs)

    def _child(self, target: _Target, relative: str) -> _Target:
        """Resolve ``relative`` (posix separators; "" is the target itself) below ``target``."""
        return target if not relative else self._resolve(iopath.join(target.given, relative))

    def _filesystem(self, protocol: str) -> Any:
        """Return this instance's fsspec filesystem for ``protocol``, creating it on first use."""
        with self._lock:
            fs = self._filesystems.get(protocol)
            if fs is None:
                fs = _open_filesystem(protocol, self._storage_options.get(protocol, {}))
                self._filesystems[protocol] = fs
            return fs

    def _use_cache(self, cache: bool | None, operation: str, target: _Target) -> bool:
        """Decide whether a remote read goes through the cache; cache=True without a root is an error."""
        if cache is False or target.is_local:
            return False
        if self._cache is None:
            if cache:
                raise StoragePathError(
                    f"{operation}({target.given!r}) needs a cache root, and none is set; "
                    "accepted: call set_cache_root(<existing local folder>) first, or pass cache=None"
                )
            return False
        return True

    def _ensure_cached(self, target: _Target) -> str:
        """Return the validated cached copy of a remote file, fetching it when missing or stale."""
        assert self._cache is not None and target.protocol is not None
        fs = target.fs
        # Drop fsspec's listing cache first: validation must see the remote as it is now.
        fs.invalidate_cache(target.key)
        # The signature is read before the content: if the file changes in between, the copy is
        # newer than its recorded signature and the next read re-fetches, never the reverse.
        info = fs.info(target.key)
        if info.get("type") == "directory":
            raise IsADirectoryError(errno.EISDIR, "Is a directory", target.given)
        signature = remote_signature(info)
        cached = self._cache.lookup(target.protocol, target.key, signature)
        if cached is not None:
            logger.debug("cache hit for %s", target.given)
            return cached
        logger.debug("cache miss for %s; fetching", target.given)

        def fill(handle: IO[bytes]) -> None:
            with fs.open(target.key, "rb") as remote:
                copy_stream(remote, handle)

        return self._cache.store(target.protocol, target.key, signature, fill)

    def _forget_cached(self, target: _Target) -> None:
        """Drop cached copies of ``target`` and of everything below it."""
        if self._cache is not None and not target.is_local and target.protocol is not None:
            self._cache.drop(target.protocol, target.key)

    def _list_copy_files(self, source: _Target) -> tuple[bool, list[tuple[str, int]]]:
        """Return (source is a folder, its files as ``(relative posix path, size)``); a file is ``""``."""
        if source.is_local:
            if os.path.isfile(source.key):
                return False, [("", os.path.getsize(source.key))]
            if not os.path.isdir(source.key):
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", source.given)
            found = []
            for root, _dirs, files in os.walk(source.key):
                for name in files:
                    full = os.path.join(root, name)
                    relative = os.path.relpath(full, source.key).replace(os.sep, "/")
                    found.append((relative, os.path.getsize(full)))
            return True, sorted(found)
        fs = source.fs
        fs.invalidate_cache(source.key)
        info = fs.info(source.key)
        if info.get("type") != "directory":
            return False, [("", int(info.get("size") or 0))]
        prefix = source.key.rstrip("/") + "/"
        return True, sorted(
            (name[len(prefix) :], int(entry.get("size") or 0))
            for name, entry in fs.find(source.key, detail=True).items()
            if name.startswith(prefix) and not name.endswith("/") and entry.get("type") != "directory"
        )

    def _copy_file(self, source: _Target, destination: _Target, size: int, advance: Advance) -> None:
        """Copy one file, streaming in chunks, with an atomic replace at the destination."""
        if destination.is_local:
            with _open_read(source) as handle:
                atomic_write(destination.key, lambda out: copy_stream(handle, out, advance))
        elif source.is_local:
            self._upload_local_file(source.key, destination, advance)
        elif source.fs is destination.fs:
            self._make_remote_parent(destination)
            destination.fs.cp_file(source.key, destination.key)  # server-side where supported
            advance(size)
        else:
            with _open_read(source) as handle:
                self._write_remote(destination, _read_chunks(handle), advance)

    def _write_remote(self, target: _Target, chunks: Iterable[bytes], advance: Advance = no_progress) -> None:
        """Store ``chunks`` as one remote object without ever exposing a partial one."""
        buffered = bytearray()
        pending = iter(chunks)
        for chunk in pending:
            buffered += chunk
            advance(len(chunk))
            if len(buffered) > SINGLE_PUT_BYTES:
                break
        else:
            self._make_remote_parent(target)
            target.fs.pipe_file(target.key, bytes(buffered))
            return
        import tempfile

        with tempfile.TemporaryDirectory(prefix="brevettiai-upload-") as folder:
            spool = os.path.join(folder, "content")
            with open(spool, "wb") as handle:
                handle.write(buffered)
                buffered.clear()
                for chunk in pending:
                    handle.write(chunk)
                    advance(len(chunk))
            self._upload_local_file(spool, target)

    def _upload_local_file(self, local: str, target: _Target, advance: Advance = no_progress) -> None:
        """Upload a complete local file to ``target``: one put when small, the backend's upload else."""
        size = os.path.getsize(local)
        self._make_remote_parent(target)
        if size <= SINGLE_PUT_BYTES:
            with open(local, "rb") as handle:
                target.fs.pipe_file(target.key, handle.read())
            advance(size)
        else:
            # S3-like backends only publish a multipart upload once every part has arrived.
            target.fs.put_file(local, target.key, callback=_progress_callback(advance))

    def _make_remote_parent(self, target: _Target) -> None:
        """Create the parent folder of a remote target on backends that have folders."""
        if target.protocol in OBJECT_STORE_PROTOCOLS:
            return
        parent = posixpath.dirname(target.key.rstrip("/"))
        if parent not in ("", "/"):
            target.fs.makedirs(parent, exist_ok=True)


@contextmanager
def _backend_errors(operation: str, path: str) -> Iterator[None]:
    """Turn backend failures into FileNotFoundError or StorageError naming ``operation`` and ``path``."""
    try:
        yield
    except BrevettiError:
        raise
    except FileNotFoundError as error:
        raise FileNotFoundError(errno.ENOENT, f"{operation}: no such file or directory", path) from error
    except Exception as error:
        # OSError covers local disks and what fsspec backends translate; other non-builtin errors
        # come from backend libraries (botocore, aiohttp...). Builtin errors such as TypeError, or
        # one raised by a caller's own content stream, pass through untouched.
        if not isinstance(error, OSError) and type(error).__module__ == "builtins":
            raise
        raise StorageError(f"{operation} failed for {path!r}: {type(error).__name__}: {error}") from error


def _open_filesystem(protocol: str, options: Mapping[str, Any]) -> Any:
    """Create the fsspec filesystem for ``protocol`` (fsspec is imported only here)."""
    import fsspec

    try:
        return fsspec.filesystem(protocol, **options)
    except ImportError as error:
        raise StorageError(
            f"cannot open {protocol}:// storage: {error}; install its fsspec backend "
            "(for s3:// that is `pip install 'brevettiai[s3]'`)"
        ) from error
    except ValueError as error:
        raise StoragePathError(
            f"unknown storage protocol {protocol!r}: {error}; accepted: a local path or a URL "
            "whose scheme fsspec knows (s3://, memory://, file://, ...)"
        ) from error


def _open_read(target: _Target) -> IO[bytes]:
    """Open a local or remote file for binary reading."""
    return open(target.key, "rb") if target.is_local else target.fs.open(target.key, "rb")


def _read_chunks(stream: IO[Any]) -> Iterator[bytes]:
    """Yield a stream's content in chunks; text chunks are encoded as utf-8."""
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


def _content_chunks(content: Content) -> list[bytes] | Iterator[bytes]:
    """Return in-memory content as a one-item list and a file object as a lazy chunk iterator."""
    if isinstance(content, str):
        return [content.encode("utf-8")]
    if isinstance(content, bytes | bytearray | memoryview):
        return [bytes(content)]
    if callable(getattr(content, "read", None)):
        return _read_chunks(content)
    raise TypeError(
        f"write_file content must be str, bytes, bytearray, memoryview or a readable file object; "
        f"given {type(content).__name__}"
    )


def _regular_file(content: object) -> IO[bytes] | None:
    """``content`` when it is an open binary file on a local disk (seekable, its size known), else None."""
    fileno, seekable, readable = (getattr(content, name, None) for name in ("fileno", "seekable", "readable"))
    if fileno is None or seekable is None or readable is None or isinstance(content, io.TextIOBase):
        return None
    try:
        if not (readable() and seekable()) or not stat.S_ISREG(os.fstat(fileno()).st_mode):
            return None
    except (OSError, ValueError):  # no descriptor (io.BytesIO, a socket's file), or closed
        return None
    return content  # type: ignore[return-value]


def _write_local(path: str, chunks: Iterable[bytes], advance: Advance = no_progress) -> None:
    """Atomically write ``chunks`` to a local file, creating its parent folders."""

    def fill(handle: IO[bytes]) -> None:
        for chunk in chunks:
            handle.write(chunk)
            advance(len(chunk))

    atomic_write(path, fill)


def _walk_local(target: _Target) -> Iterator[WalkEntry]:
    """Walk a local folder top-down; roots are reported in the form the caller gave."""
    if not os.path.exists(target.key):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", target.given)
    for root, dirs, files in os.walk(target.key):
        dirs.sort()  # in place, so pruning by the caller still reaches os.walk
        relative = os.path.relpath(root, target.key)
        shown = target.given if relative == os.curdir else _below(target.given, relative)
        yield shown, dirs, sorted(files)


def _below(given: str, relative: str) -> str:
    """Join a local relative path below the caller's path, keeping URL separators for URLs."""
    if iopath.is_url(given):
        relative = relative.replace(os.sep, "/")
    return iopath.join(given, relative)


def _walk_remote(target: _Target) -> Iterator[WalkEntry]:
    """Walk a remote folder top-down by listing one folder at a time."""
    stack = [target]
    while stack:
        folder = stack.pop()
        dirs, files, is_file = _remote_children(folder)
        if is_file:
            continue  # like os.walk, a file has nothing to walk
        yield folder.given, dirs, files
        # Reading `dirs` after the yield honours in-place pruning by the caller.
        for name in reversed(dirs):
            child_key = folder.key.rstrip("/") + "/" + name
            stack.append(_Target(iopath.join(folder.given, name), child_key, folder.protocol, folder.fs))


def _remote_children(target: _Target) -> tuple[list[str], list[str], bool]:
    """List a remote folder as ``(dir names, file names, path_is_a_file)``."""
    fs = target.fs
    fs.invalidate_cache(target.key)
    own = target.key.rstrip("/")
    dirs: set[str] = set()
    files: set[str] = set()
    for entry in fs.ls(target.key, detail=True):
        name = entry["name"].rstrip("/")
        if name == own:
            if entry.get("type") != "directory":
                return [], [], True
            continue
        base = name.rsplit("/", 1)[-1]
        (dirs if entry.get("type") == "directory" else files).add(base)
    return sorted(dirs), sorted(files), False


def _same_place(a: _Target, b: _Target) -> bool:
    """Return True when both targets name the same file or folder."""
    if a.is_local and b.is_local:
        return os.path.abspath(a.key) == os.path.abspath(b.key)
    return a.fs is b.fs and a.key.rstrip("/") == b.key.rstrip("/")


def _refuse_copy_into_itself(source: _Target, destination: _Target) -> None:
    """Reject a tree copy whose destination lies inside its source."""
    if source.is_local and destination.is_local:
        inside = os.path.abspath(destination.key).startswith(os.path.abspath(source.key) + os.sep)
    else:
        inside = source.fs is destination.fs and destination.key.startswith(source.key.rstrip("/") + "/")
    if inside:
        raise StoragePathError(
            f"copy: destination {destination.given!r} is inside source {source.given!r}; "
            "accepted: a destination outside the source tree"
        )


def _progress_callback(advance: Advance) -> Any:
    """Wrap ``advance`` as an fsspec callback (fsspec is imported only here)."""
    from fsspec.callbacks import Callback

    class _Forward(Callback):
        def __init__(self) -> None:
            super().__init__()
            self._reported = 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            delta, self._reported = self.value - self._reported, self.value
            if delta > 0:
                advance(delta)

    return _Forward()
