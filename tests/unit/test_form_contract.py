"""The settings form and the job agree: a value the form accepts is a value the job's settings class accepts.

A hypothesis property test generates settings classes (int, float, str and list fields with random
bounds, exclusive bounds, multiples, lengths and patterns) and values, then checks the platform's form
validation (`brevettiai.contract.forms.validate_settings` on the class's exported form) against the
job's own parsing (`parse_settings`): both accept, or both refuse and name the same rule.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, create_model

from brevettiai import JobSettings
from brevettiai.contract.forms import validate_settings
from brevettiai.errors import SettingsError
from brevettiai.settings import parse_settings

# pydantic's error type -> words its message uses (the job shows pydantic's message)
_RULE_PHRASES = {
    "greater_than": "greater than", "greater_than_equal": "greater than or equal", "less_than": "less than",
    "less_than_equal": "less than or equal", "multiple_of": "multiple of", "int_from_float": "valid integer",
    "int_parsing": "valid integer", "int_type": "valid integer", "float_parsing": "valid number",
    "float_type": "valid number", "string_too_short": "at least", "string_too_long": "at most",
    "string_pattern_mismatch": "match pattern", "too_short": "at least", "too_long": "at most",
    "string_type": "valid string", "list_type": "valid list",
}


def _bounds(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    low = st.one_of(st.just({}), values.map(lambda v: {"ge": v}), values.map(lambda v: {"gt": v}))
    high = st.one_of(st.just({}), values.map(lambda v: {"le": v}), values.map(lambda v: {"lt": v}))
    return st.tuples(low, high).map(lambda pair: {**pair[0], **pair[1]})


int_fields = st.tuples(st.just(int), st.tuples(_bounds(st.integers(-50, 50)),
                                               st.one_of(st.just({}), st.integers(1, 12).map(lambda m: {"multiple_of": m})))
                       .map(lambda pair: {**pair[0], **pair[1]}))
float_fields = st.tuples(st.just(float), st.tuples(
    _bounds(st.sampled_from([-10, -1.5, 0, 0.5, 1, 2.25, 10])),
    st.one_of(st.just({}), st.sampled_from([0.1, 0.25, 0.5, 2.5, 3]).map(lambda m: {"multiple_of": m})))
    .map(lambda pair: {**pair[0], **pair[1]}))
str_fields = st.tuples(st.just(str), st.fixed_dictionaries({}, optional={
    "min_length": st.integers(0, 4), "max_length": st.integers(0, 6),
    "pattern": st.sampled_from(["^[a-z]+$", r"\d", "^ab", "b$"])}))
list_fields = st.tuples(st.just(list[int]), st.fixed_dictionaries({}, optional={
    "min_length": st.integers(0, 3), "max_length": st.integers(0, 4)}))

numbers = st.one_of(st.integers(-60, 60), st.floats(-60, 60, allow_nan=False, allow_infinity=False),
                    st.integers(-20, 20).map(lambda k: k * 0.5), st.integers(-20, 20).map(lambda k: k * 0.1))
values = st.one_of(
    numbers, numbers.map(lambda n: json.dumps(n)), st.text("ab1 9", max_size=7), st.booleans(), st.none(),
    st.lists(st.integers(-3, 3), max_size=5), st.lists(st.integers(-3, 3), max_size=5).map(json.dumps),
)


def _job_verdict(cls: type, value: Any) -> str | None:
    """None when the job accepts the value; else the job's message."""
    try:
        parse_settings(cls, {"x": value}, [])
    except SettingsError as exc:
        return str(exc)
    return None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.one_of(int_fields, float_fields, str_fields, list_fields), value=values)
def test_the_form_accepts_exactly_what_the_job_accepts(field: tuple[Any, dict[str, Any]], value: Any) -> None:
    annotation, constraints = field
    cls = create_model("Generated", __base__=JobSettings, x=(annotation, Field(None, **constraints)))
    form = cls.get_schema()
    problems = validate_settings(form, {"x": value})
    job_message = _job_verdict(cls, value)
    form_accepts, job_accepts = not problems, job_message is None
    assert form_accepts == job_accepts, (constraints, value, problems, job_message)
    contradictory = constraints.get("min_length", 0) > constraints.get("max_length", 10**9)
    if problems and value is not None and not contradictory:  # min > max: any rule may be named first
        rule = problems[0]["type"].removeprefix("value_error.")
        phrase = _RULE_PHRASES.get(rule)
        if phrase is not None:
            assert phrase in job_message.lower(), (rule, problems, job_message)


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
