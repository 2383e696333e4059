"""The create form drawn from a settings schema with every kind of field: text, selects (Enum and
Literal), a nullable number, JSON text areas, checkboxes, a checklist, a nested group and an advanced
field; what the person enters arrives in the model's settings with its types."""

from __future__ import annotations

import enum
import re
from typing import Any, Literal

import pytest
from playwright.sync_api import expect
from pydantic import Field
from ui_helpers import Platform

from brevettiai import JobSettings

pytestmark = pytest.mark.browser


class Optimizer(enum.StrEnum):
    sgd = "sgd"
    adam = "adam"


class Augmentation(JobSettings):
    flip: bool = Field(True, description="Flip images left to right")
    modes: list[Literal["rotate", "blur", "noise"]] = ["rotate"]
    extra: dict[str, float] = Field({"gamma": 1.0}, description="Extra parameters",
                                    json_schema_extra={"advanced": True})


class RichSettings(JobSettings):
    title: str = Field("run", description="Free text")
    optimizer: Optimizer = Optimizer.adam
    size: Literal[64, 128, 224] = 128
    batch: int | None = Field(None, ge=1, description="Empty: as large as fits")
    classes: list[str] = ["ok", "defect"]
    augmentation: Augmentation = Augmentation()


@pytest.fixture(scope="module")
def rich_type(ui_server: Platform) -> str:
    response = ui_server.api.post("/api/modeltypes", json={"name": "Every field", "settingsSchema": RichSettings.get_schema()})
    response.raise_for_status()
    return response.json()["id"]


def test_every_kind_of_field(logged_in: Any, ui_server: Platform, rich_type: str) -> None:
    page = logged_in
    page.goto(f"{ui_server.url}/zoo/{rich_type}")
    # Defaults from the schema.
    assert page.get_by_label("Title").input_value() == "run"
    assert page.get_by_label("Optimizer").input_value() == '"adam"'
    assert page.get_by_label("Size").input_value() == "128"
    assert page.get_by_label("Batch").input_value() == ""
    assert page.get_by_label("Flip").is_checked()
    assert page.get_by_label("rotate").is_checked() and not page.get_by_label("blur").is_checked()
    assert page.locator("fieldset#g-augmentation > legend").inner_text() == "Augmentation"
    assert not page.get_by_label("Extra").is_visible()  # advanced: folded away

    page.get_by_label("Name").fill("Rich")
    page.get_by_label("Title").fill("first <b>try</b>")
    page.get_by_label("Optimizer").select_option(label="sgd")
    page.get_by_label("Size").select_option(label="224")
    page.get_by_label("Classes").fill('["a", "b",')  # broken JSON
    page.get_by_label("Flip").uncheck()
    page.get_by_label("blur").check()
    page.get_by_text("Advanced settings of Augmentation").click()
    page.get_by_label("Extra").fill("{gamma: 2}")  # not JSON either
    page.get_by_role("button", name="Create without starting").click()

    expect(page.locator("#f-classes-error")).to_contain_text("must be JSON text")
    expect(page.locator("#f-augmentation-extra-error")).to_contain_text("must be JSON text")
    expect(page.locator("details.advanced")).to_have_attribute("open", re.compile(".*"))  # opened to show its error
    # Everything typed is still there.
    assert page.get_by_label("Title").input_value() == "first <b>try</b>"
    assert page.get_by_label("Optimizer").input_value() == '"sgd"'
    assert page.get_by_label("Size").input_value() == "224"
    assert page.get_by_label("Classes").input_value() == '["a", "b",'
    assert not page.get_by_label("Flip").is_checked()
    assert page.get_by_label("blur").is_checked() and page.get_by_label("rotate").is_checked()

    page.get_by_label("Classes").fill('["a", "b", "c"]')
    page.get_by_label("Extra").fill('{"gamma": 2.5}')
    page.get_by_role("button", name="Create without starting").click()
    page.wait_for_url("**/models/*")
    model_id = page.url.split("/models/")[1].split("?")[0]
    settings = ui_server.api.get(f"/api/models/{model_id}").json()["settings"]
    assert settings == {"title": "first <b>try</b>", "optimizer": "sgd", "size": 224, "batch": None,
                        "classes": ["a", "b", "c"],
                        "augmentation": {"flip": False, "modes": ["rotate", "blur"], "extra": {"gamma": 2.5}}}
    expect(page.locator(".flash")).to_contain_text("Created the model.")
    expect(page.locator("#job-status")).to_have_text("created")

    table = page.locator("#settings-table")

    def value(label: str) -> str:
        return table.locator("tr", has=page.locator("th", has_text=label)).first.locator("td").first.inner_text()

    assert value("Title") == "first <b>try</b>"
    assert value("Optimizer") == "sgd"
    assert value("Batch") == "—"
    assert value("Flip") == "no"
    assert value("Modes") == "rotate, blur"
    assert value("Extra") == '{"gamma": 2.5}'
    assert "Flip images left to right" in table.inner_text()
