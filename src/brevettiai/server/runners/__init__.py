"""Runners start job processes and report when they end: `local` (subprocesses) and `dask`."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from brevettiai.server.config import SETTINGS, ServerConfig

# Variables a job must not inherit from the server: the server's own settings and secrets, and the
# SDK's job-locating variables, which would override the --job_id/--host the runner gives.
_NOT_INHERITED = {s.env for s in SETTINGS.values()} | {
    "BREVETTI_AI_ADMIN_PASSWORD", "BREVETTI_AI_API_KEY", "BREVETTI_AI_JOB_ID", "BREVETTI_AI_JOB_DIR",
    "BREVETTI_AI_INFO_FILE", "BREVETTI_AI_DATA_BUCKET", "BREVETTIAI_DATA_BUCKET", "BREVETTI_AI_HOST",
    "BREVETTIAI_HOST_NAME"}


@dataclass(frozen=True)
class Launch:
    """One job to start: the full command line, where, with which extra environment, logging where."""

    job_id: str
    argv: list[str]
    cwd: str | None
    env: dict[str, str] = field(repr=False)  # added to the (cleaned) environment; holds the job key
    log_file: str  # a local file that receives the job's stdout and stderr


@dataclass(frozen=True)
class Exited:
    """A job process that ended: its exit code, or the signal that ended it."""

    job_id: str
    code: int | None
    signal: str | None
    log_file: str


class Runner(Protocol):
    """What the server asks of a runner."""

    name: str

    def start(self, launch: Launch) -> str:
        """Start a job; returns the runner's reference for it (a pid, a task key)."""

    def stop(self, job_id: str) -> bool:
        """Ask a job to stop (SIGTERM, then SIGKILL after a grace period); False if the runner has no such job."""

    def poll(self) -> list[Exited]:
        """Jobs that ended since the last call."""

    def shutdown(self) -> list[Exited]:
        """Stop every job the runner still has (the server is going down); returns how they ended."""


def job_environment(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a job: `base` without the server's settings and secrets, plus `extra`."""
    env = {k: v for k, v in base.items() if k not in _NOT_INHERITED}
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def signal_name(number: int) -> str:
    """``SIGTERM`` for 15; ``signal N`` for numbers without a name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def make_runner(config: ServerConfig) -> Runner:
    """The runner the config names."""
    if config.runner == "dask":
        from brevettiai.server.runners.dask import DaskRunner

        return DaskRunner(config.dask_scheduler or "")
    from brevettiai.server.runners.local import LocalRunner

    return LocalRunner(dict(os.environ))
