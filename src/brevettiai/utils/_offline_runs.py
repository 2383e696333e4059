"""The runs an offline job directory holds: its current run and the earlier ones of a reused folder.

The current run's record is the folder itself (``status.json``, ``artifacts/``). An earlier run's
``status.json`` and ``output.json`` were moved to ``runs/<run id>/`` when the next run began; its
artifacts were overwritten by the runs after it. Every line of ``metrics.jsonl`` names its run; lines
written before the SDK recorded run ids belong to the folder's oldest run. Points are read only for
the runs that are sent (`read_points`).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brevettiai._backend import METRICS_FILE, OUTPUT_FILE, RUNS_FOLDER
from brevettiai._state import STATE_FILE, JobState
from brevettiai.errors import UsageError

log = logging.getLogger("brevettiai.sync")

CURRENT = "current"  # what --run accepts for the folder's current run


@dataclass
class OfflineRun:
    """One run of an offline job directory, with what the folder still has of it."""

    run_id: str
    state: JobState
    current: bool
    name: str
    settings: dict[str, Any]
    settings_from_info: bool  # its output.json is gone: the settings are the folder's info.json ones
    output_file: Path | None  # its output.json, if the folder still has it
    points: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OfflineJob:
    """An offline job directory: its info.json and its runs, oldest first, the current run last."""

    folder: Path
    info: dict[str, Any]
    runs: list[OfflineRun]

    def select(self, wanted: str | None) -> list[OfflineRun]:
        """Every run (None), the current one (``current``) or the run with that id; else a usage error."""
        if wanted is None:
            return list(self.runs)
        chosen = [run for run in self.runs if (run.current if wanted == CURRENT else run.run_id == wanted)]
        if not chosen:
            accepted = ", ".join([CURRENT, *(run.run_id for run in self.runs if not run.current)])
            raise UsageError(f"--run {wanted!r} is not a run of {self.folder}: accepted values are {accepted} "
                             f"(leave --run out to sync every run)")
        return chosen


def read_job(folder: Path) -> OfflineJob:
    """The job directory's info and runs (a usage error naming the file when it is not one)."""
    info = read_json(folder / "info.json", "the job's info.json")
    current_state = JobState.from_dict(read_json(folder / STATE_FILE, "the job's status.json"))
    runs = [run for run in (_earlier_run(entry, info) for entry in _earlier_folders(folder)) if run is not None]
    runs = [run for run in runs if run.run_id != current_state.run_id]
    runs.sort(key=lambda run: (run.state.created, run.run_id))
    runs.append(_run(current_state, folder / OUTPUT_FILE, info, folder.name, current=True))
    return OfflineJob(folder, info, runs)


def read_points(job: OfflineJob, runs: Iterable[OfflineRun]) -> None:
    """Fill in the progress points of `runs` (of `job`) from its metrics file, in one pass over it; lines
    written before run ids existed belong to the folder's oldest run."""
    wanted = {run.run_id: run for run in runs}
    if wanted:
        for run_id, point in _points(job.folder / METRICS_FILE, set(wanted), oldest=job.runs[0].run_id):
            wanted[run_id].points.append(point)


def _earlier_folders(folder: Path) -> Iterable[Path]:
    earlier = folder / RUNS_FOLDER
    if not earlier.is_dir():
        return []
    return sorted(entry for entry in earlier.iterdir() if (entry / STATE_FILE).is_file())


def _earlier_run(entry: Path, info: dict[str, Any]) -> OfflineRun | None:
    try:
        state = JobState.from_dict(read_json(entry / STATE_FILE, "an earlier run's status.json"))
    except (UsageError, TypeError) as exc:
        log.warning("%s: that earlier run is not synced", exc)
        return None
    if not state.run_id:
        state.run_id = entry.name
    return _run(state, entry / "output.json", info, entry.parent.parent.name, current=False)


def _run(state: JobState, output_file: Path, info: dict[str, Any], folder_name: str, *, current: bool) -> OfflineRun:
    """A run with the name and settings its output.json recorded (after command-line overrides), else info.json's."""
    try:
        job = json.loads(output_file.read_text(encoding="utf-8"))["job"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        job = None
    recorded = job.get("settings") if isinstance(job, dict) else None
    name = (job.get("name") if isinstance(job, dict) else None) or info.get("name") or folder_name
    settings = recorded if isinstance(recorded, dict) else (info.get("settings") or {})
    return OfflineRun(run_id=state.run_id, state=state, current=current, name=str(name),
                      settings=settings if isinstance(settings, dict) else {},
                      settings_from_info=not isinstance(recorded, dict),
                      output_file=output_file if output_file.is_file() else None)


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from `path`, or a usage error naming the file and what it should be."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing: {path.parent} is not an offline job directory ({what})") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON ({what}): {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a JSON object ({what})")
    return data


def _points(path: Path, run_ids: set[str], *, oldest: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(run id, point) of each line of the metrics file of one of `run_ids` with a step and finite numbers."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                point = json.loads(line)
            except ValueError:
                log.warning("%s line %d is not JSON: skipped", path, number)
                continue
            if not isinstance(point, dict) or (run_id := str(point.get("run_id") or oldest)) not in run_ids:
                continue
            values = {k: v for k, v in point.items() if k not in ("step", "time", "run_id") and _finite(v)}
            step = point.get("step")
            if values and isinstance(step, int) and not isinstance(step, bool) and -2**63 <= step < 2**63:
                yield run_id, {"step": point["step"], "time": _epoch(point.get("time")), "values": values}


def _finite(value: Any) -> bool:
    """A number a progress chart can hold (an integer beyond a float's range, written by hand, is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _epoch(moment: Any) -> float:
    if isinstance(moment, int | float):
        return float(moment)
    try:
        return datetime.datetime.fromisoformat(str(moment).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return datetime.datetime.now(datetime.UTC).timestamp()
