"""Strict JSON from clients: what every stored value must be before it is saved, and repair on reading.

Python's `json` accepts text that breaks the server later: lone UTF-16 surrogates (``"\\ud800"``) cannot
be encoded in UTF-8 answers or pages, ``NaN``/``Infinity`` (and ``1e400``) are not JSON numbers,
integers beyond 64 bits overflow database columns, and deep nesting overflows the recursion of every
encoder after the parser. `parse_json` refuses all of these with the path of the offending value;
`scrub` repairs such values in records stored by older versions, so that reads never fail on them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from brevettiai.errors import ServerError

MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_MAX_INT_DIGITS = 20  # longer digit strings cannot be int64 (and Python refuses to read some at all)

Loc = list[str | int]


class WireError(ServerError, ValueError):
    """A value a client sent that the server does not store: where it is (`loc`) and the rule it breaks."""

    def __init__(self, loc: Loc, rule: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc)) or 'body'}: {rule}")
        self.loc = loc
        self.rule = rule

    def as_error(self, prefix: Loc | None = None) -> dict[str, Any]:
        """The ``{"loc", "msg", "type"}`` item of a 422 answer."""
        return {"loc": [*(prefix if prefix is not None else ["body"]), *self.loc], "msg": self.rule,
                "type": "value_error.wire"}


class _NotANumber:
    """Stands for NaN/Infinity while parsing, so the walk can say where it was."""


class _HugeInteger:
    """Stands for an integer literal too long for int64."""


_NAN, _HUGE = _NotANumber(), _HugeInteger()


def _parse_int(text: str) -> Any:
    return _HUGE if len(text.lstrip("-")) > _MAX_INT_DIGITS else int(text)


def parse_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The value of JSON text, or `WireError` naming the first value the server would not store."""
    try:
        value = json.loads(data, parse_constant=lambda _: _NAN, parse_int=_parse_int)
    except RecursionError:
        raise WireError([], f"nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise WireError([], f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise WireError([], "not valid JSON: the text is not UTF-8") from None
    check(value, max_depth)
    return value


def check(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """`WireError` for the first lone surrogate, non-finite number, integer outside int64 or too deep nesting."""
    stack: list[tuple[Any, Loc]] = [(value, [])]
    while stack:
        node, loc = stack.pop()
        if len(loc) > max_depth:
            raise WireError(loc[:max_depth], f"nested deeper than {max_depth} levels")
        if isinstance(node, str):
            _check_text(node, loc)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if not INT64_MIN <= node <= INT64_MAX:
                raise WireError(loc, "integer outside the 64-bit range (-2^63 to 2^63-1)")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise WireError(loc, "not a finite number (NaN, Infinity and numbers beyond 1.8e308 are refused)")
        elif node is _NAN:
            raise WireError(loc, "NaN, Infinity and -Infinity are not JSON numbers")
        elif node is _HUGE:
            raise WireError(loc, "integer outside the 64-bit range (-2^63 to 2^63-1)")
        elif isinstance(node, dict):
            for key, item in node.items():
                _check_text(key, [*loc, key] if _encodable(key) else loc)
                stack.append((item, [*loc, key]))
        elif isinstance(node, list | tuple):
            stack.extend((item, [*loc, index]) for index, item in enumerate(node))


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(text: str, loc: Loc) -> None:
    if not _encodable(text):
        raise WireError(loc, "text holds a lone UTF-16 surrogate (not valid Unicode)")


_SURROGATE = re.compile("[\ud800-\udfff]")  # a Python str holds surrogates only when they are lone


def scrub(value: Any) -> Any:
    """`value` with lone surrogates replaced by U+FFFD and non-finite floats by None (for stored records).

    A value nested too deep to walk becomes None.
    """
    try:
        return _scrub(value)
    except RecursionError:
        return None


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value if _encodable(value) else _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value
