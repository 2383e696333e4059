"""The runs table's filter language: text to a syntax tree (SQL is made by `brevettiai.server.run_query`).

::

    settings.training.epochs > 10 and metrics.test_accuracy >= 0.8 and tag = "vials" and status = completed
    (name contains "resnet" or id = "1b9...") and not status in (failed, killed)
    created >= 2026-11-01 and metrics.loss.min < 0.1 and type != "Broken importer"

- fields: ``name``, ``id``, ``status``, ``tag``, ``type`` (the model type's name), ``created``,
  ``started``, ``completed``, ``settings.<dotted path>``, ``metrics.<name>`` (the output value, else
  the last value of its series) and ``metrics.<name>.last|min|max|count`` (its progress series);
- operators: ``=`` (or ``==``), ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``contains`` (text, any case),
  ``in (a, b, ...)``, ``not in (...)``; ``and``, ``or``, ``not`` and parentheses (``and`` binds first);
- values: numbers, ``"text"`` or ``'text'`` (backslash escapes), bare words (``completed``), ``true``,
  ``false``, dates and times (``2026-11-30``, ``2026-11-30T12:00``, UTC unless they carry a zone);
- a filter that is only words (no operators) or a quoted text matches names containing it, or that id.

Errors are `FilterError`s: the message names the position and the field, and suggests close names.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from brevettiai.errors import ServerError

JOB_FIELDS = ("name", "id", "status", "tag", "type", "created", "started", "completed")
TIME_FIELDS = ("created", "started", "completed")
ALIASES = {"tags": "tag", "model_type": "type", "modeltype": "type", "finished": "completed"}
SERIES_PARTS = ("last", "min", "max", "count")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains", "in", "not in")
MAX_LENGTH = 4000
MAX_DEPTH = 50

Value = float | str | bool | datetime.datetime


class FilterError(ServerError, ValueError):
    """A filter (or sort or column) that cannot be used; the message says where and why."""

    def __init__(self, message: str, position: int | None = None, unknown: str | None = None) -> None:
        super().__init__(message if position is None else f"at character {position + 1}: {message}")
        self.position = position
        self.message = message
        self.unknown = unknown  # a field name that is none of the known kinds


@dataclass(frozen=True)
class Field:
    """A column of the runs table: a job attribute, a setting, or a metric (its value or a series part)."""

    source: Literal["job", "settings", "metrics"]
    key: str  # job attribute name, dotted settings path, or metric name
    part: str = "value"  # metrics: value, last, min, max or count

    @property
    def label(self) -> str:
        """The field as it is written in a filter."""
        if self.source == "job":
            return self.key
        return f"{self.source}.{self.key}" + (f".{self.part}" if self.part != "value" else "")


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str
    values: tuple[Value, ...]
    position: int


@dataclass(frozen=True)
class TextSearch:
    text: str


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class BoolOp:
    op: Literal["and", "or"]
    items: tuple[Node, ...]


Node = Compare | TextSearch | Not | BoolOp


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, date, word, op, lparen, rparen, comma, end
    text: str
    position: int
    value: Any = None


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_0-9][\w.\-/]*")
_WORD_GOES_ON = re.compile(r"[\w.\-/]")  # a number or date followed by this is the start of a bare word (an id)
_OPS = ("==", "!=", "<=", ">=", "<>", "=", "<", ">")
_KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false"}


def tokenize(text: str) -> list[Token]:
    """The tokens of a filter, ending with an ``end`` token."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "\"'":
            value, end = _read_string(text, i)
            tokens.append(Token("string", text[i:end], i, value))
            i = end
        elif char in "(),":
            tokens.append(Token({"(": "lparen", ")": "rparen", ",": "comma"}[char], char, i))
            i += 1
        elif (match := _DATE.match(text, i)) and not _WORD_GOES_ON.match(text, match.end()):
            tokens.append(Token("date", match.group(), i, _parse_time(match.group(), i)))
            i = match.end()
        elif (match := _NUMBER.match(text, i)) and not _WORD_GOES_ON.match(text, match.end()):
            tokens.append(Token("number", match.group(), i, float(match.group())))
            i = match.end()
        elif match := _WORD.match(text, i):
            tokens.append(Token("word", match.group(), i))
            i = match.end()
        elif op := next((op for op in _OPS if text.startswith(op, i)), None):
            tokens.append(Token("op", "!=" if op == "<>" else "=" if op == "==" else op, i))
            i += len(op)
        else:
            raise FilterError(f"unexpected {char!r}; expected a field, a value, an operator "
                              f"({', '.join(OPERATORS)}), 'and', 'or', 'not' or parentheses", i)
    tokens.append(Token("end", "", len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == quote:
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise FilterError(f"the text starting here has no closing {quote}", start)


def _parse_time(text: str, position: int) -> datetime.datetime:
    """A date or time as naive UTC (what the database holds)."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"'{text}' is not a date or time; write e.g. 2026-11-30 or 2026-11-30T14:05", position) \
            from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


def suggest(name: str, known: Iterable[str], prefix: str = "") -> str:
    """'; did you mean X?' for the names closest to `name`, or ''."""
    scored = sorted(((difflib.SequenceMatcher(None, name, k).ratio(), k) for k in set(known)), reverse=True)
    best = scored[0][0] if scored else 0.0
    close = [k for score, k in scored[:3] if score >= 0.6 and score >= best - 0.05]  # the best, and its ties
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"{prefix}{c}" for c in close) + "?"


def close_names(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known dotted names a mistyped or shortened `name` may stand for, best first: the same name in
    another case or one whose last part it is (``epochs`` -> ``training.epochs``); else those it ends as a
    word (``accuracy`` -> ``test_accuracy``); else those spelled closely, whole or by their last part."""
    lowered, names = name.lower(), sorted(set(known))
    same = [k for k in names if lowered in (k.lower(), k.lower().rsplit(".", 1)[-1])]
    if same:
        return same[:limit]
    ending = re.compile(rf"(?:^|[._\-]){re.escape(lowered)}$")
    words = [k for k in names if ending.search(k.lower())]
    if words:
        return words[:limit]

    def score(key: str) -> float:
        key = key.lower()
        return max(difflib.SequenceMatcher(None, lowered, key).ratio(),
                   difflib.SequenceMatcher(None, lowered, key.rsplit(".", 1)[-1]).ratio())

    scored = sorted(((score(k), k) for k in names), key=lambda item: -item[0])
    best = scored[0][0] if scored else 0.0
    return [k for value, k in scored[:limit] if value >= 0.6 and value >= best - 0.05]


def parse_field(text: str, position: int = 0) -> Field:
    """A field name: a job attribute, ``settings.<path>`` or ``metrics.<name>[.last|.min|.max|.count]``."""
    lowered = text.lower()
    if lowered in JOB_FIELDS or lowered in ALIASES:
        return Field("job", ALIASES.get(lowered, lowered))
    head, _, rest = text.partition(".")
    if head.lower() in ("settings", "setting") and rest:
        return Field("settings", rest)
    if head.lower() in ("metrics", "metric") and rest:
        name, _, part = rest.rpartition(".")
        if name and part in SERIES_PARTS:
            return Field("metrics", name, part)
        return Field("metrics", rest)
    if rest:
        hint = suggest(head.lower(), ["settings", "metrics"], "").replace("?", f".{rest}?")
    else:
        hint = suggest(lowered, JOB_FIELDS)
    raise FilterError(f"unknown field '{text}'{hint} (fields: {', '.join(JOB_FIELDS)}, "
                      f"settings.<path>, metrics.<name>)", position, unknown=text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def keyword(self, word: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.index + offset, len(self.tokens) - 1)]
        return token.kind == "word" and token.text.lower() == word

    def take(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def expected(self, what: str) -> FilterError:
        found = f"'{self.token.text}'" if self.token.kind != "end" else "the end of the filter"
        return FilterError(f"expected {what}, found {found}", self.token.position)

    def parse(self) -> Node:
        node = self.or_expr()
        if self.token.kind != "end":
            raise self.expected("'and', 'or' or the end of the filter")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.keyword("or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.keyword("and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self) -> Node:
        if self.keyword("not"):
            self.take()
            return Not(self.not_expr())
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if token.kind == "lparen":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError(f"more than {MAX_DEPTH} nested parentheses", token.position)
            self.take()
            node = self.or_expr()
            if self.token.kind != "rparen":
                raise self.expected("')'")
            self.take()
            self.depth -= 1
            return node
        if token.kind == "string" or (token.kind == "word" and not self.operator_follows()):
            if token.kind == "word" and token.text.lower() in _KEYWORDS:
                raise self.expected("a field or a text to search for")
            self.take()
            return TextSearch(token.value if token.kind == "string" else token.text)
        if token.kind != "word":
            raise self.expected("a field (name, status, settings.<path>, metrics.<name>...)")
        return self.comparison()

    def operator_follows(self) -> bool:
        following = self.tokens[self.index + 1]
        return following.kind == "op" or self.keyword("in", 1) or self.keyword("contains", 1) or (
            self.keyword("not", 1) and (self.keyword("in", 2) or self.keyword("contains", 2)
                                        or self.tokens[min(self.index + 2, len(self.tokens) - 1)].kind == "op"))

    def comparison(self) -> Node:
        name = self.take()
        field = parse_field(name.text, name.position)
        negate = False
        if self.keyword("not"):
            self.take()
            negate = True
        op_token = self.token
        if op_token.kind == "op":
            if negate:
                raise FilterError("'not' goes before the field: not <field> = <value>", op_token.position)
            self.take()
            op = op_token.text
            values: tuple[Value, ...] = (self.value(),)
        elif self.keyword("contains"):
            self.take()
            op = "contains"
            values = (self.value(),)
        elif self.keyword("in"):
            self.take()
            op = "in"
            values = self.value_list()
        else:
            raise self.expected(f"an operator after '{name.text}' ({', '.join(OPERATORS)})")
        node = Compare(field, op, values, name.position)
        _check_comparison(node)
        return Not(node) if negate else node

    def value(self) -> Value:
        token = self.token
        if token.kind in ("string", "number", "date"):
            self.take()
            return token.value
        if token.kind == "word" and token.text.lower() not in ("and", "or", "not", "in", "contains"):
            self.take()
            lowered = token.text.lower()
            return True if lowered == "true" else False if lowered == "false" else token.text
        raise self.expected("a value (a number, \"text\", a word, true, false or a date)")

    def value_list(self) -> tuple[Value, ...]:
        if self.token.kind != "lparen":
            raise self.expected("'(' and a list of values after 'in'")
        self.take()
        values = [self.value()]
        while self.token.kind == "comma":
            self.take()
            values.append(self.value())
        if self.token.kind != "rparen":
            raise self.expected("',' or ')' in the list of values")
        self.take()
        return tuple(values)


def _check_comparison(node: Compare) -> None:
    """Refuse comparisons that cannot mean anything: text operators on times, times that are not dates..."""
    field, where = node.field, node.position
    if field.source == "job" and field.key in TIME_FIELDS:
        if node.op == "contains":
            raise FilterError(f"'{field.key}' is a time: compare it with =, !=, <, <=, >, >= or in", where)
        for value in node.values:
            if not isinstance(value, datetime.datetime):
                raise FilterError(f"'{field.key}' is a time: compare it with a date such as 2026-11-30 or "
                                  f"2026-11-30T14:05, not {_show(value)}", where)
    elif any(isinstance(value, datetime.datetime) for value in node.values) and field.source == "job":
        raise FilterError(f"'{field.key}' is not a time; only created, started and completed are", where)
    if field.source == "job" and field.key in ("status", "tag", "type", "name", "id") and node.op in ("<", "<=", ">", ">="):
        raise FilterError(f"'{field.key}' is text: use =, !=, contains or in", where)
    if node.op == "contains" and not isinstance(node.values[0], str):
        raise FilterError(f"'contains' needs a text, not {_show(node.values[0])}", where)
    if field.source == "metrics" and field.part == "count" and any(isinstance(v, str) for v in node.values):
        raise FilterError(f"'{field.label}' is a number of points; compare it with a number", where)


def _show(value: Value) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return f'"{value}"'


def parse(text: str) -> Node | None:
    """The syntax tree of a filter; None when it is empty. FilterError when it is not valid."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the filter is {len(text)} characters long; at most {MAX_LENGTH} are accepted")
    if not text.strip():
        return None
    parser = _Parser(text)
    words = parser.tokens[:-1]
    if len(words) > 1 and all(t.kind in ("word", "number", "date") and t.text.lower() not in _KEYWORDS for t in words):
        return TextSearch(" ".join(text.split()))  # several plain words: a search, as in a search box
    return parser.parse()


@dataclass(frozen=True)
class Sort:
    field: Field
    descending: bool


def parse_sort(text: str) -> Sort | None:
    """``field``, ``field asc``, ``field desc`` or ``-field`` (descending); None when empty."""
    text = text.strip()
    if not text:
        return None
    descending = text.startswith("-")
    text = text.lstrip("-").strip()
    word, _, direction = text.rpartition(" ")
    if not word:
        word, direction = direction, ""
    direction = direction.lower()
    if direction and direction not in ("asc", "desc"):
        raise FilterError(f"sort: '{direction}' is not a direction; write '<field> asc' or '<field> desc'")
    descending = descending or direction == "desc"
    return Sort(parse_field(word.strip()), descending)


def parse_columns(text: str | Iterable[str]) -> list[Field]:
    """Extra columns: field names separated by commas (job attributes, settings.x, metrics.y)."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [n.strip() for n in text]
    fields: list[Field] = []
    for name in names:
        if name:
            field = parse_field(name)
            if field not in fields:
                fields.append(field)
    if len(fields) > 30:
        raise FilterError(f"columns: {len(fields)} were asked for; at most 30 are shown")
    return fields


def fields_in(node: Node | None) -> list[Compare]:
    """Every comparison of a filter, in order."""
    if node is None:
        return []
    if isinstance(node, Compare):
        return [node]
    if isinstance(node, Not):
        return fields_in(node.item)
    if isinstance(node, BoolOp):
        return [c for item in node.items for c in fields_in(item)]
    return []
