"""The settings form and the job agree: a value the form accepts is a value the job's settings class accepts.

A hypothesis property test generates settings classes and settings, then checks the platform's form
validation (`brevettiai.contract.forms.validate_settings` on the class's exported form) against the
job's own parsing (`parse_settings`): both accept, or both refuse and name the same rule.

The classes are of the three kinds the SDK reads (pydantic models, standard dataclasses and plain
classes with a typed ``__init__``), with one to three fields and sometimes a nested group (required or
not, Optional or not; given, omitted or null). Fields are int/float (bounds, exclusive bounds,
multiples, ``allow_inf_nan=False``), str (lengths, patterns), bool, Literal and Enum selects,
``int | float``, Path, lists of int/float/str/bool/Literal/Enum (item constraints too), dicts of int/str,
each maybe Optional (constraints outside or inside the Optional), required or defaulting to None, given
or omitted. Values are mostly of about the right kind (so bounds decide) and sometimes anything: NaN
and infinities (as floats and as JSON text), wrongly typed list items, choices, JSON text, "" and None.
`test_the_property_test_covers_what_it_claims` prints the figures and fails when a kind of outcome is
barely seen.

One deliberate difference: a Python float NaN/inf cannot be stored by the platform (settings are JSON,
which has no NaN or Infinity), so the form refuses it even where the class allows non-finite numbers,
and says so; the same value given as text (``"Infinity"``, ``"1e400"``, ``"[NaN]"``) is stored as text and
the form then agrees with the job. For such values the test checks "form accepts" implies "job accepts".
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import ipaddress
import itertools
import json
import math
import pathlib
import time
import types
import typing
import uuid
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import Field, StringConstraints, create_model

from brevettiai import JobSettings
from brevettiai.contract.forms import VALUE_FORMATS, validate_settings
from brevettiai.errors import SettingsError
from brevettiai.settings import parse_settings
from brevettiai.settings.module import Module
from brevettiai.settings.schema import form_schema

# pydantic's error type -> words its message uses (the job shows pydantic's message)
_RULE_PHRASES = {
    "greater_than": "greater than", "greater_than_equal": "greater than or equal", "less_than": "less than",
    "less_than_equal": "less than or equal", "multiple_of": "multiple of", "int_from_float": "valid integer",
    "int_parsing": "valid integer", "int_type": "valid integer", "float_parsing": "valid number",
    "float_type": "valid number", "finite_number": "finite number", "string_too_short": "at least",
    "string_too_long": "at most", "string_pattern_mismatch": "match pattern", "too_short": "at least",
    "too_long": "at most", "string_type": "valid string", "list_type": "valid list", "dict_type": "valid dictionary",
    "bool_type": "valid boolean", "bool_parsing": "valid boolean", "literal_error": "input should be",
    "enum": "input should be", "choice": "input should be", "missing": "required",
    "decimal_max_digits": "digit", "decimal_max_places": "decimal place", "decimal_whole_digits": "before the decimal point",
    "decimal_parsing": "valid decimal", "decimal_type": "decimal", "uuid_parsing": "valid uuid",
    "uuid_type": "uuid input", "set_type": "set", "ip_v4_address": "ipv4", "ip_v6_network": "ipv6", "tuple_type": "valid tuple",
    "model_type": "instance", "path_type": "valid path", "date_from_datetime_inexact": "zero time",
    "datetime_parsing": "valid datetime", "datetime_from_date_parsing": "valid datetime", "datetime_type": "valid datetime",
    "date_parsing": "valid date", "date_from_datetime_parsing": "valid date", "date_type": "valid date",
    "time_parsing": "valid time", "time_type": "valid time", "time_delta_parsing": "valid timedelta",
    "time_delta_type": "valid timedelta",
}


class Color(enum.Enum):
    red = "red"
    blue = "blue"


class Level(enum.IntEnum):
    low = 1
    high = 2


def _bounds(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    low = st.one_of(st.just({}), values.map(lambda v: {"ge": v}), values.map(lambda v: {"gt": v}))
    high = st.one_of(st.just({}), values.map(lambda v: {"le": v}), values.map(lambda v: {"lt": v}))
    return st.tuples(low, high).map(lambda pair: {**pair[0], **pair[1]})


def _merged(*parts: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(*parts).map(lambda dicts: {k: v for d in dicts for k, v in d.items()})


_maybe = st.one_of  # readability: _maybe(st.just({}), ...)
_strict = st.sampled_from([{}, {}, {}, {"strict": True}])
int_fields = st.tuples(st.just(int), _merged(
    _bounds(st.integers(-50, 50)), _maybe(st.just({}), st.integers(1, 12).map(lambda m: {"multiple_of": m})), _strict))
float_fields = st.tuples(st.just(float), _merged(
    _bounds(st.sampled_from([-10, -1.5, 0, 0.5, 1, 2.25, 10])),
    _maybe(st.just({}), st.sampled_from([0.1, 0.25, 0.5, 2.5, 3]).map(lambda m: {"multiple_of": m})),
    _maybe(st.just({}), st.just({"allow_inf_nan": False})), _strict))
str_fields = st.tuples(st.just(str), st.fixed_dictionaries({}, optional={"strict": st.just(True),
    "min_length": st.integers(0, 4), "max_length": st.integers(0, 6),
    "pattern": st.sampled_from(["^[a-z]+$", r"\d", "^ab", "b$"]), "strip_whitespace": st.just(True),
    "to_lower": st.just(True), "to_upper": st.just(True)}))
decimal_fields = st.tuples(st.just(decimal.Decimal), _merged(
    _bounds(st.sampled_from([-1, 0, decimal.Decimal("0.5"), 2, decimal.Decimal("10.25")])),
    st.fixed_dictionaries({}, optional={"max_digits": st.integers(1, 4), "decimal_places": st.integers(0, 2),
                                        "multiple_of": st.sampled_from([decimal.Decimal("0.5"), 2])})))
_DAYS = [datetime.date(2020, 1, 1), datetime.date(2020, 1, 2), datetime.date(2021, 6, 1)]
date_fields = st.one_of(st.tuples(st.just(datetime.date), _bounds(st.sampled_from(_DAYS))),
                        st.tuples(st.just(datetime.timedelta),
                                  _bounds(st.sampled_from([datetime.timedelta(0), datetime.timedelta(hours=1)]))))
# types the form states exactly (a format pydantic checks, per-position tuples) ...
value_fields = st.tuples(
    st.sampled_from([uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Network, tuple[int, int],
                     tuple[int, Annotated[float, Field(gt=0)]], tuple[str, bool], list[tuple[int, str]]]),
    st.just({}))
# ... and types it cannot state: only the job checks them (the form must then never refuse what the job takes)
JOB_ONLY = (dict[int, str], bytes, Union[int, str], Union[int, Annotated[float, Field(gt=0)]])  # noqa: UP007
job_only_fields = st.tuples(st.sampled_from(JOB_ONLY), st.just({}))
list_fields = st.tuples(
    st.sampled_from([list[int], list[str], list[float], list[bool], list[Literal["a", "b"]], list[Color],
                     list[Annotated[int, Field(ge=0, multiple_of=2)]], list[Annotated[str, Field(min_length=1)]],
                     list[Optional[float]], list[Annotated[float, Field(allow_inf_nan=False)]],
                     list[list[int]], dict[str, list[str]], set[int], frozenset[str], list[set[int]]]),
    st.fixed_dictionaries({}, optional={"min_length": st.integers(0, 3), "max_length": st.integers(0, 4)}))
plain_fields = st.tuples(
    st.sampled_from([bool, Literal["a", "b"], Literal[1, 2, 3], Color, Level, dict[str, int], dict[str, str],
                     int | float, pathlib.Path, Annotated[bool, Field(strict=True)], datetime.datetime,
                     datetime.date, datetime.time, datetime.timedelta]),
    st.just({}))
field_types = st.one_of(int_fields, float_fields, str_fields, list_fields, plain_fields,
                        st.one_of(decimal_fields, date_fields, value_fields, value_fields, job_only_fields))

_NON_FINITE = [math.inf, -math.inf, math.nan]
numbers = st.one_of(st.integers(-60, 60), st.floats(-60, 60, allow_nan=False, allow_infinity=False),
                    st.integers(-20, 20).map(lambda k: k * 0.5), st.integers(-20, 20).map(lambda k: k * 0.1))
scalars = st.one_of(numbers, st.sampled_from(_NON_FINITE), st.text("ab1 9", max_size=7), st.booleans(),
                    st.sampled_from(["a", "b", "red", "blue", 1, 2, "true", "no"]))
values = st.one_of(
    scalars, st.none(), st.just(""),
    numbers.map(json.dumps), st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "inf"]),
    st.lists(st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "1", "red"]), st.booleans(),
                       st.sampled_from([0.5, *_NON_FINITE])), max_size=4),
    st.lists(st.integers(-3, 3), max_size=5).map(json.dumps), st.sampled_from(['["a", "b"]', '[1, "a"]', "[NaN]"]),
    st.dictionaries(st.sampled_from(["k", "m"]), st.one_of(st.integers(-3, 3), st.just("v")), max_size=2),
    st.just('{"k": 1}'),
)
OMITTED = object()  # the settings do not give the field


def _fitting(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of about the right kind for `annotation` (so that many settings pass and bounds decide)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _fitting(args[0])
    if origin in (Union, types.UnionType):
        return st.one_of([_fitting(arg) for arg in args])
    if annotation is type(None):
        return st.none()
    if annotation is pathlib.Path:
        return st.text("ab/1.", max_size=7)
    if annotation in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta):
        return st.sampled_from(["2020-01-02T03:04:05", "2020-01-02", "03:04:05", "P1D", "PT5M", "3600", 3600, 1.5,
                                "2020-13-01", "yesterday", "", "2020-01-02T00:00:00Z", 0])
    if annotation is decimal.Decimal:
        return st.one_of(numbers, numbers.map(json.dumps), st.sampled_from(["abc", "NaN", "0.125", "12.5", "-0.5"]))
    if annotation is uuid.UUID:
        return st.sampled_from([str(uuid.UUID(int=7)), "nope", "", 7, "1234", str(uuid.UUID(int=7)).upper()])
    if annotation in (ipaddress.IPv4Address, ipaddress.IPv6Network):
        return st.sampled_from(["1.2.3.4", "::/0", "::1", "256.0.0.1", "2001:db8::/32", "x", 3, ""])
    if annotation is bytes:
        return st.sampled_from(["abc", "", 1, "[1]"])
    if origin is tuple:
        entries = st.tuples(*[_fitting(arg) for arg in args]).map(list)
        sized = st.one_of(entries, st.lists(_fitting(args[0]), max_size=3))
        return st.one_of(sized, sized.map(json.dumps))
    if annotation in (int, float):
        non_finite = st.sampled_from(_NON_FINITE)
        return st.one_of(numbers, numbers.map(json.dumps), non_finite, non_finite.map(json.dumps))
    if annotation is str:
        return st.text("ab1 9zA", max_size=7)
    if annotation is bool:
        return st.one_of(st.booleans(), st.sampled_from(["true", "false", "yes", "off", 0, 1, "1"]))
    if origin is Literal:
        return st.sampled_from(args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from([member.value for member in annotation])
    if origin in (list, set, frozenset):
        items = st.lists(_fitting(args[0]), max_size=4)
        return st.one_of(items, items.map(json.dumps))
    if origin is dict:
        entries = st.dictionaries(st.sampled_from(["k", "m", "1"]), _fitting(args[1]), max_size=2)
        return st.one_of(entries, entries.map(json.dumps))
    return values


@dataclasses.dataclass(frozen=True)
class FieldDef:
    annotation: Any
    constraints: tuple[tuple[str, Any], ...]
    optional: bool
    required: bool
    inside: bool = False  # Optional[Annotated[X, Field(...)]] rather than Annotated[Optional[X], Field(...)]

    def typed(self) -> Any:
        """The annotation with its constraints, as a user would write it for any class kind."""
        options = dict(self.constraints)
        # Field does not take text transforms: StringConstraints does (and the lengths and pattern after them)
        rule = StringConstraints(**options) if {"strip_whitespace", "to_lower", "to_upper"} & set(options) \
            else Field(**options)
        if self.inside and self.constraints and self.optional:
            return Optional[Annotated[self.annotation, rule]]  # noqa: UP045
        base = Optional[self.annotation] if self.optional else self.annotation  # noqa: UP045 - a runtime value
        return Annotated[base, rule] if options else base


field_defs = st.builds(lambda pair, optional, required, inside: FieldDef(pair[0], tuple(sorted(pair[1].items())),
                                                                         optional, required, inside),
                       field_types, st.booleans(), st.sampled_from([False, False, False, True]), st.booleans())
_names = itertools.count()


def _make_class(kind: str, defs: dict[str, FieldDef], nested: dict[str, FieldDef]) -> type:
    """A settings class of `kind` with fields `defs` and groups `nested` (None the default of those not
    required)."""
    name = f"Generated{next(_names)}"
    every = {**defs, **nested}
    if kind == "pydantic":
        spec: dict[str, Any] = {n: (d.typed(), ... if d.required else None) for n, d in every.items()}
        return create_model(name, __base__=JobSettings, **spec)
    if kind == "dataclass":
        fields: list[Any] = [(n, d.typed(), dataclasses.field() if d.required else dataclasses.field(default=None))
                             for n, d in every.items()]
        return dataclasses.make_dataclass(name, fields, kw_only=True)
    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=d.typed(),
                                default=inspect.Parameter.empty if d.required else None) for n, d in every.items()]

    def __init__(self: Any, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)

    __init__.__signature__ = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
                                                *params])  # type: ignore[attr-defined]
    __init__.__annotations__ = {p.name: p.annotation for p in params}
    return type(name, (Module,), {"__init__": __init__})


@st.composite
def cases(draw: st.DrawFn) -> tuple[type, dict[str, Any], str]:
    """A settings class and the settings given to it."""
    kind = draw(st.sampled_from(["pydantic", "dataclass", "plain"]))
    top = draw(st.lists(field_defs, min_size=1, max_size=3))
    inner = draw(st.lists(field_defs, min_size=0, max_size=2))
    group = FieldDef(_make_class(kind, {f"y{i}": d for i, d in enumerate(inner)}, {}), (), draw(st.booleans()),
                     draw(st.booleans()))
    nested = {"sub": group} if inner else {}
    # a list of settings objects (list[ItemSettings]) in a quarter of the classes: each costs a class more
    item_defs = draw(st.lists(field_defs, min_size=1, max_size=2)) if draw(st.integers(0, 3)) == 3 else []
    if item_defs:
        item_cls = _make_class(kind, {f"z{i}": d for i, d in enumerate(item_defs)}, {})
        nested["items"] = FieldDef(list[item_cls], (), draw(st.booleans()), False)  # type: ignore[valid-type]
    cls = _make_class(kind, {f"x{i}": d for i, d in enumerate(top)}, nested)
    given: dict[str, Any] = {}
    if item_defs:
        item = st.fixed_dictionaries({}, optional={f"z{i}": st.one_of(_fitting(d.annotation), values)
                                                   for i, d in enumerate(item_defs)})
        items = st.lists(st.one_of(item, item, item, values), max_size=3)
        given["items"] = draw(st.one_of(items, items.map(json.dumps), values))
        event("a list of settings objects")
    group_given = draw(st.sampled_from(["object", "object", "object", "text", "omitted", "null", "null text",
                                        "empty"])) if inner else "omitted"
    if group_given in ("null", "null text", "empty"):
        given["sub"] = {"null": None, "null text": "null", "empty": ""}[group_given]
    for prefix, defs, target in (("x", top, given), ("y", inner, given.setdefault("sub", {}) if group_given in ("object", "text")
                                                    else {})):
        for i in range(len(defs)):
            pick = draw(st.integers(0, 5))  # mostly a value of about the right kind, sometimes anything or nothing
            value = draw(_fitting(defs[i].annotation) if pick < 4 else values) if pick < 5 else OMITTED
            if value is not OMITTED:
                target[f"{prefix}{i}"] = value
    if group_given == "text":  # the group as JSON text, as API clients and records may send it
        sub = given.setdefault("sub", {})
        given["sub"] = json.dumps(sub) if not _non_finite(sub) and _json_safe(sub) else sub
    event(f"class kind: {kind}")
    if inner:
        event(f"group: {'Optional ' if group.optional else ''}{'required ' if group.required else ''}{group_given}")
    for d in [*top, *inner]:
        event(f"field: {'Optional ' if d.optional else ''}{getattr(d.annotation, '__name__', d.annotation)}")
    return cls, given, kind


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _job_verdict(cls: type, given: dict[str, Any]) -> str | None:
    """None when the job accepts the settings; else the job's message."""
    try:
        parse_settings(cls, given, [])
    except SettingsError as exc:
        return str(exc)
    return None


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


FIGURES: dict[str, int] = {"examples": 0, "form accepts": 0, "form refuses": 0, "unstorable": 0,
                           "job accepts only": 0, "rule checks": 0, "job-only fields": 0,
                           "job refuses what the form took": 0}
CLASSES: set[str] = set()


@pytest.mark.filterwarnings("ignore:__int__ returned non-int:DeprecationWarning")  # ipaddress given true
@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_the_form_accepts_exactly_what_the_job_accepts(case: tuple[type, dict[str, Any], str]) -> None:
    cls, given, kind = case
    form = form_schema(cls)
    problems = validate_settings(form, given)
    job_message = _job_verdict(cls, given)
    form_accepts, job_accepts = not problems, job_message is None
    FIGURES["examples"] += 1
    FIGURES["form accepts" if form_accepts else "form refuses"] += 1
    CLASSES.add(json.dumps(form["fields"], sort_keys=True, default=str))
    if _non_finite(given):  # not storable: the form refuses, whatever the class says
        FIGURES["unstorable"] += 1
        FIGURES["job accepts only"] += job_accepts
        assert not form_accepts, (kind, form["fields"], given)
        if job_accepts:  # the form refuses only because the platform cannot store it, and says so
            assert any(p["type"] == "value_error.json_finite" and "as text" in p["msg"] for p in problems), problems
        return
    if '"jsonType": "any"' in json.dumps(form["fields"], default=str):  # a field only the job checks
        FIGURES["job-only fields"] += 1
        FIGURES["job refuses what the form took"] += form_accepts and not job_accepts
        assert job_accepts or form_accepts or job_message, (kind, form["fields"], given)
        assert form_accepts or not job_accepts, (kind, form["fields"], given, problems)  # never a wrong refusal
        return
    assert form_accepts == job_accepts, (kind, form["fields"], given, problems, job_message)
    if problems:
        phrases = [_RULE_PHRASES.get(p["type"].removeprefix("value_error.")) for p in problems]
        known = [p for p in phrases if p is not None]
        if known:
            FIGURES["rule checks"] += 1
            assert any(p in job_message.lower() for p in known), (kind, problems, job_message)


def test_the_property_test_covers_what_it_claims() -> None:
    """Run after the property test (same module): it saw enough of each outcome (figures for the report)."""
    if FIGURES["examples"] == 0:  # run alone: run the property first
        started = time.monotonic()
        test_the_form_accepts_exactly_what_the_job_accepts()
        FIGURES["seconds"] = round(time.monotonic() - started, 1)
    print(f"form contract figures: {FIGURES}, distinct classes: {len(CLASSES)}")
    assert FIGURES["form accepts"] > 100 and FIGURES["form refuses"] > 100
    assert FIGURES["unstorable"] > 20 and FIGURES["rule checks"] > 100
    assert FIGURES["job-only fields"] > 20


def test_the_form_states_exclusive_bounds_multiples_lengths_and_patterns() -> None:
    cls = create_model("Bounded", __base__=JobSettings,
                       rate=(float, Field(0.1, gt=0, lt=1)), size=(int, Field(224, ge=32, multiple_of=32)),
                       name=(str, Field("ab", min_length=2, max_length=8, pattern="^[a-z]+$")))
    fields = {f["model"]: f for f in cls.get_schema()["fields"]}
    assert fields["rate"] | {"min": 0, "exclusiveMin": True, "max": 1, "exclusiveMax": True} == fields["rate"]
    assert fields["size"]["multipleOf"] == 32 and fields["size"]["numberType"] == "integer"
    assert fields["name"] | {"minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$"} == fields["name"]
    schema = cls.get_schema()
    messages = {e["loc"][1]: e["msg"] for e in validate_settings(schema, {"rate": 0, "size": 225, "name": "A"})}
    assert messages == {"rate": "must be > 0; got 0", "size": "must be a multiple of 32; got 225",
                        "name": "must have at least 2 characters; got 'A'"}


class _Inner(JobSettings):
    lr: float = 0.1


@dataclasses.dataclass
class _Group:
    size: int = 1


class _Reviewed(JobSettings):
    """The types review 10b found the form accepting what the job refused (or refusing what it took)."""

    shape: tuple[int, int] = (224, 224)
    price: Annotated[decimal.Decimal, Field(gt=0, max_digits=4, decimal_places=2)] = decimal.Decimal("1.5")
    start: Annotated[datetime.date, Field(gt=datetime.date(2020, 1, 1))] = datetime.date(2021, 1, 1)
    code: Annotated[str, StringConstraints(min_length=2, strip_whitespace=True)] = "ab"
    run: uuid.UUID = uuid.UUID(int=1)
    host: ipaddress.IPv4Address = ipaddress.IPv4Address("127.0.0.1")
    codes: dict[int, str] = {}
    either: Union[int, str] = 1  # noqa: UP007 - what users write
    count: Optional[int] = None  # noqa: UP045
    opt: Optional[_Inner] = None  # noqa: UP045
    req: _Inner = _Inner()


@pytest.mark.parametrize(("given", "rule"), [
    ({"shape": "[1]"}, "missing"), ({"shape": [1, 2, 3]}, "too_long"), ({"shape": "[1, 2]"}, None),
    ({"price": 0}, "greater_than"), ({"price": "abc"}, "decimal_parsing"), ({"price": 123.4}, "decimal_whole_digits"),
    ({"price": "12.34"}, None), ({"start": "2019-01-01"}, "greater_than"), ({"start": "2020-01-02"}, None),
    ({"code": " a "}, "string_too_short"), ({"code": " ab "}, None),
    ({"run": "nope"}, "uuid_parsing"), ({"run": str(uuid.UUID(int=7))}, None),
    ({"host": "x"}, "ip_v4_address"), ({"host": "10.0.0.1"}, None),
    ({"count": "null"}, None), ({"opt": ""}, None), ({"opt": "null"}, None), ({"req": '{"lr": 1}'}, None),
    ({"req": '{"lr": "x"}'}, "float_parsing"), ({"req": "5"}, "model_type"),
])
def test_the_reviewed_types_are_checked_as_the_job_checks_them(given: dict[str, Any], rule: str | None) -> None:
    problems = validate_settings(form_schema(_Reviewed), given)
    assert [p["type"].removeprefix("value_error.") for p in problems][:1] == ([rule] if rule else [])
    assert (_job_verdict(_Reviewed, given) is None) == (rule is None), given


def test_types_the_form_cannot_state_are_left_to_the_job() -> None:
    fields = {f["model"]: f for f in form_schema(_Reviewed)["fields"] if "model" in f}
    assert fields["codes"]["jsonType"] == "any" and fields["either"]["jsonType"] == "any"
    assert fields["run"]["format"] == "uuid" and fields["host"]["format"] == "ipv4"
    assert fields["shape"]["itemSchemas"] == [{"valueType": "integer"}, {"valueType": "integer"}]
    assert validate_settings(form_schema(_Reviewed), {"codes": {"x": "a"}, "either": 1.5}) == []


def test_a_group_of_a_plain_class_refuses_what_is_not_an_object_in_the_job_too() -> None:
    @dataclasses.dataclass
    class Holder:
        group: _Group = None  # type: ignore[assignment]  # the seeds' style

    problems = validate_settings(form_schema(Holder), {"group": "5"})
    assert [p["type"] for p in problems] == ["value_error.model_type"]
    with pytest.raises(SettingsError, match=r"setting 'group': .*instance of _Group \(given: 5\)"):
        parse_settings(Holder, {"group": "5"}, [])
    assert parse_settings(Holder, {"group": '{"size": 2}'}, []).group == _Group(2)


def test_huge_integers_are_named_in_messages() -> None:
    form = {"fields": [{"type": "input", "inputType": "number", "numberType": "number", "max": 1, "model": "x"}]}
    assert validate_settings(form, {"x": 10**400})[0]["msg"].endswith("got an int of 401 characters")


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                                     st.text(max_size=4)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                           max_leaves=6)
any_field = st.fixed_dictionaries(
    {"type": st.sampled_from(["input", "checkbox", "select", "checklist", "textArea", "label", "other"]),
     "model": st.just("x")},
    optional={key: json_values for key in ("inputType", "numberType", "min", "max", "exclusiveMin", "multipleOf",
                                           "allowInfNan", "minLength", "maxLength", "pattern", "values", "nullable",
                                           "required", "isJson", "jsonType", "itemSchema", "valueSchema", "tag",
                                           "itemSchemas", "stripWhitespace", "maxDigits", "decimalPlaces")},
    ).flatmap(lambda field: st.sampled_from([None, "date", "duration", *VALUE_FORMATS]).map(
        lambda text_format: field if text_format is None else {**field, "format": text_format}))


@settings(max_examples=300, deadline=None)
@given(field=any_field, value=st.one_of(json_values, st.sampled_from(["[1, NaN]", "1e400", "{", "[[["])))
def test_any_stored_form_is_checked_without_failing(field: dict[str, Any], value: Any) -> None:
    """Model types' forms are stored JSON, written by hand too: whatever they hold, checking settings against
    them answers (problems or none) and never raises (a 500 on create)."""
    for problem in validate_settings({"fields": [field]}, {"x": value}):
        assert isinstance(problem["msg"], str) and problem["loc"][0] == "settings"
