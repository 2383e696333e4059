"""Vega-Lite charts a job publishes: kept in the database and as ``artifacts/charts/<name>.json``."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from sqlalchemy import select

from brevettiai.server import fileindex
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow
from brevettiai.server.errors import ApiError, not_found
from brevettiai.server.wire_checks import WireError, check, parse_json

log = logging.getLogger("brevettiai.server.charts")

CHART_DIR = "artifacts/charts"
_NAME = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,199}")


def check_name(name: str) -> str:
    """A chart name is a file name: letters, digits, '-', '_' and '.' (not first)."""
    if not _NAME.fullmatch(name):
        raise ApiError(400, f"chart name {name!r} is not accepted: use letters, digits, '-', '_' and '.' "
                            f"(not first), at most 200 characters")
    return name


def save(ctx: ServerContext, job_id: str, name: str, spec: Any) -> None:
    """Store a chart and its artifact file."""
    check_name(name)
    path = f"{CHART_DIR}/{name}.json"

    def store(session: Any) -> None:
        if session.get(db.Job, job_id) is None:
            raise not_found("job", job_id)
        row = session.get(db.Chart, (job_id, name))
        if row is None:
            session.add(db.Chart(job_id=job_id, name=name, spec=spec, updated=utcnow()))
        else:
            row.spec, row.updated = spec, utcnow()

    ctx.db.write_upsert(store)
    size, md5 = ctx.storage.write_bytes(job_id, path, json.dumps(spec).encode())
    fileindex.record_write(ctx.db, ctx.storage, job_id, path, size, md5)


def load(ctx: ServerContext, job_id: str) -> dict[str, Any]:
    """Every chart of a job: those stored through the API, and chart files the job wrote itself."""
    charts: dict[str, Any] = {}
    with ctx.db.read() as session:
        for row in session.scalars(select(db.Chart).where(db.Chart.job_id == job_id)):
            if _usable(row.spec, job_id, f"stored chart {row.name!r}"):
                charts[row.name] = row.spec
    for entry in ctx.storage.list(job_id, CHART_DIR) or []:
        name = entry.path.rsplit("/", 1)[-1]
        if entry.type != "file" or not name.endswith(".json") or name[:-5] in charts:
            continue
        try:
            spec = parse_json(ctx.storage.read_bytes(job_id, entry.path))
        except (ValueError, OSError) as exc:  # WireError is a ValueError
            log.warning("Chart file %s of job %s is not usable JSON: %s", entry.path, job_id, exc)
            continue
        charts[name[:-5]] = spec
    return charts


def _usable(spec: Any, job_id: str, what: str) -> bool:
    """A stored chart that answers and pages can encode (older versions stored any JSON)."""
    try:
        check(spec)
    except WireError as exc:
        log.warning("Skipping the %s of job %s: %s", what, job_id, exc)
        return False
    return True
