"""What the runs table filters and sorts on: each job's settings as typed rows (`db.RunSetting`, written
with the job) and its metric summary (`db.RunMetric`).

Two sources fill the metric summary:

- every stored batch of progress points (`record_series`, called where the points are inserted):
  count, min, max and the last value (the one at the highest step) of each series, merged into the
  stored row with one upsert per (job, metric);
- output.json's ``output`` (`record_outputs`, when a job ends or writes that file): nested values
  flattened to dotted names; a number or a text value per name.

``value`` is what the table shows for ``metrics.<name>``: the output value when there is one, else
the last value of the series.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from brevettiai.server.db import models as db
from brevettiai.server.db.prepared import Prepared

log = logging.getLogger("brevettiai.server.run_summary")

_table: Table = db.RunMetric.__table__  # type: ignore[assignment]
OUTPUT_FILE = "artifacts/output.json"
MAX_OUTPUTS = 1000  # output metrics kept per run (a huge output dict is not a table of columns)
MAX_TEXT = 1000


MAX_SETTINGS = 2000  # setting rows kept per job


def setting_rows(job_id: str, settings: Any, prefix: str = "") -> list[dict[str, Any]]:
    """The leaves of a job's settings as `db.RunSetting` rows: numbers, texts (first 255 characters),
    booleans, and lists as JSON text; nested objects by dotted key."""
    rows: list[dict[str, Any]] = []
    if not isinstance(settings, Mapping):
        return rows
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(setting_rows(job_id, value, name + "."))
            continue
        row: dict[str, Any] = {"job_id": job_id, "key": name, "number": None, "text": None, "flag": None}
        if isinstance(value, bool):
            row["flag"] = value
        elif isinstance(value, int | float):
            row["number"] = float(value) if abs(value) < 1e308 and math.isfinite(value) else None
        elif isinstance(value, str):
            row["text"] = value[:255]
        elif value is not None:
            row["text"] = json.dumps(value, separators=(",", ":"))[:255]
        if len(name) <= 255:
            rows.append(row)
    return rows[:MAX_SETTINGS]


def record_settings(session: Any, job_id: str, settings: Any) -> None:
    """Store a new job's settings rows (same transaction as the job)."""
    rows = setting_rows(job_id, settings)
    if rows:
        session.execute(insert(db.RunSetting), rows)


_SERIES_KEYS = ("job_id", "name", "count", "min", "max", "last", "last_step", "value", "has_output")


def _series_upsert(dialect: str) -> Any:
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = upsert(_table).values({key: bindparam(key) for key in _SERIES_KEYS})
    new, old = statement.excluded, _table.c
    newer = or_(old.last_step.is_(None), new.last_step >= old.last_step)
    return statement.on_conflict_do_update(index_elements=[old.job_id, old.name], set_={
        "count": old.count + new.count,
        "min": case((or_(old.min.is_(None), new.min < old.min), new.min), else_=old.min),
        "max": case((or_(old.max.is_(None), new.max > old.max), new.max), else_=old.max),
        "last": case((newer, new.last), else_=old.last),
        "last_step": case((newer, new.last_step), else_=old.last_step),
        "value": case((old.has_output, old.value), (newer, new.last), else_=old.last),
    })


_SERIES_UPSERT = Prepared(_series_upsert)


def record_series(session: Any, series: list[tuple[str, str, int, Any, Any, Any, int]]) -> None:
    """Merge per-series sums of stored points, ``(job_id, name, count, min, max, last, last_step)`` sorted
    by job and name (concurrent writers on PostgreSQL then lock the rows in one order), into the runs'
    metric summaries (same transaction)."""
    if not series:
        return
    _SERIES_UPSERT.execute(session, [
        {"job_id": job_id, "name": name, "count": count, "min": low, "max": high, "last": last,
         "last_step": step, "value": last, "has_output": False}
        for job_id, name, count, low, high, last, step in series])


def flatten_outputs(output: Mapping[str, Any], prefix: str = "") -> dict[str, float | str]:
    """Output metrics by dotted name: numbers (booleans as 0/1) and texts; other values are left out."""
    flat: dict[str, float | str] = {}
    for key, value in output.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_outputs(value, name + "."))
        elif isinstance(value, bool | int | float):
            if math.isfinite(value):
                flat[name] = float(value)
        elif isinstance(value, str):
            flat[name] = value[:MAX_TEXT]
        if len(flat) >= MAX_OUTPUTS:
            break
    return {name: value for name, value in flat.items() if len(name) <= 255}


def store_outputs(session: Any, job_id: str, outputs: Mapping[str, float | str]) -> None:
    """Make the job's output metrics exactly `outputs`, keeping the series summaries."""
    session.execute(update(db.RunMetric).where(db.RunMetric.job_id == job_id, db.RunMetric.has_output.is_(True))
                    .values(has_output=False, output=None, text=None, value=db.RunMetric.last))
    session.execute(delete(db.RunMetric).where(db.RunMetric.job_id == job_id, db.RunMetric.count == 0))
    if not outputs:
        return
    existing = set(session.scalars(select(db.RunMetric.name).where(db.RunMetric.job_id == job_id)))
    for name, value in outputs.items():
        number = value if isinstance(value, float) else None
        text = value if isinstance(value, str) else None
        if name in existing:
            session.execute(update(db.RunMetric).where(and_(db.RunMetric.job_id == job_id, db.RunMetric.name == name))
                            .values(has_output=True, output=number, text=text, value=number))
        else:
            session.add(db.RunMetric(job_id=job_id, name=name, has_output=True, output=number, text=text,
                                     value=number, count=0))


def record_outputs(ctx: Any, job_id: str) -> None:
    """Read the job's output.json and store its output metrics; a missing or broken file changes nothing."""
    try:
        document = json.loads(ctx.storage.read_bytes(job_id, OUTPUT_FILE))
    except (FileNotFoundError, ValueError, OSError):
        return
    output = document.get("output") if isinstance(document, dict) else None
    if not isinstance(output, dict):
        return
    outputs = flatten_outputs(output)
    for attempt in (1, 2):  # a batch of points may add the same metric's row at the same moment
        try:
            with ctx.db.write() as session:
                if session.get(db.Job, job_id) is not None:
                    store_outputs(session, job_id, outputs)
            return
        except Exception as exc:  # the summary is a view of output.json: never fail the caller's request for it
            if attempt == 2:
                log.warning("Could not record the output metrics of job %s: %s", job_id, exc)
