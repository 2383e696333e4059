"""Comparing 2 to 20 runs: their settings that differ, their output metrics and their progress series.

Settings are flattened to dotted paths and labelled with the titles of each run's model type form
(``Training › Learning Rate``); a setting a run does not hold reads as its form's default, so two runs
differ only where their effective values do. Runs of different model types compare on the union of
their paths. The series come from the bounded metric reads (`metric_reads`), so ten runs of 400,000
points answer about as fast as ten short ones; a step range asks for that range's finer picture.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic_core
from fastapi import Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from brevettiai.contract.dotted import flatten
from brevettiai.contract.forms import MISSING, lookup
from brevettiai.server import metric_series
from brevettiai.server.auth import Principal
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError
from brevettiai.server.metric_reads import MAX_POINTS_LIMIT, Filters, names_statement, read

log = logging.getLogger("brevettiai.server.compare")

MIN_RUNS, MAX_RUNS = 2, 20
DEFAULT_MAX_POINTS = 500  # per series and run: 250 min/max buckets, about one per pixel pair of a chart
OUTPUT_FILE = "artifacts/output.json"
_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_points = db.MetricPoint.__table__


class PointsResponse(JSONResponse):
    """A JSON answer with many numbers, encoded by pydantic-core (a sixth of `json.dumps`' time for the compare
    view's ~18,000 rows; the same numbers, each the shortest text that reads back as the same float)."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


def parse_ids(raw: Sequence[str] | None) -> list[str]:
    """The run ids of ``ids=a,b`` (or repeated ``ids=``), in order, each once; 422 naming what is wrong."""
    ids: list[str] = []
    for item in raw or []:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if not _ID.fullmatch(part):
                raise ApiError(422, [{"loc": ["query", "ids"], "type": "value_error",
                                      "msg": f"{part[:80]!r} is not a run id (letters, digits, '-' and '_')"}])
            if part not in ids:
                ids.append(part)
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        raise ApiError(422, [{"loc": ["query", "ids"], "type": "value_error",
                              "msg": f"compare needs {MIN_RUNS} to {MAX_RUNS} different run ids, "
                                     f"separated by commas; {len(ids)} given"}])
    return ids


class CompareQuery:
    """The query parameters of a compare read, shared by ``/api/compare`` and the compare page's data.json."""

    def __init__(
        self,
        ids: list[str] | None = Query(None, description=f"The runs: {MIN_RUNS} to {MAX_RUNS} model or test report "
                                                        f"ids, separated by commas (or repeated)"),
        names: list[str] | None = Query(None, description="Only these metric series (repeat, or separate by commas)"),
        start_step: int | None = Query(None, description="Only points at this step or later"),
        end_step: int | None = Query(None, description="Only points at this step or earlier"),
        max_points: int = Query(DEFAULT_MAX_POINTS, ge=2, le=MAX_POINTS_LIMIT,
                                description="Rows per series and run at most; a longer series comes back as "
                                            "min/max step buckets (see `bucketSteps`)"),
    ) -> None:
        if start_step is not None and end_step is not None and start_step > end_step:
            raise ApiError(422, [{"loc": ["query", "end_step"], "type": "value_error",
                                  "msg": f"end_step {end_step} is before start_step {start_step}"}])
        self.ids = parse_ids(ids)
        self.names = [n for item in names or [] for n in item.split(",") if n] or None
        self.start_step, self.end_step, self.max_points = start_step, end_step, max_points

    def filters(self, job_id: str) -> Filters:
        """The metric read filters for one run."""
        return Filters(job_id, names=self.names, start_step=self.start_step, end_step=self.end_step)


def _readable(caller: Principal, job_id: str) -> bool:
    return caller.is_user or job_id == caller.job_id or job_id in caller.readable


def schema_labels(schema: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, Any]]:
    """From a model type's form: each setting's title with its groups' (``Data › Seed``), and its default."""
    labels: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    groups: dict[str, str] = {}
    fields = schema.get("fields") if isinstance(schema, Mapping) else None
    for spec in fields if isinstance(fields, list) else []:
        if not isinstance(spec, Mapping):
            continue
        if spec.get("type") == "label" and isinstance(spec.get("tag"), str):
            groups[spec["tag"]] = str(spec.get("label") or spec["tag"])
            continue
        path = spec.get("model")
        if not isinstance(path, str) or not path:
            continue
        parts = path.split(".")
        titles = [groups.get(".".join(parts[:i]), parts[i - 1]) for i in range(1, len(parts))]
        labels[path] = " › ".join([*titles, str(spec.get("label") or parts[-1])])
        if "default" in spec:
            defaults[path] = spec["default"]
    return labels, defaults


def _same(values: list[Any]) -> bool:
    first = json.dumps(values[0], sort_keys=True)
    return all(json.dumps(value, sort_keys=True) == first for value in values[1:])


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def settings_diff(runs: list[tuple[Mapping[str, Any], Mapping[str, Any] | None]]) -> tuple[list[dict[str, Any]], int]:
    """The settings that differ between runs (given as (settings, schema) pairs), and how many are the same.

    Each row: ``path``, ``label``, ``values`` (one per run; null where the run has no such setting) and
    ``numeric`` (every value present is a number)."""
    order: list[str] = []
    labels: dict[str, str] = {}
    effective: list[dict[str, Any]] = []
    for settings, schema in runs:
        titles, defaults = schema_labels(schema)
        values = flatten(settings)
        for path, default in defaults.items():
            if path not in values and lookup(settings, path) is MISSING:
                values[path] = default
        for path in [*titles, *values]:
            if path in values and path not in labels:
                labels[path] = titles.get(path, path)
                order.append(path)
        effective.append(values)
    rows, same = [], 0
    for path in order:
        present = [values.get(path, MISSING) for values in effective]
        if all(value is not MISSING for value in present) and _same(present):
            same += 1
            continue
        cells = [None if value is MISSING else value for value in present]
        shown = [value for value in cells if value is not None]
        rows.append({"path": path, "label": labels[path], "values": cells,
                     "numeric": bool(shown) and all(_numeric(value) for value in shown)})
    return rows, same


def _outputs(ctx: ServerContext, job_id: str) -> dict[str, Any]:
    try:
        document = json.loads(ctx.storage.read_bytes(job_id, OUTPUT_FILE))
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as exc:
        log.warning("The output.json of run %s is not usable: %s", job_id, exc)
        return {}
    output = document.get("output") if isinstance(document, dict) else None
    return output if isinstance(output, dict) else {}


def _last_values(ctx: ServerContext, job_id: str, names: list[str] | None) -> dict[str, float | None]:
    """The value at the highest step of each series (of `names`, else all; one index probe each)."""
    last: dict[str, float | None] = {}
    with ctx.db.read() as session:
        for name in names or list(session.scalars(names_statement(job_id))):
            value = session.scalar(select(_points.c.value).where(_points.c.series_id == metric_series.one(job_id, name))
                                   .order_by(_points.c.step.desc(), _points.c.id.desc()).limit(1))
            last[name] = value if value is not None and math.isfinite(value) else None
    return last


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


def summary(ctx: ServerContext, caller: Principal, ids: list[str], names: list[str] | None = None) -> dict[str, Any]:
    """Everything of the compare answer but the points: runs, settings diff, outputs, last values; 404 naming
    the first run the caller may not read or that does not exist."""
    for job_id in ids:
        if not _readable(caller, job_id):
            raise ApiError(404, f"run '{job_id}' not found")
    with ctx.db.read() as session:
        jobs = {row.id: row for row in session.scalars(select(db.Job).where(db.Job.id.in_(ids)))}
        missing = [job_id for job_id in ids if job_id not in jobs]
        if missing:
            raise ApiError(404, f"run '{missing[0]}' not found")
        type_ids = {job.model_type_id for job in jobs.values() if job.model_type_id}
        types = {row.id: row for row in session.scalars(select(db.ModelType).where(db.ModelType.id.in_(type_ids)))}
    runs, outputs, last = [], {}, {}
    for job_id in ids:
        job = jobs[job_id]
        model_type = types.get(job.model_type_id) if job.model_type_id else None
        runs.append({"id": job.id, "name": job.name, "kind": job.kind, "status": job.status,
                     "modelType": None if model_type is None else {"id": model_type.id, "name": model_type.name},
                     "created": _iso(job.created), "started": _iso(job.started), "completed": _iso(job.completed),
                     "link": f"/{'models' if job.kind == 'model' else 'testreports'}/{job.id}"})
        outputs[job_id] = _outputs(ctx, job_id)
        last[job_id] = _last_values(ctx, job_id, names)
    names_seen = [jobs[job_id].name for job_id in ids]
    for run, job_id in zip(runs, ids, strict=True):  # legends and columns: its name, with its id when names repeat
        name = jobs[job_id].name
        run["label"] = name if names_seen.count(name) == 1 else f"{name} · {job_id[:8]}"
    diff, same = settings_diff([(jobs[job_id].settings or {}, _schema_of(types, jobs[job_id].model_type_id))
                                for job_id in ids])
    output_names = sorted({name for values in outputs.values() for name in values})
    metric_names = sorted({name for values in last.values() for name in values})
    return {
        "runs": runs,
        "settings": diff,
        "sameSettings": same,
        "outputs": [{"name": name, "values": [outputs[job_id].get(name) for job_id in ids]} for name in output_names],
        "metrics": metric_names,
        "lastValues": [{"name": name, "values": [last[job_id].get(name) for job_id in ids]} for name in metric_names],
    }


def series(ctx: ServerContext, query: CompareQuery) -> dict[str, Any]:
    """The runs' progress points (``series``, ``counts``, ``bucketSteps`` and ``cursors`` by run id), as the
    metrics reads answer (a cursor is where a poll for the run's newer points starts)."""
    found: dict[str, Any] = {"series": {}, "counts": {}, "bucketSteps": {}, "cursors": {}}
    for job_id in query.ids:
        answer = read(ctx.db, query.filters(job_id), query.max_points, ctx.metric_answers)
        for key in ("series", "counts", "bucketSteps"):
            found[key][job_id] = answer[key]
        found["cursors"][job_id] = answer["cursor"]
    return found


def points(ctx: ServerContext, caller: Principal, query: CompareQuery) -> dict[str, Any]:
    """Only the points of the compare answer (what the compare page fetches: it has the rest); 404 as
    `summary` for a run the caller may not read or that does not exist."""
    for job_id in query.ids:
        if not _readable(caller, job_id):
            raise ApiError(404, f"run '{job_id}' not found")
    with ctx.db.read() as session:
        found = set(session.scalars(select(db.Job.id).where(db.Job.id.in_(query.ids))))
    missing = [job_id for job_id in query.ids if job_id not in found]
    if missing:
        raise ApiError(404, f"run '{missing[0]}' not found")
    return series(ctx, query)


def compare(ctx: ServerContext, caller: Principal, query: CompareQuery) -> dict[str, Any]:
    """The compare answer of runs `query.ids` (docs/platform-api.md, "Comparing runs")."""
    return {**summary(ctx, caller, query.ids, query.names), **series(ctx, query)}


def _schema_of(types: dict[str, Any], type_id: str | None) -> Any:
    """The settings schema of a run's model type (None when it has none, or the type is deleted)."""
    return types[type_id].settings_schema if type_id is not None and type_id in types else None
