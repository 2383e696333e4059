"""Shared helpers of the benchmarks: subprocess runs, medians, the printed table (stdlib only)."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RESULT_MARK = "BENCH_RESULT "
RESULTS_DIR = Path(__file__).resolve().parent / "results"


class BenchError(Exception):
    """A side of a benchmark could not be measured; the message says why, in one line."""


@dataclass
class Row:
    """One measured figure (in seconds) of one side, or the reason it is missing."""

    what: str
    side: str
    seconds: float | None
    note: str = ""
    ours: bool = False
    floor: bool = False  # what the machine allows for this task: the figure ours is compared against


@dataclass
class Table:
    """A benchmark's result table: our rows, peer rows, and the goal on our main figure."""

    title: str
    unit: str  # "s" or "ms"
    goal_seconds: float
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without Python path overrides, plus extra variables.

    PYTHONDONTWRITEBYTECODE is dropped too: without bytecode caches every measured start would
    compile its imports from source, which no installed package does in real use.
    """
    skip = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(extra)
    return env


def short_error(stderr: str, returncode: int) -> str:
    """The last meaningful line of a failed subprocess's stderr."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else f"exit code {returncode}"


def run_python(python: Path, args: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run python with args in a fresh temp cwd; return stdout, or raise BenchError with a short reason."""
    with tempfile.TemporaryDirectory(prefix="bench-cwd-") as cwd:
        try:
            proc = subprocess.run(
                [str(python), *args],
                cwd=cwd,
                env=env or clean_env(),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise BenchError(short_error(proc.stderr, proc.returncode))
    return proc.stdout


def time_python(python: Path, code: str, env: dict[str, str] | None = None) -> float:
    """Wall time in seconds of a fresh `python -c code`, raising BenchError if it fails."""
    return time_python_cpu(python, code, env)[0]


def time_python_cpu(python: Path, code: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system) in seconds of a fresh `python -c code`.

    On a shared machine the CPU time is the steadier figure: waiting for a core counts in the wall
    time only.
    """
    return time_args_cpu(python, ["-c", code], env)


def time_args_cpu(python: Path, args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system) in seconds of a fresh `python *args`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run_python(python, args, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def worker_result(python: Path, script: Path, args: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a benchmark script's worker mode in python and return the JSON it reported."""
    out = run_python(python, [str(script), *args], env)
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    raise BenchError("worker printed no result")


def report(result: dict) -> None:
    """Print a worker's result in the form worker_result reads back."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def median(values: list[float]) -> float:
    """Median of values."""
    return statistics.median(values)


def fmt(seconds: float | None, unit: str) -> str:
    """A figure in the table's unit."""
    if seconds is None:
        return "n/a"
    return f"{seconds:.3f} s" if unit == "s" else f"{seconds * 1000:.2f} ms"


def print_table(table: Table) -> None:
    """Print the table: what, side, figure, peer/ours ratio, then the goal and whether it is met."""
    ours = next((r for r in table.rows if r.ours), None)
    base = ours.seconds if ours else None
    lines = [("what was measured", "side", "median", "peer/ours", "")]
    for r in table.rows:
        if r.ours or r.seconds is None:
            ratio = "-" if r.ours else "n/a"
        elif r.floor:
            ratio = f"ours/floor {base / r.seconds:.2f}x" if base and r.seconds > 0 else "n/a"
        else:
            ratio = f"{r.seconds / base:.1f}x" if base else "n/a"
        note = f"({r.note})" if r.note else ""
        lines.append((r.what, r.side, fmt(r.seconds, table.unit), ratio, note))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    print(f"\n== {table.title} ==")
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths[:4]))
    goal = f"goal: ours <= {fmt(table.goal_seconds, table.unit)}"
    if base is None:
        print(f"{goal}: UNKNOWN (ours not measured)")
    else:
        print(f"{goal}: {goal_status(table)} ({fmt(base, table.unit)})")
    print("ratio = peer / ours, >1 means we are faster")
    for note in table.notes:
        print(note)


def goal_status(table: Table) -> str:
    """MET, NOT MET or UNKNOWN for our main figure against the table's goal."""
    ours = next((r for r in table.rows if r.ours), None)
    if ours is None or ours.seconds is None:
        return "UNKNOWN"
    return "MET" if ours.seconds <= table.goal_seconds else "NOT MET"


def ratios(table: Table) -> dict[str, float | None]:
    """Slowest peer / ours (None without a measured peer) and ours / floor (None without a floor)."""
    ours = next((r for r in table.rows if r.ours and r.seconds), None)
    peers = [r.seconds for r in table.rows if not r.ours and not r.floor and r.seconds is not None]
    floor = next((r.seconds for r in table.rows if r.floor and r.seconds), None)
    if ours is None:
        return {"peer": None, "floor": None}
    return {
        "peer": min(peers) / ours.seconds if peers else None,
        "floor": ours.seconds / floor if floor else None,
    }


def save_results(name: str, table: Table) -> None:
    """Write the table's figures to bench/results/<name>.json (ignored by git)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    data = {
        "title": table.title,
        "unit": table.unit,
        "goal_seconds": table.goal_seconds,
        "goal": goal_status(table),
        "ratios": ratios(table),
        "rows": [r.__dict__ for r in table.rows],
    }
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")


def finish(name: str, table: Table) -> int:
    """Print and save the table; exit status 1 if our side could not be measured, else 0."""
    print_table(table)
    save_results(name, table)
    ours = [r for r in table.rows if r.ours]
    return 0 if ours and all(r.seconds is not None for r in ours) else 1
