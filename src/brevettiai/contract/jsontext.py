"""Settings values given as JSON text (a form's JSON text area, a ``--flag '[1, 2]'``, a record's
``settings`` string): parsed one way everywhere."""

from __future__ import annotations

import json

from brevettiai.contract.jsontypes import JSONValue


def parse_json_text(text: str) -> JSONValue:
    """The value of JSON text; `ValueError` naming the position when it is not JSON."""
    return json.loads(text)


def from_json_text(value: object) -> object:
    """`value` parsed when it is JSON text; anything else (non-JSON text too) unchanged, for validation
    to reject with the field's name."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def settings_from_text(value: object) -> object:
    """A record's settings: ``None``/``""`` -> ``{}``, JSON text parsed (strictly), a dict as it is."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        return json.loads(value)
    return value
