"""The SDK's environment variables, read by every module that takes a value from the environment.

The table itself (`SDK_ENVIRONMENT`: names, rules, and which ones a job started by the platform
inherits) is `brevettiai.contract.environment`, which the platform's runners read as well.
`env_value(name)` returns a value parsed by its variable's rule, the first variable of its list that
is set winning (the ``BREVETTIAI_*`` names are the original SDK's). An unusable value is a
`UsageError` naming the variable, what it holds and what would be accepted: never silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import overload

from brevettiai.contract.environment import (
    SDK_ENVIRONMENT,
    EnvValue,
    EnvVar,
    SecondsVariable,
    SwitchVariable,
    TextVariable,
    sdk_variable_names,
)
from brevettiai.errors import UsageError

__all__ = ["SDK_ENVIRONMENT", "EnvValue", "EnvVar", "SecondsVariable", "SwitchVariable", "TextVariable", "env_value",
           "sdk_variable_names"]


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

