"""A job's log (stdout and stderr) read from a byte offset: what the live log on the page and the log API follow.

The runner writes the log to `jobs.LOG_FILE` in storage (local storage: the process writes there
itself; Dask: the task uploads it every few seconds). With object storage and the local runner the
log of a running job is still in the runner's local file, and reaches storage when the job ends:
it is read from there meanwhile, with the same byte offsets.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from typing import Any

from brevettiai.server import jobs
from brevettiai.server.context import ServerContext

MAX_READ = 256 * 1024  # bytes one answer carries at most
TAIL_BYTES = 64 * 1024  # what is shown first: the end of the log


@dataclass(frozen=True)
class LogSlice:
    """Text of a log from byte `offset` up to `next_offset` (whole UTF-8 characters), and the log's size."""

    offset: int
    next_offset: int
    size: int
    text: str
    active: bool  # the job may still write more
    exists: bool

    @property
    def complete(self) -> bool:
        """Nothing more will come: the job ended and everything was read."""
        return not self.active and self.next_offset >= self.size

    def to_json(self) -> dict[str, Any]:
        return {"offset": self.offset, "nextOffset": self.next_offset, "size": self.size, "text": self.text,
                "active": self.active, "complete": self.complete, "exists": self.exists}


def _local_source(ctx: ServerContext, job_id: str) -> str | None:
    """The runner's own file of a running job whose log is not in storage yet."""
    path = jobs.log_file(ctx, job_id)
    return path if ctx.storage.local_path(job_id, jobs.LOG_FILE) != path and os.path.isfile(path) else None


def _read(ctx: ServerContext, job_id: str, start: int, length: int) -> tuple[bytes, int] | None:
    """`length` bytes from `start` and the log's size; None when the job has no log (yet)."""
    info = ctx.storage.info(job_id, jobs.LOG_FILE)
    if info is not None and info.type == "file":
        start = min(start, info.size)
        data = b"".join(ctx.storage.read_chunks(job_id, jobs.LOG_FILE, start, min(length, info.size - start)))
        return data, info.size
    local = _local_source(ctx, job_id)
    if local is None:
        return None
    try:
        with open(local, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(min(start, size))
            return handle.read(min(length, max(0, size - start))), size
    except FileNotFoundError:  # uploaded and removed just now: storage has it
        return _read(ctx, job_id, start, length) if ctx.storage.info(job_id, jobs.LOG_FILE) else None


def read_log(ctx: ServerContext, job_id: str, active: bool, offset: int | None = None,
             limit: int = MAX_READ) -> LogSlice:
    """The log from byte `offset` (None: its last `TAIL_BYTES`, from a line start) up to `limit` bytes on.

    An offset past the end (a new run began a shorter log) reads from the start again.
    """
    limit = max(1, min(limit, MAX_READ))
    probe = _read(ctx, job_id, 0, 0)
    if probe is None:
        return LogSlice(0, 0, 0, "", active, exists=False)
    size = probe[1]
    tail = offset is None
    start = max(0, size - min(limit, TAIL_BYTES)) if offset is None else (offset if offset <= size else 0)
    data, size = _read(ctx, job_id, start, limit) or (b"", size)
    if tail and start:  # begin at a whole line
        cut = data.find(b"\n")
        if 0 <= cut < len(data) - 1:
            data, start = data[cut + 1:], start + cut + 1
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(data, final=False)
    pending = len(decoder.getstate()[0])  # a character cut at the end is read whole next time
    if pending and start + len(data) >= size and not active:
        text += decoder.decode(b"", final=True)
        pending = 0
    return LogSlice(start, start + len(data) - pending, size, text, active, exists=True)


def read_job_log(ctx: ServerContext, job_id: str, kind: str, offset: int | None, limit: int) -> dict[str, Any]:
    """The log answer of a job of this kind (404 for another kind): the API's and the page's."""
    with ctx.db.read() as session:
        active = jobs.get_job(session, job_id, kind).status in jobs.ACTIVE
    return read_log(ctx, job_id, active, offset, limit).to_json()
