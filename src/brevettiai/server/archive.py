"""Many files stored from one tar stream (``PUT /api/archive``).

A dataset of thousands of small images would otherwise cost one request, one access check and one
database write per file. Each regular file of a plain (uncompressed) tar, as ``tar cf -`` writes it,
is stored at ``<folder>/<its name>`` exactly as `files.write` would store it: same path rules, same
write rules, the same per-file size limit, atomically, with its md5. A file those rules refuse is
listed in ``refused`` (with the status a PUT would get) and the others are stored all the same.
Files are stored as they arrive, and the md5 index is updated for all of them in one transaction at
the end, also when the archive breaks off: what was stored stays stored, so sending the archive
again (or only what is missing) resumes the upload.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import AsyncIterator, Iterator

from fastapi.concurrency import run_in_threadpool

from brevettiai.server import auth, fileindex, files
from brevettiai.server.auth import Principal
from brevettiai.server.body_pipe import BodyReader, consume_body
from brevettiai.server.context import ServerContext
from brevettiai.server.errors import ApiError
from brevettiai.server.schemas import ArchiveStored, Refused, Stored
from brevettiai.server.storage import PathRejected, UploadBatch, clean_path

READ_PIECE = 1 << 20


def _member_chunks(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[bytes]:
    if member.sparse is not None:  # GNU sparse: tarfile maps its holes
        handle = archive.extractfile(member)
        assert handle is not None  # a regular file
        while chunk := handle.read(READ_PIECE):
            yield chunk
        return
    # A plain member's bytes come next in the stream: read them straight from it (no file object per
    # member); the next header is read after them and the padding.
    left = member.size
    while left:
        chunk = archive.fileobj.read(min(READ_PIECE, left))
        if not chunk:
            raise tarfile.ReadError("unexpected end of data")
        left -= len(chunk)
        yield chunk


def _store_member(ctx: ServerContext, caller: Principal, rid: str, folder: str, archive: tarfile.TarFile,
                  member: tarfile.TarInfo, batch: UploadBatch) -> tuple[str, int, str]:
    """Store one regular file of the archive; an ApiError when this file is refused."""
    try:
        path = clean_path(posixpath.join(folder, member.name), allow_empty=False)
    except PathRejected as exc:
        raise ApiError(exc.status, str(exc)) from None
    files.check_writable(caller, rid, path)
    limit = ctx.config.max_upload
    if member.size > limit:
        raise ApiError(413, f"the file is {member.size} bytes; the most this server stores is {limit}")
    written = files.store_file(ctx.storage, rid, path, _member_chunks(archive, member), limit, batch.begin)
    return path, written.size, written.md5


def _extract(ctx: ServerContext, caller: Principal, rid: str, folder: str, body: BodyReader,
             stored: list[tuple[str, int, str]], refused: list[Refused], batch: UploadBatch) -> None:
    """Store every regular file of the tar stream in `body`: into `stored` (path, size, md5), or `refused`."""
    try:
        archive = tarfile.open(fileobj=body, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
    except tarfile.ReadError as exc:
        raise ApiError(400, f"the body is not a tar archive ({exc})") from None
    try:
        for member in archive:
            if member.isdir():
                continue
            try:
                if not member.isfile():
                    raise ApiError(400, "not a regular file (links and devices are not stored)")
                stored.append(_store_member(ctx, caller, rid, folder, archive, member, batch))
            except ApiError as exc:
                if exc.status == 507:  # the storage is full: so would the next file be
                    raise
                refused.append(Refused(name=member.name[:1024], status=exc.status, detail=str(exc.detail)))
    except tarfile.TarError as exc:
        raise ApiError(400, f"the tar archive is broken after {len(stored)} files ({exc})") from None
    finally:
        archive.close()


async def store_archive(ctx: ServerContext, caller: Principal, rid: str, folder: str,
                        body: AsyncIterator[bytes]) -> ArchiveStored:
    """Store each regular file of the tar `body` at ``<folder>/<name>`` (folders in it are implied)."""
    rid, folder = files.clean(rid, folder, allow_empty=True)
    await run_in_threadpool(auth.resource_kind, ctx.db, caller, rid, True, folder, ctx.tokens)
    stored: list[tuple[str, int, str]] = []
    refused: list[Refused] = []
    batch = ctx.storage.batch(rid)  # each folder checked and opened once for all its files

    def extract(reader: BodyReader) -> None:
        with batch:
            _extract(ctx, caller, rid, folder, reader, stored, refused, batch)

    try:
        await consume_body(body, extract)
    finally:
        if stored:  # also after an error: the files stored so far are complete and stay
            await run_in_threadpool(fileindex.record_writes, ctx.db, ctx.storage, rid, stored, batch.mtimes)
    return ArchiveStored(files=[Stored(path=f"{rid}/{path}", size=size, md5=md5) for path, size, md5 in stored],
                         refused=refused)
