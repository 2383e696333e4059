"""Typed job settings: classes, command-line overrides and schemas.

A settings tree may mix `JobSettings` (pydantic), pydantic models, pydantic and standard
dataclasses, and plain classes whose typed ``__init__`` parameters are the settings (`Module`).
"""

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


def get_config(settings: object) -> dict:
    """The plain nested dict of any settings object."""
    return to_config(settings)
