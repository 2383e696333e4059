"""The records the platform answers with, defined once: camelCase on the wire, snake_case in Python.

The records here (all `WireRecord`s, `brevettiai.contract.wire`) are the platform's answers as the
server builds them: every field required unless the server may leave it out, types as strict as the
server guarantees. The server's answer models (`brevettiai.server.schemas`) are these records under
its own names; the SDK's (`brevettiai.datamodel`) derive from them and read leniently (a field a
platform leaves out or sends as null gets the SDK's default, unknown keys are kept). What a job sends
to the platform (state, exit, metric points) is in `brevettiai.contract.reports`;
`tests/server/test_server_wire_records.py` holds a real server's answers to the SDK's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from brevettiai.contract.status import JobStatus
from brevettiai.contract.wire import WireRecord

if TYPE_CHECKING:
    from brevettiai.contract.jsontypes import JSONObject
else:  # pydantic cannot build the recursive alias; its own JsonValue is the same set of values
    from pydantic import JsonValue

    JSONObject = dict[str, JsonValue]

# An answer record's validator is built on first use (by the server, or by the SDK for one it reads
# straight): a job reads only its datasets and tags, through the SDK's subclasses, and pays for those
# alone. Not for request bodies: FastAPI's OpenAPI warns about a body model built late.
_ANSWER_ONLY = ConfigDict(defer_build=True)

NO_API_KEY = "<NO_API_KEY>"  # a job record's key everywhere but in the answer that issued it

__all__ = ["NO_API_KEY", "DatasetRecord", "FileEntryRecord", "JobRecord", "LoginRequest", "ModelTypeRecord", "TagRecord",
           "TokenRecord", "UserRecord", "WireRecord"]


class TagRecord(WireRecord):
    """A tag with its subtree."""

    model_config = _ANSWER_ONLY

    id: str
    name: str
    parent_id: str | None
    created: str
    children: Sequence[TagRecord] = Field(default_factory=list)


class DatasetRecord(WireRecord):
    """A dataset; its files are at ``/api/files/<id>/...`` (``bucket`` for the SDK)."""

    model_config = _ANSWER_ONLY

    id: str
    name: str
    bucket: str
    created: str
    created_by: str | None = None  # the id of the user who created it (none: before users had roles)
    locked: bool
    reference: str
    notes: str
    tag_ids: list[str]


class UserRecord(WireRecord):
    """A user as the platform shows it (never its password)."""

    model_config = _ANSWER_ONLY

    id: str
    username: str
    first_name: str
    last_name: str
    email: str
    is_admin: bool
    role: str = Field("member", description="viewer, member or admin")
    disabled: bool = False
    created: str | None = None


class LoginRequest(WireRecord):
    """Credentials for a user token (``POST /api/auth/token``)."""

    username: str
    password: str


class TokenRecord(WireRecord):
    """A new user token, when it expires and whose it is."""

    model_config = _ANSWER_ONLY

    access_token: str = Field(repr=False)
    token_type: str = "bearer"
    expires_at: str
    user: UserRecord


class ModelTypeRecord(WireRecord):
    """What jobs of this type run: command, working dir, settings form and defaults."""

    model_config = _ANSWER_ONLY

    id: str
    name: str
    created: str
    created_by: str | None = None  # the id of the user who created it (none: before users had roles)
    short_description: str
    settings_schema: JSONObject = Field(description="The settings form: {fields: [...], presets: {...}}")
    command: list[str]
    working_dir: str | None
    defaults: JSONObject
    kind: str = Field(description="model or report")


class JobRecord(WireRecord):
    """A model or report: a job's configuration, state and (once) its key."""

    model_config = _ANSWER_ONLY

    id: str
    name: str
    kind: str = Field(description="model or report")
    created: str
    created_by: str | None = None  # the id of the user who created it (none: before users had roles)
    started: str | None
    completed: str | None
    status: JobStatus
    model_type_id: str | None
    settings: JSONObject
    dataset_ids: list[str]
    tag_ids: list[str]
    parent_id: str | None
    model_path: str | None
    error: JSONObject | None
    notes: str = Field("", description="The user's notes on the run (Markdown)")
    api_key: str = Field(description=f"The job key, only in the answer that issued it; else {NO_API_KEY}",
                         repr=False)


class FileEntryRecord(WireRecord):
    """A file or folder below a job's artifacts/ (a folder: ``isPrefix``, mime type "folder")."""

    model_config = _ANSWER_ONLY

    name: str
    link: str
    size: int | None
    mime_type: str
    is_prefix: bool
    last_modified: str | None
