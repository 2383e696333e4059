"""Settings as plain classes: the typed ``__init__`` parameters are the settings.

This is the style of the original SDK's ``Module``/``VueSettingsModule`` (and of the seed
documents' ``SerializeableObject``): a subclass stores its parameters as attributes of the same name.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from brevettiai.contract.jsontypes import JSONMapping, JSONObject
from brevettiai.settings._convert import config_dict
from brevettiai.settings.overrides import settings_to_argv
from brevettiai.settings.parse import parse_settings
from brevettiai.settings.schema import SchemaBuilder, form_schema, json_schema

ModuleT = TypeVar("ModuleT", bound="Module")


class Module:
    """A settings class whose typed ``__init__`` parameters, stored as attributes, are its config."""

    def get_config(self) -> JSONObject:
        """The settings as a plain, JSON-serialisable nested dict."""
        return config_dict(self)

    @classmethod
    def from_config(cls: type[ModuleT], config: JSONMapping | None) -> ModuleT | None:
        """An instance built from a config dict; unknown keys are logged as ``Invalid config keys``."""
        if config is None:
            return None
        return parse_settings(cls, config)

    @classmethod
    def from_settings(cls: type[ModuleT], settings: JSONMapping | None) -> ModuleT | None:
        """An instance built from platform form values (JSON text for lists and dicts is parsed)."""
        return cls.from_config(settings)

    def get_settings(self) -> JSONObject:
        """The config in platform form style: lists and dicts as indented JSON text."""
        return _as_form_values(self.get_config())

    @classmethod
    def get_schema(cls, namespace: str | None = None) -> SchemaBuilder:
        """The platform settings form of this class."""
        return form_schema(cls, namespace)

    @classmethod
    def json_schema(cls) -> JSONObject:
        """The standard JSON Schema of this class."""
        return json_schema(cls)

    def to_argv(self) -> list[str]:
        """Command-line flags that reproduce these settings."""
        return settings_to_argv(self)


def _as_form_values(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out[key] = _as_form_values(value) if value and all(isinstance(v, dict) for v in value.values()) \
                else json.dumps(value, indent=2)
        elif isinstance(value, list):
            out[key] = json.dumps(value, indent=2)
        else:
            out[key] = value
    return out
