"""Schemas of settings classes: the platform's settings form, and standard JSON Schema.

The platform form is the ``{"fields": [...], "presets": {...}}`` format the platform draws its
"create model" form from (vue-form-generator style: ``input``/``checkbox``/``select``/``checklist``/
``textArea`` fields with dotted ``model`` paths, and ``label`` fields opening nested groups).
No field type makes generation fail: a type the form cannot show degrades to a JSON text area and
a logged warning.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from brevettiai.contract.forms import length_field_constraints, number_field_constraints
from brevettiai.contract.jsontypes import JSONMapping, JSONObject, JSONValue
from brevettiai.settings._convert import to_config
from brevettiai.settings._fields import MISSING, FieldSpec, fields_of
from brevettiai.settings._types import (
    dict_value_type,
    is_settings_node,
    list_item_type,
    strip_annotated,
    union_members,
    unwrap_optional,
)

log = logging.getLogger("brevettiai.settings.schema")


class SchemaBuilder(dict):
    """A platform settings form: a dict ``{"fields": [...], "presets": {...}}`` that can be extended."""

    def __init__(self, fields: Iterable[JSONMapping] = (), presets: Mapping[str, JSONMapping] | None = None,
                 advanced: bool = False, namespace: str | None = None) -> None:
        super().__init__(fields=[], presets={})
        self.advanced = advanced
        self.namespace = namespace
        for field in fields:
            self.add_field(field)
        for name, values in (presets or {}).items():
            self["presets"].setdefault(name, {}).update(values)

    def add_field(self, field: JSONMapping, **presets: JSONValue) -> SchemaBuilder:
        """Append a field (hidden when the builder is `advanced` and the field says nothing); record presets."""
        field = cast(dict[str, Any], dict(field))
        field.setdefault("visible", not self.advanced)
        for key in ("model", "tag"):
            if self.namespace and key in field:
                field[key] = f"{self.namespace}.{field[key]}"
        self["fields"].append(field)
        for preset, value in presets.items():
            if field.get("isJson") and not isinstance(value, str):
                value = json.dumps(value, indent=2)
            self["presets"].setdefault(preset, {})[field["model"]] = value
        return self

    def append(self, other: JSONMapping) -> SchemaBuilder:
        """Add every field and preset of another schema."""
        for field in cast(Iterable[JSONMapping], other.get("fields", [])):
            self["fields"].append(dict(field))
        for name, values in cast(Mapping[str, JSONMapping], other.get("presets", {})).items():
            self["presets"].setdefault(name, {}).update(values)
        return self

    def __add__(self, other: JSONMapping) -> SchemaBuilder:
        return SchemaBuilder().append(self).append(other)

    @property
    def schema(self) -> JSONObject:
        """The plain dict form of the schema."""
        return {"fields": [dict(f) for f in self["fields"]], "presets": dict(self["presets"])}

    @classmethod
    def from_schema(cls, schema: JSONMapping) -> SchemaBuilder:
        """A builder holding the fields and presets of an existing schema dict."""
        return cls().append(schema)


def form_schema(cls: type, namespace: str | None = None) -> SchemaBuilder:
    """The platform settings form of a settings class."""
    prefix = f"{namespace}." if namespace else ""
    builder = SchemaBuilder()
    builder["fields"].extend(_form_fields(cls, prefix, None))
    return builder


def _form_fields(cls: type, prefix: str, defaults: Any) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for name, spec in fields_of(cls).fields.items():
        if spec.hidden:
            continue
        default = _field_default(spec, defaults)
        inner, optional = unwrap_optional(spec.annotation)
        model = prefix + name
        if is_settings_node(inner):
            group = {"type": "label", "label": spec.label, "tag": model, "visible": not spec.advanced}
            if spec.description:
                group["help"] = spec.description
            fields.append(group)
            nested = default if isinstance(default, cast(type, inner)) else None
            fields.extend(_form_fields(cast(type, inner), model + ".", nested))
            continue
        field = _widget(inner, spec, default, model)
        field.update(label=spec.label, model=model, required=spec.required, visible=not spec.advanced)
        if spec.description:
            field["help"] = spec.description
        if optional:
            field["nullable"] = True
        field.update({k: v for k, v in spec.extra.items() if isinstance(k, str) and _json_safe(v)})
        fields.append(field)
    return fields


def _field_default(spec: FieldSpec, defaults: Any) -> Any:
    """The default shown in the form: the parent's default instance wins over the class default."""
    if defaults is not None and hasattr(defaults, spec.name):
        return getattr(defaults, spec.name)
    return spec.get_default()


def _choices(tp: Any) -> list[Any] | None:
    tp = strip_annotated(tp)
    if typing.get_origin(tp) is Literal:
        return [to_config(v) for v in typing.get_args(tp)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [to_config(m.value) for m in tp]
    return None


def _widget(tp: Any, spec: FieldSpec, default: Any, model: str) -> dict[str, Any]:
    plain = None if default is MISSING else to_config(default)
    if tp is bool:
        return {"type": "checkbox", "default": plain}
    members = union_members(tp)
    numeric = (int, float)
    if tp in numeric or (members and all(strip_annotated(m) in numeric for m in members)):
        return {"type": "input", "inputType": "number",
                **number_field_constraints(spec.bounds, spec.constraints, integer=tp is int),
                "step": 1 if tp is int else "any", "default": plain}
    lengths = length_field_constraints(spec.constraints)
    choices = _choices(tp)
    if choices is not None:
        return {"type": "select", "values": choices, "default": plain}
    item = list_item_type(tp)
    if item is not None and _choices(item) is not None:
        return {"type": "checklist", "listbox": True, "values": _choices(item), **lengths, "default": plain}
    if tp is str or (isinstance(tp, type) and issubclass(tp, str)) or getattr(tp, "__name__", "") in ("Path", "PurePath"):
        return {"type": "input", "inputType": "text", **lengths, "default": plain}
    if item is None and dict_value_type(tp) is None and tp is not Any:
        log.warning("Settings field '%s' has type %s, which the settings form cannot show; "
                    "it is offered as JSON text", model, getattr(tp, "__name__", tp))
    text = None if plain is None else json.dumps(plain, indent=2)
    json_type = "array" if item is not None else "object" if dict_value_type(tp) is not None else None
    return {"type": "textArea", "hint": "", "placeholder": "", "rows": 4, "max": 5000, "isJson": True,
            **({"jsonType": json_type} if json_type else {}),
            **({k: v for k, v in lengths.items() if k != "pattern"} if json_type else {}), "default": text}


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def json_schema(cls: type) -> JSONObject:
    """The standard JSON Schema (draft 2020-12, as pydantic writes it) of a settings class."""
    return _mirror_model(cls).model_json_schema()


@functools.cache
def _mirror_model(cls: type) -> Any:
    """A pydantic model with the same fields as any settings class, for JSON Schema export."""
    from pydantic import Field, create_model

    definitions: dict[str, Any] = {}
    for name, spec in fields_of(cls).fields.items():
        annotation = _mirror_annotation(spec.annotation, f"{cls.__name__}.{name}")
        options: dict[str, Any] = {**spec.bounds, **spec.constraints}
        if spec.title:
            options["title"] = spec.title
        if spec.description:
            options["description"] = spec.description
        default = spec.get_default()
        field = Field(..., **options) if default is MISSING else Field(to_config(default), **options)
        definitions[name] = (annotation, field)
    return create_model(cls.__name__, __doc__=cls.__doc__, **definitions)


def _mirror_annotation(tp: Any, where: str) -> Any:
    from pydantic import TypeAdapter

    tp = strip_annotated(tp)
    inner, optional = unwrap_optional(tp)
    if optional:
        return _mirror_annotation(inner, where) | None
    if is_settings_node(tp):
        return _mirror_model(tp)
    item = list_item_type(tp)
    if item is not None and typing.get_origin(tp) is not None:
        return types.GenericAlias(list, (_mirror_annotation(item, where),))
    value = dict_value_type(tp)
    if value is not None and typing.get_origin(tp) is not None:
        return types.GenericAlias(dict, (str, _mirror_annotation(value, where)))
    try:
        TypeAdapter(tp).json_schema()
        return tp
    except Exception:
        log.warning("Settings field '%s' has type %s, which JSON Schema cannot describe; exported as any JSON",
                    where, getattr(tp, "__name__", tp))
        return Any
