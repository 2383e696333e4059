"""Import time: a fresh interpreter doing the import, minus that interpreter's bare start-up (`-c pass`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError, Row, Table, clean_env, finish, median, time_python, time_python_cpu  # noqa: E402

GOAL_SECONDS = 0.10
FLOOR_IMPORT = "import pydantic"
# What any pydantic settings class costs at import: BaseModel (pydantic.main imports _generate_schema and
# json_schema) and a first model class (which imports pydantic.fields, types and annotated_types).
MODEL_FLOOR_IMPORT = (
    "from pydantic import BaseModel, ConfigDict\n"
    "class Settings(BaseModel):\n"
    "    model_config = ConfigDict(defer_build=True)"
)
OURS_IMPORT = "from brevettiai import Job, JobSettings"
PEER_ENV = clean_env(WANDB_SILENT="true", WANDB_MODE="offline", GIT_PYTHON_REFRESH="quiet")


@dataclass
class Side:
    """One import to time: label, interpreter (None when unusable) and statement."""

    what: str
    side: str
    python: Path | None
    code: str
    note: str = ""
    ours: bool = False
    floor: bool = False


def sides() -> list[Side]:
    """Our import and the peers' imports, each with the interpreter of its venv."""
    peers, ref = _venvs.peers_venv(), _venvs.reference_venv()
    ours_version = _venvs.ours_versions().get("brevettiai", "?")
    pv = peers.versions
    return [
        Side(OURS_IMPORT, f"brevettiai {ours_version} (ours)", _venvs.ours_python(), OURS_IMPORT, ours=True),
        Side(FLOOR_IMPORT, "floor: pydantic alone (ours' venv)", _venvs.ours_python(), FLOOR_IMPORT, floor=True),
        Side("BaseModel + one model class", "floor: a pydantic settings class (ours' venv)", _venvs.ours_python(),
             MODEL_FLOOR_IMPORT, floor=True),
        Side("import mlflow", f"mlflow {pv.get('mlflow', '?')}", peers.python, "import mlflow", peers.note),
        Side("import wandb", f"wandb {pv.get('wandb', '?')}", peers.python, "import wandb", peers.note),
        Side(
            "from brevettiai.platform import Job",
            f"brevettiai {ref.versions.get('brevettiai', '2.0.0')} (PyPI reference)",
            ref.python,
            "from brevettiai.platform import Job",
            ref.note,
        ),
    ]


def measure(sides_: list[Side], runs: int) -> list[Row]:
    """Per side, median import time minus median bare start-up of its interpreter, over runs fresh processes.

    The sides take turns within each run, so a burst of load on the shared machine hits all of them
    alike rather than one side's whole series.
    """
    imports: dict[int, list[float]] = {i: [] for i in range(len(sides_))}
    bare: dict[int, list[float]] = {i: [] for i in range(len(sides_))}
    cpu: dict[int, list[float]] = {i: [] for i in range(len(sides_))}
    bare_cpu: dict[int, list[float]] = {i: [] for i in range(len(sides_))}
    failed: dict[int, str] = {i: s.note or "not installed" for i, s in enumerate(sides_) if s.python is None}
    for i, side in enumerate(sides_):
        if i not in failed:
            try:
                time_python(side.python, side.code, PEER_ENV)  # warm-up: writes bytecode caches
            except BenchError as exc:
                failed[i] = str(exc)
    for _ in range(runs):
        for i, side in enumerate(sides_):
            if i in failed:
                continue
            try:
                for code, walls, cpus in (("pass", bare, bare_cpu), (side.code, imports, cpu)):
                    wall, used = time_python_cpu(side.python, code, PEER_ENV)
                    walls[i].append(wall)
                    cpus[i].append(used)
            except BenchError as exc:
                failed[i] = str(exc)
    rows = []
    for i, side in enumerate(sides_):
        if i in failed:
            rows.append(Row(side.what, side.side, None, failed[i], side.ours, side.floor))
            continue
        startup = median(bare[i])
        cpu_ms = (median(cpu[i]) - median(bare_cpu[i])) * 1000
        note = f"bare start-up {startup * 1000:.0f} ms; runs spread {spread_ms(imports[i])}; CPU {cpu_ms:.0f} ms"
        rows.append(Row(side.what, side.side, median(imports[i]) - startup, note, side.ours, side.floor))
    return rows


def spread_ms(values: list[float]) -> str:
    """Min-max of the runs, in ms: how noisy the machine was while this side was measured."""
    return f"{min(values) * 1000:.0f}-{max(values) * 1000:.0f} ms"


def importtime_top(python: Path, code: str, top: int = 10) -> list[str]:
    """The top modules by cumulative import time of `python -X importtime -c code`, as printable lines."""
    proc = subprocess.run(
        [str(python), "-X", "importtime", "-c", code], capture_output=True, text=True, env=clean_env()
    )
    entries, total = [], 0
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[0].strip().isdigit():
            entries.append((int(parts[1]), int(parts[0]), parts[2].strip()))
            total += int(parts[1]) if not parts[2][1:].startswith(" ") else 0  # top-level imports only
    entries.sort(reverse=True)
    lines = [f"  all imports (incl. interpreter start-up's): {total / 1000:.1f}ms in this run"]
    lines.append(f"  {'cumulative':>10}  {'self':>8}  module")
    lines += [f"  {cum / 1000:>8.1f}ms  {own / 1000:>6.1f}ms  {name}" for cum, own, name in entries[:top]]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure every side's import, print the table and our -X importtime top 10."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per side (default 9)")
    args = parser.parse_args(argv)
    table = Table(
        f"Import time (fresh interpreter minus its bare start-up; median of {args.runs} runs)",
        "s",
        GOAL_SECONDS,
    )
    table.rows += measure(sides(), args.runs)
    ours = table.rows[0]
    if ours.seconds is not None:
        table.notes.append(f"ours, -X importtime top 10 by cumulative time ({OURS_IMPORT}):")
        table.notes += importtime_top(_venvs.ours_python(), OURS_IMPORT)
    return finish("import", table)


if __name__ == "__main__":
    sys.exit(main())
