"""Settings values given as JSON text (a form's JSON text area, a ``--flag '[1, 2]'``, a record's
``settings`` string): parsed one way everywhere.

Two readings of the same text, one parser:

- lenient (the default), as the job reads settings: Python's JSON plus ``NaN``, ``Infinity`` and
  ``1e400`` (an infinity), so ``--lr Infinity`` and a stored ``"1e400"`` both reach a float field as inf;
- ``strict``: only what JSON can hold (RFC 8259: no NaN or infinities), for text that is to be stored
  as the value it spells. The platform's form page keeps text that does not parse strictly as text;
  the job then reads that text leniently, exactly as it would on its command line.
"""

from __future__ import annotations

import json

from brevettiai.contract.jsontypes import JSONValue


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is beyond the range of a JSON number")
    return value


def parse_json_text(text: str, *, strict: bool = False) -> JSONValue:
    """The value of JSON text; `ValueError` naming the position when it is not JSON (or nests too deeply).
    `strict`: NaN, Infinity and numbers beyond a float's range are refused too."""
    try:
        if strict:
            return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON text nests too deeply") from None


def from_json_text(value: object, *, strict: bool = False) -> object:
    """`value` parsed when it is JSON text; anything else (non-JSON text too) unchanged, for validation
    to reject with the field's name. `strict` as for `parse_json_text`."""
    if isinstance(value, str):
        try:
            return parse_json_text(value, strict=strict)
        except ValueError:
            return value
    return value


def settings_from_text(value: object) -> object:
    """A record's settings: ``None`` or blank text -> ``{}``, JSON text parsed (`ValueError` when it is not
    JSON), a dict as it is."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        return parse_json_text(value)
    return value
