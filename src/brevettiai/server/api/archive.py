"""``PUT /api/archive/{rid}[/{folder}]``: many files in one request, as a tar stream; thin over
`brevettiai.server.archive`, which stores each file as ``PUT /api/files`` would."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from brevettiai.server import archive
from brevettiai.server.auth import Principal, principal
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.schemas import ArchiveStored

router = APIRouter(tags=["files"])


@router.put("/api/archive/{rid}", response_model=ArchiveStored, status_code=201, include_in_schema=False)
@router.put("/api/archive/{rid}/{folder:path}", response_model=ArchiveStored, status_code=201,
            summary="Write many files at once: the body is a tar archive, each file stored below the folder",
            openapi_extra={"requestBody": {"description": "a tar archive (uncompressed)", "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def write_archive(rid: str, request: Request, folder: str = "", caller: Principal = Depends(principal),
                        ctx: ServerContext = Depends(get_context)) -> ArchiveStored:
    """Store each regular file of the tar body at ``<folder>/<name>`` (folders in it are implied)."""
    return await archive.store_archive(ctx, caller, rid, folder, request.stream())
