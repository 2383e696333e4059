"""The original SDK's settings-form helpers: `VueSettingsModule`, `SchemaBuilder` and field makers."""

from __future__ import annotations

import json
from collections.abc import Sequence

from brevettiai.contract.forms import CHECKBOX, CHECKLIST, INPUT, LABEL, NUMBER_INPUT, SELECT, TEXT_INPUT
from brevettiai.contract.jsontypes import JSONMapping, JSONObject, JSONValue
from brevettiai.settings.module import Module
from brevettiai.settings.schema import SchemaBuilder, form_schema, json_text_field

__all__ = [
    "SchemaBuilder", "VueSettingsModule", "checkbox", "checklist", "form_schema", "generate_application_schema",
    "label", "number_input", "select", "text_area", "text_input",
]


class VueSettingsModule(Module):
    """A plain-class settings module that can describe itself as a platform settings form."""


def _field(kind: JSONObject, label: str, model: str, default: JSONValue, required: bool,
           **extra: JSONValue) -> JSONObject:
    return {**kind, "label": label, "model": model, "default": default, "required": required, **extra}


def number_input(label: str, model: str, default: float | None = 0, required: bool = False,
                 min: float | None = None, max: float | None = None, step: float | str = 1, **extra: JSONValue) -> JSONObject:
    """A number field."""
    return _field({"type": INPUT, "inputType": NUMBER_INPUT, "min": min, "max": max, "step": step},
                  label, model, default, required, **extra)


def text_input(label: str, model: str, default: str | None = "", required: bool = False, json: bool = False,
               **extra: JSONValue) -> JSONObject:
    """A one-line text field (``json=True``: the text is parsed as JSON)."""
    return _field({"type": INPUT, "inputType": TEXT_INPUT, "isJson": json}, label, model, default, required, **extra)


def text_area(label: str, model: str, default: JSONValue = "", required: bool = False, json_field: bool = True,
              rows: int = 4, **extra: JSONValue) -> JSONObject:
    """A multi-line JSON text field (the one a settings class's dict, list or untyped field gets)."""
    area = json_text_field("null" if json_field and default is None else default, rows=rows, is_json=json_field)
    return _field(area, label, model, area.pop("default"), required, **extra)


def checkbox(label: str, model: str, default: bool = False, required: bool = False, **extra: JSONValue) -> JSONObject:
    """A boolean field."""
    return _field({"type": CHECKBOX}, label, model, default, required, **extra)


def select(label: str, model: str, values: Sequence[JSONValue], default: JSONValue = None, required: bool = False,
           **extra: JSONValue) -> JSONObject:
    """A choice among values."""
    return _field({"type": SELECT, "values": list(values)}, label, model, default, required, **extra)


def checklist(label: str, model: str, values: Sequence[JSONValue], default: list[JSONValue] | None = None, required: bool = False,
              listbox: bool = True, **extra: JSONValue) -> JSONObject:
    """Several choices among values."""
    return _field({"type": CHECKLIST, "listbox": listbox, "values": list(values)}, label, model,
                  default or [], required, **extra)


def label(label: str, tag: str, **extra: JSONValue) -> JSONObject:
    """A section header opening the group of fields under `tag`."""
    return {"type": LABEL, "label": label, "tag": tag, **extra}


def generate_application_schema(schema: JSONMapping, path: str = "model/settings-schema.json") -> str:
    """Write a settings form schema as sorted, indented JSON; returns the path."""
    import os

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dict(schema), handle, indent=2, sort_keys=True)
    return path
