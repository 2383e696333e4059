"""Named types for JSON values, the shape of everything that crosses the wire as JSON (settings,
records, output.json, metric values, chart specs).

`JSONValue`/`JSONObject`/`JSONArray` describe what the SDK builds and returns (plain ``dict``/``list``).
`JSONLike`/`JSONMapping` describe what it accepts: read-only and covariant, so a ``dict[str, float]`` or
a ``list[dict[str, int]]`` fits without a cast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias, Union

JSONScalar: TypeAlias = None | bool | int | float | str
JSONValue: TypeAlias = Union[JSONScalar, list["JSONValue"], dict[str, "JSONValue"]]  # noqa: UP007
JSONObject: TypeAlias = dict[str, JSONValue]
JSONArray: TypeAlias = list[JSONValue]

JSONLike: TypeAlias = Union[JSONScalar, Sequence["JSONLike"], Mapping[str, "JSONLike"]]  # noqa: UP007
JSONMapping: TypeAlias = Mapping[str, JSONLike]

__all__ = ["JSONArray", "JSONLike", "JSONMapping", "JSONObject", "JSONScalar", "JSONValue"]
