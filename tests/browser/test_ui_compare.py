"""The compare view: runs picked on the models list, their curves overlaid per metric, the settings that
differ, the metrics side by side and the parallel coordinates; the chart options (smoothing, log scale,
x axis) change the charts' specs, zoom asks the server for the range at full resolution, and legends fit
a narrow screen."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, shot

pytestmark = pytest.mark.browser

STEPS = 5000


def _run(platform: Platform, name: str, epochs: int, rate: float, points: int, accuracy: float) -> dict[str, Any]:
    model = platform.create_model(name, settings={"training": {"epochs": epochs, "learning_rate": rate}})
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {model['apiKey']}"}, timeout=60) as job:
        body = [{"step": s, "time": 1.7e9 + 0.5 * s, "values": {
            "train_loss": rate * math.exp(-s / (300 * epochs)) + 0.01 * math.sin(s / 5),
            "test_accuracy": accuracy * (1 - math.exp(-s / 800))}} for s in range(points)]
        for start in range(0, len(body), 10_000):
            answer = job.post(f"/api/jobs/{model['id']}/metrics", content=json.dumps(
                {"batchId": uuid.uuid4().hex, "points": body[start:start + 10_000]}),
                headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text
        answer = job.put(f"/api/files/{model['id']}/artifacts/output.json",
                         content=json.dumps({"output": {"test_accuracy": accuracy, "epochs_run": epochs}}))
        assert answer.status_code == 201, answer.text
    return model


def _chart(page: Any, group: str) -> Any:
    return page.locator(f'.progress-chart[data-group="{group}"]')


def _spec(page: Any, group: str) -> Any:
    """The Vega spec the chart was last drawn with (its data apart)."""
    return _chart(page, group).evaluate("element => element.vegaSpec")


def _lines(spec: dict[str, Any]) -> list[str]:
    """The layers of lines of a progress chart's spec: 'raw', and 'smoothed' over it when smoothing."""
    return [mark["name"] for mark in spec["marks"] if mark["type"] == "group"]


def _scale(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(scale for scale in spec["scales"] if scale["name"] == name)


# JavaScript: where on the screen the middle of the train_loss chart's first line is drawn
ON_A_LINE = """() => {
  const path = document.querySelector('.progress-chart[data-group="train_loss"] .mark-line path');
  const point = path.getPointAtLength(path.getTotalLength() / 2), matrix = path.getScreenCTM();
  return [point.x * matrix.a + point.y * matrix.c + matrix.e, point.x * matrix.b + point.y * matrix.d + matrix.f];
}"""

# JavaScript: the spec of a chart, and its layers of lines
SPEC = "document.querySelector('.progress-chart[data-group=\"{}\"]').vegaSpec"
LAYERS = SPEC + ".marks.filter(m => m.type === 'group').length"


def _rendered(page: Any, group: str) -> None:
    page.wait_for_function("group => { const e = document.querySelector(`.progress-chart[data-group=\"${group}\"]`);"
                           " return e && e.dataset.rendered === 'true'; }", arg=group)


def test_compare_runs_from_the_models_list(logged_in: Any, ui_server: Platform, screenshots: Path) -> None:
    page = logged_in
    prefix = f"cmp-{uuid.uuid4().hex[:6]}"
    runs = [_run(ui_server, f"{prefix} fast", 20, 0.5, STEPS, 0.93),
            _run(ui_server, f"{prefix} slow", 50, 0.1, STEPS, 0.88),
            _run(ui_server, f"{prefix} short", 20, 0.9, 800, 0.71)]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/compare/data.json" in request.url else None)

    # Pick the three runs on the models list and compare them.
    page.goto(f"{ui_server.url}/models?q={prefix}")
    for run in runs:
        page.get_by_label(f"Compare {run['name']}").check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url(f"{ui_server.url}/compare?*")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 3 runs")

    # Curves: one chart per metric, every run a line in it (downsampled: at most 500 rows per run).
    for group in ("train_loss", "test_accuracy"):
        _rendered(page, group)
    loss = _chart(page, "train_loss")
    assert 500 < int(loss.get_attribute("data-points")) <= 3 * 500
    expect(loss.locator(".mark-line path")).to_have_count(3)
    legend = loss.locator(".role-legend-label text").all_text_contents()
    assert sorted(legend) == sorted(run["name"] for run in runs)

    # The settings that differ, by their titles in the form; the outputs side by side.
    diff = page.locator("#settings-diff")
    header = diff.locator("thead th").all_text_contents()
    assert header == ["Setting", *(run["name"] for run in reversed(runs))]  # in the list's order: newest first
    rows = {row.locator("th").inner_text(): row.locator("td").all_text_contents()
            for row in diff.locator("tbody tr").all()}
    assert rows == {"Training › Epochs": ["20", "50", "20"], "Training › Learning Rate": ["0.9", "0.1", "0.5"]}
    outputs = page.locator("#compare-outputs")
    accuracy_row = outputs.locator("tbody tr", has=page.locator("th", has_text="test_accuracy")).first
    assert accuracy_row.locator("td").all_text_contents() == ["0.71", "0.88", "0.93"]

    # Parallel coordinates: the two numeric settings that differ and the chosen metric.
    parallel = page.locator("#parallel-chart")
    page.wait_for_function("() => document.querySelector('#parallel-chart').dataset.rendered === 'true'")
    expect(parallel).to_have_attribute("data-axes", "3")
    expect(parallel.locator(".mark-line path")).to_have_count(3)
    page.get_by_role("combobox", name="Against metric").select_option(label="train_loss (last)")
    page.wait_for_function("() => document.querySelector('#parallel-chart').dataset.metric === 'last:train_loss'")
    page.get_by_role("combobox", name="Against metric").select_option(label="test_accuracy")
    page.wait_for_function("() => document.querySelector('#parallel-chart').dataset.metric === 'output:test_accuracy'")
    shot(page, screenshots, "compare")

    # Hovering a line shows its point in a tooltip (text made when shown).
    page.mouse.move(*page.evaluate(ON_A_LINE))
    tip = page.locator(".chart-tooltip")
    tip.wait_for()
    assert "step: " in tip.inner_text() and "train_loss: " in tip.inner_text()
    assert any(f"line: {run['name']}" in tip.inner_text() for run in runs)
    page.mouse.move(0, 0)
    page.wait_for_function("() => document.querySelector('.chart-tooltip').hidden")

    # Chart options change the charts: smoothing draws a smoothed line over a faded one, log scale, x = time.
    assert _lines(_spec(page, "train_loss")) == ["raw"]
    page.get_by_role("slider", name="Smoothing").fill("0.8")
    page.wait_for_function("() => " + LAYERS.format("train_loss") + " === 2")
    _rendered(page, "train_loss")
    spec = _spec(page, "train_loss")
    assert _lines(spec) == ["raw", "smoothed"]
    raw, smoothed = (mark["marks"][0]["encode"]["update"] for mark in spec["marks"] if mark["type"] == "group")
    assert raw["opacity"] == {"value": 0.25} and smoothed["y"]["field"] == "smooth"
    assert loss.locator(".mark-line path").count() == 6  # each run's raw and smoothed line
    assert loss.locator(".mark-line path[opacity='0.25']").count() == 3
    page.get_by_role("checkbox", name="Log scale").check()
    page.wait_for_function("() => " + SPEC.format("train_loss") + ".scales.find(s => s.name === 'y').type === 'log'")
    page.get_by_role("combobox", name="X axis").select_option("time")
    page.wait_for_function("() => " + SPEC.format("test_accuracy") + ".scales.find(s => s.name === 'x').type === 'time'")
    _rendered(page, "test_accuracy")
    assert "wall time" in _chart(page, "test_accuracy").locator(".role-axis-title text").all_text_contents()
    page.get_by_role("combobox", name="X axis").select_option("step")
    page.get_by_role("checkbox", name="Log scale").uncheck()
    page.get_by_role("slider", name="Smoothing").fill("0")
    page.wait_for_function("() => " + LAYERS.format("train_loss") + " === 1")
    _rendered(page, "train_loss")
    assert _scale(_spec(page, "train_loss"), "y")["type"] == "linear"

    # Zoom to a step range: the server sends every point of it, for each run that has it.
    assert len(requests) == 1
    zoom = page.get_by_role("form", name="Zoom to steps")
    zoom.get_by_label("From step").fill("3000")
    zoom.get_by_label("to step").fill("3999")
    zoom.get_by_role("button", name="Zoom").click()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"train_loss\"]').dataset.zoomed === '3000-3999'")
    _rendered(page, "train_loss")
    assert int(loss.get_attribute("data-points")) == 2000  # 1,000 steps of the two long runs
    assert "start_step=3000" in requests[-1] and "end_step=3999" in requests[-1]
    expect(page.locator("#progress-zoom-note")).to_have_text("Steps 3000 to 3999, every point.")

    # Dragging across a chart zooms further, to the dragged steps.
    box = loss.locator("svg").bounding_box()
    y = box["y"] + box["height"] * 0.3
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    # One move: the chart zooms 600 ms after the brush last moved, and on a loaded machine the steps of a
    # stepped move can come further apart than that, zooming to a part of the drag first.
    page.mouse.move(box["x"] + box["width"] * 0.6, y)
    page.mouse.up()
    # The range and its points are read together, as one drawing left them.
    zoomed, points = page.wait_for_function(
        "() => { const e = document.querySelector('.progress-chart[data-group=\"train_loss\"]');"
        " return !['', '3000-3999'].includes(e.dataset.zoomed) && e.dataset.rendered === 'true'"
        " && [e.dataset.zoomed, Number(e.dataset.points)]; }").json_value()
    start, end = (int(n) for n in zoomed.split("-"))
    assert 3000 < start < end < 3999
    assert points == 2 * (end - start + 1)
    assert len(requests) == 3

    zoom.get_by_role("button", name="Show all").click()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"train_loss\"]').dataset.zoomed === ''")


def test_compare_legends_fit_a_narrow_screen(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    prefix = f"narrow-{uuid.uuid4().hex[:6]}"
    runs = [_run(ui_server, f"{prefix} with a rather long run name {i}", 10 + i, 0.1 * (i + 1), 50, 0.5 + i / 20)
            for i in range(6)]
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{ui_server.url}/compare?ids={','.join(run['id'] for run in runs)}")
    _rendered(page, "train_loss")
    chart = _chart(page, "train_loss")
    svg = chart.locator("svg").bounding_box()
    labels = chart.locator(".role-legend-label text")
    expect(labels).to_have_count(6)
    for index in range(6):
        box = labels.nth(index).bounding_box()
        assert svg["x"] <= box["x"] and box["x"] + box["width"] <= svg["x"] + svg["width"] + 1, (index, box, svg)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The parallel coordinates fit too, and are drawn again at the width of a wider window.
    page.wait_for_function("() => document.querySelector('#parallel-chart').dataset.rendered === 'true'")
    assert page.locator("#parallel-chart svg").bounding_box()["width"] <= 390
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_function("() => document.querySelector('#parallel-chart svg')?.getBoundingClientRect().width > 800")


def test_compare_refuses_one_run(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    run = ui_server.create_model(f"alone-{uuid.uuid4().hex[:6]}")
    page.goto(f"{ui_server.url}/models?q={run['name']}")
    page.get_by_label(f"Compare {run['name']}").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.locator("main")).to_contain_text("compare needs 2 to 20 different run ids")
