"""The base of every record that crosses the wire: camelCase on the wire, snake_case in Python.

The server's request/answer models (`brevettiai.server.schemas`) and the SDK's records
(`brevettiai.datamodel`) both derive from `WireRecord`, so a field is spelled the same on both sides.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireRecord(BaseModel):
    """camelCase aliases, snake_case names accepted too; unknown keys ignored (subclasses may keep them)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
