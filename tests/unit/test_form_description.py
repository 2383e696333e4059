"""The create form described for a role that cannot create: each field's type, the value a new run starts
from, and what it accepts, read from a real JobSettings schema."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import Field

from brevettiai import JobSettings
from brevettiai.server.ui.forms import describe_form, initial_values


class Optimizer(Enum):
    ADAM = "adam"
    SGD = "sgd"


class Training(JobSettings):
    epochs: int = Field(10, ge=1, le=500, description="Passes over the data")
    rate: float = Field(0.1, gt=0, lt=1)
    optimizer: Optimizer = Optimizer.ADAM
    mode: Literal["rgb", "gray"] = "gray"
    augment: bool = True
    layers: list[int] = [8, 4]
    note: str | None = None


class Settings(JobSettings):
    training: Training = Training()


def test_each_field_is_described_with_its_type_value_and_what_it_accepts() -> None:
    schema = Settings.get_schema()
    rows = {row.path: row for row in describe_form(schema, initial_values(schema, {}))}
    assert rows["training"].heading and rows["training"].label == "Training"
    described = {path: (row.kind, row.value, row.accepts) for path, row in rows.items() if not row.heading}
    assert described["training.epochs"] == ("whole number", "10", "≥ 1 and ≤ 500")
    assert described["training.rate"] == ("number", "0.1", "> 0 and < 1")
    assert described["training.optimizer"][0] == "one of the choices"
    assert "adam" in described["training.optimizer"][2].lower() and "sgd" in described["training.optimizer"][2].lower()
    assert described["training.mode"] == ("one of the choices", "gray", "rgb, gray")
    assert described["training.augment"][:2] == ("yes or no", "yes")
    assert described["training.layers"][:2] == ("JSON", "[8, 4]")
    assert rows["training.layers"].code
    assert described["training.note"][1] == "—"
    assert rows["training.epochs"].help == "Passes over the data"
