"""Records of the platform's web API: users, model types, models, reports and artifact listings.

They read camelCase or snake_case keys, keep keys they do not model, and can be read like the
original SDK's dicts: ``model.api_key`` and ``model["apiKey"]`` are the same value.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, field_validator

from brevettiai.contract.jsontext import settings_from_text
from brevettiai.datamodel.types import _WireModel

NO_API_KEY = "<NO_API_KEY>"

__all__ = ["NO_API_KEY", "FileEntry", "Model", "ModelType", "Report", "User"]


class User(_WireModel):
    """The user a web API client is logged in as."""

    id: str
    username: str = ""
    first_name: str | None = ""
    last_name: str | None = ""
    email: str | None = ""
    is_admin: bool = False


class ModelType(_WireModel):
    """A kind of job the platform can run: its command, settings form and defaults."""

    id: str
    name: str = ""
    created: str | None = None
    short_description: str | None = ""
    settings_schema: dict[str, Any] = Field(default_factory=lambda: {"fields": [], "presets": {}})
    command: list[str] = Field(default_factory=list)
    working_dir: str | None = None
    defaults: dict[str, Any] = Field(default_factory=dict)
    kind: str = "model"


class _JobRecord(_WireModel):
    """What models and reports share: a job's configuration, state and (once) its key."""

    id: str
    name: str = ""
    kind: str = "model"
    created: str | None = None
    started: str | None = None
    completed: str | None = None
    status: str = "created"
    model_type_id: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    dataset_ids: list[str] = Field(default_factory=list,
                                   validation_alias=AliasChoices("datasetIds", "dataset_ids", "datasets"))
    tag_ids: list[str] = Field(default_factory=list, validation_alias=AliasChoices("tagIds", "tag_ids", "tags"))
    parent_id: str | None = None
    model_path: str | None = None
    error: Any = None
    # The real key only in the answer that issued it; "<NO_API_KEY>" otherwise. Kept out of repr.
    api_key: str = Field(NO_API_KEY, repr=False)

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_from_text(cls, value: Any) -> Any:
        return settings_from_text(value)

    @field_validator("dataset_ids", "tag_ids", mode="before")
    @classmethod
    def _ids_from_records(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [item["id"] if isinstance(item, dict) else item for item in value]
        return value or []

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_key(cls, value: Any) -> Any:
        return value or NO_API_KEY

    @property
    def has_api_key(self) -> bool:
        """True when this record carries a usable job key (only the answer that issued it does)."""
        return self.api_key != NO_API_KEY


class Model(_JobRecord):
    """A model (training job) on the platform."""


class Report(_JobRecord):
    """A test report: a job run on a model (its `parent_id`) and datasets."""

    kind: str = "report"


class FileEntry(_WireModel):
    """One entry of an artifact listing: a file, or a folder (``is_prefix``, mime type "folder")."""

    name: str
    link: str = ""
    size: int | None = None
    mime_type: str | None = None
    is_prefix: bool = False
    last_modified: str | None = None

    @property
    def is_folder(self) -> bool:
        """True for a folder entry."""
        return self.is_prefix or self.mime_type == "folder"
