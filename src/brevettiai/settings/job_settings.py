"""`JobSettings`: the pydantic base class for a job's typed settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from brevettiai.contract.jsontypes import JSONMapping, JSONObject
    from brevettiai.settings.schema import SchemaBuilder

# defer_build: a settings class's validator is built when it first validates, not when its module
# is imported (that build, and pydantic's plugin scan of every installed package, cost more than
# the rest of `from brevettiai import Job, JobSettings`). Subclasses inherit it.
_CONFIG = ConfigDict(arbitrary_types_allowed=True, defer_build=True)


class JobSettings(BaseModel):
    """Base class of typed job settings; fields may be other settings classes of any kind.

    Values given as JSON text for non-string fields (as platform forms send them) are parsed, an
    empty string for an optional field is None, and keys no field declares are logged as
    ``Invalid config keys`` instead of failing.
    """

    model_config = _CONFIG

    @model_validator(mode="before")
    @classmethod
    def _accept_platform_values(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        from brevettiai.settings._convert import coerce_raw, report_unknown
        from brevettiai.settings._fields import fields_of

        spec = fields_of(cls)
        unknown: dict[str, Any] = {}
        prepared = {}
        for key, value in data.items():
            field = spec.fields.get(key)
            if field is not None:
                prepared[key] = coerce_raw(field.annotation, value, key, unknown)
            elif spec.accepts_extra:
                prepared[key] = value
            else:
                unknown[key] = value
        report_unknown(unknown)
        return prepared

    def get_config(self) -> JSONObject:
        """The settings as a plain, JSON-serialisable nested dict."""
        from brevettiai.settings._convert import config_dict

        return config_dict(self)

    @classmethod
    def from_config(cls, config: JSONMapping | None) -> Self:
        """Settings built from a plain config dict (the inverse of `get_config`)."""
        from brevettiai.settings.parse import parse_settings

        return parse_settings(cls, config)

    @classmethod
    def get_schema(cls, namespace: str | None = None) -> SchemaBuilder:
        """The platform settings form of these settings."""
        from brevettiai.settings.schema import form_schema

        return form_schema(cls, namespace)

    platform_schema = get_schema

    @classmethod
    def json_schema(cls) -> JSONObject:
        """The standard JSON Schema of these settings."""
        from brevettiai.settings.schema import json_schema

        return json_schema(cls)

    def to_argv(self) -> list[str]:
        """Command-line flags that reproduce these settings."""
        from brevettiai.settings.overrides import settings_to_argv

        return settings_to_argv(self)


class AnySettings(JobSettings):
    """Settings of the base `Job`: every key is accepted and kept as given."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True, defer_build=True)
