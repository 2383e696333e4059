"""The SDK's environment variables: one table, read by every module that takes a value from the environment.

`env_value(name)` returns a value parsed by its variable's rule, the first variable of its list that
is set winning (the ``BREVETTIAI_*`` names are the original SDK's). An unusable value is a
`UsageError` naming the variable, what it holds and what would be accepted: never silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Literal, NamedTuple, overload

from brevettiai.errors import UsageError


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


EnvValue = str | float | bool
TextVariable = Literal["job_id", "api_key", "info_file", "job_dir", "cache_path", "host", "data_bucket",
                       "username", "password", "token"]
SecondsVariable = Literal["heartbeat_interval", "flush_timeout", "system_metrics_interval"]
SwitchVariable = Literal["system_metrics"]


class EnvVar(NamedTuple):
    """One value the SDK reads from the environment (a NamedTuple: cheaper to define than a frozen dataclass)."""

    names: tuple[str, ...]
    parse: Callable[[str], EnvValue]
    accepted: str
    help: str
    secret: bool = False


SDK_ENVIRONMENT: dict[str, EnvVar] = {
    "job_id": EnvVar(("BREVETTI_AI_JOB_ID",), _text, "a job id", "the job to run"),
    "api_key": EnvVar(("BREVETTI_AI_API_KEY",), _text, "a job key", "the job's key for the platform", secret=True),
    "info_file": EnvVar(("BREVETTI_AI_INFO_FILE",), _text, "a path or URL", "the job's info.json"),
    "job_dir": EnvVar(("BREVETTI_AI_JOB_DIR",), _text, "a path or URL", "the job directory"),
    "cache_path": EnvVar(("BREVETTI_AI_CACHE",), _text, "a folder", "scratch and cache folder"),
    "host": EnvVar(("BREVETTI_AI_HOST", "BREVETTIAI_HOST_NAME"), _text, "a URL", "the platform's address"),
    "data_bucket": EnvVar(("BREVETTI_AI_DATA_BUCKET", "BREVETTIAI_DATA_BUCKET"), _text, "a path or URL",
                          "the storage root holding job directories"),
    "username": EnvVar(("BREVETTI_AI_USER",), _text, "a user name", "web API login"),
    "password": EnvVar(("BREVETTI_AI_PW",), _text, "a password", "web API login", secret=True),
    "token": EnvVar(("BREVETTI_AI_TOKEN",), _text, "a personal access token (bp_...) or user token",
                    "web API login without a password (sent only in the Authorization header)", secret=True),
    "heartbeat_interval": EnvVar(("BREVETTI_AI_HEARTBEAT_INTERVAL",), _positive_seconds,
                                 "seconds, a number > 0 (e.g. 10 or 2.5)", "how often a platform job beats"),
    "flush_timeout": EnvVar(("BREVETTI_AI_FLUSH_TIMEOUT",), _positive_seconds,
                            "seconds, a number > 0 (e.g. 60)", "how long a job's end waits for metrics delivery"),
    "system_metrics": EnvVar(("BREVETTI_AI_SYSTEM_METRICS",), _switch, "1/0, true/false, yes/no or on/off",
                             "record CPU, memory and GPU use as system/... progress series (on by default)"),
    "system_metrics_interval": EnvVar(("BREVETTI_AI_SYSTEM_METRICS_INTERVAL",), _sample_seconds,
                                      "seconds, a number >= 1 (e.g. 10)", "how often system metrics are sampled"),
}


@overload
def env_value(name: TextVariable, default: None = None, environ: Mapping[str, str] | None = None) -> str | None: ...
@overload
def env_value(name: TextVariable, default: str, environ: Mapping[str, str] | None = None) -> str: ...
@overload
def env_value(name: SecondsVariable, default: None = None, environ: Mapping[str, str] | None = None) -> float | None: ...
@overload
def env_value(name: SecondsVariable, default: float, environ: Mapping[str, str] | None = None) -> float: ...
@overload
def env_value(name: SwitchVariable, default: None = None, environ: Mapping[str, str] | None = None) -> bool | None: ...
@overload
def env_value(name: SwitchVariable, default: bool, environ: Mapping[str, str] | None = None) -> bool: ...
@overload
def env_value(name: str, default: object = None, environ: Mapping[str, str] | None = None) -> object: ...
def env_value(name: str, default: object = None, environ: Mapping[str, str] | None = None) -> object:
    """The parsed value of an SDK setting from the environment, else `default`."""
    environ = os.environ if environ is None else environ
    variable = SDK_ENVIRONMENT[name]
    for env_name in variable.names:
        raw = environ.get(env_name)
        if raw in (None, ""):
            continue
        try:
            return variable.parse(raw)
        except ValueError:
            shown = "<hidden>" if variable.secret else repr(raw)
            raise UsageError(f"{env_name}={shown} is not usable: give {variable.accepted}") from None
    return default


def sdk_variable_names() -> frozenset[str]:
    """Every environment variable the SDK reads."""
    return frozenset(name for variable in SDK_ENVIRONMENT.values() for name in variable.names)
