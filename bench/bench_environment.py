"""Environment capture time: cold first call and cached second call, in fresh subprocesses.

Each run is a fresh interpreter (`--worker`) that imports `brevettiai._environment`, then times with
perf_counter `capture_environment(<this checkout>)` twice: the first call computes the per-process facts
(platform, hostname, packages) and runs git; the second reuses the cached facts and runs git again (git
state is never cached). For scale it also times the package scan alone and the `importlib.metadata` way
of listing packages (its import plus `distributions()`), the slow way the scan replaces. Medians of
--runs subprocesses are printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError, median, report, worker_result  # noqa: E402

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
FIGURES = {
    "import": "import brevettiai._environment",
    "cold": "capture_environment(repo), first call",
    "warm": "capture_environment(repo), second call",
    "not_repo": "capture_environment(non-repo dir), warm",
    "scan": "installed_packages() alone",
    "importlib": "importlib.metadata import + distributions()",
}


def worker(source: str) -> dict[str, float]:
    """Time the import, a cold and a warm capture of `source`, and the two ways of listing packages."""
    start = time.perf_counter()
    from brevettiai import _environment

    imported = time.perf_counter()
    first = _environment.capture_environment(source)
    cold = time.perf_counter()
    _environment.capture_environment(source)
    warm = time.perf_counter()
    _environment.capture_environment(Path(source).anchor)
    not_repo = time.perf_counter()
    packages = _environment.installed_packages()
    scanned = time.perf_counter()
    from importlib import metadata

    listed = {dist.metadata["Name"] for dist in metadata.distributions()}
    slow = time.perf_counter()
    if first["git"] is None or not packages or not listed:
        raise SystemExit(f"capture of {source} found no git state or no packages")
    return {
        "import": imported - start,
        "cold": cold - imported,
        "warm": warm - cold,
        "not_repo": not_repo - warm,
        "scan": scanned - not_repo,
        "importlib": slow - scanned,
    }


def main() -> int:
    """Run the workers in fresh subprocesses and print the median of each figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh subprocesses (default 7)")
    parser.add_argument("--source", default=str(ROOT), help="path whose git state is captured")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        report(worker(args.source))
        return 0
    python = _venvs.ours_python()
    runs: list[dict[str, float]] = []
    try:
        worker_result(python, SCRIPT, ["--worker", "--source", args.source])  # warm-up: bytecode caches
        for _ in range(args.runs):
            runs.append(worker_result(python, SCRIPT, ["--worker", "--source", args.source]))
    except BenchError as exc:
        print(f"environment capture could not be measured: {exc}")
        return 1
    print(f"\n== environment capture ({python}, source {args.source}, median of {args.runs} processes) ==")
    width = max(len(label) for label in FIGURES.values())
    for key, label in FIGURES.items():
        values = [run[key] for run in runs]
        print(f"{label.ljust(width)}  {median(values) * 1000:7.2f} ms   (min {min(values) * 1000:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
