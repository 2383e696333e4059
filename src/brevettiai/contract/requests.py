"""The bodies the web API takes, defined once: camelCase on the wire, snake_case in Python.

The server reads them through its own names (`brevettiai.server.schemas`: ``DatasetIn``, ``TagIn``,
``ModelTypeIn``, ``ModelIn``, ``ReportIn``), which FastAPI validates. The SDK
(`brevettiai.platform.web_api`) builds them with `build_body`: no validation on the client (the server's
answer is the one error a user sees), the keys in the order of the fields here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import ConfigDict, Field

from brevettiai.contract.wire import WireRecord

if TYPE_CHECKING:
    from brevettiai.contract.jsontypes import JSONLike, JSONObject
else:  # pydantic cannot build the recursive alias; its own JsonValue is the same set of values
    from pydantic import JsonValue

    JSONObject = dict[str, JsonValue]

__all__ = ["DatasetRequest", "ModelRequest", "ModelTypeRequest", "ReportRequest", "SettingsForm", "TagRequest",
           "build_body"]

MAX_NAME = 255  # characters of a record's name

_Request = TypeVar("_Request", bound=WireRecord)


class DatasetRequest(WireRecord):
    """A dataset to create (``POST /api/datasets``)."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    reference: str = ""
    notes: str = ""
    locked: bool = False
    tag_ids: list[str] = Field(default_factory=list)


class TagRequest(WireRecord):
    """A tag to create (``POST /api/resources/tags``): a root, or below ``parentId``."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    parent_id: str | None = None


class SettingsForm(WireRecord):
    """The settings form: fields (``model`` is a dotted path into the settings) and named presets."""

    model_config = ConfigDict(extra="allow")
    fields: list[JSONObject] = Field(default_factory=list)
    presets: JSONObject = Field(default_factory=dict)


class ModelTypeRequest(WireRecord):
    """A model type to create (``POST /api/resources/modeltypes``)."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    command: list[str] = Field(default_factory=list)
    settings_schema: SettingsForm = Field(default_factory=SettingsForm)
    working_dir: str | None = None
    defaults: JSONObject = Field(default_factory=dict)
    short_description: str = ""
    kind: Literal["model", "report"] = "model"


class ModelRequest(WireRecord):
    """A model to create (``POST /api/models``)."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    settings: JSONObject | str = Field(default_factory=dict, description="An object, or its JSON text")
    dataset_ids: list[str] = Field(default_factory=list)
    tag_ids: list[str] = Field(default_factory=list)
    model_type_id: str | None = None


class ReportRequest(ModelRequest):
    """A report to create (``POST /api/reports``), on the model ``parentId``."""

    parent_id: str = Field(description="The model the report is about")


def build_body(request: type[_Request], **fields: JSONLike) -> JSONObject:
    """The wire body of `request` from the given fields (snake_case), unvalidated: the server checks it.

    Only the given fields are sent, as given (a dict where the record holds a model is sent as it is).
    """
    record = request.model_construct(None, **fields)
    body: JSONObject = record.model_dump(by_alias=True, exclude_unset=True, warnings=False)
    return body
