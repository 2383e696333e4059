"""Schemas of settings classes: the platform's settings form, and standard JSON Schema.

The platform form is the ``{"fields": [...], "presets": {...}}`` format the platform draws its
"create model" form from (vue-form-generator style: ``input``/``checkbox``/``select``/``checklist``/
``textArea`` fields with dotted ``model`` paths, and ``label`` fields opening nested groups).
No field type makes generation fail: a type the form cannot show degrades to a JSON text area and
a logged warning.
"""

from __future__ import annotations

import datetime
import enum
import functools
import json
import logging
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from brevettiai.contract.forms import (
    ANY_JSON,
    ARRAY,
    BOOLEAN,
    CHECKBOX,
    CHECKLIST,
    DATE,
    DATE_TIME,
    DURATION,
    INPUT,
    INTEGER,
    LABEL,
    NUMBER,
    NUMBER_INPUT,
    OBJECT,
    PATH,
    SELECT,
    STRING,
    TEXT_AREA,
    TEXT_INPUT,
    TIME,
    VALUE_FORMATS,
    length_field_constraints,
    number_field_constraints,
)
from brevettiai.contract.jsontypes import JSONMapping, JSONObject, JSONValue
from brevettiai.settings._convert import to_config
from brevettiai.settings._fields import MISSING, FieldSpec, annotated_metadata, constraints_of, fields_of
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
    # Plain classes and standard dataclasses take None for a field whose default is None, whatever its type
    # (`x: int = None`); pydantic validates it.
    none_for_none_default = getattr(cls, "__pydantic_fields__", None) is None
    for name, spec in fields_of(cls).fields.items():
        if spec.hidden:
            continue
        default = _field_default(spec, defaults)
        inner, optional = unwrap_optional(spec.annotation)
        model = prefix + name
        if is_settings_node(inner):
            # required/nullable: whether the job takes the group absent (its defaults) or null
            group = {"type": LABEL, "label": spec.label, "tag": model, "visible": not spec.advanced,
                     "required": spec.required}
            if optional or none_for_none_default:  # plain classes and dataclasses take null for a group
                group["nullable"] = True
            if none_for_none_default and not optional:  # ... but not "", which only `Optional` reads as null
                group["emptyIsNull"] = False
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
        elif none_for_none_default and spec.default is None:
            field.update(nullable=True, emptyIsNull=False)
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
    strict = {"strict": True} if spec.constraints.get("strict") is True else {}
    if tp is bool:
        return {"type": CHECKBOX, **strict, "default": plain}
    members = union_members(tp)
    numeric = (int, float)
    # a union of numbers with constraints of its own members (`int | Annotated[float, Field(gt=0)]`) is not one
    # number with one set of bounds: only the job checks it
    if tp in numeric or (members and all(m in numeric for m in members)):
        return {"type": INPUT, "inputType": NUMBER_INPUT,
                **number_field_constraints(spec.bounds, spec.constraints, integer=tp is int),
                "step": 1 if tp is int else "any", "default": plain}
    lengths = length_field_constraints(spec.constraints)
    choices = _choices(tp)
    if choices is not None:
        return {"type": SELECT, "values": choices, "default": plain}
    item = list_item_type(tp)
    if item is not None and _choices(item) is not None:
        return {"type": CHECKLIST, "listbox": True, "values": _choices(item), **lengths, "default": plain}
    if tp is str or (isinstance(tp, type) and issubclass(tp, str)):
        return {"type": INPUT, "inputType": TEXT_INPUT, **lengths, **strict, "default": plain}
    if getattr(tp, "__name__", "") in ("Path", "PurePath"):
        return {"type": INPUT, "inputType": TEXT_INPUT, "format": PATH, "default": plain}
    text_format = next((name for cls, name in _TEXT_FORMATS if isinstance(tp, type) and issubclass(tp, cls)), None)
    text_format = text_format or _VALUE_FORMAT_OF.get(f"{getattr(tp, '__module__', '')}.{getattr(tp, '__qualname__', '')}")
    if text_format is not None:
        return {"type": INPUT, "inputType": TEXT_INPUT, "format": text_format, **strict,
                **_format_bounds(spec),
                # a secret's default is never shown (pydantic would show "**********", which the form would send)
                "default": None if plain is None or text_format == "password" else str(plain)}
    value = dict_value_type(tp) if _text_keys(tp) else None
    positions = _tuple_positions(tp)
    if positions is not None:
        field = json_text_field(None if plain is None else json.dumps(plain, indent=2), ARRAY)
        field.update({k: v for k, v in lengths.items() if k in ("minLength", "maxLength")})
        field["itemSchemas"] = positions
        return field
    if item is None and value is None and tp is not Any:
        log.warning("Settings field '%s' has type %s, which the settings form cannot show; "
                    "it is offered as JSON text", model, getattr(tp, "__name__", tp))
    json_type = ARRAY if item is not None else OBJECT if value is not None else ANY_JSON
    field = json_text_field(None if plain is None else json.dumps(plain, indent=2), json_type)
    if json_type != ANY_JSON:
        field.update({k: v for k, v in lengths.items() if k in ("minLength", "maxLength")})
        if _is_set(tp):
            field["uniqueItems"] = True
        inner = _value_schema(item if item is not None else value)
        if inner is not None:
            field["itemSchema" if item is not None else "valueSchema"] = inner
    return field


def _format_bounds(spec: FieldSpec) -> JSONObject:
    """The bounds (and a decimal's digits and multiple) of a date, time, duration or decimal field, as the form
    states them: ``min``/``max`` in the value's own text (a date's ISO text, a decimal's digits)."""
    stated = {key: to_config(value) for key, value in spec.bounds.items()}
    field: JSONObject = {"min": stated.get("ge", stated.get("gt")), "max": stated.get("le", stated.get("lt"))}
    field = {key: value for key, value in field.items() if value is not None}
    if "gt" in stated and "ge" not in stated:
        field["exclusiveMin"] = True
    if "lt" in stated and "le" not in stated:
        field["exclusiveMax"] = True
    for key, form_key in (("multiple_of", "multipleOf"), ("max_digits", "maxDigits"),
                          ("decimal_places", "decimalPlaces")):
        if spec.constraints.get(key) is not None:
            field[form_key] = to_config(spec.constraints[key])
    return field


def _is_set(tp: Any) -> bool:
    """True for `set[X]`/`frozenset[X]`: pydantic counts their length after dropping repeated items."""
    tp = strip_annotated(tp)
    return tp in (set, frozenset) or typing.get_origin(tp) in (set, frozenset)


def _text_keys(tp: Any) -> bool:
    """True for a dict whose keys are text, as JSON's are (`dict[int, X]` reads its keys as integers, which the
    form does not check: only the job does)."""
    args = typing.get_args(strip_annotated(tp))
    return not args or strip_annotated(args[0]) in (str, Any)


def _tuple_positions(tp: Any) -> list[JSONValue] | None:
    """What each position of a fixed-size tuple (`tuple[int, int]`) must be; None for anything else, and for a
    tuple holding settings classes or values the form cannot state (only the job checks those)."""
    tp = strip_annotated(tp)
    args = typing.get_args(tp)
    if typing.get_origin(tp) is not tuple or not args or Ellipsis in args or args == ((),):
        return None
    positions = [_value_schema(arg) for arg in args]
    if any(position is None or "fields" in position for position in positions):
        return None
    return cast(list[JSONValue], positions)


def json_text_field(default: JSONValue, json_type: str | None = None, rows: int = 4,
                    is_json: bool = True) -> JSONObject:
    """A text area whose text is JSON (``is_json``; a `default` that is not text is shown as JSON text) holding
    any value, or a list or object (`json_type` ``array``/``object``)."""
    if is_json and default is not None and not isinstance(default, str):
        default = json.dumps(default, indent=2)
    return {"type": TEXT_AREA, "hint": "", "placeholder": "", "rows": rows, "max": 5000, "isJson": is_json,
            **({"jsonType": json_type} if json_type else {}), "default": default}


_VALUE_FORMAT_OF = {dotted: name for name, dotted in VALUE_FORMATS.items()}
_VALUE_TYPES: dict[object, str] = {bool: BOOLEAN, int: INTEGER, float: NUMBER, str: STRING}
# datetime before date: a datetime is a date
_TEXT_FORMATS = ((datetime.datetime, DATE_TIME), (datetime.date, DATE), (datetime.time, TIME),
                 (datetime.timedelta, DURATION))


def _value_schema(tp: Any) -> JSONObject | None:
    """What each item of a list (or value of a dict) of `tp` must be, when the form can say it: a number, text,
    a boolean or one of some choices with their constraints, a list or dict of those, or a settings class (its
    form); None for anything else (unions, types pydantic alone knows)."""
    inner, optional = unwrap_optional(tp)
    positions = _tuple_positions(inner)
    if positions is not None:
        schema: JSONObject = {"valueType": ARRAY, "itemSchemas": positions}
        return {**schema, "nullable": True} if optional else schema
    if dict_value_type(inner) is not None and not _text_keys(inner):
        return None
    choices = _choices(inner)
    value_type = _VALUE_TYPES.get(inner) if isinstance(inner, type) else None
    bounds, constraints = constraints_of(annotated_metadata(tp))
    item, value = list_item_type(inner), dict_value_type(inner)
    if is_settings_node(inner):
        schema = {"valueType": OBJECT, "fields": cast(list[JSONValue], _form_fields(cast(type, inner), "", None))}
    elif item is not None or value is not None:
        schema = {"valueType": ARRAY if item is not None else OBJECT}
        schema.update({k: v for k, v in length_field_constraints(constraints).items() if k in ("minLength", "maxLength")})
        if _is_set(inner):
            schema["uniqueItems"] = True
        nested = _value_schema(item if item is not None else value)
        if nested is not None:
            schema["itemSchema" if item is not None else "valueSchema"] = nested
    elif value_type is None and choices is None:
        return None
    else:
        schema = {"values": choices} if choices is not None else {"valueType": value_type}
    if value_type in (INTEGER, NUMBER):
        numbers = number_field_constraints(bounds, constraints, integer=value_type == INTEGER)
        schema.update({k: v for k, v in numbers.items() if v is not None and k != "numberType"})
    elif value_type == STRING:
        schema.update(length_field_constraints(constraints))
    if optional:
        schema["nullable"] = True
    return schema


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def json_schema(cls: type) -> JSONObject:
    """The standard JSON Schema (draft 2020-12, as pydantic writes it) of a settings class."""
    return _mirror_model(cls).model_json_schema()


_TEXT_TRANSFORMS = ("strip_whitespace", "to_lower", "to_upper")


@functools.cache
def _mirror_model(cls: type) -> Any:
    """A pydantic model with the same fields as any settings class, for JSON Schema export."""
    from pydantic import Field, create_model

    definitions: dict[str, Any] = {}
    for name, spec in fields_of(cls).fields.items():
        annotation = _mirror_annotation(spec.annotation, f"{cls.__name__}.{name}")
        options: dict[str, Any] = {**spec.bounds, **{key: value for key, value in spec.constraints.items()
                                                     if key not in _TEXT_TRANSFORMS}}
        transforms = {key: value for key, value in spec.constraints.items() if key in _TEXT_TRANSFORMS}
        if transforms:  # Field does not take them; the annotation carries them (and the lengths after them)
            from pydantic import StringConstraints

            annotation = typing.Annotated[annotation, StringConstraints(**transforms)]
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
