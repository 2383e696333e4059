"""The platform settings form and JSON Schema export."""

from __future__ import annotations

import copy
import datetime
import enum
import json
import logging
import typing
from typing import Annotated, Literal, Optional

import pytest
from pydantic import Field

from brevettiai import JobSettings
from brevettiai.contract.dotted import MISSING, Missing, get_path
from brevettiai.contract.forms import FIELD_KEYS, FieldKind, ValueSchema
from brevettiai.interfaces.vue_schema_utils import (
    SchemaBuilder,
    VueSettingsModule,
    checkbox,
    checklist,
    label,
    number_input,
    select,
    text_area,
    text_input,
)


class Color(enum.Enum):
    red = "red"
    blue = "blue"


class Sub(JobSettings):
    alpha: float = 0.5


class Weird:
    """Not a settings type the form knows."""


class S(JobSettings):
    epochs: int = Field(10, ge=1, le=100, description="Number of passes", title="Epochs")
    rate: float = Field(0.1, gt=0, json_schema_extra={"advanced": True})
    use_gpu: bool = True
    name: str = "x"
    color: Color = Color.red
    mode: Literal["a", "b"] = "b"
    choices: list[Literal["p", "q"]] = ["p"]
    maybe: Optional[int] = None
    cfg: dict = {}
    layers: list[int] = [1, 2]
    sub: Sub = Sub(alpha=0.9)
    when: datetime.datetime = datetime.datetime(2020, 1, 1)
    weird: Optional[Weird] = None
    required_text: str


def by_model(schema: dict) -> dict:
    return {f.get("model") or f["tag"]: f for f in schema["fields"]}


def test_every_field_kind_becomes_a_form_field(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        schema = S.get_schema()
    fields = by_model(schema)
    assert fields["epochs"] == {"type": "input", "inputType": "number", "numberType": "integer", "min": 1, "max": 100,
                                "step": 1,
                                "default": 10, "label": "Epochs", "model": "epochs", "required": False,
                                "visible": True, "help": "Number of passes"}
    assert fields["rate"]["min"] == 0 and fields["rate"]["exclusiveMin"] is True and fields["rate"]["visible"] is False
    assert fields["use_gpu"]["type"] == "checkbox" and fields["use_gpu"]["default"] is True
    assert fields["name"]["inputType"] == "text"
    assert fields["color"] == {**fields["color"], "type": "select", "values": ["red", "blue"], "default": "red"}
    assert fields["mode"]["values"] == ["a", "b"]
    assert fields["choices"]["type"] == "checklist" and fields["choices"]["values"] == ["p", "q"]
    assert fields["maybe"]["default"] is None and fields["maybe"]["nullable"] is True
    assert fields["cfg"]["type"] == "textArea" and fields["cfg"]["isJson"] and fields["cfg"]["default"] == "{}"
    assert json.loads(fields["layers"]["default"]) == [1, 2]
    assert fields["sub"] == {"type": "label", "label": "Sub", "tag": "sub", "visible": True, "required": False}
    assert fields["sub.alpha"]["default"] == 0.9  # the outer default instance wins over the class default
    assert fields["required_text"]["required"] is True
    assert fields["weird"]["type"] == "textArea" and "weird" in caplog.text
    assert schema["presets"] == {}
    json.dumps(schema)  # the schema is plain JSON


def test_namespace_prefixes_models() -> None:
    fields = by_model(Sub.get_schema(namespace="outer"))
    assert "outer.alpha" in fields


def test_plain_class_module_schema() -> None:
    class Legacy(VueSettingsModule):
        def __init__(self, size: int = 3, table: dict = None):
            self.size = size
            self.table = table

    fields = by_model(Legacy.get_schema())
    assert fields["size"]["step"] == 1 and fields["table"]["isJson"] is True


def test_json_schema_export_for_a_mixed_tree() -> None:
    schema = S.json_schema()
    props = schema["properties"]
    assert props["epochs"]["minimum"] == 1 and props["epochs"]["maximum"] == 100
    assert props["epochs"]["description"] == "Number of passes"
    assert "required_text" in schema["required"]
    assert "$defs" in schema and "Sub" in schema["$defs"]
    json.dumps(schema)


def test_schema_builder_composes_fields_and_presets() -> None:
    builder = SchemaBuilder(advanced=True)
    builder.add_field(number_input("Size", "size", default=3), quick={"size": 1}.get("size"))
    both = builder + S.get_schema()
    assert both["fields"][0]["visible"] is False
    assert builder["presets"] == {"quick": {"size": 1}}
    assert len(both["fields"]) == 1 + len(S.get_schema()["fields"])


class Every(JobSettings):
    ratio: float = Field(0.5, allow_inf_nan=False)
    names: list[Annotated[str, Field(min_length=1)]] = []
    weights: dict[str, Optional[float]] = {}
    picks: list[Color] = []
    flag: bool = False
    sub: Sub = Sub()


def test_every_key_the_form_builders_write_is_in_the_vocabulary() -> None:
    """One vocabulary (`brevettiai.contract.forms.FormField`): a key the builders write and the validator
    does not know would be a rule the platform silently skips."""
    fields = [*S.get_schema()["fields"], *Every.get_schema()["fields"], number_input("N", "n"), text_area("T", "t"),
              text_input("I", "i"), checkbox("C", "c"), select("S", "s", [1]), checklist("L", "l", [1]), label("G", "g")]
    for field in fields:
        assert set(field) <= FIELD_KEYS, set(field) - FIELD_KEYS
        assert field["type"] in typing.get_args(FieldKind)
        for inner in (field.get("itemSchema"), field.get("valueSchema")):
            assert inner is None or set(inner) <= ValueSchema.__optional_keys__
    every = by_model(Every.get_schema())
    assert every["ratio"]["allowInfNan"] is False
    assert every["names"]["itemSchema"] == {"valueType": "string", "minLength": 1}
    assert every["weights"]["valueSchema"] == {"valueType": "number", "nullable": True}
    assert every["picks"]["type"] == "checklist" and every["picks"]["values"] == ["red", "blue"]


def test_the_original_text_area_is_the_field_a_dict_setting_gets() -> None:
    area = text_area("Cfg", "cfg", {}, json_field=True)
    cfg = by_model(S.get_schema())["cfg"]
    shared = {key: cfg[key] for key in area if key not in ("label", "model", "required")}
    assert {key: area[key] for key in shared} == shared
    assert text_area("N", "n", None)["default"] == "null"  # the original helper's way, kept


def test_missing_is_one_typed_sentinel() -> None:
    assert get_path({"a": {"b": None}}, "a.b") is None
    assert get_path({"a": 1}, "a.b") is MISSING and repr(MISSING) == "MISSING"
    assert copy.deepcopy(MISSING) is MISSING and isinstance(MISSING, Missing)
