"""``/api/files``, ``/api/ls`` and ``/api/transfer``: stream files of jobs and datasets in and out, list
folders, presigned URLs. The routes are thin over `brevettiai.server.files`, which checks access.

On S3 storage the bytes need not pass through the server: a GET sent with ``X-Direct-Transfer: allowed``
is answered ``307`` to a presigned URL of exactly that object, and ``POST /api/transfer/{rid}`` hands out
presigned PUT URLs, one per file, each for exactly its key.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from brevettiai.server import files
from brevettiai.server.auth import Principal, principal
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.schemas import LsEntry, Stored
from brevettiai.server.storage import DIRECT_URL_SECONDS

router = APIRouter(tags=["files"])

MAX_TRANSFER_FILES = 1000


@router.get("/api/files/{rid}/{path:path}", summary="Read a file (Range, ETag)", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "Partial content"},
                       307: {"description": "S3 storage and `X-Direct-Transfer: allowed`: `Location` is a "
                                            "presigned URL of the object"}})
def read_file(rid: str, path: str, request: Request, caller: Principal = Depends(principal),
              ctx: ServerContext = Depends(get_context)) -> Response:
    """The file's bytes, streamed; ``Range: bytes=a-b`` gives a 206 with that part."""
    return files.read(ctx, caller, rid, path, request.headers, with_body=True)


@router.head("/api/files/{rid}/{path:path}", summary="A file's headers (size, ETag, Last-Modified)")
def head_file(rid: str, path: str, request: Request, caller: Principal = Depends(principal),
              ctx: ServerContext = Depends(get_context)) -> Response:
    """What GET would answer, without the body."""
    return files.read(ctx, caller, rid, path, request.headers, with_body=False)


@router.put("/api/files/{rid}/{path:path}", status_code=201, response_model=Stored,
            summary="Write a file: the body is its content, streamed to storage",
            openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                           "format": "binary"}}}}})
async def write_file(rid: str, path: str, request: Request, caller: Principal = Depends(principal),
                     ctx: ServerContext = Depends(get_context)) -> Stored:
    """Store the request body at the path (atomically: readers see the old file or the whole new one)."""
    return await files.write(ctx, caller, rid, path, request.stream(), request.headers.get("content-length"))


@router.delete("/api/files/{rid}/{path:path}", status_code=204, summary="Delete a file or a folder")
def delete_file(rid: str, path: str, caller: Principal = Depends(principal),
                ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete a file, or a folder with everything below it."""
    files.delete(ctx, caller, rid, path)
    return Response(status_code=204)


@router.get("/api/ls/{rid}", response_model=list[LsEntry], include_in_schema=False)
@router.get("/api/ls/{rid}/{path:path}", response_model=list[LsEntry], summary="List a folder")
def list_folder(rid: str, path: str = "", recursive: bool = Query(False, description="Every file below, not just "
                                                                                      "the direct children"),
                caller: Principal = Depends(principal), ctx: ServerContext = Depends(get_context)) -> list[LsEntry]:
    """A folder's direct children (or all files below it); a file path lists the file itself.

    ``md5`` is given for files the server knows the md5 of (written through it or read once).
    """
    return files.list_folder(ctx, caller, rid, path, recursive)


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
    urls = files.transfer_urls(ctx, caller, rid, body.method, [(item.path, item.size) for item in body.files])
    if urls is None:
        return TransferAnswer(direct=False)
    return TransferAnswer(direct=True, expiresIn=DIRECT_URL_SECONDS,
                          urls=[TransferUrl(path=f"{rid}/{path}", url=url, method=body.method) for path, url in urls])
