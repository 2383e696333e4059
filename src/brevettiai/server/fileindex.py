"""md5s of stored files, kept in the database so ETags and listings need not re-read files.

An entry is valid while the file's size and mtime are the ones recorded; files written to storage
behind the server's back are hashed once when first asked for, then remembered. On S3 a single-PUT
object's ETag is its md5: such files (every direct upload, every small server-side write) need no
record at all, which keeps files uploaded straight to the bucket right on every server at once.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, delete, or_, select

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


def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (resource_id, path) DO UPDATE of a file record, for SQLite and PostgreSQL
    (one statement, no read first, no race between replicas); None for other databases."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    else:
        return None
    table = cast("Table", db.FileRecord.__table__)
    stmt = dialect_insert(table)
    return stmt.on_conflict_do_update(index_elements=[table.c.resource_id, table.c.path],
                                      set_={"size": stmt.excluded.size, "md5": stmt.excluded.md5,
                                            "mtime": stmt.excluded.mtime})


_UPSERTS: dict[str, Any] = {}


def _store_rows(database: Database, rows: list[dict[str, Any]]) -> None:
    """Insert or update file records (dicts of the `files` columns) in one transaction."""
    dialect = database.engine.dialect.name
    if dialect not in _UPSERTS:
        _UPSERTS[dialect] = _upsert(dialect)
    upsert = _UPSERTS[dialect]
    if upsert is not None:
        with database.write_connection() as connection:  # one executemany: no ORM object per file
            connection.execute(upsert, rows)
        return

    def remember_all(session: Any) -> None:
        for row in rows:
            remember(session, row["resource_id"], row["path"], row["size"], row["md5"], row["mtime"])

    database.write_upsert(remember_all)


def record_write(database: Database, storage: Storage, rid: str, path: str, size: int, md5: str,
                 mtime: float | None = None) -> None:
    """Index a file just written through the server (`mtime`: its mtime when the writer knows it)."""
    record_writes(database, storage, rid, [(path, size, md5)], {path: mtime} if mtime is not None else None)


def record_writes(database: Database, storage: Storage, rid: str, files: list[tuple[str, int, str]],
                  mtimes: dict[str, float] | None = None) -> None:
    """Index many files just written through the server (path, size, md5) in one transaction;
    `mtimes`: the mtime of those files the writer knows already (the others are looked up)."""
    rows: dict[str, dict[str, Any]] = {}  # by path: an archive naming a file twice keeps the last
    known = mtimes or {}
    for path, size, md5 in files:
        if storage.md5_from_listing(size):
            continue  # its ETag is its md5: no HEAD, no record
        mtime = known.get(path)
        if mtime is None:
            info = storage.info(rid, path)
            mtime = info.mtime if info else None
        rows[path] = {"resource_id": rid, "path": path, "size": size, "md5": md5, "mtime": mtime or 0.0}
    if rows:
        _store_rows(database, list(rows.values()))


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
