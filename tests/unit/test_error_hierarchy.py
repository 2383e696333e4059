"""Every exception class brevettiai defines (SDK and server) derives from `BrevettiError`, so ``except
BrevettiError`` catches whatever brevettiai raises on purpose; the few that must not are listed with why."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import brevettiai
from brevettiai.errors import BrevettiError, ServerError

OUTSIDE = {  # not errors of brevettiai's users, on purpose
    "brevettiai.settings.overrides.HelpRequested": "--help is not an error: a SystemExit with code 0, like argparse's",
    "brevettiai.job._Killed": "private: SIGTERM/SIGINT inside a job, a BaseException so user code's "
                              "`except Exception` cannot swallow the stop",
    "brevettiai.server.throttle._LockedMeanwhile": "private: control flow inside the login throttle, never raised out",
    "brevettiai.server.body_pipe.BodyFailed": "internal: tells the consumer thread of a streamed body that the client "
                                              "went away; the request ends there and nothing catches it outside",
}


def _modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(brevettiai.__path__, "brevettiai.")]
    for name in names:
        importlib.import_module(name)
    return names


def _exception_classes(module_names: list[str]) -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in module_names:
        for attribute, value in vars(importlib.import_module(name)).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{attribute}"] = value
    return found


def test_every_exception_brevettiai_defines_derives_from_brevetti_error() -> None:
    modules = _modules()
    assert {"brevettiai.job", "brevettiai.server.app", "brevettiai.server.users", "brevettiai.contract.status"} <= set(modules)
    classes = _exception_classes(modules)
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, BrevettiError))
    assert outside == sorted(OUTSIDE), "derive these from BrevettiError (the server's from ServerError), or list " \
                                       f"them in OUTSIDE with the reason: {sorted(set(outside) - set(OUTSIDE))}"


def test_the_servers_refusals_are_server_errors_and_still_value_errors() -> None:
    from brevettiai.server.passwords import WeakPassword
    from brevettiai.server.run_filter import FilterError
    from brevettiai.server.users import UserError

    for error in (UserError("no such user", 404), WeakPassword("too short"), FilterError("unknown field", 3)):
        assert isinstance(error, ServerError) and isinstance(error, ValueError), type(error)
