"""The settings form: its field vocabulary, and settings checked against it as the job would check them.

A form is ``{"fields": [...], "presets": {...}}`` (vue-form-generator style). Each field's ``model``
is a dotted path into the settings. The keys (all of them: `FormField`) that constrain a value:

=================  ==========================================================================
``type``            a `FieldKind`: ``input`` (``inputType`` ``number`` or ``text``), ``checkbox``,
                    ``select``, ``checklist``, ``textArea`` (``isJson``: the value is JSON text),
                    ``label`` (opens the group ``tag``; a label from a settings class also says
                    ``required``/``nullable`` of the group, and the fields of a group not given are
                    not checked, as the job then uses the group's defaults)
``required``        the value must be present
``nullable``        null is accepted; so is ``""`` unless ``emptyIsNull`` is false (a plain class's
                    ``x: int = None`` takes null but not ``""``, an ``Optional`` field both)
``numberType``      ``integer`` or ``number`` (else: ``step: 1`` means integer)
``min``/``max``     number bounds, inclusive unless ``exclusiveMin``/``exclusiveMax`` is true
``multipleOf``      the number must be a multiple of it
``allowInfNan``     false: NaN and infinities are refused (pydantic's ``allow_inf_nan``; default true)
``strict``          true: pydantic's strict mode (no ``5.0`` or ``true`` for an integer, no number for
                    text); text is still read as JSON first, as the job reads it
``minLength``/      length of text (characters) or of a list (items)
``maxLength``
``pattern``         a regular expression the text must match (searched, as pydantic does)
``stripWhitespace``  text transforms pydantic applies before the length and pattern rules
``toLower``/``toUpper``
``format``          what the text of an input is, checked by pydantic's type: ``path`` (``Path``),
                    ``date-time``, ``date``, ``time``, ``duration`` (``datetime``, ``date``, ``time``,
                    ``timedelta``: ISO 8601 text, or seconds), and the `VALUE_FORMATS` (``uuid``,
                    ``decimal``, IP addresses and networks, URLs, ``password``); ``min``/``max`` of a
                    date, time, duration or decimal are its bounds, as text of that type
``maxDigits``/      a decimal's digits
``decimalPlaces``
``values``          the choices of a select or checklist
``jsonType``        ``array`` or ``object``: what the JSON text of a text area must hold; ``any``: a
                    type the form cannot describe exactly (a union, ``bytes``, a dict with non-text
                    keys, ``Any``), which only the job checks: the form never refuses it
``uniqueItems``     true: the ``array`` is a set, whose length counts distinct items
``itemSchemas``     a list of `ValueSchema`: what each position of a fixed-size ``array`` (a tuple) must be
``itemSchema``/     a `ValueSchema`: what each item of an ``array`` / each value of an ``object``
``valueSchema``     must be (``valueType`` and the number/text keys above; ``valueType`` ``array``/
                    ``object`` with their own ``itemSchema``/``valueSchema``; ``fields``: a settings
                    class's form, for ``list[LayerSettings]``)
=================  ==========================================================================

Every rule is checked by pydantic with the constraints the settings class declares, in pydantic's lax
mode as the job validates, so a value the form accepts is a value the job accepts, and the messages
name the rule. Values may be given as JSON text, as forms send them (``"5"`` for a number, a group's
object as text, ``"null"`` for null), and are parsed as the job parses them
(`brevettiai.contract.jsontext.from_json_text`); only text fields (``str``, ``Path``, text choices) keep
text as text.

One value the job may accept is still refused: a NaN or infinite float. The platform stores settings as
JSON, which has neither, so the form says so and asks for the value as text (``"Infinity"``, ``"NaN"``,
``"1e400"``), which is stored as given and which the job reads as the number when ``allowInfNan``.
Keys no field describes are allowed: the job's own settings classes decide about them.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import pathlib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, TypedDict, cast

from brevettiai.contract.dotted import MISSING, get_path
from brevettiai.contract.jsontext import from_json_text, parse_json_text
from brevettiai.contract.jsontypes import JSONLike, JSONMapping, JSONObject, JSONValue

# The vocabulary: field kinds (a field's ``type``), input types, number and value types, JSON types.
FieldKind = Literal["input", "checkbox", "select", "checklist", "textArea", "label"]
INPUT: Final = "input"
CHECKBOX: Final = "checkbox"
SELECT: Final = "select"
CHECKLIST: Final = "checklist"
TEXT_AREA: Final = "textArea"
LABEL: Final = "label"
NUMBER_INPUT: Final = "number"  # inputType
TEXT_INPUT: Final = "text"  # inputType
ValueType = Literal["integer", "number", "string", "boolean"]
INTEGER: Final = "integer"
NUMBER: Final = "number"
STRING: Final = "string"
BOOLEAN: Final = "boolean"
PATH: Final = "path"  # format of a text input: kept as text, as the job keeps it
# Formats whose text the job reads as JSON first when it is JSON (``3600`` seconds), else as text (ISO 8601).
DATE_TIME: Final = "date-time"
DATE: Final = "date"
TIME: Final = "time"
DURATION: Final = "duration"
# Formats of values pydantic reads from text (``format`` of a text input), by the class checking them: the
# class is imported only when a value of that format is checked.
VALUE_FORMATS: Final[dict[str, str]] = {
    "uuid": "uuid.UUID", "decimal": "decimal.Decimal",
    "ipv4": "ipaddress.IPv4Address", "ipv6": "ipaddress.IPv6Address",
    "ipv4network": "ipaddress.IPv4Network", "ipv6network": "ipaddress.IPv6Network",
    "ipv4interface": "ipaddress.IPv4Interface", "ipv6interface": "ipaddress.IPv6Interface",
    "ipvanyaddress": "pydantic.networks.IPvAnyAddress", "ipvanynetwork": "pydantic.networks.IPvAnyNetwork",
    "ipvanyinterface": "pydantic.networks.IPvAnyInterface", "uri": "pydantic.networks.AnyUrl",
    "http-url": "pydantic.networks.HttpUrl", "any-http-url": "pydantic.networks.AnyHttpUrl",
    "password": "pydantic.types.SecretStr",
}
TextFormat = Literal["path", "date-time", "date", "time", "duration", "uuid", "decimal", "ipv4", "ipv6",
                     "ipv4network", "ipv6network", "ipv4interface", "ipv6interface", "ipvanyaddress",
                     "ipvanynetwork", "ipvanyinterface", "uri", "http-url", "any-http-url", "password"]
ARRAY: Final = "array"  # jsonType
OBJECT: Final = "object"  # jsonType
ANY_JSON: Final = "any"  # jsonType


class ValueSchema(TypedDict, total=False):
    """What one value must be: a list item (``itemSchema``), a dict value (``valueSchema``); a field has the
    same keys."""

    valueType: ValueType | Literal["array", "object"]
    values: list[JSONValue]
    fields: list[FormField]  # an object that is a settings class: its form
    itemSchemas: list[ValueSchema]  # an ``array`` of fixed size (a tuple): what each position must be
    uniqueItems: bool  # an ``array`` that is a set: its length counts distinct items
    nullable: bool
    min: float | str | None  # text for a bound of a text format (``"2020-01-01"``, ``"0.1"`` of a decimal)
    max: float | str | None
    exclusiveMin: bool
    exclusiveMax: bool
    multipleOf: float
    allowInfNan: bool
    strict: bool
    minLength: int
    maxLength: int
    pattern: str
    stripWhitespace: bool  # text transforms applied before the length and pattern rules, as pydantic does
    toLower: bool
    toUpper: bool
    maxDigits: int  # a decimal's digits and decimal places
    decimalPlaces: int


class FormField(ValueSchema, total=False):
    """Every key a form field may have (the table in the module's docstring)."""

    type: FieldKind
    model: str
    tag: str
    label: str
    help: str
    hint: str
    placeholder: str
    default: JSONValue
    required: bool
    emptyIsNull: bool
    visible: bool
    advanced: bool
    inputType: Literal["number", "text"]
    numberType: Literal["integer", "number"]
    step: float | str
    listbox: bool
    isJson: bool
    jsonType: Literal["array", "object", "any"]
    format: TextFormat
    itemSchema: ValueSchema
    valueSchema: ValueSchema
    rows: int


FIELD_KEYS: Final = frozenset(FormField.__optional_keys__)
NUMBER_CONSTRAINTS = ("min", "max", "exclusiveMin", "exclusiveMax", "multipleOf", "allowInfNan", "strict",
                      "numberType")
LENGTH_CONSTRAINTS = ("minLength", "maxLength", "pattern", "strict")


def number_field_constraints(bounds: Mapping[str, float], constraints: JSONMapping,
                             integer: bool) -> JSONObject:
    """The form keys of a number field with pydantic-style bounds (ge/gt/le/lt) and constraints."""
    field: JSONObject = {"numberType": INTEGER if integer else NUMBER,
                         "min": bounds.get("ge", bounds.get("gt")), "max": bounds.get("le", bounds.get("lt"))}
    if "gt" in bounds and "ge" not in bounds:
        field["exclusiveMin"] = True
    if "lt" in bounds and "le" not in bounds:
        field["exclusiveMax"] = True
    if constraints.get("multiple_of") is not None:
        field["multipleOf"] = cast(JSONValue, constraints["multiple_of"])
    if constraints.get("allow_inf_nan") is False and not integer:
        field["allowInfNan"] = False
    if constraints.get("strict") is True:
        field["strict"] = True
    return field


def length_field_constraints(constraints: JSONMapping) -> JSONObject:
    """The form keys of a text or list field's length and pattern constraints, and the transforms of text."""
    names = {"min_length": "minLength", "max_length": "maxLength", "pattern": "pattern",
             "strip_whitespace": "stripWhitespace", "to_lower": "toLower", "to_upper": "toUpper"}
    return {names[key]: cast(JSONValue, value) for key, value in constraints.items() if key in names and value is not None}


def deep_merge(base: JSONMapping, override: JSONMapping) -> dict[str, JSONLike]:
    """`override` on top of `base`, nested dicts merged key by key."""
    merged: dict[str, JSONLike] = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


lookup = get_path  # the value at a dotted path, or `MISSING`


def validate_settings(schema: JSONMapping | None, settings: JSONMapping) -> list[JSONObject]:
    """Every problem of `settings` against the form `schema`, as ``{"loc", "msg", "type"}`` errors."""
    errors: list[JSONObject] = []
    absent: list[str] = []  # groups not given (the class's defaults apply) or null: their fields are not checked
    read: dict[str, Mapping[str, object]] = {}  # groups given as JSON text: the objects the job reads from them
    for field in cast(Iterable[JSONLike], (schema or {}).get("fields") or []):
        if not isinstance(field, Mapping):
            continue
        path = field.get("tag") if field.get("type") == LABEL else field.get("model")
        if not isinstance(path, str) or any(path.startswith(group + ".") for group in absent):
            continue
        value = _lookup_read(settings, path, read)
        if field.get("type") == LABEL:
            if "required" not in field:  # a heading only (hand-written forms): its fields are checked one by one
                continue
            value = _group_value(field, value)
            problem = _check_group(field, value)
            if problem is not None or value is MISSING or value is None:
                absent.append(path)
            elif isinstance(value, Mapping):
                read[path] = value
        else:
            problem = check_value(field, value)
        if problem:
            errors.append({"loc": ["settings", path], "msg": problem[1], "type": f"value_error.{problem[0]}"})
    return errors


def _lookup_read(settings: JSONMapping, path: str, read: Mapping[str, Mapping[str, object]]) -> object:
    """The value at `path`, inside the object read from a group's JSON text when the group was given so."""
    group = max((name for name in read if path.startswith(name + ".")), key=len, default=None)
    if group is None:
        return lookup(settings, path)
    return lookup(cast(JSONMapping, read[group]), path[len(group) + 1:])


def _group_value(field: Mapping[str, Any], value: object) -> object:
    """A group's value as the job reads it: JSON text parsed (``"null"`` is null), ``""`` null when the group
    is ``Optional``."""
    if not isinstance(value, str):
        return value
    if value == "" and field.get("nullable") and field.get("emptyIsNull", True):
        return None
    return _from_text(value)


def _check_group(field: Mapping[str, Any], value: object) -> tuple[str, str] | None:
    """A group of settings (a nested settings class) as the job checks it: present when ``required``, null
    only when ``nullable``, else an object."""
    if value is MISSING:
        return ("missing", "is required") if field.get("required") else None
    if value is None and field.get("nullable"):
        return None
    if not isinstance(value, Mapping):
        return "model_type", f"must be an object of settings; got {_shown(value)}"
    return None


def check_value(field: JSONMapping, value: object) -> tuple[str, str] | None:
    """What is wrong with one value as ``(rule, message)``, or None. Rules are pydantic's error types
    (``greater_than``, ``multiple_of``, ``string_too_short``, ...) or ``missing``/``choice``/``json``/
    ``json_finite`` (a NaN or infinite float, which JSON cannot hold)."""
    if value is MISSING:
        return ("missing", "is required") if field.get("required") else None
    if value == "null" and not _keeps_text(field):  # JSON text of null, which the job reads as None
        value = None
    if field.get("nullable") and (value is None or (value == "" and field.get("emptyIsNull", True))):
        return None
    problem = _check_kind(field, value)
    if problem is None and _holds_non_finite(value):
        return "json_finite", (f"{'is' if isinstance(value, float) else 'holds'} NaN or an infinity "
                               f"({_shown(value)}), which the platform cannot store (settings are JSON); "
                               "give it as text, e.g. \"Infinity\" or \"[1, NaN]\"")
    if problem is not None and (value is None or (value == "" and not _is_text(field))):
        return problem[0], f"cannot be empty; {_accepted(field)}"
    return problem


def _keeps_text(field: Mapping[str, Any]) -> bool:
    """True when the job keeps text given for this field as text (``str``, ``Path``, text choices); it reads
    any other field's text as JSON first."""
    kind = field.get("type")
    if kind == INPUT and field.get("inputType", TEXT_INPUT) != NUMBER_INPUT:
        return field.get("format") in (None, PATH)
    if kind == SELECT:
        return _text_choices(_choice_values(field) or [])
    return kind == TEXT_AREA and not field.get("isJson")


def _is_text(field: Mapping[str, Any]) -> bool:
    kind = field.get("type")
    return (kind == INPUT and field.get("inputType", TEXT_INPUT) != NUMBER_INPUT) or kind == TEXT_AREA


def _check_kind(field: Mapping[str, Any], value: object) -> tuple[str, str] | None:
    kind = field.get("type")
    if kind == INPUT and field.get("inputType") == NUMBER_INPUT:
        return _check(field, _from_text(value), _shape(field, _number_type(field)), given=value)
    if kind == CHECKBOX:
        return _check(field, _from_text(value), _shape(field, BOOLEAN), given=value)
    if kind == SELECT:
        return _check_choice(field, value)
    if kind == CHECKLIST:
        return _check_checklist(field, value)
    if kind == TEXT_AREA and field.get("isJson"):
        return _check_json_text(field, value)
    if _is_text(field):
        text_format = field.get("format")
        if (text_format in _FORMATS and text_format != PATH) or text_format in VALUE_FORMATS:
            return _check(field, _from_text(value), _shape(field, str(text_format)), given=value)
        return _check(field, value, _shape(field, PATH if text_format == PATH else STRING))
    return None


def _check_json_text(field: Mapping[str, Any], value: object) -> tuple[str, str] | None:
    json_type = field.get("jsonType")
    parsed, not_json = value, None
    if json_type == ANY_JSON:
        return None
    if isinstance(value, str):
        try:
            parsed = parse_json_text(value)
        except ValueError as exc:
            if json_type not in (ARRAY, OBJECT):
                return "json", f"must be JSON text; {exc}"
            not_json = str(exc)  # the text itself is then checked: not a list (or object), as the job finds
    if json_type not in (ARRAY, OBJECT):
        return None
    of, inner = ("list", "itemSchema") if json_type == ARRAY else ("dict", "valueSchema")
    if json_type == ARRAY and isinstance(field.get("itemSchemas"), list):
        of = "tuple"
    elif json_type == ARRAY and field.get("uniqueItems") is True:
        of = "set"
    # Settings objects inside (``list[LayerSettings]``) first: the job builds them before checking the rest.
    problem = _nested_problem(field, parsed, []) or _check(field, parsed, _shape(field, of, inner=field.get(inner)),
                                                           given=value)
    if problem is not None and not_json is not None:
        words = "a list" if json_type == ARRAY else "an object"
        return problem[0], f"must be JSON text of {words}; {not_json}"
    return problem


def _nested_problem(schema: Mapping[str, Any], value: object, where: list[str | int]) -> tuple[str, str] | None:
    """The first problem of settings objects inside a list or dict (``list[LayerSettings]``): each is checked
    against its ``fields`` as the job builds it; what is not an object is left for pydantic."""
    if isinstance(schema.get("fields"), list):
        value = _from_text(value)  # the job reads an object given as JSON text too
    if isinstance(value, Mapping) and isinstance(schema.get("fields"), list):
        given = [str(key) for key in value]

        def job_order(error: JSONObject) -> tuple[int, int]:
            """The job reports a missing setting first, then (plain classes and dataclasses stop at the first)
            problems in the order the settings are given."""
            top = str(cast(list[JSONValue], error["loc"])[1]).split(".")[0]
            return error["type"] != "value_error.missing", given.index(top) if top in given else len(given)

        for error in sorted(validate_settings({"fields": schema["fields"]}, value), key=job_order):
            loc = cast(list[JSONValue], error["loc"])
            place = ".".join(str(part) for part in [*where, *loc[1:]])
            return str(error["type"]).removeprefix("value_error."), f"item {place} {error['msg']}"
    for key, inner in (("itemSchema", list), ("valueSchema", dict)):
        child = schema.get(key)
        if not isinstance(child, Mapping) or not isinstance(value, inner):
            continue
        items = enumerate(value) if isinstance(value, list) else cast(Mapping[str, object], value).items()
        for index, item in items:
            problem = _nested_problem(child, item, [*where, index])
            if problem is not None:
                return problem
    return None


def _holds_non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        return any(_holds_non_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_non_finite(item) for item in value)
    return False


def _number_type(field: Mapping[str, Any]) -> str:
    declared = field.get("numberType")
    if declared in (INTEGER, NUMBER):
        return str(declared)
    step = field.get("step")
    return INTEGER if isinstance(step, int) and not isinstance(step, bool) and step == 1 else NUMBER


_from_text = from_json_text


def _shape(schema: Mapping[str, Any], of: str, inner: object = None) -> str:
    """What pydantic checks for `schema`, as JSON text (the adapters' cache key): the type `of` (a value
    type, ``choice``, ``list`` or ``dict``) and the constraints the schema states for it."""
    shape: dict[str, Any] = {"of": of}
    if of in (INTEGER, NUMBER):
        low, high = schema.get("min"), schema.get("max")
        if _is_number(low):
            shape["gt" if schema.get("exclusiveMin") else "ge"] = low
        if _is_number(high):
            shape["lt" if schema.get("exclusiveMax") else "le"] = high
        if _is_number(schema.get("multipleOf")) and schema["multipleOf"] > 0:
            shape["multiple_of"] = schema["multipleOf"]
        if of == NUMBER and schema.get("allowInfNan") is False:
            shape["allow_inf_nan"] = False
    elif of in (STRING, "list", "dict", "tuple", "set"):
        for form_key, key in (("minLength", "min_length"), ("maxLength", "max_length")):
            if isinstance(schema.get(form_key), int) and not isinstance(schema[form_key], bool):
                shape[key] = schema[form_key]
        if of == STRING and isinstance(schema.get("pattern"), str):
            shape["pattern"] = schema["pattern"]
        for form_key, key in _TRANSFORMS:
            if of == STRING and schema.get(form_key) is True:
                shape[key] = True
    elif (of in _FORMATS and of != PATH) or of in VALUE_FORMATS:  # bounds as the form states them (text)
        for form_key, exclusive, key in (("min", "exclusiveMin", "g"), ("max", "exclusiveMax", "l")):
            if _is_number(schema.get(form_key)) or isinstance(schema.get(form_key), str):
                shape[key + ("t" if schema.get(exclusive) else "e")] = schema[form_key]
        for form_key, key in (("multipleOf", "multiple_of"), ("maxDigits", "max_digits"),
                              ("decimalPlaces", "decimal_places")):
            if of == "decimal" and (_is_number(schema.get(form_key)) or isinstance(schema.get(form_key), str)):
                shape[key] = schema[form_key]
    if (of in (INTEGER, NUMBER, STRING, BOOLEAN) or of in _FORMATS or of in VALUE_FORMATS) \
            and schema.get("strict") is True:
        shape["strict"] = True
    if of == "choice":
        shape["values"] = _choice_values(schema)
    if of == "tuple":
        shape["items"] = [json.loads(_value_shape(item if isinstance(item, Mapping) else {}))
                          for item in schema["itemSchemas"]]
    elif isinstance(inner, Mapping):
        shape["inner"] = json.loads(_value_shape(inner))
    return json.dumps(shape, sort_keys=True)


def _value_shape(schema: Mapping[str, Any]) -> str:
    """The shape of a `ValueSchema` (a list item or dict value); ``{"of": "any"}`` when it says nothing."""
    value_type, inner = schema.get("valueType"), None
    if isinstance(schema.get("values"), list):
        of = "choice"
    elif value_type in (INTEGER, NUMBER, STRING, BOOLEAN):
        of = str(value_type)
    elif value_type == ARRAY and isinstance(schema.get("itemSchemas"), list):
        of = "tuple"
    elif value_type == ARRAY:
        of, inner = "set" if schema.get("uniqueItems") is True else "list", schema.get("itemSchema")
    elif value_type == OBJECT and isinstance(schema.get("fields"), list):
        of = "settings"  # an object; its `fields` are checked after pydantic, by `_nested_problem`
    elif value_type == OBJECT:
        of, inner = "dict", schema.get("valueSchema")
    else:
        of = "any"
    shape = json.loads(_shape(schema, of, inner=inner))
    if schema.get("nullable"):
        shape["nullable"] = True
    return json.dumps(shape, sort_keys=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_FORMATS: dict[object, type] = {PATH: pathlib.Path, DATE_TIME: datetime.datetime, DATE: datetime.date,
                                TIME: datetime.time, DURATION: datetime.timedelta}
_BASE = {INTEGER: int, NUMBER: float, STRING: str, BOOLEAN: bool, **_FORMATS}
_OPTIONS = ("ge", "gt", "le", "lt", "multiple_of", "allow_inf_nan", "min_length", "max_length", "pattern", "strict",
            "max_digits", "decimal_places")
_TRANSFORMS = (("stripWhitespace", "strip_whitespace"), ("toLower", "to_lower"), ("toUpper", "to_upper"))


def _format_type(of: str) -> Any:
    """The class checking a value of format `of`, or None."""
    if of in _FORMATS:
        return _FORMATS[of]
    if of not in VALUE_FORMATS:
        return None
    import importlib

    module, _, name = VALUE_FORMATS[of].rpartition(".")
    return getattr(importlib.import_module(module), name)


def _annotation(shape: Mapping[str, Any], constrained: bool = True) -> Any:
    """The annotation pydantic validates a value of `shape` with."""
    from pydantic import Field

    of = shape["of"]
    inner = _annotation(shape["inner"], constrained) if "inner" in shape else Any
    if of == "choice":
        base: Any = Literal.__getitem__(tuple(shape["values"]))  # every choice, as `Literal[...]` spells them
    elif of == "list":
        base = list[inner]  # type: ignore[valid-type]
    elif of == "set":
        base = set[inner]  # type: ignore[valid-type]
    elif of == "dict":
        base = dict[str, inner]  # type: ignore[valid-type]
    elif of == "tuple":
        positions = tuple(_annotation(item, constrained) for item in shape["items"])
        base = tuple.__class_getitem__(positions) if positions else tuple
    elif of == "settings":
        from pydantic import BeforeValidator

        base = Annotated[Any, BeforeValidator(_settings_object)]
    else:
        base = _BASE.get(of) or _format_type(of) or Any
    options = {key: shape[key] for key in _OPTIONS if key in shape} if constrained else {}
    if options and _format_type(of) is not None:  # bounds given as text (a date, a decimal): of the type itself
        from pydantic import TypeAdapter

        read = TypeAdapter(base).validate_python
        options = {key: value if key in ("strict", "max_digits", "decimal_places") else read(value)
                   for key, value in options.items()}
    transforms: dict[str, Any] = {key: True for _, key in _TRANSFORMS if constrained and shape.get(key)}
    if transforms:
        from pydantic import StringConstraints

        annotation: Any = Annotated[base, StringConstraints(**transforms, **options)]
    else:
        annotation = Annotated[base, Field(**options)] if options else base
    return annotation | None if shape.get("nullable") else annotation


def _settings_object(value: object) -> object:
    from pydantic_core import PydanticCustomError

    if not isinstance(_from_text(value), Mapping):  # JSON text of an object is read as the object, as the job does
        raise PydanticCustomError("model_type", "Input should be an object of settings")
    return value


@functools.lru_cache(maxsize=512)
def _adapter(shape: str) -> Any:
    from pydantic import TypeAdapter

    spec = json.loads(shape)
    try:
        return TypeAdapter(_annotation(spec))
    except Exception:  # a form with an unusable constraint (a broken pattern, unhashable choices): the type alone
        try:
            return TypeAdapter(_annotation(spec, constrained=False))
        except Exception:
            return None


def _check(field: Mapping[str, Any], value: Any, shape: str, given: object = MISSING) -> tuple[str, str] | None:
    """pydantic's verdict on `value` (parsed from `given`, which messages show) for `shape`."""
    from pydantic import ValidationError

    adapter = _adapter(shape)
    if adapter is None:
        return None
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        return error["type"], _message(error, field, value if given is MISSING else given)
    except (TypeError, ValueError) as exc:  # an input pydantic cannot even look at
        return "value_error", f"{exc}; {_accepted(field)}"
    return None


_RULE_WORDS = {
    "greater_than": "must be > {gt}", "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}", "less_than_equal": "must be <= {le}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "int_from_float": "must be an integer", "int_parsing": "must be an integer", "int_type": "must be an integer",
    "int_parsing_size": "must be an integer of a sane size",
    "float_parsing": "must be a number", "float_type": "must be a number",
    "finite_number": "must be a finite number (not NaN or an infinity)",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "string_type": "must be text", "path_type": "must be a path (text)",
    "datetime_type": "must be a date and time", "datetime_parsing": "must be a date and time (ISO 8601)",
    "datetime_from_date_parsing": "must be a date and time (ISO 8601)", "date_type": "must be a date",
    "date_parsing": "must be a date (ISO 8601)", "date_from_datetime_parsing": "must be a date (ISO 8601)",
    "date_from_datetime_inexact": "must be a date without a time", "time_type": "must be a time",
    "time_parsing": "must be a time (ISO 8601)", "time_delta_type": "must be a duration",
    "time_delta_parsing": "must be a duration (seconds or ISO 8601)", "list_type": "must be a JSON list", "set_type": "must be a JSON list", "dict_type": "must be a JSON object",
    "model_type": "must be an object of settings",
    "literal_error": "is not one of the choices {expected}", "enum": "is not one of the choices {expected}",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "string_pattern_mismatch": "must match the pattern {pattern!r}",
    "too_short": "must have at least {min_length} items", "too_long": "must have at most {max_length} items",
    "missing": "is missing (too few items)",
}


def _message(error: Mapping[str, Any], field: Mapping[str, Any], value: Any) -> str:
    template = _RULE_WORDS.get(error["type"])
    context = dict(error.get("ctx") or {})
    where = [part for part in error.get("loc", ()) if not isinstance(part, str) or part not in _INTERNAL_LOC]
    if not where:  # the value itself: name the bounds as the form states them (0, not 0.0)
        stated = {"gt": field.get("min"), "ge": field.get("min"), "lt": field.get("max"), "le": field.get("max"),
                  "multiple_of": field.get("multipleOf"), "min_length": field.get("minLength"),
                  "max_length": field.get("maxLength"), "pattern": field.get("pattern")}
        context.update({key: value for key, value in stated.items() if key in context and value is not None})
    try:
        words = template.format(**context) if template else str(error["msg"])
    except (KeyError, IndexError):
        words = str(error["msg"])
    if where:  # an item of a list or a value of an object
        place = ".".join(repr(part) if isinstance(part, str) else str(part) for part in where)
        return f"item {place} {words}; got {_shown(error.get('input'))}"
    return f"{words}; got {_shown(value)}"


# Parts of pydantic's error locations that name its own schema steps, not a place in the value.
_INTERNAL_LOC = frozenset({"function-after", "constrained-int", "constrained-float", "constrained-str",
                           "nullable", "int", "float", "str", "bool", "list", "dict"})


def _shown(value: Any) -> str:
    """A short value as written (``0``, ``'abc'``); a long one only by its kind: messages never echo large input."""
    text = repr(value)
    if len(text) <= 30:
        return text
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name} of {len(text)} characters" if isinstance(value, int) \
        else f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _few(items: list[Any]) -> str:
    """Up to three items, each shown briefly."""
    return "[" + ", ".join(_shown(item) for item in items[:3]) + (", ...]" if len(items) > 3 else "]")


def _choice_values(field: Mapping[str, Any]) -> list[Any] | None:
    values = field.get("values")
    if not isinstance(values, list):
        return None
    # vue-form-generator also allows {"id": ..., "name": ...} or {"value": ..., "name": ...} choices.
    return [v.get("id", v.get("value")) if isinstance(v, Mapping) else v for v in values]


def _text_choices(choices: list[Any]) -> bool:
    """True when the job keeps text given for these choices as text (one of them is text), as it does for
    ``Literal["a", "b"]``; otherwise text is JSON (``"1"`` for ``Literal[1, 2]``)."""
    return any(isinstance(choice, str) for choice in choices)


def _check_choice(field: Mapping[str, Any], value: Any) -> tuple[str, str] | None:
    choices = _choice_values(field)
    if choices is None:
        return None
    candidate = value if _text_choices(choices) else _from_text(value)
    shape = _shape(field, "choice")
    accepted = candidate in choices if _adapter(shape) is None else _check(field, candidate, shape) is None
    if accepted:
        return None
    return "choice", f"{_shown(value)} is not accepted; {_accepted(field)}"


def _check_checklist(field: Mapping[str, Any], value: Any) -> tuple[str, str] | None:
    items = _from_text(value)
    if not isinstance(items, list):
        return "list_type", f"must be a list; {_accepted(field)}; got {_shown(value)}"
    choices = _choice_values(field)
    if choices is None:
        return _check(field, items, _shape(field, "list"))
    one = _shape(field, "choice")
    problem = _check(field, items, _shape(field, "list", inner={"values": choices}))
    if problem is not None and problem[0] in ("literal_error", "enum"):
        bad = [item for item in items if _check(field, item, one) is not None]
        return "choice", f"{_few(bad)} not accepted; {_accepted(field)}"
    return problem


def _accepted(field: Mapping[str, Any]) -> str:
    """What a field accepts, in words."""
    kind = field.get("type")
    if kind == INPUT and field.get("inputType") == NUMBER_INPUT:
        words = "an integer" if _number_type(field) == INTEGER else "a number"
        low, high = field.get("min"), field.get("max")
        rules = []
        if low is not None:
            rules.append(f"{'>' if field.get('exclusiveMin') else '>='} {low}")
        if high is not None:
            rules.append(f"{'<' if field.get('exclusiveMax') else '<='} {high}")
        if field.get("multipleOf") is not None:
            rules.append(f"a multiple of {field['multipleOf']}")
        return "accepted: " + words + (f" ({', '.join(rules)})" if rules else "")
    if kind in (SELECT, CHECKLIST):
        prefix = "one of" if kind == SELECT else "a list of items from"
        return f"accepted: {prefix} {_choice_values(field)!r}"
    if kind == CHECKBOX:
        return "accepted: true or false"
    if kind == TEXT_AREA and field.get("isJson"):
        return "accepted: JSON text"
    if field.get("format") in VALUE_FORMATS or (field.get("format") in _FORMATS and field.get("format") != PATH):
        return f"accepted: text of a {field['format']} value"
    return "accepted: text"
