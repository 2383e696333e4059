"""The settings form of a model type, drawn from its schema ``{"fields", "presets"}``, and read back.

Fields are vue-form-generator style, in the vocabulary of `brevettiai.contract.forms`: ``input``
(``inputType`` number or text), ``checkbox``, ``select``, ``checklist``, ``textArea`` (``isJson``), and
``label`` fields whose ``tag`` opens a nested group for the fields whose dotted ``model`` starts with it.
``visible: false`` marks an advanced field or group: it is folded away in a ``<details>``.
The server checks the values (`brevettiai.contract.forms`, through `brevettiai.server.jobs`);
this module only turns them into settings and shows its errors next to the fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from brevettiai.contract.dotted import MISSING, flatten, set_path
from brevettiai.contract.forms import (
    CHECKBOX,
    CHECKLIST,
    INPUT,
    INTEGER,
    LABEL,
    NUMBER_INPUT,
    SELECT,
    TEXT_AREA,
    lookup,
)
from brevettiai.contract.jsontext import from_json_text
from brevettiai.server.wire_checks import WireError, check

PREFIX = "settings."


@dataclass
class FormField:
    """One input of the settings form."""

    spec: dict[str, Any]
    model: str
    kind: str  # how it is drawn: number, text, json, textarea, or the field kind checkbox, select, checklist
    label: str
    help: str = ""
    required: bool = False
    nullable: bool = False
    advanced: bool = False
    value: Any = ""  # text for inputs, bool for checkboxes, a set of option values for checklists
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The form field name."""
        return PREFIX + self.model

    @property
    def html_id(self) -> str:
        """The element id (letters, digits and dashes)."""
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.model)

    @property
    def is_group(self) -> bool:
        return False

    def attr(self, key: str) -> Any:
        """A number bound (min, max, step) usable as an HTML attribute, else None."""
        value = self.spec.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
            return None
        return value


@dataclass
class FormGroup:
    """A labelled group of fields (a nested settings section), or the form's root."""

    label: str
    tag: str
    help: str = ""
    advanced: bool = False
    items: list[Any] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return True

    @property
    def html_id(self) -> str:
        return "g-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.tag or "root")

    @property
    def basic(self) -> list[Any]:
        """The items shown at once."""
        return [item for item in self.items if not item.advanced]

    @property
    def folded(self) -> list[Any]:
        """The advanced items, folded away."""
        return [item for item in self.items if item.advanced]

    @property
    def has_error(self) -> bool:
        """True when a field in it (at any depth) has an error: its folded part is then opened."""
        return any(item.has_error if item.is_group else item.error for item in self.items)

    @property
    def folded_has_error(self) -> bool:
        """True when an advanced item has an error: the folded part opens to show it."""
        return any(item.has_error if item.is_group else item.error for item in self.folded)

    def fields(self) -> list[FormField]:
        """Every field in it, depth first."""
        found: list[FormField] = []
        for item in self.items:
            found.extend(item.fields() if item.is_group else [item])
        return found


def _kind(spec: Mapping[str, Any]) -> str:
    """How the page draws a field of the form vocabulary (`brevettiai.contract.forms`)."""
    kind = spec.get("type")
    if kind == INPUT:
        return "number" if spec.get("inputType") == NUMBER_INPUT else "text"
    if kind in (CHECKBOX, SELECT, CHECKLIST):
        return str(kind)
    if kind == TEXT_AREA:
        return "json" if spec.get("isJson") else "textarea"
    return "text"


def _option(choice: Any) -> tuple[str, str]:
    """(submitted value, shown label) of a select or checklist choice."""
    if isinstance(choice, Mapping):
        value = choice.get("id", choice.get("value"))
        return json.dumps(value), str(choice.get("name", value))
    return json.dumps(choice), str(choice)


def _label(spec: Mapping[str, Any], fallback: str) -> str:
    label = spec.get("label")
    return str(label) if label not in (None, "") else fallback


def build_form(schema: Mapping[str, Any] | None, values: Mapping[str, Any], raw: Mapping[str, Any] | None = None,
               errors: Mapping[str, str] | None = None) -> FormGroup:
    """The form tree of a schema, showing `raw` (what the person typed) or else the settings `values`."""
    root = FormGroup(label="", tag="")
    stack = [root]
    raw = raw or {}
    errors = errors or {}
    for spec in (schema or {}).get("fields") or []:
        if not isinstance(spec, Mapping):
            continue
        spec = dict(spec)
        advanced = spec.get("visible") is False
        if spec.get("type") == LABEL:
            tag = spec.get("tag")
            if not isinstance(tag, str) or not tag:
                continue
            while len(stack) > 1 and not tag.startswith(stack[-1].tag + "."):
                stack.pop()
            group = FormGroup(label=_label(spec, tag), tag=tag, help=str(spec.get("help") or ""), advanced=advanced)
            stack[-1].items.append(group)
            stack.append(group)
            continue
        model = spec.get("model")
        if not isinstance(model, str) or not model:
            continue
        while len(stack) > 1 and not model.startswith(stack[-1].tag + "."):
            stack.pop()
        item = FormField(spec=spec, model=model, kind=_kind(spec), label=_label(spec, model.rsplit(".", 1)[-1]),
                         help=str(spec.get("help") or spec.get("hint") or ""), required=bool(spec.get("required")),
                         nullable=bool(spec.get("nullable")), advanced=advanced, error=errors.get(model))
        if item.kind in ("select", "checklist") and isinstance(spec.get("values"), list):
            item.options = [_option(choice) for choice in spec["values"]]
        item.value = _shown(item, raw[model] if model in raw else lookup(values, model))
        stack[-1].items.append(item)
    return root


def _shown(item: FormField, value: Any) -> Any:
    """A value as the input shows it."""
    if item.kind == "checkbox":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "on", "yes")
        return bool(value) if value is not MISSING else False
    if item.kind == "checklist":
        if isinstance(value, set):
            return value
        value = from_json_text(value)
        return {json.dumps(v) for v in value} if isinstance(value, list) else set()
    if value is MISSING or value is None:
        return ""
    if item.kind == "select":
        if isinstance(value, str) and value in {option for option, _ in item.options}:
            return value  # already the submitted JSON text
        return json.dumps(value)
    if item.kind == "json":
        return value if isinstance(value, str) else json.dumps(value, indent=2)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def initial_values(schema: Mapping[str, Any] | None, defaults: Mapping[str, Any] | None,
                   preset: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a new form shows: each field's default, the model type's defaults over it, then a preset."""
    values: dict[str, Any] = {}
    for spec in (schema or {}).get("fields") or []:
        if not isinstance(spec, Mapping) or spec.get("type") == LABEL or not isinstance(spec.get("model"), str):
            continue
        model = spec["model"]
        value: Any = lookup(defaults or {}, model)
        if value is MISSING:
            value = spec.get("default")
        if preset and model in preset:
            value = preset[model]
        set_path(values, model, value)
    return values


def read_form(form: Any, schema: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings a submitted form stands for, and what was typed (to show it again on errors).

    Values that do not parse are passed on as typed, so the server's validation names the problem.
    """
    settings: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for item in build_form(schema, {}).fields():
        name = item.name
        if item.kind == "checkbox":
            checked = form.get(name) is not None
            raw[item.model] = "true" if checked else "false"
            set_path(settings, item.model, checked)
            continue
        if item.kind == "checklist":
            chosen = [str(v) for v in form.getlist(name)]
            raw[item.model] = set(chosen)
            set_path(settings, item.model, [_json_or_text(v) for v in chosen])
            continue
        text = form.get(name)
        if text is None:
            continue  # not in the form at all: the model type's default applies
        text = str(text)
        raw[item.model] = text
        if item.kind in ("number", "json", "select"):
            if text.strip() == "":
                set_path(settings, item.model, None if item.nullable else "")
                continue
            set_path(settings, item.model, _json_or_text(text.strip() if item.kind == "number" else text))
        else:
            set_path(settings, item.model, None if (text == "" and item.nullable) else text)
    return settings, raw


def _json_or_text(text: str) -> Any:
    """The value typed text spells when the platform can store it, else the text as typed.

    Text JSON cannot hold ("NaN", "1e400", "[1, Infinity]") or the server would not store (an integer beyond
    64 bits) is kept as text: the job reads it as it would the same text on its command line, and the form's
    check (`brevettiai.contract.forms`) says whether the settings class takes it.
    """
    value = from_json_text(text, strict=True)
    if value is not text:
        try:
            check(value)
        except WireError:
            return text
    return value


# The settings table of a model page ------------------------------------------------------------------------

@dataclass
class SettingRow:
    """One row of the settings table: a group heading or a value."""

    label: str
    value: str = ""
    help: str = ""
    path: str = ""
    depth: int = 0
    heading: bool = False
    advanced: bool = False
    code: bool = False
    default: bool = False  # the job did not set it: the value is the form's default, which the job uses


def _format(value: Any) -> tuple[str, bool]:
    """Text of a setting's value, and whether it is shown as code."""
    if value is None:
        return "—", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, dict | list):
        return json.dumps(value, indent=None), True
    return str(value), False


def _value_text(item: FormField, value: Any) -> tuple[str, bool]:
    """A field's value as the settings tables show it (choices by their labels), and whether it is code."""
    if item.kind == "json" and isinstance(value, str):
        value = _json_or_text(value)
    if item.kind in ("select", "checklist") and item.options and value is not None:
        names = dict(item.options)
        values = value if isinstance(value, list) else [value]
        return ", ".join(names.get(json.dumps(v), str(v)) for v in values), False
    return _format(value)


def settings_rows(schema: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> list[SettingRow]:
    """The job's settings, labelled and explained by the model type's form; other keys at the end.

    A setting the job was not given shows the form's default (the value the job runs with), marked as such.
    """
    rows: list[SettingRow] = []
    covered: set[str] = set()

    def walk(group: FormGroup, depth: int) -> None:
        for item in group.items:
            if item.is_group:
                rows.append(SettingRow(label=item.label, help=item.help, path=item.tag, depth=depth, heading=True,
                                       advanced=item.advanced))
                walk(item, depth + 1)
                continue
            covered.add(item.model)
            value = lookup(settings, item.model)
            default = value is MISSING
            if default:
                value = item.spec.get("default")
            text, code = _value_text(item, value)
            rows.append(SettingRow(label=item.label, value=text, help=item.help, path=item.model, depth=depth,
                                   advanced=item.advanced, code=code, default=default))

    walk(build_form(schema, settings), 0)
    others = [(path, value) for path, value in flatten(settings).items()
              if path not in covered and not any(path.startswith(c + ".") for c in covered)]
    if others:
        rows.append(SettingRow(label="Other settings", heading=True,
                               help="Keys the model type's form does not describe"))
        for path, value in others:
            text, code = _format(value)
            rows.append(SettingRow(label=path, value=text, path=path, depth=1, code=code))
    return rows


def errors_by_field(detail: Any) -> tuple[dict[str, str], list[str]]:
    """A 422 answer's errors: those of settings fields by dotted path, and the others as sentences."""
    fields: dict[str, str] = {}
    general: list[str] = []
    if isinstance(detail, str):
        return fields, [detail]
    for error in detail or []:
        loc = [str(part) for part in error.get("loc", [])]
        message = str(error.get("msg", "is not valid"))
        if len(loc) >= 2 and loc[0] == "settings":
            fields.setdefault(loc[1], message)
        elif loc[:2] == ["body", "settings"]:
            general.append(f"Settings: {message}")
        else:
            where = loc[1] if len(loc) > 1 and loc[0] == "body" else ".".join(loc)
            general.append(f"{where}: {message}" if where else message)
    return fields, general


# The create form read, for a role that cannot create -------------------------------------------------------

KIND_TEXT = {"number": "number", "text": "text", "checkbox": "yes or no", "select": "one of the choices",
             "checklist": "any of the choices", "json": "JSON", "textarea": "text"}


@dataclass
class FieldDescription:
    """One row of a form described instead of drawn: a group heading or a field with its type, the value a
    new run starts from, and what the server accepts."""

    label: str
    path: str = ""
    depth: int = 0
    heading: bool = False
    advanced: bool = False
    help: str = ""
    kind: str = ""
    value: str = ""
    code: bool = False
    accepts: str = ""


def _bound(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)


def _accepts(item: FormField) -> str:
    """What the field takes, in words: bounds (exclusive ones as < and >) and step, the choices, required."""
    spec, parts = item.spec, []
    if item.kind == "number":
        low, high = _bound(spec.get("min")), _bound(spec.get("max"))
        bounds = ([f"{'>' if spec.get('exclusiveMin') else '≥'} {low}"] if low is not None else []) + \
                 ([f"{'<' if spec.get('exclusiveMax') else '≤'} {high}"] if high is not None else [])
        if bounds:
            parts.append(" and ".join(bounds))
        step = _bound(spec.get("step"))
        if step is not None and not (_whole(item) and step == "1"):
            parts.append(f"in steps of {step}")
    elif item.options:
        parts.append(", ".join(label for _, label in item.options))
    if item.required:
        parts.append("required")
    if item.nullable:
        parts.append("may be empty")
    return "; ".join(parts)


def _whole(item: FormField) -> bool:
    return item.kind == "number" and item.spec.get("numberType") == INTEGER


def describe_form(schema: Mapping[str, Any] | None, values: Mapping[str, Any]) -> list[FieldDescription]:
    """The settings form as rows to read: each group, and each field with its type, its value in `values` (what
    a new run starts from) and what it accepts."""
    rows: list[FieldDescription] = []

    def walk(group: FormGroup, depth: int) -> None:
        for item in group.items:
            if item.is_group:
                rows.append(FieldDescription(label=item.label, path=item.tag, depth=depth, heading=True,
                                             advanced=item.advanced, help=item.help))
                walk(item, depth + 1)
                continue
            value = lookup(values, item.model)
            text, code = _value_text(item, None if value is MISSING else value)
            kind = "whole number" if _whole(item) else KIND_TEXT.get(item.kind, item.kind)
            rows.append(FieldDescription(label=item.label, path=item.model, depth=depth, advanced=item.advanced,
                                         help=item.help, kind=kind, value=text, code=code, accepts=_accepts(item)))

    walk(build_form(schema, values), 0)
    return rows
