"""Dotted paths into nested settings dicts (``"train.lr"``): read and written one way everywhere."""

from __future__ import annotations

import enum
from collections.abc import Mapping, MutableMapping
from typing import Final, Literal, TypeAlias

from brevettiai.contract.jsontext import from_json_text
from brevettiai.contract.jsontypes import JSONLike, JSONMapping, JSONValue


class Missing(enum.Enum):
    """The type of `MISSING`, the answer of `get_path` for a path the settings do not hold (distinct from
    ``None``). One member, so ``value is MISSING`` narrows a `Found` to a JSON value for type checkers."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing.MISSING
Found: TypeAlias = JSONLike | Literal[Missing.MISSING]  # what `get_path` answers


def get_path(settings: JSONMapping, dotted: str) -> Found:
    """The value at a dotted path, or `MISSING`."""
    node: JSONLike = settings
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def set_path(target: MutableMapping[str, JSONValue], dotted: str, value: JSONValue,
             parse_text: bool = False) -> None:
    """Put `value` at a dotted path, making (or replacing non-dict values by) the dicts on the way.

    With `parse_text`, a parent given as JSON object text (``'{"a": 1}'``) is parsed and kept.
    """
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        child: object = node.get(part)
        if parse_text and isinstance(child, str) and child.strip().startswith("{"):
            child = from_json_text(child)
        if not isinstance(child, dict):
            child = {}
        node[part] = child
        node = child
    node[leaf] = value


def flatten(settings: JSONMapping, prefix: str = "") -> dict[str, JSONLike]:
    """Leaves of nested settings by dotted path (lists and empty objects are leaves)."""
    flat: dict[str, JSONLike] = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat
