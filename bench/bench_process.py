"""Whole process: a training script with a settings class, run as `python train.py --help` and as a no-op run.

Wall time of the whole fresh process, interpreter start-up and imports included, as a user sees it.
Floor: `python -c pass` of the same interpreter. Each side's scripts are written to a fresh temp dir.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import (  # noqa: E402
    RESULTS_DIR,
    BenchError,
    Row,
    Table,
    clean_env,
    fmt,
    goal_status,
    median,
    print_table,
    ratios,
    time_args_cpu,
    time_python_cpu,
)

GOAL_SECONDS = 0.2
ENV = clean_env(WANDB_SILENT="true", WANDB_MODE="offline", GIT_PYTHON_REFRESH="quiet")

OURS = '''
from brevettiai import Job, JobSettings


class Settings(JobSettings):
    epochs: int = 3
    learning_rate: float = 0.01
    model_name: str = "resnet"


class Train(Job):
    settings: Settings

    def run(self):
        return None


if __name__ == "__main__":
    Train.init(log_level=30).start()
'''

# The peers' usual form: argparse for the settings, the tracking library imported at the top.
WANDB = '''
import argparse
import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--learning_rate", type=float, default=0.01)
parser.add_argument("--model_name", default="resnet")
parser.add_argument("--dir", default=".")
args = parser.parse_args()
run = wandb.init(mode="offline", dir=args.dir, config=vars(args))
run.finish()
'''

MLFLOW = '''
import argparse
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--learning_rate", type=float, default=0.01)
parser.add_argument("--model_name", default="resnet")
parser.add_argument("--dir", default=".")
args = parser.parse_args()
mlflow.set_tracking_uri(f"sqlite:///{args.dir}/mlflow.db")
with mlflow.start_run():
    mlflow.log_params({k: v for k, v in vars(args).items() if k != "dir"})
'''

# pydantic's own share of ours: the same three settings as a plain pydantic model, validated once in a
# run (which loads pydantic's plugin scan, importlib.metadata), only defined under --help.
PYDANTIC_FLOOR = '''
import sys
from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(defer_build=True)
    epochs: int = 3
    learning_rate: float = 0.01
    model_name: str = "resnet"


if "--help" not in sys.argv:
    Settings.model_validate({})
'''

@dataclass
class Side:
    """One script of one side: label, interpreter (None when unusable), source, run flags, check."""

    what: str
    side: str
    python: Path | None
    source: str
    run_flags: list[str]
    produces: str  # a path (relative to the run dir) the run must have written
    note: str = ""
    ours: bool = False
    floor: bool = False


def sides() -> list[Side]:
    """Our script, the peers' scripts and the floor."""
    peers = _venvs.peers_venv()
    pv = peers.versions
    ours_version = _venvs.ours_versions().get("brevettiai", "?")
    return [
        Side("train.py: Job + JobSettings", f"brevettiai {ours_version} (ours)", _venvs.ours_python(), OURS,
             ["--job_dir", "{dir}/job"], "job/artifacts/output.json", ours=True),
        Side("python -c pass", "floor: bare interpreter (ours' venv)", _venvs.ours_python(), "", [], "",
             floor=True),
        Side("the settings as a pydantic model (validated in a run)", "floor: pydantic alone (ours' venv)",
             _venvs.ours_python(), PYDANTIC_FLOOR, [], "", floor=True),
        Side("train.py: argparse + wandb offline", f"wandb {pv.get('wandb', '?')}", peers.python, WANDB,
             ["--dir", "{dir}"], "wandb", peers.note),
        Side("train.py: argparse + mlflow sqlite", f"mlflow {pv.get('mlflow', '?')}", peers.python, MLFLOW,
             ["--dir", "{dir}"], "mlflow.db", peers.note),
    ]


def one_run(side: Side, mode: str) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process of side in mode ("help" or "run"), its output checked."""
    assert side.python is not None
    if not side.source:
        return time_python_cpu(side.python, "pass", ENV)
    folder = Path(tempfile.mkdtemp(prefix="bench-process-"))
    try:
        script = folder / "train.py"
        script.write_text(side.source)
        flags = ["--help"] if mode == "help" else [f.format(dir=folder) for f in side.run_flags]
        wall, cpu = time_args_cpu(side.python, [str(script), *flags], ENV)
        if mode == "run" and not (folder / side.produces).exists():
            raise BenchError(f"the run wrote no {side.produces}")
        return wall, cpu
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(all_sides: list[Side], mode: str, runs: int) -> list[Row]:
    """Median wall time per side over runs fresh processes; the sides take turns within each run."""
    walls: dict[int, list[float]] = {i: [] for i in range(len(all_sides))}
    cpus: dict[int, list[float]] = {i: [] for i in range(len(all_sides))}
    failed = {i: s.note or "not installed" for i, s in enumerate(all_sides) if s.python is None}
    for attempt in range(runs + 1):  # the first round is a warm-up (bytecode caches), not counted
        for i, side in enumerate(all_sides):
            if i in failed:
                continue
            try:
                wall, cpu = one_run(side, mode)
            except BenchError as exc:
                failed[i] = str(exc)
                continue
            if attempt:
                walls[i].append(wall)
                cpus[i].append(cpu)
    rows = []
    for i, side in enumerate(all_sides):
        what = side.what if not side.source else f"{side.what} {'--help' if mode == 'help' else '(no-op run)'}"
        if i in failed:
            rows.append(Row(what, side.side, None, failed[i], side.ours, side.floor))
            continue
        note = (f"runs spread {min(walls[i]) * 1000:.0f}-{max(walls[i]) * 1000:.0f} ms; "
                f"CPU {median(cpus[i]) * 1000:.0f} ms")
        rows.append(Row(what, side.side, median(walls[i]), note, side.ours, side.floor))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Time --help and a no-op run of every side's script; print both tables and save process.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per side and mode (default 9)")
    args = parser.parse_args(argv)
    all_sides = sides()
    goals, measured = [], True
    for mode, title in (("help", "python train.py --help"), ("run", "python train.py, a no-op run")):
        table = Table(f"Whole process: {title} (wall time of a fresh process, median of {args.runs})", "s",
                      GOAL_SECONDS)
        table.rows = measure(all_sides, mode, args.runs)
        print_table(table)
        ours = table.rows[0]
        measured = measured and ours.seconds is not None
        goals.append({"text": f"{title} <= {fmt(GOAL_SECONDS, 's')}", "status": goal_status(table),
                      "figure": fmt(ours.seconds, "s"), "ratios": ratios(table),
                      "rows": [r.__dict__ for r in table.rows]})
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "process.json").write_text(json.dumps({"goals": goals}, indent=2) + "\n")
    return 0 if measured else 1


if __name__ == "__main__":
    sys.exit(main())
