"""md5s of stored files, kept in the database so ETags and listings need not re-read files.

An entry is valid while the file's size and mtime are the ones recorded; files written to storage
behind the server's back are hashed once when first asked for, then remembered. On S3 a single-PUT
object's ETag is its md5: such files (every direct upload, every small server-side write) need no
record at all, which keeps files uploaded straight to the bucket right on every server at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, or_, select

from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database
from brevettiai.server.storage import FileInfo, Storage


def _same_mtime(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 1e-3


def remember(session: Any, rid: str, path: str, size: int, md5: str, mtime: float | None) -> None:
    """Record a file's md5 for its current size and mtime."""
    row = session.get(db.FileRecord, (rid, path))
    if row is None:
        session.add(db.FileRecord(resource_id=rid, path=path, size=size, md5=md5, mtime=mtime or 0.0))
    else:
        row.size, row.md5, row.mtime = size, md5, mtime or 0.0


def record_write(database: Database, storage: Storage, rid: str, path: str, size: int, md5: str) -> FileInfo | None:
    """Index a file just written through the server; returns its storage info (None when the ETag tells)."""
    if storage.md5_from_listing(size):
        return None  # its ETag is its md5: no HEAD, no record
    info = storage.info(rid, path)
    database.write_upsert(lambda session: remember(session, rid, path, size, md5, info.mtime if info else None))
    return info


def record_writes(database: Database, storage: Storage, rid: str, files: list[tuple[str, int, str]],
                  mtimes: dict[str, float] | None = None) -> None:
    """Index many files just written through the server (path, size, md5) in one transaction;
    `mtimes`: the mtime of those files the writer knows already (the others are looked up)."""
    rows: list[tuple[str, int, str, float | None]] = []
    known = mtimes or {}
    for path, size, md5 in files:
        if not storage.md5_from_listing(size):
            mtime = known.get(path)
            if mtime is None:
                info = storage.info(rid, path)
                mtime = info.mtime if info else None
            rows.append((path, size, md5, mtime))
    if not rows:
        return

    def remember_all(session: Any) -> None:
        wanted = {path: (size, md5, mtime) for path, size, md5, mtime in rows}
        existing: dict[str, db.FileRecord] = {}
        paths = list(wanted)
        for start in range(0, len(paths), 500):  # SQLite's bound-parameter limit
            existing.update((r.path, r) for r in session.scalars(select(db.FileRecord).where(
                db.FileRecord.resource_id == rid, db.FileRecord.path.in_(paths[start:start + 500]))))
        new_rows = []
        for path, (size, md5, mtime) in wanted.items():
            row = existing.get(path)
            if row is None:
                new_rows.append({"resource_id": rid, "path": path, "size": size, "md5": md5, "mtime": mtime or 0.0})
            else:
                row.size, row.md5, row.mtime = size, md5, mtime or 0.0
        if new_rows:  # one executemany: an archive's hundreds of new files without an ORM object each
            session.execute(insert(db.FileRecord), new_rows)

    database.write_upsert(remember_all)


def known_md5s(database: Database, rid: str, entries: list[FileInfo]) -> dict[str, str]:
    """The recorded md5 of each file entry whose size and mtime still match."""
    found = {e.path: e.md5 for e in entries if e.type == "file" and e.md5}
    wanted = {e.path: e for e in entries if e.type == "file" and not e.md5}
    if not wanted:
        return found
    with database.read() as session:
        if len(wanted) > 500:
            rows = session.scalars(select(db.FileRecord).where(db.FileRecord.resource_id == rid)).all()
        else:
            rows = session.scalars(select(db.FileRecord).where(
                db.FileRecord.resource_id == rid, db.FileRecord.path.in_(list(wanted)))).all()
    for row in rows:
        entry = wanted.get(row.path)
        if entry is not None and entry.size == row.size and _same_mtime(entry.mtime, row.mtime):
            found[row.path] = row.md5
    return found


def md5_of(database: Database, storage: Storage, rid: str, info: FileInfo) -> str:
    """A file's md5: recorded, else computed by reading it (and recorded)."""
    known = known_md5s(database, rid, [info])
    if info.path in known:
        return known[info.path]
    md5 = storage.md5(rid, info.path)
    database.write_upsert(lambda session: remember(session, rid, info.path, info.size, md5, info.mtime))
    return md5


def forget(session: Any, rid: str, path: str = "") -> None:
    """Drop the records of a file or of everything below a folder (the whole resource when `path` is empty)."""
    stmt = delete(db.FileRecord).where(db.FileRecord.resource_id == rid)
    if path:
        stmt = stmt.where(or_(db.FileRecord.path == path, db.FileRecord.path.startswith(path + "/", autoescape=True)))
    session.execute(stmt)
