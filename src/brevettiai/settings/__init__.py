"""Typed job settings: classes, command-line overrides and schemas.

A settings tree may mix `JobSettings` (pydantic), pydantic models, pydantic and standard
dataclasses, and plain classes whose typed ``__init__`` parameters are the settings (`Module`).

The names are loaded on first use: ``from brevettiai import JobSettings`` must not pay for the
command-line and schema machinery a job may never use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brevettiai.contract.jsontypes import JSONObject
    from brevettiai.settings._convert import build_settings, to_config
    from brevettiai.settings.job_settings import AnySettings, JobSettings
    from brevettiai.settings.module import Module
    from brevettiai.settings.overrides import apply_overrides, parse_overrides, settings_to_argv
    from brevettiai.settings.parse import parse_settings
    from brevettiai.settings.schema import SchemaBuilder, form_schema, json_schema

__all__ = [
    "AnySettings", "JobSettings", "Module", "SchemaBuilder", "apply_overrides", "build_settings",
    "form_schema", "json_schema", "parse_overrides", "parse_settings", "settings_to_argv", "to_config",
]

_LAZY = {
    "build_settings": "_convert", "to_config": "_convert",
    "AnySettings": "job_settings", "JobSettings": "job_settings",
    "Module": "module",
    "apply_overrides": "overrides", "parse_overrides": "overrides", "settings_to_argv": "overrides",
    "parse_settings": "parse",
    "SchemaBuilder": "schema", "form_schema": "schema", "json_schema": "schema",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'brevettiai.settings' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"brevettiai.settings.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def get_config(settings: object) -> JSONObject:
    """The plain nested dict of any settings object."""
    from brevettiai.settings._convert import config_dict

    return config_dict(settings)
