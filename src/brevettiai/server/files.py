"""The files of jobs and datasets: read (ETag, Range, presigned redirect), write atomically, delete,
list a folder, and hand out presigned URLs. The files API and the pages (downloads, uploads, the
report iframe) all go through here, so they check access and answer alike.

Access follows the caller: a user reads and writes everything; a job key reads and writes its own
job dir (``info.json`` read-only) and reads the datasets given to it (a report: its model too).

On S3 storage the bytes need not pass through the server: after the same access checks, a GET sent
with ``X-Direct-Transfer: allowed`` is answered ``307`` to a presigned URL of exactly that object, and
`transfer_urls` hands out presigned URLs, one per file, each for exactly its key.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from email.utils import formatdate
from typing import NamedTuple

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from brevettiai.contract.jsontypes import JSONValue
from brevettiai.server import access, auth, fileindex, roles, run_summary
from brevettiai.server.auth import Principal
from brevettiai.server.body_pipe import consume_body, in_body_thread
from brevettiai.server.context import ServerContext
from brevettiai.server.errors import ApiError
from brevettiai.server.jobs import INFO_FILE
from brevettiai.server.schemas import LsEntry, Stored
from brevettiai.server.storage import (
    FileInfo,
    PathRejected,
    Storage,
    Upload,
    clean_path,
    clean_resource_id,
    is_full,
)
from brevettiai.server.zerocopy import FileBody

DIRECT_HEADER = "x-direct-transfer"  # "allowed": the client can follow a redirect to the storage itself
SMALL_BODY = 1 << 20  # a PUT declaring at most this many bytes is received whole before it is written
ARTIFACTS = "artifacts"  # the folder of a job dir that holds what the job made


def clean(rid: str, path: str, allow_empty: bool) -> tuple[str, str]:
    """The resource id and path a client gave, checked against the path rules (a 400 or 414 ApiError)."""
    try:
        return clean_resource_id(rid), clean_path(path, allow_empty=allow_empty)
    except PathRejected as exc:
        raise ApiError(exc.status, str(exc)) from None


def _storage_full(path: str, exc: OSError) -> ApiError:
    return ApiError(507, f"cannot store '{path}': the platform's storage is full ({exc.strerror or exc}); "
                         f"free some space or ask the administrator")


def _write_refused(path: str, exc: BaseException) -> ApiError | None:
    """The answer to a storage error while writing `path`, when it is the client's or the disk's doing."""
    if isinstance(exc, NotADirectoryError | IsADirectoryError | FileExistsError):
        return ApiError(409, f"cannot write '{path}': {exc}")
    if isinstance(exc, FileNotFoundError):
        return ApiError(409, f"cannot write '{path}': the path passes through a symbolic link")
    if is_full(exc):
        return _storage_full(path, exc)  # type: ignore[arg-type]
    return None


class Written(NamedTuple):
    """A file just stored: its size, md5, and mtime where the storage told it on the way (else None)."""

    size: int
    md5: str
    mtime: float | None


def store_file(storage: Storage, rid: str, path: str, chunks: Iterable[bytes], limit: int,
               begin: Callable[[str, str], Upload] | None = None) -> Written:
    """Write a file from its chunks, atomically. A 409, 413 or 507 ApiError for what cannot be stored
    (the partial file is dropped). `begin` starts the upload (default: `storage.begin_upload`)."""
    try:
        upload = (begin or storage.begin_upload)(rid, path)
    except OSError as exc:
        refused = _write_refused(path, exc)
        if refused is None:
            raise
        raise refused from None
    try:
        for chunk in chunks:
            if upload.size + len(chunk) > limit:
                raise ApiError(413, f"the file '{path}' is larger than {limit} bytes, the most this server stores")
            upload.write(chunk)
        size, md5 = upload.commit()
        return Written(size, md5, upload.mtime)
    except BaseException as exc:
        upload.abort()
        refused = _write_refused(path, exc) if isinstance(exc, OSError) else None
        if refused is None:
            raise
        raise refused from None


def check_writable(caller: Principal, rid: str, path: str) -> None:
    """403 for a job writing its own info.json (the platform writes it)."""
    if not caller.is_user and rid == caller.job_id and path == INFO_FILE:
        raise ApiError(403, "info.json is written by the platform; a job may only read it")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range (first, last inclusive) a ``Range`` header asks for; None for the whole file.

    Headers this server does not serve (several ranges, other units, malformed) give the whole file,
    as HTTP allows; a range starting past the end is a 416.
    """
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise ApiError(416, "the range is empty", {"Content-Range": f"bytes */{size}"})
        return max(0, size - suffix), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise ApiError(416, f"the range starts past the end of the file ({size} bytes)",
                       {"Content-Range": f"bytes */{size}"})
    return start, size - 1 if last == "" else min(int(last), size - 1)


def read(ctx: ServerContext, caller: Principal, rid: str, path: str, request_headers: Mapping[str, str],
         with_body: bool = True) -> Response:
    """The answer to a GET (or HEAD, without the body) of a file: its bytes streamed, a 206 for a
    ``Range``, a 304 for a matching ``If-None-Match``, or a 307 to the storage for a direct transfer."""
    rid, path = clean(rid, path, allow_empty=False)
    auth.resource_kind(ctx.db, caller, rid, write=False, cache=ctx.tokens)
    if with_body and ctx.storage.can_presign and request_headers.get(DIRECT_HEADER) == "allowed":
        url = ctx.storage.presigned_urls(rid, [path], "GET")[0]
        return Response(status_code=307, headers={"Location": url, "Cache-Control": "no-store"})
    info = ctx.storage.info(rid, path)
    if info is None or info.type != "file":
        raise ApiError(404, f"no file '{path}' in '{rid}'")
    etag = f'"{fileindex.md5_of(ctx.db, ctx.storage, rid, info)}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes"}
    if info.mtime is not None:
        headers["Last-Modified"] = formatdate(info.mtime, usegmt=True)
    if etag in [tag.strip() for tag in request_headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    wanted = parse_range(request_headers.get("range"), info.size)
    status, start, length = 200, 0, info.size
    if wanted is not None:
        status, start, length = 206, wanted[0], wanted[1] - wanted[0] + 1
        headers["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{info.size}"
    headers["Content-Length"] = str(length)
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if not with_body:
        return Response(status_code=status, headers=headers, media_type=media_type)
    if ctx.storage.is_local:  # sent by the kernel (sendfile) where the server connection allows
        return FileBody(lambda: ctx.storage.open_read(rid, path), start, length, status, headers, media_type)
    return StreamingResponse(ctx.storage.read_chunks(rid, path, start, length), status_code=status, headers=headers,
                             media_type=media_type)


async def write(ctx: ServerContext, caller: Principal, rid: str, path: str, body: AsyncIterator[bytes],
                declared_length: str | None) -> Stored:
    """Store a request body at the path (atomically: readers see the old file or the whole new one)."""
    rid, path = clean(rid, path, allow_empty=False)
    declared = int(declared_length) if declared_length and declared_length.isdigit() else None
    if declared is not None and declared <= SMALL_BODY:
        # A small file: received whole first, then checked, stored and indexed in one trip to a thread.
        content = b"".join([chunk async for chunk in body])
        return await in_body_thread(_write_whole, ctx, caller, rid, path, content)
    await run_in_threadpool(_check_write, ctx, caller, rid, path, declared)
    limit = ctx.config.max_upload
    # Receiving goes on while a pool thread hashes and writes what has arrived.
    written = await consume_body(body, lambda reader: store_file(ctx.storage, rid, path,
                                                                 iter(reader.next_chunk, b""), limit))
    return await run_in_threadpool(_recorded, ctx, rid, path, written)


def _check_write(ctx: ServerContext, caller: Principal, rid: str, path: str, size: int | None) -> None:
    """404/403 unless the caller may write `path` of `rid`; 413 for a file over the upload limit."""
    auth.resource_kind(ctx.db, caller, rid, True, path, ctx.tokens)
    check_writable(caller, rid, path)
    limit = ctx.config.max_upload
    if size is not None and size > limit:
        raise ApiError(413, f"the file is {size} bytes; the most this server stores is {limit}")


def _write_whole(ctx: ServerContext, caller: Principal, rid: str, path: str, content: bytes) -> Stored:
    """`write` of a body received whole."""
    _check_write(ctx, caller, rid, path, len(content))
    return _recorded(ctx, rid, path, store_file(ctx.storage, rid, path, (content,), ctx.config.max_upload))


def _recorded(ctx: ServerContext, rid: str, path: str, written: Written) -> Stored:
    """Index a file just written (and a run's outputs when it is its output.json); the answer to its PUT."""
    fileindex.record_write(ctx.db, ctx.storage, rid, path, written.size, written.md5, written.mtime)
    if path == run_summary.OUTPUT_FILE:
        run_summary.record_outputs(ctx, rid)
    return Stored(path=f"{rid}/{path}", size=written.size, md5=written.md5)


def delete(ctx: ServerContext, caller: Principal, rid: str, path: str) -> None:
    """Delete a file, or a folder with everything below it; 404 when nothing is there."""
    rid, path = clean(rid, path, allow_empty=False)
    auth.resource_kind(ctx.db, caller, rid, write=True, cache=ctx.tokens)
    check_writable(caller, rid, path)
    if not ctx.storage.delete(rid, path):
        raise ApiError(404, f"nothing at '{path}' in '{rid}'")
    with ctx.db.write() as session:
        fileindex.forget(session, rid, path)


def list_folder(ctx: ServerContext, caller: Principal, rid: str, path: str, recursive: bool) -> list[LsEntry]:
    """A folder's direct children (or all files below it, `recursive`); a file path lists the file itself,
    with the md5s the server knows."""
    rid, path = clean(rid, path, allow_empty=True)
    auth.resource_kind(ctx.db, caller, rid, write=False, cache=ctx.tokens)
    entries = ctx.storage.list(rid, path, recursive)
    if entries is None:
        if path:
            raise ApiError(404, f"nothing at '{path}' in '{rid}'")
        entries = []
    entries = [e for e in entries if not (recursive and e.type == "directory")]
    md5s = fileindex.known_md5s(ctx.db, rid, entries)
    return [LsEntry(name=f"{rid}/{e.path}", type=e.type, size=e.size, md5=md5s.get(e.path), mtime=e.mtime)
            for e in entries]


def folder_entries(ctx: ServerContext, caller: Principal, rid: str, folder: str,
                   recursive: bool = False) -> list[FileInfo] | None:
    """What storage holds in `folder` of `rid` (direct children, or everything below it, `recursive`), in
    storage order; None when `folder` (not the root) is not there. `PathRejected` for a path that breaks
    a path rule; 404 when the caller may not read `rid`."""
    folder = clean_path(folder)
    auth.resource_kind(ctx.db, caller, rid, write=False, cache=ctx.tokens)
    entries = ctx.storage.list(rid, folder, recursive)
    if not entries and folder and ctx.storage.info(rid, folder) is None:
        return None
    return entries or []


def artifact_entries(ctx: ServerContext, caller: Principal, job_id: str, folder: str = "",
                     recursive: bool = False) -> list[FileInfo] | None:
    """`folder_entries` of `folder` below the job's ``artifacts/``; their paths start with ``artifacts/``."""
    return folder_entries(ctx, caller, job_id, f"{ARTIFACTS}/{folder}", recursive)


def folders_first(entries: Iterable[FileInfo]) -> list[FileInfo]:
    """Entries in the order a folder is shown: folders, then files, each by name in any case."""
    return sorted(entries, key=lambda entry: (entry.type != "directory", entry.path.lower()))


def file_info(ctx: ServerContext, caller: Principal, rid: str, path: str) -> FileInfo | None:
    """What storage knows of the file at `path` of `rid`; None when no file is there (a folder is not a
    file). `PathRejected` for a path that breaks a path rule; 404 when the caller may not read `rid`."""
    path = clean_path(path, allow_empty=False)
    auth.resource_kind(ctx.db, caller, rid, write=False, cache=ctx.tokens)
    info = ctx.storage.info(rid, path)
    return info if info is not None and info.type == "file" else None


def read_start(ctx: ServerContext, caller: Principal, rid: str, path: str, length: int) -> bytes:
    """The first `length` bytes of the file at `path` of `rid` (fewer when it is shorter), after the same
    checks as `file_info`; the caller knows the file is there (`file_info`)."""
    path = clean_path(path, allow_empty=False)
    auth.resource_kind(ctx.db, caller, rid, write=False, cache=ctx.tokens)
    return b"".join(ctx.storage.read_chunks(rid, path, 0, length))


def read_json(ctx: ServerContext, caller: Principal, rid: str, path: str) -> JSONValue | None:
    """The JSON document at `path` of `rid`; None when it is missing, unreadable or not JSON. Checked
    like `file_info`."""
    path = clean_path(path, allow_empty=False)
    auth.resource_kind(ctx.db, caller, rid, write=False, cache=ctx.tokens)
    try:
        document: JSONValue = json.loads(ctx.storage.read_bytes(rid, path))
    except (FileNotFoundError, ValueError, OSError):
        return None
    return document


def transfer_urls(ctx: ServerContext, caller: Principal, rid: str, method: str,
                  files: list[tuple[str, int | None]]) -> list[tuple[str, str]] | None:
    """Presigned URLs (path, url) to GET or PUT each (path, size) straight from/to S3, after the usual
    access checks; None when the storage cannot presign (a local folder: send the bytes through the server).

    A PUT URL takes exactly `size` bytes (its ``Content-Length`` is signed).
    """
    rid, _ = clean(rid, "", allow_empty=True)
    write = method == "PUT"
    if write:
        access.require(caller, roles.MEMBER)  # the access table lets viewers ask for GET URLs only
    auth.resource_kind(ctx.db, caller, rid, write=write, cache=ctx.tokens)
    if not ctx.storage.can_presign:
        return None
    paths, sizes = [], []
    for given, size in files:
        _, path = clean(rid, given, allow_empty=False)
        if write:
            check_writable(caller, rid, path)
            if size is None:
                raise ApiError(400, f"files[].size is needed to PUT '{path}': the URL is signed for that length")
            if size > ctx.config.max_upload:
                raise ApiError(413, f"'{path}' is {size} bytes; the most this server stores is "
                                    f"{ctx.config.max_upload}")
        paths.append(path)
        sizes.append(size or 0)
    urls = ctx.storage.presigned_urls(rid, paths, method, sizes if write else None) if paths else []
    return list(zip(paths, urls, strict=True))
