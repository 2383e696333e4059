"""Turning settings objects into plain config dicts and back.

`to_config` gives the JSON-serialisable nested dict of any settings tree; `build_settings` makes a
tree of real instances from such a dict (as it comes from info.json, platform forms or the command
line), parsing JSON text for non-string fields and setting aside the keys the classes do not declare.
"""

from __future__ import annotations

import datetime
import enum
import functools
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from brevettiai.contract.jsontext import from_json_text
from brevettiai.contract.jsontypes import JSONObject, JSONValue
from brevettiai.errors import SettingsError
from brevettiai.settings._fields import fields_of
from brevettiai.settings._types import (
    TypeForm,
    dict_value_type,
    is_pydantic_model,
    is_settings_node,
    is_text_type,
    list_item_type,
    strip_annotated,
    unwrap_optional,
)

if TYPE_CHECKING:
    import logging



def _module_log() -> logging.Logger:
    """The original SDK's logger name, which users grep for; logging is imported when something is logged
    (``--help`` never imports it)."""
    import logging

    return logging.getLogger("brevettiai.utils.module")

_Settings = TypeVar("_Settings")


def to_config(value: object) -> JSONValue:
    """The plain, JSON-serialisable form of a settings value (nested settings become dicts)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return to_config(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_config(v) for v in value]
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars
        return to_config(value.tolist())
    if is_settings_node(type(value)):
        return _node_to_config(value)
    if hasattr(value, "get_config") and callable(value.get_config):
        return to_config(value.get_config())
    return str(value)


def _node_to_config(node: Any) -> dict[str, Any]:
    spec = fields_of(type(node))
    config = {name: to_config(getattr(node, name)) for name in spec.fields if hasattr(node, name)}
    if spec.accepts_extra:
        if is_pydantic_model(type(node)):
            extras = node.model_extra or {}
        else:  # a plain class taking **kwargs: its other public attributes are the extra settings
            extras = {k: v for k, v in vars(node).items() if not k.startswith("_")}
        for key, value in extras.items():
            config.setdefault(key, to_config(value))
    return config


@functools.lru_cache(maxsize=512)
def _adapter(annotation: Any) -> Any:
    from pydantic import ConfigDict, TypeAdapter

    try:
        return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # TypeAdapter refuses config for some types (e.g. models): use their own
        return TypeAdapter(annotation)


def config_dict(settings: object) -> JSONObject:
    """`to_config` of a settings object (a settings tree always gives a dict)."""
    return cast(JSONObject, to_config(settings))


def validate_value(annotation: TypeForm, value: object, path: str) -> object:
    """Validate (and coerce, in pydantic's lax mode) one value against its annotation."""
    from pydantic import ValidationError

    try:
        adapter = _adapter(annotation)
    except TypeError:  # unhashable annotation: build one adapter for this call
        adapter = _adapter.__wrapped__(annotation)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise SettingsError(_validation_message(exc, path, value)) from None


def _validation_message(exc: Any, path: str, value: Any) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        loc = ".".join([path, *map(str, error["loc"])]) if path else ".".join(map(str, error["loc"]))
        problems.append(f"setting '{loc or path}': {error['msg']} (given: {error.get('input', value)!r})")
    return "; ".join(problems)


_parse_json_text = from_json_text  # text that is not JSON is left for validation to reject with the field's name


def coerce_raw(annotation: TypeForm, value: object, path: str, unknown: dict[str, object]) -> object:
    """Prepare one raw config value for its annotation: parse JSON text, build nested settings."""
    annotation = strip_annotated(annotation)
    inner, optional = unwrap_optional(annotation)
    if value is None:
        return None
    if isinstance(value, str):
        if value == "" and optional:
            return None
        if not is_text_type(inner):
            value = _parse_json_text(value)
            if value is None:
                return None
    if is_settings_node(inner):
        if isinstance(value, Mapping):
            return build_settings(cast(type, inner), value, path=path, unknown=unknown)
        return value
    item_type = list_item_type(inner)
    if item_type is not None and isinstance(value, list) and is_settings_node(strip_annotated(item_type)):
        return [coerce_raw(item_type, item, f"{path}.{i}", unknown) for i, item in enumerate(value)]
    value_type = dict_value_type(inner)
    if value_type is not None and isinstance(value, Mapping) and is_settings_node(strip_annotated(value_type)):
        return {k: coerce_raw(value_type, v, f"{path}.{k}", unknown) for k, v in value.items()}
    return value


def build_settings(cls: type[_Settings], config: object, *, path: str = "",
                   unknown: dict[str, object] | None = None) -> _Settings:
    """Build an instance of settings class `cls` from a config dict (or JSON text of one).

    Keys that `cls` (or a nested class) does not declare are collected into `unknown` under their
    dotted path instead of failing; the caller decides how to report them.
    """
    if isinstance(config, cls):
        return config
    if isinstance(config, str):
        config = _parse_json_text(config) if config.strip() else {}
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        where = f"setting '{path}'" if path else "settings"
        raise SettingsError(f"{where} must be a JSON object of {cls.__name__} settings, given {config!r}")
    unknown = {} if unknown is None else unknown
    spec = fields_of(cls)
    values: dict[str, Any] = {}
    for key, raw in config.items():
        key = str(key)
        field_path = f"{path}.{key}" if path else key
        field = spec.fields.get(key)
        if field is None:
            if spec.accepts_extra:
                values[key] = raw
            else:
                unknown[field_path] = raw
            continue
        values[key] = coerce_raw(field.annotation, raw, field_path, unknown)
    return _instantiate(cls, values, path)


def _instantiate(cls: type, values: dict[str, Any], path: str) -> Any:
    spec = fields_of(cls)
    missing = [name for name, f in spec.fields.items() if f.required and name not in values]
    if missing:
        names = ", ".join(f"'{path + '.' if path else ''}{m}'" for m in missing)
        flags = " ".join(f"--{path + '.' if path else ''}{m} VALUE" for m in missing)
        raise SettingsError(f"required setting {names} of {cls.__name__} is missing: "
                            f"give it in the job's settings or on the command line ({flags})")
    if is_pydantic_model(cls):
        from pydantic import ValidationError

        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_validation_message(exc, path, values)) from None
    if getattr(cls, "__pydantic_fields__", None) is None:  # plain classes and std dataclasses
        for name, value in values.items():
            field = spec.fields.get(name)
            if field is None:
                continue
            group = unwrap_optional(field.annotation)[0]
            if is_settings_node(group):  # built by `coerce_raw` from an object; anything else but None is refused
                if value is not None and not isinstance(value, cast(type, strip_annotated(group))):
                    where = f"{path}.{name}" if path else name
                    raise SettingsError(f"setting '{where}': Input should be a valid dictionary (a JSON object) or "
                                        f"instance of {cast(type, strip_annotated(group)).__name__} "
                                        f"(given: {value!r})")
                continue
            if value is None and field.default is None:  # `x: int = None`, common in plain classes
                continue
            values[name] = validate_value(field.annotation, value, f"{path}.{name}" if path else name)
    try:
        return cls(**values)
    except SettingsError:
        raise
    except Exception as exc:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            raise SettingsError(_validation_message(exc, path, values)) from None
        where = f"settings '{path}'" if path else "settings"
        raise SettingsError(f"{where} of class {cls.__name__} could not be created from "
                            f"{values!r}: {type(exc).__name__}: {exc}") from exc


def report_unknown(unknown: Mapping[str, object]) -> None:
    """Log settings keys that no settings class declares (they are kept, not applied)."""
    if unknown:
        _module_log().warning("Invalid config keys: %s", ", ".join(unknown))
