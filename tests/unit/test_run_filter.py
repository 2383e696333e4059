"""The runs table's filter language: what it parses to, and the errors a person sees (position, field,
close names). The SQL it becomes is tested on real SQLite and PostgreSQL in
tests/server/test_server_runs_table.py."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brevettiai.server.run_filter import (
    BoolOp,
    Compare,
    Field,
    FilterError,
    Not,
    TextSearch,
    close_names,
    parse,
    parse_columns,
    parse_field,
    parse_sort,
)


def test_the_example_of_the_issue_parses_into_four_typed_comparisons() -> None:
    text = 'settings.training.epochs > 10 and metrics.test_accuracy >= 0.8 and tag = "vials" and status = completed'
    assert parse(text) == BoolOp("and", (
        Compare(Field("settings", "training.epochs"), ">", (10.0,), 0),
        Compare(Field("metrics", "test_accuracy"), ">=", (0.8,), text.index("metrics")),
        Compare(Field("job", "tag"), "=", ("vials",), text.index("tag")),
        Compare(Field("job", "status"), "=", ("completed",), text.index("status"))))


def test_and_binds_before_or_and_parentheses_and_not_group() -> None:
    tree = parse("status = failed or name contains x and not (id = a or id = b)")
    assert isinstance(tree, BoolOp) and tree.op == "or"
    right = tree.items[1]
    assert isinstance(right, BoolOp) and right.op == "and"
    assert isinstance(right.items[1], Not) and isinstance(right.items[1].item, BoolOp)


def test_values_numbers_texts_words_booleans_and_times() -> None:
    tree = parse("settings.a in (1, -2.5e3, 'x y', word, true, false)")
    assert isinstance(tree, Compare) and tree.values == (1.0, -2500.0, "x y", "word", True, False)
    tree = parse("created >= 2026-11-30T14:05+01:00")
    assert isinstance(tree, Compare) and tree.values == (datetime.datetime(2026, 11, 30, 13, 5),)
    assert parse('name = "say \\"hi\\""') == Compare(Field("job", "name"), "=", ('say "hi"',), 0)
    assert parse("name == a") == parse("name = a") and parse("name <> a") == parse("name != a")


def test_field_not_in_and_not_contains_are_negations() -> None:
    assert parse("status not in (failed, lost)") == Not(Compare(Field("job", "status"), "in", ("failed", "lost"), 0))
    assert parse("name not contains tmp") == Not(Compare(Field("job", "name"), "contains", ("tmp",), 0))


def test_a_lone_word_or_text_searches_names_and_ids() -> None:
    assert parse("resnet") == TextSearch("resnet")
    assert parse('"wide resnet"') == TextSearch("wide resnet")
    assert parse("1b9f0c2e-aa") == TextSearch("1b9f0c2e-aa")
    assert parse("  model   04242 ") == TextSearch("model 04242")  # words without operators: a search
    with pytest.raises(FilterError, match="expected 'and', 'or'"):
        parse("model 04242 and")
    assert parse("   ") is None


def test_an_id_that_starts_like_a_number_or_a_date_is_one_value() -> None:
    for run_id in ("2024e123-5f1c-4c1e-9a44-0d9c1b2a7e31", "12345678-aaaa-4bbb-8ccc-000000000000", "2026-01-01-run"):
        assert parse(f"id = {run_id}") == Compare(Field("job", "id"), "=", (run_id,), 0), run_id
    assert parse("metrics.loss < 1e-3") == Compare(Field("metrics", "loss"), "<", (0.001,), 0)


def test_metric_series_parts_and_aliases() -> None:
    assert parse_field("metrics.loss.min") == Field("metrics", "loss", "min")
    assert parse_field("metrics.val.loss") == Field("metrics", "val.loss")
    assert parse_field("metrics.loss.count").label == "metrics.loss.count"
    assert parse_field("model_type") == Field("job", "type") and parse_field("tags") == Field("job", "tag")


@pytest.mark.parametrize(("text", "message"), [
    ("epochs > 10", "at character 1: unknown field 'epochs'"),
    ("setings.x > 1", "unknown field 'setings.x'; did you mean settings.x?"),
    ("stauts = failed", "did you mean status"),
    ("name = ", "at character 8: expected a value"),
    ("name = a and", "at character 13: expected a field"),
    ("(status = failed", "at character 17: expected ')'"),
    ('name = "open', "at character 8: the text starting here has no closing \""),
    ("name ~ a", "at character 6: unexpected '~'"),
    ("created > 5", "'created' is a time: compare it with a date"),
    ("created contains x", "'created' is a time"),
    ("status > failed", "'status' is text: use =, !=, contains or in"),
    ("name contains 5", "'contains' needs a text"),
    ("metrics.loss.count = many", "is a number of points"),
    ("status not = failed", "'not' goes before the field"),
    ("name in failed", "expected '(' and a list of values"),
    ("created > 2026-13-40", "'2026-13-40' is not a date or time"),
])
def test_errors_say_where_and_what(text: str, message: str) -> None:
    with pytest.raises(FilterError) as error:
        parse(text)
    assert message in str(error.value)


def test_sort_and_columns() -> None:
    assert parse_sort("metrics.acc desc").descending and parse_sort("-metrics.acc").descending
    assert not parse_sort("settings.lr asc").descending and parse_sort("") is None
    assert parse_sort("created").field == Field("job", "created")
    with pytest.raises(FilterError, match="'sideways' is not a direction"):
        parse_sort("name sideways")
    assert [f.label for f in parse_columns("settings.a, metrics.b.max,,settings.a")] == ["settings.a", "metrics.b.max"]
    with pytest.raises(FilterError, match="unknown field 'nope'"):
        parse_columns(["nope"])


def test_a_filter_too_long_or_too_deep_is_refused() -> None:
    with pytest.raises(FilterError, match="at most 4000"):
        parse("name = a or " * 400 + "name = b")
    with pytest.raises(FilterError, match="nested parentheses"):
        parse("(" * 60 + "name = a" + ")" * 60)


_fields = st.sampled_from(["name", "id", "status", "settings.a.b", "metrics.loss", "metrics.loss.min", "tag", "type"])
_values = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
                    st.text(max_size=8).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
                    st.sampled_from(["completed", "true", "false", "x_1"]))
_ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "contains"])


@st.composite
def _filters(draw: st.DrawFn, depth: int = 0) -> str:
    if depth < 3 and draw(st.booleans()):
        left, right = draw(_filters(depth + 1)), draw(_filters(depth + 1))
        return draw(st.sampled_from([f"{left} and {right}", f"{left} or {right}", f"not ({left})", f"({left})"]))
    return f"{draw(_fields)} {draw(_ops)} {draw(_values)}"


@settings(max_examples=300, deadline=None)
@given(_filters())
def test_generated_filters_parse_or_fail_with_a_filter_error(text: str) -> None:
    try:
        parse(text)
    except FilterError as exc:
        assert str(exc).startswith("at character ")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_fails_with_a_filter_error(text: str) -> None:
    try:
        parse(text)
    except FilterError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters='"\\', blacklist_categories=("Cs",)), max_size=20))
def test_quoted_text_comes_back_as_written(text: str) -> None:
    assert parse(f'name = "{text}"') == Compare(Field("job", "name"), "=", (text,), 0)


KNOWN = ["training.epochs", "training.learning_rate", "data.mode", "test_accuracy", "train_loss", "summary.f1"]


@pytest.mark.parametrize(("name", "expected"), [
    ("epochs", ["training.epochs"]),  # the last part of a key
    ("Training.Epochs", ["training.epochs"]),  # any case
    ("accuracy", ["test_accuracy"]),  # the end of a name, as a word
    ("loss", ["train_loss"]),
    ("training.epoch", ["training.epochs"]),  # spelled closely, whole
    ("acuracy", ["test_accuracy"]),  # or by the last part
    ("learning_rte", ["training.learning_rate"]),
    ("zzz", []),
    ("f1", ["summary.f1"]),
])
def test_close_names_find_what_a_mistyped_or_shortened_name_stands_for(name: str, expected: list[str]) -> None:
    assert close_names(name, KNOWN) == expected
