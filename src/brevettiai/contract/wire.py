"""The base of every record that crosses the wire: camelCase on the wire, snake_case in Python.

The records themselves: `brevettiai.contract.records` (what the platform answers with) and
`brevettiai.contract.reports` (what a job sends); the SDK's and the server's models derive from them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireRecord(BaseModel):
    """camelCase aliases, snake_case names accepted too; unknown keys ignored (subclasses may keep them)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
