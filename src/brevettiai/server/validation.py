"""Settings checked against a model type's form schema ``{"fields", "presets"}``.

Each form field's ``model`` is a dotted path into the settings. Checked: required fields, number
bounds and steps, checkbox booleans, select and checklist choices, text, and JSON text areas
(``isJson``). Keys no field describes are allowed: the job's own settings classes decide about them.
Values may be given as JSON text, as the platform's forms send them (``"5"`` for a number).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

_MISSING = object()


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def lookup(settings: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path, or `_MISSING`."""
    node: Any = settings
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def validate_settings(schema: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every problem of `settings` against the form `schema`, as ``{"loc", "msg", "type"}`` errors."""
    errors: list[dict[str, Any]] = []
    for field in (schema or {}).get("fields") or []:
        if not isinstance(field, Mapping) or not isinstance(field.get("model"), str) or field.get("type") == "label":
            continue
        path = field["model"]
        message = _check(field, lookup(settings, path))
        if message:
            errors.append({"loc": ["settings", path], "msg": message, "type": "value_error.settings"})
    return errors


def _check(field: Mapping[str, Any], value: Any) -> str | None:
    """What is wrong with one value, or None."""
    kind = field.get("type")
    is_text = (kind == "input" and field.get("inputType", "text") != "number") or kind == "textArea"
    if value is _MISSING:
        return "is required" if field.get("required") else None
    if value is None or (value == "" and not is_text):
        if field.get("nullable"):
            return None
        return "is required" if field.get("required") else f"cannot be empty; {_accepted(field)}"
    if kind == "input" and field.get("inputType") == "number":
        return _check_number(field, value)
    if kind == "checkbox":
        parsed = _from_text(value)
        return None if isinstance(parsed, bool) else f"must be true or false; got {_kind_of(value)}"
    if kind == "select":
        return _check_choice(field, value)
    if kind == "checklist":
        items = _from_text(value)
        if not isinstance(items, list):
            return f"must be a list; {_accepted(field)}; got {_kind_of(value)}"
        bad = [item for item in items if _choice_values(field) is not None and item not in _choice_values(field)]
        return f"{_few(bad)} not accepted; {_accepted(field)}" if bad else None
    if kind == "textArea" and field.get("isJson"):
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError as exc:
                return f"must be JSON text; {exc}"
        return None
    if is_text and not isinstance(value, str):
        return f"must be text; got {_kind_of(value)}"
    return None


def _from_text(value: Any) -> Any:
    """A value given as JSON text, parsed; anything else unchanged."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _check_number(field: Mapping[str, Any], value: Any) -> str | None:
    number = _from_text(value)
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        return f"must be a number; {_accepted(field)}; got {_kind_of(value)}"
    low, high, step = field.get("min"), field.get("max"), field.get("step")
    if (isinstance(low, int | float) and number < low) or (isinstance(high, int | float) and number > high):
        return f"{number!r} is out of range; {_accepted(field)}"
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        base = low if isinstance(low, int | float) else 0
        steps = (number - base) / step
        if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
            return f"{number!r} is not accepted; {_accepted(field)}"
    return None


def _choice_values(field: Mapping[str, Any]) -> list[Any] | None:
    values = field.get("values")
    if not isinstance(values, list):
        return None
    # vue-form-generator also allows {"id": ..., "name": ...} or {"value": ..., "name": ...} choices.
    return [v.get("id", v.get("value")) if isinstance(v, Mapping) else v for v in values]


def _check_choice(field: Mapping[str, Any], value: Any) -> str | None:
    choices = _choice_values(field)
    if choices is None or value in choices or _from_text(value) in choices:
        return None
    return f"this choice is not accepted; {_accepted(field)}"


def _few(items: list[Any]) -> str:
    """Up to three items, each cut to 30 characters: which ones are wrong, without echoing a large input."""
    shown = [text if len(text := repr(item)) <= 30 else text[:29] + "…" for item in items[:3]]
    return "[" + ", ".join(shown) + (", …]" if len(items) > 3 else "]")


def _kind_of(value: Any) -> str:
    """What kind of value was given, in words: error messages never echo the value itself."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number" if math.isfinite(value) else "a number that is not finite"
    if isinstance(value, str):
        return "empty text" if value == "" else "text"
    return {list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _accepted(field: Mapping[str, Any]) -> str:
    """What a field accepts, in words."""
    kind = field.get("type")
    if kind == "input" and field.get("inputType") == "number":
        step = field.get("step")
        integer = isinstance(step, int) and not isinstance(step, bool) and step == 1
        words = "an integer" if integer else "a number"
        low, high = field.get("min"), field.get("max")
        if low is not None and high is not None:
            words += f" from {low} to {high}"
        elif low is not None:
            words += f" >= {low}"
        elif high is not None:
            words += f" <= {high}"
        if isinstance(step, int | float) and not isinstance(step, bool) and not integer:
            words += f" in steps of {step}"
        return "accepted: " + words
    if kind in ("select", "checklist"):
        prefix = "one of" if kind == "select" else "a list of items from"
        return f"accepted: {prefix} {_choice_values(field)!r}"
    if kind == "checkbox":
        return "accepted: true or false"
    if kind == "textArea" and field.get("isJson"):
        return "accepted: JSON text"
    return "accepted: text"
