"""The platform settings form and JSON Schema export."""

from __future__ import annotations

import datetime
import enum
import json
import logging
from typing import Literal, Optional

import pytest
from pydantic import Field

from brevettiai import JobSettings
from brevettiai.interfaces.vue_schema_utils import SchemaBuilder, VueSettingsModule, number_input


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
    assert fields["sub"] == {"type": "label", "label": "Sub", "tag": "sub", "visible": True}
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
