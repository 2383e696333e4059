"""Server cold start: from launching the server on a fresh data dir to its first answered health request.

Ours: ``python -m brevettiai.cli server --port 0 --data-dir <new dir>`` until ``GET /healthz`` answers
200 (the database is created and migrated, the admin user made). MLflow: ``mlflow server
--backend-store-uri sqlite:///<new dir>/mlflow.db`` until ``GET /health`` answers 200, with its
defaults (which in MLflow 3 also start a job runner with 10 huey worker processes) and without the job
runner (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false). Median of --runs starts each, after one untimed warm-up start (bytecode caches); the idle RSS of the
server's whole process tree is read 2 s after its first answer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError  # noqa: E402
from _servers import (  # noqa: E402
    Goal,
    MachineLoad,
    MlflowServer,
    OurServer,
    Report,
    Server,
    exit_on_sigterm,
    finish_reports,
    fmt_mb,
    process_tree,
    ratio,
    temp_dir,
    tree_rss,
)

SETTLE_SECONDS = 2.0
GOAL_START, GOAL_RSS = 2.0, 150e6  # ours: seconds to the first answer, idle RSS


def cold_starts(make: Any, runs: int, tmp: Path, name: str) -> dict[str, Any] | str:
    """Start a fresh server `runs` times after one untimed warm-up start (it writes the bytecode caches).

    The median time to first answer and idle RSS, or why it failed.
    """
    times, rss, processes = [], [], []
    try:
        with make(tmp / f"{name}-warmup"):
            pass
        for i in range(runs):
            server: Server = make(tmp / f"{name}-{i}")
            with server:
                times.append(server.first_answer_seconds)
                time.sleep(SETTLE_SECONDS)
                rss.append(tree_rss(server.pid))
                processes.append(len(process_tree(server.pid)))
    except BenchError as exc:
        return str(exc)
    return {
        "seconds": statistics.median(times),
        "times": times,
        "rss": statistics.median(rss),
        "processes": max(processes),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the cold start benchmark and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="cold starts per server (default 3)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    machine = MachineLoad()
    peers = _venvs.peers_venv()
    versions = {
        "ours": _venvs.ours_versions().get("brevettiai", "?"),
        "mlflow": peers.versions.get("mlflow", "?"),
    }
    with temp_dir("bench-server-") as tmp:
        ours = cold_starts(OurServer, args.runs, tmp, "ours")
        if peers.python is None:
            lean = default = peers.note or "not installed"
        else:
            python = peers.python
            lean = cold_starts(
                lambda d: MlflowServer(d, python, job_execution=False), args.runs, tmp, "mlflow-lean"
            )
            default = cold_starts(
                lambda d: MlflowServer(d, python, job_execution=True), args.runs, tmp, "mlflow-default"
            )
    rep = Report(
        f"Server cold start on a fresh data dir to the first answered health request (median of {args.runs})",
        ["server", "side", "to first answer", "idle RSS", "processes", "ratio start", "ratio RSS", ""],
    )
    rows = [
        ("brevettiai server, GET /healthz", f"brevettiai {versions['ours']} (ours)", ours),
        ("mlflow server, job runner off, GET /health", f"mlflow {versions['mlflow']}", lean),
        ("mlflow server, defaults, GET /health", f"mlflow {versions['mlflow']}", default),
    ]
    for what, side, cell in rows:
        if isinstance(cell, str):
            rep.rows.append([what, side, "n/a", "n/a", "n/a", "n/a", "n/a", f"({cell})"])
            continue
        is_ours = cell is ours
        base = ours if isinstance(ours, dict) else {}
        rep.rows.append(
            [
                what,
                side,
                f"{cell['seconds']:.2f} s",
                fmt_mb(cell["rss"]),
                str(cell["processes"]),
                "-" if is_ours else ratio(base.get("seconds"), cell["seconds"], False),
                "-" if is_ours else ratio(base.get("rss"), cell["rss"], False),
                "",
            ]
        )
    text = (
        f"ours answers its first request <= {GOAL_START:.0f} s after launch on a fresh data dir, idle RSS < "
        f"{GOAL_RSS / 1e6:.0f} MB"
    )
    if isinstance(ours, dict):
        rep.goals.append(
            Goal(
                text,
                ours["seconds"] <= GOAL_START and ours["rss"] < GOAL_RSS,
                f"{ours['seconds']:.2f} s, {fmt_mb(ours['rss'])}",
            )
        )
    else:
        rep.goals.append(Goal(text, None, "not measured"))
    for name, cell in (("ours", ours), ("mlflow job runner off", lean), ("mlflow defaults", default)):
        if isinstance(cell, dict):
            rep.notes.append(f"{name}: starts took {', '.join(f'{t:.2f}' for t in cell['times'])} s")
    rep.notes.append(
        f"idle RSS: the server's whole process tree {SETTLE_SECONDS:.0f} s after its first answer "
        f"(MB = 10^6 bytes); MLflow's 'defaults' tree includes its huey job runner"
    )
    rep.notes.append(machine.note())
    rep.figures = {"ours": ours, "mlflow_lean": lean, "mlflow_default": default}
    return finish_reports("platform_server", [rep], ours if isinstance(ours, str) else "")


if __name__ == "__main__":
    sys.exit(main())
