"""One description of a settings class's fields, whatever kind of class it is.

A settings tree may mix pydantic models, pydantic and standard dataclasses, and plain classes whose
typed ``__init__`` parameters are the settings. Everything else in `brevettiai.settings` (building,
serialising, overrides, schemas) reads classes only through `fields_of`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from brevettiai.settings._types import is_pydantic_model, strip_annotated, union_members

if TYPE_CHECKING:
    from pydantic import BaseModel

class _Missing:
    """Marks a field without a default (a required field)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


_NONE: Mapping[str, Any] = MappingProxyType({})


# NamedTuples, not frozen dataclasses: as immutable, and defined at a tenth of the cost (--help and
# every job's start import this module).
class FieldSpec(NamedTuple):
    """What the settings machinery knows about one field of a settings class."""

    name: str
    annotation: Any
    default: Any = MISSING
    default_factory: Any = None
    title: str | None = None
    description: str | None = None
    bounds: Mapping[str, float] = _NONE  # ge/le/gt/lt
    constraints: Mapping[str, Any] = _NONE  # multiple_of, lengths, pattern, allow_inf_nan, strict, text transforms,
    # max_digits/decimal_places
    advanced: bool = False
    hidden: bool = False
    extra: Mapping[str, Any] = _NONE

    @property
    def required(self) -> bool:
        """True when the field has neither a default nor a default factory."""
        return self.default is MISSING and self.default_factory is None

    def get_default(self) -> object:
        """The field's default value (a fresh one for factories); MISSING for required fields."""
        if self.default_factory is not None:
            return self.default_factory()
        return self.default

    @property
    def label(self) -> str:
        """The human label: the title, else the name in title case."""
        return self.title or self.name.replace("_", " ").title()


class ClassSpec(NamedTuple):
    """The fields of a settings class and whether it accepts keys it does not declare."""

    cls: type
    fields: dict[str, FieldSpec]
    accepts_extra: bool


def _form_options(extra: Any) -> dict[str, Any]:
    """The `json_schema_extra` dict of a field (a callable extra gives nothing to read)."""
    return dict(extra) if isinstance(extra, dict) else {}


def annotated_metadata(annotation: Any) -> list[Any]:
    """The constraint objects of ``Annotated[X, Field(ge=0)]`` (also inside ``Optional[...]``), as a
    dataclass field or ``__init__`` parameter carries them; list items' constraints are not the field's."""
    found: list[Any] = []
    pending = [annotation]
    while pending:
        tp = pending.pop()
        if typing.get_origin(tp) is typing.Annotated:
            tp, *extras = typing.get_args(tp)
            for extra in extras:
                found.extend([extra, *getattr(extra, "metadata", ())])
            pending.append(tp)
        else:
            pending.extend(union_members(tp) or ())
    return found


def constraints_of(metadata: list[Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """The bounds (ge/le/gt/lt) and other constraints (multiple_of, lengths, pattern, allow_inf_nan, strict)
    that pydantic metadata objects state."""
    bounds: dict[str, float] = {}
    constraints: dict[str, Any] = {}
    for item in metadata:
        for key in ("ge", "le", "gt", "lt"):
            value = getattr(item, key, None)
            if value is not None:
                bounds[key] = value
        for key in ("multiple_of", "min_length", "max_length", "pattern", "allow_inf_nan", "strict",
                    "strip_whitespace", "to_lower", "to_upper", "max_digits", "decimal_places"):
            value = getattr(item, key, None)
            if value is not None:
                constraints[key] = value
    return bounds, constraints


def _spec_from_options(name: str, annotation: Any, default: Any, default_factory: Any, title: str | None,
                       description: str | None, metadata: list[Any], options: dict[str, Any]) -> FieldSpec:
    bounds, constraints = constraints_of([*metadata, *annotated_metadata(annotation)])
    vue = options.pop("vue", None)
    hidden = bool(options.pop("exclude_from_form", False) or getattr(vue, "exclude", False))
    return FieldSpec(
        name=name, annotation=annotation, default=default, default_factory=default_factory,
        title=title, description=description, bounds=bounds, constraints=constraints,
        advanced=bool(options.pop("advanced", False)), hidden=hidden, extra=options,
    )


def _pydantic_fields(cls: type[BaseModel]) -> ClassSpec:
    from pydantic_core import PydanticUndefined

    fields = {}
    for name, info in cls.model_fields.items():
        default = MISSING if info.default is PydanticUndefined else info.default
        annotation = info.annotation
        fields[name] = _spec_from_options(
            name, annotation, default, info.default_factory, info.title, info.description,
            list(info.metadata), _form_options(info.json_schema_extra),
        )
    return ClassSpec(cls, fields, accepts_extra=cls.model_config.get("extra") == "allow")


def _dataclass_fields(cls: type) -> ClassSpec:
    hints = typing.get_type_hints(cls, include_extras=True)
    pydantic_fields = getattr(cls, "__pydantic_fields__", None)
    fields = {}
    for dc_field in dataclasses.fields(cls):
        if not dc_field.init:
            continue
        name = dc_field.name
        if pydantic_fields is not None and name in pydantic_fields:
            from pydantic_core import PydanticUndefined

            info = pydantic_fields[name]
            default = MISSING if info.default is PydanticUndefined else info.default
            fields[name] = _spec_from_options(
                name, hints.get(name, info.annotation), default, info.default_factory, info.title,
                info.description, list(info.metadata), _form_options(info.json_schema_extra),
            )
            continue
        default = MISSING if dc_field.default is dataclasses.MISSING else dc_field.default
        factory = None if dc_field.default_factory is dataclasses.MISSING else dc_field.default_factory
        metadata = dict(dc_field.metadata)
        fields[name] = _spec_from_options(
            name, hints.get(name, Any), default, factory, metadata.pop("title", None),
            metadata.pop("description", None), [], metadata,
        )
    return ClassSpec(cls, fields, accepts_extra=False)


def _plain_class_fields(cls: type) -> ClassSpec:
    init = cls.__init__  # type: ignore[misc]  # the class's own constructor is what we describe
    try:
        hints = typing.get_type_hints(init, include_extras=True)
    except Exception:  # unresolved forward references: fall back to the raw annotations
        hints = dict(getattr(init, "__annotations__", {}))
    fields = {}
    accepts_extra = False
    for param in list(inspect.signature(init).parameters.values())[1:]:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_extra = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        default = MISSING if param.default is inspect.Parameter.empty else param.default
        annotation = hints.get(param.name)
        if annotation is None:
            annotation = type(default) if default not in (MISSING, None) else Any
        fields[param.name] = _spec_from_options(param.name, annotation, default, None, None, None, [], {})
    return ClassSpec(cls, fields, accepts_extra=accepts_extra)


def fields_of(cls: type) -> ClassSpec:
    """The fields of a settings class (pydantic model, dataclass or plain class with a typed __init__)."""
    return _fields_of(cls)


@functools.cache
def _fields_of(cls: Any) -> ClassSpec:
    cls = strip_annotated(cls)
    if is_pydantic_model(cls):
        return _pydantic_fields(cls)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        return _dataclass_fields(cls)
    return _plain_class_fields(cls)
