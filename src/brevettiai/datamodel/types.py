"""Datasets and tags as the platform describes them (camelCase on the wire, snake_case in Python)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from brevettiai.contract.jsontypes import JSONObject, JSONValue
from brevettiai.contract.records import DatasetRecord, TagRecord
from brevettiai.contract.wire import WireRecord

if TYPE_CHECKING:
    from brevettiai.io import IoTools


class _WireModel(WireRecord):
    """A platform record as the SDK reads it: the contract's `WireRecord`, keeping keys it does not know.

    A record derived from a contract record (`brevettiai.contract.records`) reads leniently: a field in
    `_read_defaults` that a platform leaves out or sends as null gets that default, and a key in
    `_renamed_keys` (an older platform's name) is read as the field it names.
    """

    model_config = ConfigDict(extra="allow")
    _read_defaults: ClassVar[Mapping[str, JSONValue]] = {}
    _renamed_keys: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not (cls._read_defaults or cls._renamed_keys):
            return data
        data = dict(data)
        fields = cls.model_fields
        for old, name in cls._renamed_keys.items():
            alias = fields[name].alias or name
            if old in data and alias not in data and name not in data:
                data[alias] = data.pop(old)
        for name, default in cls._read_defaults.items():
            alias = fields[name].alias or name
            if data.get(alias) is None and data.get(name) is None:
                data.pop(name, None)
                data[alias] = copy.deepcopy(default)  # a fresh [] or {} for each record
        return data

    def __getitem__(self, key: str) -> Any:
        """Read a field by its wire name or Python name, as the original SDK's dicts were read."""
        for name, info in type(self).model_fields.items():
            if key in (name, info.alias):
                return getattr(self, name)
        if self.model_extra and key in self.model_extra:
            return self.model_extra[key]
        raise KeyError(key)

    def to_wire(self) -> JSONObject:
        """The camelCase JSON-ready dict of this record."""
        return self.model_dump(mode="json", by_alias=True)


class Tag(_WireModel, TagRecord):
    """A node of the platform's tag tree."""

    children: list[Tag] = Field(default_factory=list)
    _read_defaults: ClassVar[Mapping[str, JSONValue]] = {"name": "", "parent_id": None, "created": ""}

    def find(self, name: str) -> Tag | None:
        """The first tag in this subtree (itself included) with the given name."""
        if self.name == name:
            return self
        for child in self.children:
            found = child.find(name)
            if found is not None:
                return found
        return None


class Dataset(_WireModel, DatasetRecord):
    """A dataset given to a job: its id, name and where its files are (a job's info.json gives only these)."""

    _read_defaults: ClassVar[Mapping[str, JSONValue]] = {
        "name": "", "bucket": "", "created": "", "locked": False, "reference": "", "notes": "", "tag_ids": []}
    _renamed_keys: ClassVar[Mapping[str, str]] = {"tags": "tag_ids"}
    _io: Any = PrivateAttr(default=None)  # the IoTools of the job that was given this dataset

    def bind_io(self, io: IoTools | None) -> None:
        """Read this dataset's files with `io` (a job's, holding its key) unless a caller gives another."""
        self._io = io

    @property
    def io(self) -> IoTools | None:
        """The IoTools bound by the job that was given this dataset, or None."""
        return self._io

    @field_validator("tag_ids", mode="before")
    @classmethod
    def _tag_ids_from_tags(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [item["id"] if isinstance(item, dict) else item for item in value]
        return value or []
