"""``brevettiai sync JOB_DIR``: bring an offline job directory into a platform as a model.

What is sent: the job's name and settings (a new model), every file of the folder except the job's
own bookkeeping (``info.json``, ``status.json``, ``metrics.jsonl``, earlier runs' records in
``runs/``), the progress points of the folder's current run, and last its final state. Sending again
is safe and resumes: the folder remembers the model of each of its runs per platform in
``.brevettiai-sync.json`` (a folder reused for a new run syncs that run as a new model), files the platform already has with
the same md5 are skipped, and metric batches carry fixed ids the platform stores once. The job key
of the synced model is kept in the user's cache folder (mode 0600), never in the job folder.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brevettiai._backend import RUNS_FOLDER
from brevettiai._state import STATE_FILE, TERMINAL, JobState, effective_status
from brevettiai.errors import PlatformNotFoundError, UsageError
from brevettiai.io.atomic import atomic_write

if TYPE_CHECKING:
    from brevettiai.platform.web_api import PlatformAPI

log = logging.getLogger("brevettiai.sync")

SYNC_FILE = ".brevettiai-sync.json"
BOOKKEEPING = frozenset({"info.json", STATE_FILE, "metrics.jsonl", SYNC_FILE})
BATCH_POINTS = 5000


@dataclass
class SyncResult:
    """What one sync did."""

    model_id: str
    url: str
    files_sent: int = 0
    files_skipped: int = 0
    points_sent: int = 0
    status: str = "created"
    already_final: bool = False
    unsynced_runs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.already_final:
            text = f"already synced: model {self.model_id} is {self.status} ({self.url})"
        else:
            text = (f"synced to model {self.model_id} ({self.url}): {self.files_sent} files sent, "
                    f"{self.files_skipped} already there, {self.points_sent} metric points, status {self.status}")
        if self.unsynced_runs:
            text += (f"\nnote: {len(self.unsynced_runs)} earlier run(s) of this folder were never synced to this "
                     f"platform and are not sent ({', '.join(self.unsynced_runs)}: kept in {RUNS_FOLDER}/): only a "
                     f"folder's current run syncs, so sync after each run when a folder is reused")
        return text


def sync_job_dir(web: PlatformAPI, job_dir: str | os.PathLike[str], *, progress: bool = True) -> SyncResult:
    """Sync the offline job in `job_dir` into the platform `web` (a logged-in `PlatformAPI`)."""
    folder = Path(job_dir)
    info = _read_json(folder / "info.json", "the job's info.json")
    state = JobState.from_dict(_read_json(folder / STATE_FILE, "the job's status.json"))
    record = _read_sync_record(folder)
    runs = record.setdefault(web.host, {})
    model_id = runs.get(state.run_id)
    model = _existing_model(web, model_id) if model_id else None
    if model is None:
        model = web.create_model(name=str(info.get("name") or folder.name), datasets=[],
                                 settings=_effective_settings(folder, info))
        _save_key(model.id, model.api_key if model.has_api_key else None)
        runs[state.run_id] = model.id
        _write_sync_record(folder, record)
        log.info("Created model %s for the offline job in %s", model.id, folder)
    result = SyncResult(model_id=model.id, url=f"{web.host}/models/{model.id}", status=model.status,
                        unsynced_runs=_earlier_runs_not_synced(folder, runs))
    if model.status in TERMINAL:
        result.already_final = True
        return result
    key = _load_key(model.id) or _new_key(web, model)
    files = list(_files_to_send(folder))
    points = list(_points_of_run(folder / "metrics.jsonl", state.run_id))
    final = effective_status(state) in (*TERMINAL, "lost")
    if not final:  # a running job's last, partial batch is sent once it is complete or the job has ended
        points = points[:len(points) - len(points) % BATCH_POINTS]
    with _bar(progress, len(files) + len(points), folder.name) as advance:
        _send_files(web, model, folder, files, result, advance)
        _send_points(web, model.id, key, state.run_id, points, result, advance)
    result.status = _send_state(web, model.id, key, state)
    return result


def _earlier_runs_not_synced(folder: Path, synced: dict[str, str]) -> list[str]:
    """Run ids of the folder's earlier runs (their records moved to runs/<run id>/) no sync to this platform sent."""
    earlier = folder / RUNS_FOLDER
    if not earlier.is_dir():
        return []
    return sorted(entry.name for entry in earlier.iterdir()
                  if (entry / STATE_FILE).is_file() and entry.name not in synced)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing: {path.parent} is not an offline job directory ({what})") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON ({what}): {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a JSON object ({what})")
    return data


def _effective_settings(folder: Path, info: dict[str, Any]) -> dict[str, Any]:
    """The settings the run used (output.json records them after command-line overrides), else info.json's."""
    try:
        recorded = json.loads((folder / "artifacts" / "output.json").read_text(encoding="utf-8"))["job"]["settings"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        recorded = None
    return recorded if isinstance(recorded, dict) else (info.get("settings") or {})


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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)


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


def _send_files(web: Any, model: Any, folder: Path, files: list[str], result: SyncResult, advance: Any) -> None:
    from brevettiai.io import IoTools

    io = IoTools()
    remote = {entry["name"].split("/", 1)[-1]: entry.get("md5") for entry in web.ls(model, recursive=True)
              if entry.get("type", "file") == "file"}
    for relative in files:
        local = folder / relative
        if remote.get(relative) and remote[relative] == io.get_md5(str(local)):
            result.files_skipped += 1
        else:
            web.upload_file(model, relative, local)
            result.files_sent += 1
        advance(1)


def _points_of_run(path: Path, run_id: str) -> Iterator[dict[str, Any]]:
    """The metrics file's points of one run (lines written before run ids existed count as its own)."""
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
            if point.get("run_id") not in (None, "", run_id):
                continue
            values = {k: v for k, v in point.items() if k not in ("step", "time", "run_id")
                      and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
            if values and isinstance(point.get("step"), int):
                yield {"step": point["step"], "time": _epoch(point.get("time")), "values": values}


def _epoch(moment: Any) -> float:
    if isinstance(moment, int | float):
        return float(moment)
    try:
        return datetime.datetime.fromisoformat(str(moment).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return datetime.datetime.now(datetime.UTC).timestamp()


def _job_client(web: Any, key: str) -> Any:
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
            body = {"batchId": batch_id[:64], "points": batch}
            client.post(f"/api/jobs/{model_id}/metrics", json=body, idempotent=True)
            result.points_sent += len(batch)
            advance(len(batch))
    finally:
        client.close()


def _send_state(web: Any, model_id: str, key: str, state: JobState) -> str:
    status = effective_status(state)
    if status == "created":
        return "created"
    body: dict[str, Any] = {"status": "running"}
    client = _job_client(web, key)
    try:
        client.post(f"/api/jobs/{model_id}/state", json=body, idempotent=True)
        if status == "running":
            return "running"
        final: dict[str, Any] = {"status": status if status in TERMINAL else "failed"}
        if state.model_path:
            final["modelPath"] = state.model_path
        exit_info = {k: v for k, v in vars(state.exit).items() if v is not None} if state.exit else {}
        if status == "lost":
            exit_info.setdefault("message", "the offline process ended without recording how (lost)")
        if exit_info:
            final["exit"] = exit_info
        client.post(f"/api/jobs/{model_id}/state", json=final, idempotent=True)
        return final["status"]
    finally:
        client.close()


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
                                     description="Bring an offline job directory into a platform as a model.")
    parser.add_argument("job_dir", help="the offline job directory (holding info.json and status.json)")
    from brevettiai.utils._command import add_login_options

    add_login_options(parser)
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sync command; returns the exit code (0 ok, 1 platform trouble, 2 bad input)."""
    from brevettiai.utils._command import run_with_platform

    args = _parser().parse_args(argv)
    if not os.path.isdir(args.job_dir):
        print(f"error: {args.job_dir!r} is not a folder: give an offline job directory", file=sys.stderr)
        return 2

    def sync(web: PlatformAPI) -> int:
        print(sync_job_dir(web, args.job_dir, progress=args.progress).summary())
        return 0

    return run_with_platform(args, sync)


if __name__ == "__main__":
    sys.exit(main())
