"""The whole settings pipeline in one call: raw config + command line -> typed settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from brevettiai.contract.jsontypes import JSONMapping, JSONValue
from brevettiai.settings._convert import build_settings, report_unknown
from brevettiai.settings._plugins import without_plugin_scan
from brevettiai.settings.overrides import apply_overrides, parse_overrides

_Settings = TypeVar("_Settings")


def parse_settings(settings_cls: type[_Settings], config: JSONMapping | None = None,
                   argv: Sequence[str] = (), *, reserved: Iterable[str] = (),
                   unknown: dict[str, object] | None = None) -> _Settings:
    """Build `settings_cls` from a raw config dict with argv overrides applied on top.

    Keys of `config` that no settings class declares are logged as ``Invalid config keys`` and
    stored into `unknown` (when given) under their dotted paths.
    """
    overrides, _ = parse_overrides(settings_cls, argv, reserved)
    return build_with_overrides(settings_cls, config, overrides, unknown=unknown)


def build_with_overrides(settings_cls: type[_Settings], config: JSONMapping | None, overrides: Mapping[str, JSONValue],
                         *, unknown: dict[str, object] | None = None) -> _Settings:
    """Build `settings_cls` from a raw config with already parsed {dotted path: value} overrides."""
    raw = apply_overrides(config, overrides) if overrides else dict(config or {})
    sink: dict[str, object] = {} if unknown is None else unknown
    with without_plugin_scan():  # often the process's first validator: spare it pydantic's plugin scan
        settings = build_settings(settings_cls, raw, unknown=sink)
    report_unknown(sink)
    return settings
