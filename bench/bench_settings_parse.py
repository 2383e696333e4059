"""Settings parsing with four nested command-line overrides (one a JSON dict, one a JSON list), in-process.

Each side runs in its own interpreter (`--worker SIDE`), checks that the parse gives the expected values,
then times it timeit-style (many iterations per repeat) and reports the median per-parse time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError, Row, Table, clean_env, finish, report, worker_result  # noqa: E402

GOAL_SECONDS = 0.002
SCRIPT = Path(__file__).resolve()
CONFIG = {"epochs": 3}
ARGV = [
    "--optim.lr",
    "0.01",
    "--data.size",
    "42",
    "--data.mapping",
    '{"a": "A"}',
    "--data.classes",
    '["a","b"]',
]
REPEATS = 9


def ours_parser() -> Callable[[], Any]:
    """Our parse: parse_settings(S, CONFIG, ARGV) on nested JobSettings."""
    from brevettiai import JobSettings
    from brevettiai.settings import parse_settings

    class Optim(JobSettings):
        lr: float = 0.1
        momentum: float = 0.9

    class Data(JobSettings):
        size: int = 10
        classes: list[str] = ["a"]
        mapping: dict[str, str] = {}

    class S(JobSettings):
        epochs: int = 10
        optim: Optim = Optim()
        data: Data = Data()

    return lambda: parse_settings(S, CONFIG, ARGV)


def pydantic_settings_model() -> type:
    """The pydantic-settings equivalent: a BaseSettings with nested models (dotted CLI names are native)."""
    from pydantic import BaseModel
    from pydantic_settings import BaseSettings

    class Optim(BaseModel):
        lr: float = 0.1
        momentum: float = 0.9

    class Data(BaseModel):
        size: int = 10
        classes: list[str] = ["a"]
        mapping: dict[str, str] = {}

    class S(BaseSettings):
        epochs: int = 10
        optim: Optim = Optim()
        data: Data = Data()

    return S


def peer_parser() -> Callable[[], Any]:
    """pydantic-settings as documented: CliApp.run(S, cli_args=ARGV, **CONFIG) (builds its CLI parser per call)."""
    from pydantic_settings import CliApp

    model = pydantic_settings_model()
    return lambda: CliApp.run(model, cli_args=ARGV, **CONFIG)


def peer_reused_parser() -> Callable[[], Any]:
    """pydantic-settings' best case: CliApp.run with one CliSettingsSource built once and reused."""
    from pydantic_settings import CliApp, CliSettingsSource

    model = pydantic_settings_model()
    source = CliSettingsSource(model)
    return lambda: CliApp.run(model, cli_args=ARGV, cli_settings_source=source, **CONFIG)


WORKERS: dict[str, Callable[[], Callable[[], Any]]] = {
    "ours": ours_parser,
    "pydantic-settings": peer_parser,
    "pydantic-settings-reused": peer_reused_parser,
}


def check(settings: Any) -> None:
    """Fail loudly unless the parse applied the config and all four overrides."""
    got = (settings.epochs, settings.optim.lr, settings.optim.momentum, settings.data.size)
    got += (list(settings.data.classes), dict(settings.data.mapping))
    expected = (3, 0.01, 0.9, 42, ["a", "b"], {"a": "A"})
    if got != expected:
        raise SystemExit(f"wrong parse result: got {got}, expected {expected}")


def run_worker(side: str) -> None:
    """Worker mode: check one side's parse, then report its median per-parse time in seconds."""
    parse = WORKERS[side]()
    check(parse())
    timer = timeit.Timer(parse)
    number, _ = timer.autorange()  # iterations per repeat: enough for at least 0.2 s
    per_parse = [total / number for total in timer.repeat(repeat=REPEATS, number=number)]
    report({"seconds": statistics.median(per_parse), "iterations": number * REPEATS})


def measure(python: Path | None, side: str, unusable: str = "") -> tuple[float | None, str]:
    """Median per-parse seconds of a side and a note (iterations, or why it could not be measured)."""
    if python is None:
        return None, unusable or "not installed"
    try:
        result = worker_result(python, SCRIPT, ["--worker", side], clean_env())
    except BenchError as exc:
        return None, str(exc)
    return result["seconds"], f"{REPEATS} repeats x {result['iterations'] // REPEATS} parses"


def main(argv: list[str] | None = None) -> int:
    """Run the settings-parse benchmark (or, with --worker, one side's measurement) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args.worker)
        return 0
    peers = _venvs.peers_venv()
    peer_side = f"pydantic-settings {peers.versions.get('pydantic-settings', '?')}"
    ours_side = f"brevettiai {_venvs.ours_versions().get('brevettiai', '?')} (ours)"
    table = Table(
        "Settings parse, config + 4 nested CLI overrides (median per parse, in-process)", "ms", GOAL_SECONDS
    )
    table.rows = [
        Row("parse_settings(S, config, argv)", ours_side, *measure(_venvs.ours_python(), "ours"), ours=True),
        Row(
            "CliApp.run(S, cli_args=argv, **config)",
            peer_side,
            *measure(peers.python, "pydantic-settings", peers.note),
        ),
        Row(
            "same, CliSettingsSource built once",
            peer_side,
            *measure(peers.python, "pydantic-settings-reused", peers.note),
        ),
    ]
    table.notes.append(f"argv = {ARGV}, config = {CONFIG}")
    return finish("settings_parse", table)


if __name__ == "__main__":
    sys.exit(main())
