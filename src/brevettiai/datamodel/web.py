"""Records of the platform's web API: users, model types, models, reports and artifact listings.

Each is the contract's record (`brevettiai.contract.records`, what the server answers with) read the
SDK's way: camelCase or snake_case keys, keys it does not model kept, a field a platform leaves out
(or sends as null) given a default, and readable like the original SDK's dicts: ``model.api_key`` and
``model["apiKey"]`` are the same value.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import field_validator

from brevettiai.contract.jsontext import settings_from_text
from brevettiai.contract.jsontypes import JSONValue
from brevettiai.contract.records import (
    NO_API_KEY,
    FileEntryRecord,
    JobRecord,
    ModelTypeRecord,
    TokenRecord,
    UserRecord,
)
from brevettiai.contract.status import JobStatus
from brevettiai.datamodel.types import _WireModel

__all__ = ["NO_API_KEY", "FileEntry", "Model", "ModelType", "Report", "Token", "User"]


class User(_WireModel, UserRecord):
    """The user a web API client is logged in as."""

    _read_defaults: ClassVar[dict[str, JSONValue]] = {
        "username": "", "first_name": "", "last_name": "", "email": "", "is_admin": False, "role": "member",
        "disabled": False}


class Token(_WireModel, TokenRecord):
    """A user token the platform issued, when it expires and whose it is (kept out of repr)."""

    user: User
    _read_defaults: ClassVar[dict[str, JSONValue]] = {"expires_at": ""}


class ModelType(_WireModel, ModelTypeRecord):
    """A kind of job the platform can run: its command, settings form and defaults."""

    _read_defaults: ClassVar[dict[str, JSONValue]] = {
        "name": "", "created": "", "short_description": "", "settings_schema": {"fields": [], "presets": {}},
        "command": [], "working_dir": None, "defaults": {}, "kind": "model"}


_JOB_DEFAULTS: dict[str, JSONValue] = {
    "name": "", "kind": "model", "created": "", "started": None, "completed": None, "status": "created",
    "model_type_id": None, "settings": {}, "dataset_ids": [], "tag_ids": [], "parent_id": None,
    "model_path": None, "error": None, "notes": "", "api_key": NO_API_KEY}


class _JobRecord(_WireModel, JobRecord):
    """What models and reports share: a job's configuration, state and (once) its key (kept out of repr)."""

    _read_defaults: ClassVar[dict[str, JSONValue]] = _JOB_DEFAULTS
    _renamed_keys: ClassVar[dict[str, str]] = {"datasets": "dataset_ids", "tags": "tag_ids"}

    # Read as text: a newer platform may have statuses this SDK does not know, and listing its models
    # must not fail on them (the server's answers are held to `JobStatus` by the contract).
    status: JobStatus | str  # type: ignore[assignment]

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_from_text(cls, value: object) -> object:
        return settings_from_text(value)

    @field_validator("dataset_ids", "tag_ids", mode="before")
    @classmethod
    def _ids_from_records(cls, value: object) -> object:
        if isinstance(value, list):
            return [item["id"] if isinstance(item, dict) else item for item in value]
        return value or []

    @field_validator("error", mode="before")
    @classmethod
    def _error_as_object(cls, value: object) -> object:
        """An error another platform gives as text (or a list) is read as its message."""
        if value is None or isinstance(value, dict):
            return value
        return {"message": value if isinstance(value, str) else str(value)}

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_key(cls, value: object) -> object:
        return value or NO_API_KEY

    @property
    def has_api_key(self) -> bool:
        """True when this record carries a usable job key (only the answer that issued it does)."""
        return self.api_key != NO_API_KEY


class Model(_JobRecord):
    """A model (training job) on the platform."""


class Report(_JobRecord):
    """A test report: a job run on a model (its `parent_id`) and datasets."""

    _read_defaults: ClassVar[dict[str, JSONValue]] = {**_JOB_DEFAULTS, "kind": "report"}


class FileEntry(_WireModel, FileEntryRecord):
    """One entry of an artifact listing: a file, or a folder (``is_prefix``, mime type "folder")."""

    _read_defaults: ClassVar[dict[str, JSONValue]] = {
        "link": "", "size": None, "mime_type": "", "is_prefix": False, "last_modified": None}

    @property
    def is_folder(self) -> bool:
        """True for a folder entry."""
        return self.is_prefix or self.mime_type == "folder"
