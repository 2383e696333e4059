"""Datasets and tags as the platform describes them (camelCase on the wire, snake_case in Python)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, ConfigDict, Field, PrivateAttr, field_validator

from brevettiai.contract.records import WireRecord

if TYPE_CHECKING:
    from brevettiai.io import IoTools


class _WireModel(WireRecord):
    """A platform record as the SDK reads it: the contract's `WireRecord`, keeping keys it does not know."""

    model_config = ConfigDict(extra="allow")

    def __getitem__(self, key: str) -> Any:
        """Read a field by its wire name or Python name, as the original SDK's dicts were read."""
        for name, info in type(self).model_fields.items():
            if key in (name, info.alias):
                return getattr(self, name)
        if self.model_extra and key in self.model_extra:
            return self.model_extra[key]
        raise KeyError(key)

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON-ready dict of this record."""
        return self.model_dump(mode="json", by_alias=True)


class Tag(_WireModel):
    """A node of the platform's tag tree."""

    id: str
    name: str = ""
    parent_id: str | None = None
    created: str | None = None
    children: list[Tag] = Field(default_factory=list)

    def find(self, name: str) -> Tag | None:
        """The first tag in this subtree (itself included) with the given name."""
        if self.name == name:
            return self
        for child in self.children:
            found = child.find(name)
            if found is not None:
                return found
        return None


class Dataset(_WireModel):
    """A dataset given to a job: its id, name and where its files are."""

    id: str
    name: str = ""
    bucket: str | None = None
    created: str | None = None
    locked: bool = False
    reference: str | None = ""
    notes: str | None = ""
    tag_ids: list[str] = Field(default_factory=list, validation_alias=AliasChoices("tagIds", "tag_ids", "tags"))
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
