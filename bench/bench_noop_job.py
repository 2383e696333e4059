"""No-op job from init to complete, after imports: ours vs a W&B offline run vs an MLflow run (sqlite store).

The driver starts one fresh subprocess per run (`--worker SIDE`), which imports its library, then times
only the job/run lifecycle with perf_counter and reports it as JSON.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError, Row, Table, clean_env, finish, median, report, worker_result  # noqa: E402

GOAL_SECONDS = 0.060
SCRIPT = Path(__file__).resolve()


def worker_ours(tmp: Path) -> dict[str, float]:
    """Time our offline no-op job (Job.init in an empty job dir, then start) and check its output.json."""
    from brevettiai import Job

    start = time.perf_counter()
    job = Job.init(job_dir=str(tmp), argv=[])
    job.start()
    elapsed = time.perf_counter() - start
    if not (tmp / "artifacts" / "output.json").is_file():
        raise SystemExit(
            f"no artifacts/output.json in the job dir after job.start(): {sorted(tmp.rglob('*'))}"
        )
    return {"fresh": elapsed}


def worker_wandb(tmp: Path) -> dict[str, float]:
    """Time an offline W&B run: wandb.init then wandb.finish."""
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        os.environ[var] = str(tmp)
    os.environ.update(WANDB_SILENT="true", WANDB_MODE="offline")
    import wandb

    start = time.perf_counter()
    wandb.init(mode="offline", dir=str(tmp))
    wandb.finish()
    elapsed = time.perf_counter() - start
    if not list(tmp.glob("wandb/offline-run-*")):
        raise SystemExit(f"wandb wrote no offline run under {tmp}")
    return {"fresh": elapsed}


def worker_mlflow(tmp: Path) -> dict[str, float]:
    """Time an empty MLflow run on a fresh sqlite store, then a second (warm) run in the same process."""
    import mlflow

    start = time.perf_counter()
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    with mlflow.start_run():
        pass
    fresh = time.perf_counter() - start
    start = time.perf_counter()
    with mlflow.start_run():
        pass
    return {"fresh": fresh, "warm": time.perf_counter() - start}


WORKERS: dict[str, Callable[[Path], dict[str, float]]] = {
    "ours": worker_ours,
    "wandb": worker_wandb,
    "mlflow": worker_mlflow,
}


def run_worker(side: str) -> None:
    """Worker mode: run one side once in a fresh temp dir (also the cwd) and report its timings."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-noop-{side}-"))
    try:
        os.chdir(tmp)
        report(WORKERS[side](tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(python: Path | None, side: str, runs: int, unusable: str = "") -> dict[str, float] | str:
    """Median of each timing over runs fresh worker processes, or the reason it cannot be measured."""
    if python is None:
        return unusable or "not installed"
    env = clean_env(WANDB_SILENT="true", WANDB_MODE="offline", GIT_PYTHON_REFRESH="quiet")
    try:
        results = [worker_result(python, SCRIPT, ["--worker", side], env) for _ in range(runs)]
    except BenchError as exc:
        return str(exc)
    return {key: median([r[key] for r in results]) for key in results[0]}


def row(what: str, side: str, figures: dict[str, float] | str, key: str, ours: bool = False) -> Row:
    """A table row for one timing of a side's measured figures (or its failure reason)."""
    if isinstance(figures, str):
        return Row(what, side, None, figures, ours)
    return Row(what, side, figures[key], "", ours)


def main(argv: list[str] | None = None) -> int:
    """Run the no-op job benchmark (or, with --worker, one measurement) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per side (default 9)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args.worker)
        return 0
    peers = _venvs.peers_venv()
    versions = peers.versions
    ours = measure(_venvs.ours_python(), "ours", args.runs)
    wandb = measure(peers.python, "wandb", args.runs, peers.note)
    mlflow = measure(peers.python, "mlflow", args.runs, peers.note)
    ours_side = f"brevettiai {_venvs.ours_versions().get('brevettiai', '?')} (ours)"
    mlflow_side = f"mlflow {versions.get('mlflow', '?')}"
    table = Table(
        f"No-op job, init to complete, imports excluded (median of {args.runs} fresh processes)",
        "ms",
        GOAL_SECONDS,
    )
    table.rows = [
        row("Job.init(job_dir=tmp, argv=[]); job.start()", ours_side, ours, "fresh", ours=True),
        row(
            "wandb.init(mode='offline'); wandb.finish()",
            f"wandb {versions.get('wandb', '?')}",
            wandb,
            "fresh",
        ),
        row("mlflow start_run/end, fresh sqlite store", mlflow_side, mlflow, "fresh"),
        row("mlflow start_run/end, 2nd run same process", mlflow_side, mlflow, "warm"),
    ]
    return finish("noop_job", table)


if __name__ == "__main__":
    sys.exit(main())
