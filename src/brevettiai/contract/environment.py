"""The SDK's environment variables, defined once: their names, how a value is read, and who may pass them on.

The SDK reads them (`brevettiai._env.env_value`); the platform's runners start jobs with an allow-list
of the environment they run in, and take the SDK's part of it from here (`passed_to_jobs`).

Every variable has a `kind`:

- ``behaviour``: how a job behaves (heartbeat, metrics, cache). An operator sets it once for every job a
  server or worker starts, so a job inherits it.
- ``location``: which job this is and where it lives. The runner gives each job its own (``--job_id``,
  ``--host``, its key); an inherited value would point the job at another job, folder or platform.
- ``credential``: a person's login to the web API. Never passed to a job: a job has its own key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

EnvValue = str | float | bool
EnvKind = Literal["behaviour", "location", "credential"]
TextVariable = Literal["job_id", "api_key", "info_file", "job_dir", "cache_path", "host", "data_bucket",
                       "username", "password", "token"]
SecondsVariable = Literal["heartbeat_interval", "flush_timeout", "system_metrics_interval"]
SwitchVariable = Literal["system_metrics"]


def _text(value: str) -> str:
    return value


def _positive_seconds(value: str) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ValueError("not a positive number of seconds")
    return number


def _switch(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("not a switch")


def _sample_seconds(value: str) -> float:
    number = _positive_seconds(value)
    if number < 1:
        raise ValueError("less than a second")
    return number


class EnvVar(NamedTuple):
    """One value the SDK reads from the environment (a NamedTuple: cheaper to define than a frozen dataclass)."""

    names: tuple[str, ...]
    parse: Callable[[str], EnvValue]
    accepted: str
    help: str
    kind: EnvKind
    secret: bool = False

    @property
    def passed_to_jobs(self) -> bool:
        """Whether a job started by the platform inherits it from the server's or worker's environment."""
        return self.kind == "behaviour"


SDK_ENVIRONMENT: dict[str, EnvVar] = {
    "job_id": EnvVar(("BREVETTI_AI_JOB_ID",), _text, "a job id", "the job to run", "location"),
    "api_key": EnvVar(("BREVETTI_AI_API_KEY",), _text, "a job key", "the job's key for the platform", "location",
                      secret=True),
    "info_file": EnvVar(("BREVETTI_AI_INFO_FILE",), _text, "a path or URL", "the job's info.json", "location"),
    "job_dir": EnvVar(("BREVETTI_AI_JOB_DIR",), _text, "a path or URL", "the job directory", "location"),
    "cache_path": EnvVar(("BREVETTI_AI_CACHE",), _text, "a folder", "scratch and cache folder", "behaviour"),
    "host": EnvVar(("BREVETTI_AI_HOST", "BREVETTIAI_HOST_NAME"), _text, "a URL", "the platform's address", "location"),
    "data_bucket": EnvVar(("BREVETTI_AI_DATA_BUCKET", "BREVETTIAI_DATA_BUCKET"), _text, "a path or URL",
                          "the storage root holding job directories", "location"),
    "username": EnvVar(("BREVETTI_AI_USER",), _text, "a user name", "web API login", "credential"),
    "password": EnvVar(("BREVETTI_AI_PW",), _text, "a password", "web API login", "credential", secret=True),
    "token": EnvVar(("BREVETTI_AI_TOKEN",), _text, "a personal access token (bp_...) or user token",
                    "web API login without a password (sent only in the Authorization header)", "credential",
                    secret=True),
    "heartbeat_interval": EnvVar(("BREVETTI_AI_HEARTBEAT_INTERVAL",), _positive_seconds,
                                 "seconds, a number > 0 (e.g. 10 or 2.5)", "how often a platform job beats",
                                 "behaviour"),
    "flush_timeout": EnvVar(("BREVETTI_AI_FLUSH_TIMEOUT",), _positive_seconds,
                            "seconds, a number > 0 (e.g. 60)", "how long a job's end waits for metrics delivery",
                            "behaviour"),
    "system_metrics": EnvVar(("BREVETTI_AI_SYSTEM_METRICS",), _switch, "1/0, true/false, yes/no or on/off",
                             "record CPU, memory and GPU use as system/... progress series (on by default)",
                             "behaviour"),
    "system_metrics_interval": EnvVar(("BREVETTI_AI_SYSTEM_METRICS_INTERVAL",), _sample_seconds,
                                      "seconds, a number >= 1 (e.g. 10)", "how often system metrics are sampled",
                                      "behaviour"),
}


def sdk_variable_names() -> frozenset[str]:
    """Every environment variable the SDK reads."""
    return frozenset(name for variable in SDK_ENVIRONMENT.values() for name in variable.names)


def passed_to_jobs() -> frozenset[str]:
    """The SDK's variables a job started by the platform inherits (its ``behaviour`` settings)."""
    return frozenset(name for variable in SDK_ENVIRONMENT.values() if variable.passed_to_jobs
                     for name in variable.names)
