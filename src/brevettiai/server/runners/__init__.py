"""Runners start job processes and report when they end: `local` (subprocesses) and `dask`."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from brevettiai.contract.environment import passed_to_jobs
from brevettiai.server.config import ServerConfig

# What a job inherits of the environment it is started from (the server's, or a Dask worker's):
# only these, so no credential of the server (AWS_*, FSSPEC_*, PG*, database URLs, passwords) reaches it.
# The SDK's own variables come from its one table: those of how a job behaves pass, never a login of a
# person nor where a job lives (the runner gives each job its id, host and key).
# The OS part is what a job needs to run where its server or worker runs, in groups:
_SESSION = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "HOSTNAME", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
            "TEMP", "TMP", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"}
_PYTHON = {"PYTHONPATH", "PYTHONHOME", "PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE",
           "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "LD_LIBRARY_PATH", "MPLBACKEND"}
# Behind a corporate proxy or a private CA a job reaches nothing without these (a proxy URL may hold
# the proxy's login: that is the operator's way out, as for any program on the machine, not our secret).
_NETWORK = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
            "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
_GPU_AND_THREADS = {"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_HOME", "CUDA_PATH", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_CPP_MIN_LOG_LEVEL"}
_MODEL_CACHES = {"HF_HOME", "TORCH_HOME", "KERAS_HOME"}  # downloaded weights: shared, not fetched per job
_WINDOWS = {"SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE", "APPDATA", "LOCALAPPDATA",
            "PROGRAMDATA", "PROGRAMFILES", "NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE"}  # to start Python at all
INHERITED = frozenset(_SESSION | _PYTHON | _NETWORK | _GPU_AND_THREADS | _MODEL_CACHES | _WINDOWS) | passed_to_jobs()
INHERITED_PREFIXES = ("LC_", "NVIDIA_", "CUDNN_", "NCCL_")


@dataclass(frozen=True)
class Launch:
    """One run of a job to start: the full command line, where, with which extra environment, logging where."""

    job_id: str
    run_id: str
    argv: list[str]
    cwd: str | None
    env: dict[str, str] = field(repr=False)  # added to the allowed environment; holds the run's key
    log_file: str  # the local runner: a local file that receives the job's stdout and stderr
    host: str = ""  # the platform's public URL (the dask runner's task reports there)


@dataclass(frozen=True)
class Exited:
    """A job process that ended: its exit code, or the signal that ended it (neither: it never started)."""

    job_id: str
    code: int | None
    signal: str | None
    log_file: str | None = None  # a local log to store, if the runner left one


class Runner(Protocol):
    """What the server asks of a runner."""

    name: str

    def start(self, launch: Launch) -> str:
        """Start a job; returns the runner's reference for it (a pid, a task key)."""

    def stop(self, job_id: str, reference: str | None) -> bool:
        """Ask a job to stop (SIGTERM, then SIGKILL after the stop grace); False if this runner cannot reach it.

        Called again for a job already asked to stop; that changes nothing.
        """

    def poll(self) -> list[Exited]:
        """Jobs that ended since the last call (those whose end the runner collects itself)."""

    def shutdown(self) -> list[Exited]:
        """The server is going down: stop what dies with it; returns how those jobs ended."""


_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def job_environment(base: Mapping[str, str], extra: Mapping[str, str], platform_host: str = "") -> dict[str, str]:
    """The environment of a job: the allowed variables of `base` (`INHERITED`), plus `extra`.

    When a proxy is passed on, the job's platform (`platform_host`, its public URL) and loopback are
    added to ``NO_PROXY``: the job's key must go to its platform, never through a proxy on the way.
    """
    env = {k: v for k, v in base.items() if k in INHERITED or k.startswith(INHERITED_PREFIXES)}
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    if any(env.get(name) for name in _PROXIES):
        _bypass_proxy(env, platform_host)
    return env


def _bypass_proxy(env: dict[str, str], platform_host: str) -> None:
    from urllib.parse import urlsplit

    listed = [entry.strip() for name in ("NO_PROXY", "no_proxy") for entry in env.get(name, "").split(",")]
    wanted = [*_LOOPBACK, urlsplit(platform_host).hostname or ""]
    entries = list(dict.fromkeys(entry for entry in [*listed, *wanted] if entry))
    env["NO_PROXY"] = env["no_proxy"] = ",".join(entries)


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

        return DaskRunner(config.dask_scheduler or "", stop_grace=config.stop_grace)
    from brevettiai.server.runners.local import LocalRunner

    return LocalRunner(dict(os.environ), stop_grace=config.stop_grace, job_user=config.job_user)
