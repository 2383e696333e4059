"""Run every benchmark, each in its own fresh process, and print all their tables.

Usage: .venv/bin/python bench/run_all.py [--runs N]   (N fresh processes per side, default 9)
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _venvs  # noqa: E402
from _common import RESULTS_DIR, fmt  # noqa: E402

BENCHMARKS: list[tuple[str, str | None, bool]] = [  # script, results name (None: no goal), takes --runs
    ("bench_import.py", "import", True),
    ("bench_noop_job.py", "noop_job", True),
    ("bench_process.py", "process", True),
    ("bench_settings_parse.py", "settings_parse", False),
    ("bench_environment.py", None, True),
    ("bench_platform_metrics.py", "platform_metrics", False),
    ("bench_platform_artifacts.py", "platform_artifacts", False),
    ("bench_platform_dataset.py", "platform_dataset", False),
    ("bench_platform_server.py", "platform_server", False),
    ("bench_hardening.py", "hardening", False),
    ("bench_metrics_reads.py", "metrics_reads", False),
    ("bench_compare_view.py", "compare_view", False),
    ("bench_platform_s3.py", "platform_s3", False),
    ("bench_system_metrics.py", "system_metrics", False),
    ("bench_runs_table.py", "runs_table", False),
]


def print_environment() -> None:
    """Create the peer venvs if needed and print the interpreters and versions being compared."""
    print("Preparing peer venvs under bench/.venvs/ (the first time takes a few minutes)...", flush=True)
    peers, ref = _venvs.peers_venv(), _venvs.reference_venv()
    ours = _venvs.ours_versions()
    print(
        f"machine: {platform.machine()}, {platform.system()} {platform.release()}, python {platform.python_version()}"
    )
    print(f"ours:      {_venvs.ours_python()}  " + ", ".join(f"{k} {v}" for k, v in ours.items()))
    print(
        f"peers:     {peers.python or peers.note}  "
        + ", ".join(f"{k} {v}" for k, v in peers.versions.items())
    )
    ref_versions = ", ".join(f"{k} {v}" for k, v in ref.versions.items())
    print(f"reference: {ref.python or ref.note}  {ref_versions}  {ref.note if ref.ok else ''}".rstrip())


def _ratios(data: dict) -> str:
    """", nearest peer/ours Nx, ours/floor Mx" for the ratios a result holds (empty when none)."""
    parts = [data[key] for key in ("peer_text", "floor_text") if data.get(key)]
    got = data.get("ratios") or {}
    if got.get("peer") is not None:
        parts.append(f"nearest peer/ours {got['peer']:.1f}x")
    if got.get("floor") is not None:
        parts.append(f"ours/floor {got['floor']:.2f}x")
    return f"; {', '.join(parts)}" if parts else ""


def print_summary() -> None:
    """One line per benchmark: our figure against its goal, read back from bench/results/."""
    print("\n== Goals ==")
    for script, name, _ in BENCHMARKS:
        if name is None:
            continue
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            print(f"{script:<28} no result")
            continue
        data = json.loads(path.read_text())
        if "goals" in data:  # the platform benchmarks: several goals each
            for goal in data["goals"]:
                print(f"{script:<28} {goal['status']:<8} ours {goal['figure']} (goal: {goal['text']}){_ratios(goal)}")
            continue
        ours = next(row for row in data["rows"] if row["ours"])
        figure, goal = fmt(ours["seconds"], data["unit"]), fmt(data["goal_seconds"], data["unit"])
        print(f"{script:<28} {data['goal']:<8} ours {figure} (goal <= {goal}): {ours['what']}{_ratios(data)}")


def main(argv: list[str] | None = None) -> int:
    """Run all benchmarks in sequence; exit status 1 if any of them failed or could not measure us."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", type=int, default=9, help="fresh processes per side (default 9, at least 7)"
    )
    args = parser.parse_args(argv)
    print_environment()
    failed = []
    for script, name, takes_runs in BENCHMARKS:
        if name:
            (RESULTS_DIR / f"{name}.json").unlink(missing_ok=True)
        cmd = [sys.executable, str(BENCH_DIR / script)] + (["--runs", str(args.runs)] if takes_runs else [])
        start = time.perf_counter()
        code = subprocess.run(cmd).returncode
        print(f"({script}: {time.perf_counter() - start:.0f} s, exit {code})", flush=True)
        if code != 0:
            failed.append(script)
    print_summary()
    if failed:
        print(f"\nincomplete: {', '.join(failed)} (see the n/a notes above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
