"""``/api/files`` and ``/api/ls``: stream files of jobs and datasets in and out, list folders.

Access follows the caller: a user reads and writes everything; a job key reads and writes its own
job dir (``info.json`` read-only) and reads the datasets given to it (a report: its model too).

On S3 storage the bytes need not pass through the server: after the same access checks, a GET sent
with ``X-Direct-Transfer: allowed`` is answered ``307`` to a presigned URL of exactly that object, and
``POST /api/transfer/{rid}`` hands out presigned PUT URLs, one per file, each for exactly its key.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from brevettiai.server import access, auth, fileindex, roles, run_summary
from brevettiai.server.auth import Principal, principal
from brevettiai.server.body_pipe import consume_body
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.errors import ApiError
from brevettiai.server.jobs import INFO_FILE
from brevettiai.server.schemas import LsEntry, Stored
from brevettiai.server.storage import (
    DIRECT_URL_SECONDS,
    PathRejected,
    Storage,
    Upload,
    clean_path,
    clean_resource_id,
    is_full,
)
from brevettiai.server.zerocopy import FileBody

router = APIRouter(tags=["files"])

DIRECT_HEADER = "x-direct-transfer"  # "allowed": the client can follow a redirect to the storage itself
MAX_TRANSFER_FILES = 1000


def _clean(rid: str, path: str, allow_empty: bool) -> tuple[str, str]:
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


def store_file(storage: Storage, rid: str, path: str, chunks: Iterable[bytes], limit: int,
               begin: Callable[[str, str], Upload] | None = None) -> tuple[int, str]:
    """Write a file from its chunks, atomically; its size and md5. A 409, 413 or 507 ApiError for what
    cannot be stored (the partial file is dropped). `begin` starts the upload (default: `storage.begin_upload`)."""
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
        return upload.commit()
    except BaseException as exc:
        upload.abort()
        refused = _write_refused(path, exc) if isinstance(exc, OSError) else None
        if refused is None:
            raise
        raise refused from None


def _check_writable(caller: Principal, rid: str, path: str) -> None:
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


@router.get("/api/files/{rid}/{path:path}", summary="Read a file (Range, ETag)", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "Partial content"},
                       307: {"description": "S3 storage and `X-Direct-Transfer: allowed`: `Location` is a "
                                            "presigned URL of the object"}})
def read_file(rid: str, path: str, request: Request, caller: Principal = Depends(principal),
              ctx: ServerContext = Depends(get_context)) -> Response:
    """The file's bytes, streamed; ``Range: bytes=a-b`` gives a 206 with that part."""
    return _file_answer(rid, path, request, caller, ctx, with_body=True)


@router.head("/api/files/{rid}/{path:path}", summary="A file's headers (size, ETag, Last-Modified)")
def head_file(rid: str, path: str, request: Request, caller: Principal = Depends(principal),
              ctx: ServerContext = Depends(get_context)) -> Response:
    """What GET would answer, without the body."""
    return _file_answer(rid, path, request, caller, ctx, with_body=False)


def _file_answer(rid: str, path: str, request: Request, caller: Principal, ctx: ServerContext,
                 with_body: bool) -> Response:
    rid, path = _clean(rid, path, allow_empty=False)
    auth.resource_kind(ctx.db, caller, rid, write=False)
    if with_body and ctx.storage.can_presign and request.headers.get(DIRECT_HEADER) == "allowed":
        url = ctx.storage.presigned_urls(rid, [path], "GET")[0]
        return Response(status_code=307, headers={"Location": url, "Cache-Control": "no-store"})
    info = ctx.storage.info(rid, path)
    if info is None or info.type != "file":
        raise ApiError(404, f"no file '{path}' in '{rid}'")
    etag = f'"{fileindex.md5_of(ctx.db, ctx.storage, rid, info)}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes"}
    if info.mtime is not None:
        headers["Last-Modified"] = formatdate(info.mtime, usegmt=True)
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    wanted = parse_range(request.headers.get("range"), info.size)
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


@router.put("/api/files/{rid}/{path:path}", status_code=201, response_model=Stored,
            summary="Write a file: the body is its content, streamed to storage",
            openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                           "format": "binary"}}}}})
async def write_file(rid: str, path: str, request: Request, caller: Principal = Depends(principal),
                     ctx: ServerContext = Depends(get_context)) -> Stored:
    """Store the request body at the path (atomically: readers see the old file or the whole new one)."""
    rid, path = _clean(rid, path, allow_empty=False)
    await run_in_threadpool(auth.resource_kind, ctx.db, caller, rid, True, path)
    _check_writable(caller, rid, path)
    limit = ctx.config.max_upload
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the file is {declared} bytes; the most this server stores is {limit}")
    # Receiving goes on while a pool thread hashes and writes what has arrived.
    size, md5 = await consume_body(request.stream(),
                                   lambda body: store_file(ctx.storage, rid, path, iter(body.next_chunk, b""), limit))
    await run_in_threadpool(fileindex.record_write, ctx.db, ctx.storage, rid, path, size, md5)
    if path == run_summary.OUTPUT_FILE:
        await run_in_threadpool(run_summary.record_outputs, ctx, rid)
    return Stored(path=f"{rid}/{path}", size=size, md5=md5)


@router.delete("/api/files/{rid}/{path:path}", status_code=204, summary="Delete a file or a folder")
def delete_file(rid: str, path: str, caller: Principal = Depends(principal),
                ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete a file, or a folder with everything below it."""
    rid, path = _clean(rid, path, allow_empty=False)
    auth.resource_kind(ctx.db, caller, rid, write=True)
    _check_writable(caller, rid, path)
    if not ctx.storage.delete(rid, path):
        raise ApiError(404, f"nothing at '{path}' in '{rid}'")
    with ctx.db.write() as session:
        fileindex.forget(session, rid, path)
    return Response(status_code=204)


@router.get("/api/ls/{rid}", response_model=list[LsEntry], include_in_schema=False)
@router.get("/api/ls/{rid}/{path:path}", response_model=list[LsEntry], summary="List a folder")
def list_folder(rid: str, path: str = "", recursive: bool = Query(False, description="Every file below, not just "
                                                                                      "the direct children"),
                caller: Principal = Depends(principal), ctx: ServerContext = Depends(get_context)) -> list[LsEntry]:
    """A folder's direct children (or all files below it); a file path lists the file itself.

    ``md5`` is given for files the server knows the md5 of (written through it or read once).
    """
    rid, path = _clean(rid, path, allow_empty=True)
    auth.resource_kind(ctx.db, caller, rid, write=False)
    entries = ctx.storage.list(rid, path, recursive)
    if entries is None:
        if path:
            raise ApiError(404, f"nothing at '{path}' in '{rid}'")
        entries = []
    entries = [e for e in entries if not (recursive and e.type == "directory")]
    md5s = fileindex.known_md5s(ctx.db, rid, entries)
    return [LsEntry(name=f"{rid}/{e.path}", type=e.type, size=e.size, md5=md5s.get(e.path), mtime=e.mtime)
            for e in entries]


class TransferFile(BaseModel):
    """One file a client wants to move itself."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="path inside the resource")
    size: int | None = Field(None, ge=0, description="bytes to PUT: needed for PUT; checked against the upload "
                                                     "limit and signed, so S3 takes exactly this many")


class TransferRequest(BaseModel):
    """Files to read or write straight from/to storage."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["GET", "PUT"] = "PUT"
    files: list[TransferFile] = Field(max_length=MAX_TRANSFER_FILES)


class TransferUrl(BaseModel):
    path: str
    url: str
    method: str


class TransferAnswer(BaseModel):
    """Presigned URLs, one per file, in the order asked; ``direct`` false: send the bytes through the server."""

    direct: bool
    expiresIn: int = 0  # noqa: N815 - the API's camelCase
    urls: list[TransferUrl] = []


@router.post("/api/transfer/{rid}", response_model=TransferAnswer,
             summary="Presigned URLs to read or write files straight from/to S3 storage")
def direct_transfer(rid: str, body: TransferRequest, caller: Principal = Depends(principal),
                    ctx: ServerContext = Depends(get_context)) -> TransferAnswer:
    """After the usual access checks, one URL per file, valid for exactly that object.

    With a local storage folder the answer is ``{"direct": false}``: use ``PUT /api/files/...``.
    A PUT URL takes exactly ``size`` bytes (its ``Content-Length`` is signed). An object a client PUT
    this way is seen by every server at once; its md5 is its ETag.
    """
    rid, _ = _clean(rid, "", allow_empty=True)
    write = body.method == "PUT"
    if write:
        access.require(caller, roles.MEMBER)  # the access table lets viewers ask for GET URLs only
    auth.resource_kind(ctx.db, caller, rid, write=write)
    if not ctx.storage.can_presign:
        return TransferAnswer(direct=False)
    paths, sizes = [], []
    for item in body.files:
        _, path = _clean(rid, item.path, allow_empty=False)
        if write:
            _check_writable(caller, rid, path)
            if item.size is None:
                raise ApiError(400, f"files[].size is needed to PUT '{path}': the URL is signed for that length")
            if item.size > ctx.config.max_upload:
                raise ApiError(413, f"'{path}' is {item.size} bytes; the most this server stores is "
                                    f"{ctx.config.max_upload}")
        paths.append(path)
        sizes.append(item.size or 0)
    urls = ctx.storage.presigned_urls(rid, paths, body.method, sizes if write else None) if paths else []
    return TransferAnswer(direct=True, expiresIn=DIRECT_URL_SECONDS,
                          urls=[TransferUrl(path=f"{rid}/{p}", url=u, method=body.method) for p, u in zip(paths, urls,
                                                                                                    strict=True)])
