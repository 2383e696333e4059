"""Questions about type annotations that the settings machinery asks again and again."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import inspect
import pathlib
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeGuard, Union, cast

if TYPE_CHECKING:
    from pydantic import BaseModel

NONE_TYPE = type(None)

# An annotation as found at runtime: a class, `list[int]`, `X | None`, `Annotated[...]`, `Literal[...]`, `Any`.
TypeForm: TypeAlias = object

# Classes with a Python __init__ that are values, never settings groups.
_VALUE_CLASSES: tuple[type, ...] = (
    str, bytes, int, float, complex, bool, list, dict, tuple, set, frozenset,
    enum.Enum, pathlib.PurePath, datetime.date, datetime.time, datetime.timedelta,
)


def strip_annotated(tp: TypeForm) -> TypeForm:
    """`Annotated[X, ...]` -> X (repeatedly); anything else unchanged."""
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def union_members(tp: TypeForm) -> tuple[TypeForm, ...] | None:
    """The members of a `Union`/`X | Y`, or None when `tp` is not a union."""
    tp = strip_annotated(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return None


def unwrap_optional(tp: TypeForm) -> tuple[TypeForm, bool]:
    """`Optional[X]` -> (X, True); a union of several non-None types keeps its other members."""
    tp = strip_annotated(tp)
    members = union_members(tp)
    if members is None or NONE_TYPE not in members:
        return tp, False
    rest = tuple(m for m in members if m is not NONE_TYPE)
    if len(rest) == 1:
        return strip_annotated(rest[0]), True
    return Union[rest], True  # noqa: UP007 - a runtime construction, not an annotation


def is_pydantic_model(tp: TypeForm) -> TypeGuard[type[BaseModel]]:
    """True for subclasses of pydantic.BaseModel (without importing pydantic when it is not loaded)."""
    if not isinstance(tp, type):
        return False
    return any(base.__module__ == "pydantic.main" and base.__name__ == "BaseModel" for base in tp.__mro__)


def is_settings_node(tp: TypeForm) -> bool:
    """True when `tp` is a settings group: a pydantic model, a dataclass or a plain class with a typed __init__."""
    return _is_settings_node(tp)


@functools.cache
def _is_settings_node(tp: TypeForm) -> bool:
    tp = strip_annotated(tp)
    if not isinstance(tp, type) or typing.get_origin(tp) is not None:
        return False
    if is_pydantic_model(tp) or dataclasses.is_dataclass(tp):
        return True
    if issubclass(tp, _VALUE_CLASSES) or _is_library_value(tp):
        return False
    init = tp.__dict__.get("__init__") or getattr(tp, "__init__", None)
    return inspect.isfunction(init)


def _is_library_value(tp: type) -> bool:
    """True for a class of the standard library or pydantic (`uuid.UUID`, `ipaddress.IPv4Address`,
    `decimal.Decimal`, `pydantic.HttpUrl`) or one that tells pydantic how to validate it: values that pydantic
    checks as one thing, never groups of settings."""
    return tp.__module__.split(".")[0] in _VALUE_MODULES or hasattr(tp, "__get_pydantic_core_schema__")


# Modules whose classes are values pydantic knows (not every standard module: a user's own ``test.py`` or
# ``code.py`` shares a standard module's name).
_VALUE_MODULES = frozenset({"builtins", "uuid", "ipaddress", "decimal", "fractions", "datetime", "pathlib", "re",
                            "zoneinfo", "pydantic", "pydantic_core", "pydantic_extra_types"})


def is_text_type(tp: TypeForm) -> bool:
    """True when a string given for this annotation must be kept as a string (not parsed as JSON)."""
    tp = strip_annotated(tp)
    if tp is str or tp is Any or tp is object:
        return True
    members = union_members(tp)
    if members is not None:
        return any(is_text_type(m) for m in members)
    if typing.get_origin(tp) is Literal:
        return any(isinstance(v, str) for v in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return any(isinstance(m.value, str) for m in tp)
    return isinstance(tp, type) and issubclass(tp, (str, pathlib.PurePath))


def is_bool_type(tp: TypeForm) -> bool:
    """True for `bool` and `Optional[bool]`."""
    inner, _ = unwrap_optional(tp)
    return inner is bool


def describe_type(tp: TypeForm) -> str:
    """A short human description of what a value of this annotation may be, for error messages."""
    tp = strip_annotated(tp)
    inner, optional = unwrap_optional(tp)
    suffix = " (or null)" if optional else ""
    if inner is bool:
        return "a boolean (true/false, yes/no, on/off, 1/0)" + suffix
    if inner is int:
        return "an integer" + suffix
    if inner is float:
        return "a number" + suffix
    if inner is str:
        return "a string" + suffix
    origin = typing.get_origin(inner)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(inner)) + suffix
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in inner) + suffix
    if inner in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        return "a JSON list, e.g. '[1, 2]'" + suffix
    if inner is dict or origin is dict:
        return "a JSON object, e.g. '{\"key\": 1}'" + suffix
    if is_settings_node(inner):
        return f"a JSON object of {cast(type, inner).__name__} settings" + suffix
    return f"a value of type {getattr(inner, '__name__', str(inner))}" + suffix


def list_item_type(tp: TypeForm) -> TypeForm | None:
    """The item annotation of `list[X]`/`tuple[X, ...]`/`set[X]`, or None when `tp` is not such a type."""
    tp = strip_annotated(tp)
    origin = typing.get_origin(tp)
    if origin in (list, set, frozenset):
        args = typing.get_args(tp)
        return args[0] if args else Any
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    if tp in (list, set, frozenset, tuple):
        return Any
    return None


def dict_value_type(tp: TypeForm) -> TypeForm | None:
    """The value annotation of `dict[K, V]`/`dict`, or None when `tp` is not a dict type."""
    tp = strip_annotated(tp)
    if tp is dict:
        return Any
    if typing.get_origin(tp) is dict:
        args = typing.get_args(tp)
        return args[1] if len(args) == 2 else Any
    return None
