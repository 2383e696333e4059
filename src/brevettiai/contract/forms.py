"""The settings form: its field vocabulary, and settings checked against it as the job would check them.

A form is ``{"fields": [...], "presets": {...}}`` (vue-form-generator style). Each field's ``model``
is a dotted path into the settings. The keys that constrain a value:

=================  ==========================================================================
``type``            ``input`` (``inputType`` ``number`` or ``text``), ``checkbox``, ``select``,
                    ``checklist``, ``textArea`` (``isJson``: the value is JSON text), ``label``
                    (opens a group; not a value)
``required``        the value must be present; ``nullable``: null/empty is accepted
``numberType``      ``integer`` or ``number`` (else: ``step: 1`` means integer)
``min``/``max``     number bounds, inclusive unless ``exclusiveMin``/``exclusiveMax`` is true
``multipleOf``      the number must be a multiple of it
``minLength``/      length of text (characters) or of a list (items)
``maxLength``
``pattern``         a regular expression the text must match (searched, as pydantic does)
``values``          the choices of a select or checklist
``jsonType``        ``array`` or ``object``: what the JSON text of a text area must hold
=================  ==========================================================================

Number, text and length rules are checked by pydantic with the same constraints the settings class
declares, so a value the form accepts is a value the job accepts, and the messages name the rule.
Keys no field describes are allowed: the job's own settings classes decide about them. Values may be
given as JSON text, as forms send them (``"5"`` for a number).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, cast

from brevettiai.contract.dotted import MISSING, get_path
from brevettiai.contract.jsontext import from_json_text, parse_json_text
from brevettiai.contract.jsontypes import JSONLike, JSONMapping, JSONObject, JSONValue

NUMBER_CONSTRAINTS = ("min", "max", "exclusiveMin", "exclusiveMax", "multipleOf", "numberType")
LENGTH_CONSTRAINTS = ("minLength", "maxLength", "pattern")


def number_field_constraints(bounds: Mapping[str, float], constraints: JSONMapping,
                             integer: bool) -> JSONObject:
    """The form keys of a number field with pydantic-style bounds (ge/gt/le/lt) and constraints."""
    field: JSONObject = {"numberType": "integer" if integer else "number",
                             "min": bounds.get("ge", bounds.get("gt")), "max": bounds.get("le", bounds.get("lt"))}
    if "gt" in bounds and "ge" not in bounds:
        field["exclusiveMin"] = True
    if "lt" in bounds and "le" not in bounds:
        field["exclusiveMax"] = True
    if constraints.get("multiple_of") is not None:
        field["multipleOf"] = cast(JSONValue, constraints["multiple_of"])
    return field


def length_field_constraints(constraints: JSONMapping) -> JSONObject:
    """The form keys of a text or list field's length and pattern constraints."""
    names = {"min_length": "minLength", "max_length": "maxLength", "pattern": "pattern"}
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
    for field in cast(Iterable[JSONLike], (schema or {}).get("fields") or []):
        if not isinstance(field, Mapping) or not isinstance(field.get("model"), str) or field.get("type") == "label":
            continue
        path = cast(str, field["model"])
        problem = check_value(field, lookup(settings, path))
        if problem:
            errors.append({"loc": ["settings", path], "msg": problem[1], "type": f"value_error.{problem[0]}"})
    return errors


def check_value(field: JSONMapping, value: object) -> tuple[str, str] | None:
    """What is wrong with one value as ``(rule, message)``, or None. Rules are pydantic's error types
    (``greater_than``, ``multiple_of``, ``string_too_short``, ...) or ``missing``/``choice``/``json``."""
    kind = field.get("type")
    is_text = (kind == "input" and field.get("inputType", "text") != "number") or kind == "textArea"
    if value is MISSING:
        return ("missing", "is required") if field.get("required") else None
    if value is None or (value == "" and not is_text):
        if field.get("nullable"):
            return None
        if field.get("required"):
            return "missing", "is required"
        return "missing", f"cannot be empty; {_accepted(field)}"
    if kind == "input" and field.get("inputType") == "number":
        return _check_with_pydantic(field, _from_text(value), _number_type(field))
    if kind == "checkbox":
        parsed = _from_text(value)
        return None if isinstance(parsed, bool) else ("bool_type", f"must be true or false; got {_shown(value)}")
    if kind == "select":
        return _check_choice(field, value)
    if kind == "checklist":
        items = _from_text(value)
        if not isinstance(items, list):
            return "list_type", f"must be a list; {_accepted(field)}; got {_shown(value)}"
        choices = _choice_values(field)
        bad = [item for item in items if choices is not None and item not in choices]
        if bad:
            return "choice", f"{_few(bad)} not accepted; {_accepted(field)}"
        return _check_with_pydantic(field, items, list)
    if kind == "textArea" and field.get("isJson"):
        parsed = value
        if isinstance(value, str):
            try:
                parsed = parse_json_text(value)
            except ValueError as exc:
                return "json", f"must be JSON text; {exc}"
        expected = {"array": list, "object": dict}.get(str(field.get("jsonType")))
        if expected is not None and not isinstance(parsed, expected):
            words = "a JSON list" if expected is list else "a JSON object"
            return f"{expected.__name__}_type", f"must be {words}; got {_shown(value)}"
        if isinstance(parsed, list | dict):
            return _check_with_pydantic(field, parsed, list if isinstance(parsed, list) else dict)
        return None
    if is_text:
        if not isinstance(value, str):
            return "string_type", f"must be text; got {_shown(value)}"
        return _check_with_pydantic(field, value, str)
    return None


def _number_type(field: Mapping[str, Any]) -> type:
    declared = field.get("numberType")
    if declared in ("integer", "number"):
        return int if declared == "integer" else float
    step = field.get("step")
    return int if isinstance(step, int) and not isinstance(step, bool) and step == 1 else float


_from_text = from_json_text


def _constraint_items(field: Mapping[str, Any], value_type: type) -> tuple[tuple[str, Any], ...]:
    """The pydantic constraints a form field states, as a hashable tuple."""
    items: dict[str, Any] = {}
    if value_type in (int, float):
        low, high = field.get("min"), field.get("max")
        if _is_number(low):
            items["gt" if field.get("exclusiveMin") else "ge"] = low
        if _is_number(high):
            items["lt" if field.get("exclusiveMax") else "le"] = high
        if _is_number(field.get("multipleOf")) and field["multipleOf"] > 0:
            items["multiple_of"] = field["multipleOf"]
    else:
        for form_key, key in (("minLength", "min_length"), ("maxLength", "max_length")):
            if isinstance(field.get(form_key), int) and not isinstance(field[form_key], bool):
                items[key] = field[form_key]
        if value_type is str and isinstance(field.get("pattern"), str):
            items["pattern"] = field["pattern"]
    return tuple(sorted(items.items()))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@functools.lru_cache(maxsize=512)
def _adapter(value_type: type, constraints: tuple[tuple[str, Any], ...]) -> Any:
    from pydantic import Field, TypeAdapter

    generic: dict[type, Any] = {list: list[Any], dict: dict[str, Any]}
    annotation = generic.get(value_type, value_type)
    constrained: Any = Annotated[annotation, Field(**dict(constraints))]
    try:
        return TypeAdapter(constrained)
    except Exception:  # a form with an unusable constraint (a broken pattern): check the type alone
        return TypeAdapter(annotation)


def _check_with_pydantic(field: Mapping[str, Any], value: Any, value_type: type) -> tuple[str, str] | None:
    from pydantic import ValidationError

    adapter = _adapter(value_type, _constraint_items(field, value_type))
    if value_type is float and isinstance(value, float) and not math.isfinite(value):
        return "finite_number", f"must be a finite number; {_accepted(field)}; got {_shown(value)}"
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        return error["type"], _message(error, field, value)
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
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "string_pattern_mismatch": "must match the pattern {pattern!r}",
    "too_short": "must have at least {min_length} items", "too_long": "must have at most {max_length} items",
}


def _message(error: Mapping[str, Any], field: Mapping[str, Any], value: Any) -> str:
    template = _RULE_WORDS.get(error["type"])
    context = dict(error.get("ctx") or {})
    stated = {"gt": field.get("min"), "ge": field.get("min"), "lt": field.get("max"), "le": field.get("max"),
              "multiple_of": field.get("multipleOf"), "min_length": field.get("minLength"),
              "max_length": field.get("maxLength"), "pattern": field.get("pattern")}
    context.update({key: value for key, value in stated.items() if key in context and value is not None})
    try:
        words = template.format(**context) if template else str(error["msg"])
    except (KeyError, IndexError):
        words = str(error["msg"])
    return f"{words}; got {_shown(value)}"


def _shown(value: Any) -> str:
    """A short value as written (``0``, ``'abc'``); a long one only by its kind: messages never echo large input."""
    text = repr(value)
    if len(text) <= 30:
        return text
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    kinds: dict[type, str] = {list: f"a list of {len(value)} items", dict: "an object"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _few(items: list[Any]) -> str:
    """Up to three items, each shown briefly."""
    return "[" + ", ".join(_shown(item) for item in items[:3]) + (", ...]" if len(items) > 3 else "]")


def _choice_values(field: Mapping[str, Any]) -> list[Any] | None:
    values = field.get("values")
    if not isinstance(values, list):
        return None
    # vue-form-generator also allows {"id": ..., "name": ...} or {"value": ..., "name": ...} choices.
    return [v.get("id", v.get("value")) if isinstance(v, Mapping) else v for v in values]


def _check_choice(field: Mapping[str, Any], value: Any) -> tuple[str, str] | None:
    choices = _choice_values(field)
    if choices is None or value in choices or _from_text(value) in choices:
        return None
    return "choice", f"{_shown(value)} is not accepted; {_accepted(field)}"


def _accepted(field: Mapping[str, Any]) -> str:
    """What a field accepts, in words."""
    kind = field.get("type")
    if kind == "input" and field.get("inputType") == "number":
        words = "an integer" if _number_type(field) is int else "a number"
        low, high = field.get("min"), field.get("max")
        rules = []
        if low is not None:
            rules.append(f"{'>' if field.get('exclusiveMin') else '>='} {low}")
        if high is not None:
            rules.append(f"{'<' if field.get('exclusiveMax') else '<='} {high}")
        if field.get("multipleOf") is not None:
            rules.append(f"a multiple of {field['multipleOf']}")
        return "accepted: " + words + (f" ({', '.join(rules)})" if rules else "")
    if kind in ("select", "checklist"):
        prefix = "one of" if kind == "select" else "a list of items from"
        return f"accepted: {prefix} {_choice_values(field)!r}"
    if kind == "checkbox":
        return "accepted: true or false"
    if kind == "textArea" and field.get("isJson"):
        return "accepted: JSON text"
    return "accepted: text"
