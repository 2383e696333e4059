"""``/api/files`` and ``/api/ls``: stream files of jobs and datasets in and out, list folders.

Access follows the caller: a user reads and writes everything; a job key reads and writes its own
job dir (``info.json`` read-only) and reads the datasets given to it (a report: its model too).
"""

from __future__ import annotations

import mimetypes
import re
from email.utils import formatdate

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from brevettiai.server import auth, fileindex
from brevettiai.server.auth import Principal, principal
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.errors import ApiError
from brevettiai.server.jobs import INFO_FILE
from brevettiai.server.schemas import LsEntry, Stored
from brevettiai.server.storage import CHUNK, PathRejected, clean_path, clean_resource_id

router = APIRouter(tags=["files"])


def _clean(rid: str, path: str, allow_empty: bool) -> tuple[str, str]:
    try:
        return clean_resource_id(rid), clean_path(path, allow_empty=allow_empty)
    except PathRejected as exc:
        raise ApiError(400, str(exc)) from None


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
            responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "Partial content"}})
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
    upload = await run_in_threadpool(ctx.storage.begin_upload, rid, path)
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            if upload.size + len(buffer) + len(chunk) > limit:
                raise ApiError(413, f"the file is larger than {limit} bytes, the most this server stores")
            buffer += chunk
            if len(buffer) >= CHUNK:  # write in large pieces: one thread hop per MiB, not per packet
                await run_in_threadpool(upload.write, buffer)
                buffer = bytearray()
        if buffer:
            await run_in_threadpool(upload.write, buffer)
        size, md5 = await run_in_threadpool(upload.commit)
    except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        await run_in_threadpool(upload.abort)
        raise ApiError(409, f"cannot write '{path}': {exc}") from None
    except BaseException:
        await run_in_threadpool(upload.abort)
        raise
    await run_in_threadpool(fileindex.record_write, ctx.db, ctx.storage, rid, path, size, md5)
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
