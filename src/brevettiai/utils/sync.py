"""``brevettiai sync JOB_DIR``: bring an offline job directory into a platform, each run as a model.

A reused folder holds several runs (`brevettiai.utils._offline_runs`); each one not synced to the
platform yet becomes its own model, oldest first, then the current run: its settings (from its
output.json, else the folder's info.json), its progress points (the metrics.jsonl lines of its run
id), its output.json, and last its final state, with its own times in the model's notes. The current
run also sends every other file of the folder (its artifacts, except the job's bookkeeping); an earlier
run's artifacts were overwritten by the runs after it. ``--run`` sends one run only.

Sending again is safe and resumes: the folder remembers the model of each of its runs per platform in
``.brevettiai-sync.json``, a run whose model has its final state is not sent again, files the platform
already has with the same md5 are skipped, and metric batches carry fixed ids the platform stores once.
The job key of a synced model is kept in the user's cache folder (mode 0600), never in the job folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from brevettiai._backend import METRICS_FILE, OUTPUT_FILE, RUNS_FOLDER
from brevettiai._state import STATE_FILE, TERMINAL, effective_status
from brevettiai.contract.reports import ExitReport, MetricBatch, StateReport
from brevettiai.errors import PlatformNotFoundError, PlatformValidationError, UsageError
from brevettiai.io.atomic import atomic_write
from brevettiai.utils._offline_runs import CURRENT, OfflineJob, OfflineRun, read_job, read_points

if TYPE_CHECKING:
    from brevettiai.platform._http import PlatformClient
    from brevettiai.platform.web_api import PlatformAPI

log = logging.getLogger("brevettiai.sync")

SYNC_FILE = ".brevettiai-sync.json"
BOOKKEEPING = frozenset({"info.json", STATE_FILE, METRICS_FILE, SYNC_FILE})
BATCH_POINTS = 5000


@dataclass
class SyncResult:
    """What one sync did for one run of the folder."""

    run_id: str
    current: bool
    model_id: str = ""
    url: str = ""
    files_sent: int = 0
    files_skipped: int = 0
    points_sent: int = 0
    status: str = "created"
    already_final: bool = False

    def summary(self) -> str:
        head = f"run {self.run_id}{' (current)' if self.current else ''} -> {self.url}"
        if self.already_final:
            return f"{head}: already synced ({self.status})"
        return (f"{head}: {self.files_sent} files sent, {self.files_skipped} already there, "
                f"{self.points_sent} metric points, status {self.status}")


@dataclass
class SyncReport:
    """What one sync did: a result per run, oldest first, and what the folder no longer had."""

    runs: list[SyncResult] = field(default_factory=list)
    settings_from_info: list[str] = field(default_factory=list)  # runs whose output.json is gone
    earlier_sent: bool = False  # an earlier run was sent, without its artifacts (overwritten since)

    def summary(self) -> str:
        done = sum(run.already_final for run in self.runs)
        lines = [f"synced {len(self.runs) - done} run(s), {done} already synced:"]
        lines += ["  " + run.summary() for run in self.runs]
        if self.earlier_sent:
            lines.append(f"note: earlier runs' artifacts were overwritten by the runs after them: their models have "
                         f"their output.json (kept in {RUNS_FOLDER}/<run id>/), metrics and final state, no other files")
        if self.settings_from_info:
            lines.append(f"note: run(s) {', '.join(self.settings_from_info)} kept no output.json: their models have "
                         f"the settings of the folder's info.json (without the run's command-line overrides)")
        return "\n".join(lines)


@dataclass
class _Plan:
    """One run to send: its model (None: not created yet), its files (platform path, local file), its points
    (read once the runs to send are known)."""

    run: OfflineRun
    model: Any
    files: list[tuple[str, Path]]
    points: list[dict[str, Any]]
    result: SyncResult


def sync_job_dir(web: PlatformAPI, job_dir: str | os.PathLike[str], *, progress: bool = True,
                 run: str | None = None) -> SyncReport:
    """Sync the offline job in `job_dir` into the platform `web` (a logged-in `PlatformAPI`): each of its
    runs not synced there yet becomes a model, oldest first; `run` (a run id or ``current``) sends only that run."""
    job = read_job(Path(job_dir))
    return sync_runs(web, job, job.select(run), progress=progress)


def sync_runs(web: PlatformAPI, job: OfflineJob, runs: list[OfflineRun], *, progress: bool = True) -> SyncReport:
    """Send `runs` of `job` (see `sync_job_dir`), oldest first, under one progress bar."""
    record = _read_sync_record(job.folder)
    synced = record.setdefault(web.host, {})
    report = SyncReport()
    plans: list[_Plan] = []
    for run in runs:
        result = SyncResult(run_id=run.run_id, current=run.current)
        report.runs.append(result)
        model_id = synced.get(run.run_id)
        model = _existing_model(web, model_id) if model_id else None
        if model is not None:
            result.model_id, result.url, result.status = model.id, _model_url(web, model.id), model.status
            if model.status in TERMINAL:
                result.already_final = True
                continue
        if run.settings_from_info:
            report.settings_from_info.append(run.run_id)
        report.earlier_sent = report.earlier_sent or not run.current
        plans.append(_Plan(run, model, _files_of(job.folder, run), [], result))
    read_points(job, [plan.run for plan in plans])
    for plan in plans:
        plan.points = plan.run.points
        if plan.run.current and effective_status(plan.run.state) not in (*TERMINAL, "lost"):
            # a running job's last, partial batch is sent once it is complete or the job has ended
            plan.points = plan.points[:len(plan.points) - len(plan.points) % BATCH_POINTS]
    with _bar(progress, sum(len(plan.files) + len(plan.points) for plan in plans), job.folder.name) as advance:
        for plan in plans:
            _send_run(web, job, plan, record, advance)
    return report


def _send_run(web: PlatformAPI, job: OfflineJob, plan: _Plan, record: dict[str, dict[str, str]],
              advance: Any) -> None:
    run, result, model = plan.run, plan.result, plan.model
    if model is None:
        model = web.create_model(name=run.name, datasets=[], settings=run.settings)
        _save_key(model.id, model.api_key if model.has_api_key else None)
        record[web.host][run.run_id] = model.id
        _write_sync_record(job.folder, record)
        log.info("Created model %s for run %s of the offline job in %s", model.id, run.run_id, job.folder)
        result.model_id, result.url, result.status = model.id, _model_url(web, model.id), model.status
    key = _load_key(model.id) or _new_key(web, model)
    _send_files(web, model, plan.files, result, advance)
    _send_points(web, model.id, key, run.run_id, plan.points, result, advance)
    # the notes go before the final state: a sync stopped between the two adds them when it resumes
    result.status = _send_state(web, model.id, key, run, before_final=lambda: _add_run_notes(web, model.id, job, run))


def _model_url(web: PlatformAPI, model_id: str) -> str:
    return f"{web.host}/models/{model_id}"


def _files_of(folder: Path, run: OfflineRun) -> list[tuple[str, Path]]:
    """The current run: every file of the folder but the bookkeeping; an earlier run: its output.json."""
    if run.current:
        return [(relative, folder / relative) for relative in _files_to_send(folder)]
    return [(OUTPUT_FILE, run.output_file)] if run.output_file is not None else []


def _add_run_notes(web: PlatformAPI, model_id: str, job: OfflineJob, run: OfflineRun) -> None:
    """The run's own times and host in the model's notes (the platform stamps the times it is told of a
    state), added once after whatever notes the model has."""
    state = run.state
    line = (f"Offline run `{run.run_id}` of job `{job.info.get('id', '?')}` on {state.hostname or '?'}, brought in "
            f"by `brevettiai sync`: created {state.created}, started {state.started or '-'}, "
            f"ended {state.finished or '-'}.")
    path = f"/api/models/{model_id}"
    notes = str(web.client.get(path).json().get("notes") or "")
    if line not in notes:
        web.client.request("PATCH", path, json={"notes": f"{notes}\n\n{line}" if notes else line}, idempotent=True)


def _read_sync_record(folder: Path) -> dict[str, dict[str, str]]:
    """Platform URL -> run id -> the model that run was synced to (each run of a reused folder is a model)."""
    try:
        data = json.loads((folder / SYNC_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    runs = data.get("runs", {}) if isinstance(data, dict) else {}
    if not isinstance(runs, dict):
        return {}
    return {str(host): {str(run): str(model) for run, model in by_run.items()}
            for host, by_run in runs.items() if isinstance(by_run, dict)}


def _write_sync_record(folder: Path, record: dict[str, dict[str, str]]) -> None:
    payload = json.dumps({"runs": record}, indent=2).encode("utf-8")
    atomic_write(folder / SYNC_FILE, lambda handle: handle.write(payload))


def _existing_model(web: Any, model_id: str) -> Any:
    try:
        return web.get_model(model_id)
    except PlatformNotFoundError:
        log.warning("Model %s that this folder was synced to is gone from %s: creating a new one", model_id, web.host)
        return None


def _key_file(model_id: str) -> Path:
    return Path(os.path.expanduser("~")) / ".cache" / "brevettiai" / "sync-keys" / f"{model_id}.key"


def _save_key(model_id: str, key: str | None) -> None:
    if not key:
        return
    path = _key_file(model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    # whole or not at all: a torn key file would be a wrong key to the next sync
    atomic_write(path, lambda handle: handle.write(key.encode()), mode=0o600)


def _load_key(model_id: str) -> str | None:
    try:
        return _key_file(model_id).read_text().strip() or None
    except FileNotFoundError:
        return None


def _new_key(web: Any, model: Any) -> str:
    """A fresh job key for a model that was created but not run (the first key was lost)."""
    model_id = model.id
    if model.status != "created":
        raise UsageError(f"the job key of model {model_id} ({model.status}) is not in {_key_file(model_id)}: "
                         f"sync from the machine that synced it first, or remove {SYNC_FILE} from the job "
                         f"directory to sync it as a new model")
    answer = web.client.post(f"/api/models/{model_id}/start", params={"launch": "false"}).json()
    key = answer.get("apiKey")
    if not key:
        raise UsageError(f"the platform gave no job key for model {model_id}")
    _save_key(model_id, key)
    return key


def _files_to_send(folder: Path) -> Iterator[str]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            relative = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            if (relative in BOOKKEEPING or relative.startswith(RUNS_FOLDER + "/") or name.startswith(".")
                    or name.endswith(".tmp")):
                continue
            yield relative


def _send_files(web: Any, model: Any, files: list[tuple[str, Path]], result: SyncResult, advance: Any) -> None:
    if not files:
        return
    from brevettiai.io import IoTools

    io = IoTools()
    remote = {entry["name"].split("/", 1)[-1]: entry.get("md5") for entry in web.ls(model, recursive=True)
              if entry.get("type", "file") == "file"}
    for relative, local in files:
        if remote.get(relative) and remote[relative] == io.get_md5(str(local)):
            result.files_skipped += 1
        else:
            web.upload_file(model, relative, local)
            result.files_sent += 1
        advance(1)


def _job_client(web: Any, key: str) -> PlatformClient:
    from brevettiai.platform._http import PlatformClient

    return PlatformClient(web.host, key)


def _send_points(web: Any, model_id: str, key: str, run_id: str, points: list[dict[str, Any]],
                 result: SyncResult, advance: Any) -> None:
    """Points in batches of `BATCH_POINTS` with ids fixed by their place in the run's (append-only) points,
    so the platform stores each batch once however often the folder is synced."""
    if not points:
        return
    client = _job_client(web, key)
    try:
        for start in range(0, len(points), BATCH_POINTS):
            batch = points[start:start + BATCH_POINTS]
            batch_id = f"sync-{run_id}-{start // BATCH_POINTS}"
            if len(batch) < BATCH_POINTS:  # only an ended run sends its partial last batch
                batch_id += f"-last{len(batch)}"
            body = MetricBatch.model_validate({"batchId": batch_id[:64], "points": batch})
            client.post(f"/api/jobs/{model_id}/metrics", content=body.model_dump_json(by_alias=True).encode(),
                        headers={"Content-Type": "application/json"}, idempotent=True)
            result.points_sent += len(batch)
            advance(len(batch))
    finally:
        client.close()


def _send_state(web: Any, model_id: str, key: str, run: OfflineRun, *, before_final: Callable[[], None]) -> str:
    """The run's state: running, then its final one. An earlier run ended when the next one began: one
    that never recorded its end is failed with a message saying so, and its model path (a file a later
    run overwrote) is left out."""
    state = run.state
    status = effective_status(state)
    if run.current and status == "created":
        return "created"
    client = _job_client(web, key)
    try:
        # the model shows the run's own times, not the sync's
        _post_state(client, model_id, _report("running", started=state.started))
        if run.current and status == "running":
            return "running"
        final_status = status if status in TERMINAL else "failed"
        exit_info = {k: v for k, v in vars(state.exit).items() if v is not None} if state.exit else {}
        if status not in TERMINAL:
            how = "was never started" if status == "created" else "ended without recording how (lost)"
            exit_info.setdefault("message", f"the offline run {how}")
        final = _report(final_status, model_path=state.model_path if run.current else None,
                        exit=ExitReport.model_validate(exit_info) if exit_info else None, completed=state.finished)
        before_final()
        _post_state(client, model_id, final)
        return final_status
    finally:
        client.close()


def _report(status: str, *, started: str | None = None, completed: str | None = None,
            model_path: str | None = None, exit: ExitReport | None = None) -> StateReport:
    """A state report of the contract; a run time the contract cannot take (no time zone, not a time)
    is left out with a warning, and the platform's clock stamps the state instead."""
    report = StateReport.model_validate({"status": status, "model_path": model_path, "exit": exit})
    for name, value in (("started", started), ("completed", completed)):
        if value is None:
            continue
        try:
            report = StateReport.model_validate({**report.model_dump(), name: value})
        except ValidationError:
            log.warning("The run's %s time %r is not a time with a zone: the platform's clock stamps it instead",
                        name, value)
    return report


def _post_state(client: PlatformClient, model_id: str, report: StateReport) -> None:
    """Report a state; when the platform refuses the run's own times (this machine's clock ahead of the
    platform's, say), the state goes without them and the platform's clock stamps it."""
    try:
        client.post(f"/api/jobs/{model_id}/state", json=report.body(), idempotent=True)
    except PlatformValidationError as exc:
        times = [name for name in ("started", "completed") if getattr(report, name) is not None]
        if exc.status != 422 or not times:
            raise
        log.warning("The platform refused the run's own %s (%s): its clock stamps model %s instead",
                    " and ".join(times), exc, model_id)
        untimed = report.model_copy(update={"started": None, "completed": None})
        client.post(f"/api/jobs/{model_id}/state", json=untimed.body(), idempotent=True)


class _bar:
    """A tqdm bar over files and points on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool, total: int, name: str) -> None:
        from brevettiai.io.progress import stderr_is_terminal

        self._bar: Any = None
        if enabled and total and stderr_is_terminal():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=f"sync {name}", unit="item", file=sys.stderr, leave=False)

    def __enter__(self) -> Any:
        return self._bar.update if self._bar is not None else (lambda _n: None)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brevettiai sync",
                                     description="Bring an offline job directory into a platform: each of its runs "
                                                 "not synced there yet becomes a model, oldest first.")
    parser.add_argument("job_dir", help="the offline job directory (holding info.json and status.json)")
    from brevettiai.utils._command import add_login_options

    add_login_options(parser)
    parser.add_argument("--run", metavar="RUN_ID", help=f"send only this run: '{CURRENT}' (the folder's current run) "
                                                        f"or the id of an earlier one (its folder in {RUNS_FOLDER}/); "
                                                        f"default: every run not synced yet")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sync command; returns the exit code (0 ok, 1 platform trouble, 2 bad input)."""
    from brevettiai.utils._command import run_with_platform

    args = _parser().parse_args(argv)
    if not os.path.isdir(args.job_dir):
        print(f"error: {args.job_dir!r} is not a folder: give an offline job directory", file=sys.stderr)
        return 2
    try:  # the folder is read before logging in: its mistakes need no platform
        job = read_job(Path(args.job_dir))
        runs = job.select(args.run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def sync(web: PlatformAPI) -> int:
        print(sync_runs(web, job, runs, progress=args.progress).summary())
        return 0

    return run_with_platform(args, sync)


if __name__ == "__main__":
    sys.exit(main())
