"""A long run's progress charts: drawn from the server's downsampled series, zoomed to a step range
(typed, or dragged across a chart) at full resolution, and kept up to date by polls after a cursor, a
zoomed range included (new points inside it are drawn while it stays zoomed)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform

pytestmark = pytest.mark.browser

STEPS, SPIKE_STEP = 20_000, 12_345


def _post(platform: Platform, model: dict[str, Any], points: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {model['apiKey']}"},
                      timeout=60) as job:
        for start in range(0, len(points), 10_000):  # the server takes at most 10,000 points per batch
            chunk = points[start:start + 10_000]
            answer = job.post(f"/api/jobs/{model['id']}/metrics", content=json.dumps(
                {"batchId": uuid.uuid4().hex, "points": chunk}), headers={"Content-Type": "application/json"})
            assert answer.json() == {"accepted": len(chunk)}, answer.text


def _chart(page: Any, group: str) -> Any:
    return page.locator(f'.progress-chart[data-group="{group}"]')


def _points(page: Any, group: str) -> int:
    return int(_chart(page, group).get_attribute("data-points") or 0)


def test_long_run_is_downsampled_zoomed_and_polled(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    zooms: list[str] = []
    page.on("request", lambda request: zooms.append(request.url) if "start_step=" in request.url else None)
    model = ui_server.create_model("Long run")
    _post(ui_server, model, [{"step": s, "time": 1e9 + s, "values": {"loss": 1000.0 if s == SPIKE_STEP else
                                                                        1.0 / (1 + s)}} for s in range(STEPS)])
    page.goto(f"{ui_server.url}/models/{model['id']}")
    _chart(page, "loss").locator("svg").wait_for()
    page.wait_for_function("() => Number(document.querySelector('.progress-chart[data-group=\"loss\"]')"
                           ".dataset.points || 0) > 0")
    drawn = _points(page, "loss")
    assert 0 < drawn <= 2000  # not 20,000
    # The one-step spike is in the downsampled picture: the value axis reaches it.
    ticks = _chart(page, "loss").locator(".role-axis-label text").all_text_contents()
    assert max(float(t.replace(",", "")) for t in ticks if t.replace(",", "").replace(".", "").isdigit()) >= 800

    # Zoom to a step range: every point of it.
    zoom = page.get_by_role("form", name="Zoom to steps")
    zoom.get_by_label("From step").fill(str(SPIKE_STEP - 50))
    zoom.get_by_label("to step").fill(str(SPIKE_STEP + 50))
    zoom.get_by_role("button", name="Zoom").click()
    page.wait_for_function(f"() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.zoomed "
                           f"=== '{SPIKE_STEP - 50}-{SPIKE_STEP + 50}'")
    assert _points(page, "loss") == 101
    expect(page.locator("#progress-zoom-note")).to_have_text(f"Steps {SPIKE_STEP - 50} to {SPIKE_STEP + 50}, every point.")

    # New points arrive through the polls (after the cursor) while zoomed to a range they are not in: drawn
    # on "Show all" only. A zoomed range reaching past the newest step shows new points inside it at once.
    _post(ui_server, model, [{"step": STEPS + i, "time": 2e9, "values": {"loss": 0.5, "lr": 0.01}} for i in range(3)])
    _chart(page, "lr").locator("svg").wait_for()  # a new series: its chart appears (empty in the zoomed range)
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"lr\"]').dataset.rendered === 'true'")
    assert _points(page, "lr") == 0 and _points(page, "loss") == 101
    zoom.get_by_label("From step").fill(str(STEPS + 3 - 10))
    zoom.get_by_label("to step").fill(str(STEPS + 50))
    zoom.get_by_role("button", name="Zoom").click()
    page.wait_for_function(f"() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.zoomed "
                           f"=== '{STEPS + 3 - 10}-{STEPS + 50}' && document.querySelector("
                           f"'.progress-chart[data-group=\"loss\"]').dataset.points === '10'")
    _post(ui_server, model, [{"step": STEPS + 3 + i, "time": 2e9 + i, "values": {"loss": 0.25, "lr": 0.02}} for i in range(4)])
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.points === '14'"
                           " && document.querySelector('.progress-chart[data-group=\"lr\"]').dataset.points === '7'")
    assert _chart(page, "loss").get_attribute("data-zoomed") == f"{STEPS + 3 - 10}-{STEPS + 50}"
    _post(ui_server, model, [{"step": STEPS + 51, "time": 2e9 + 9, "values": {"loss": 0.2}}])  # past the range
    zoom.get_by_role("button", name="Show all").click()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"lr\"]').dataset.points === '7'")
    page.wait_for_function(f"() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.points "
                           f"=== '{drawn + 8}'")
    assert _chart(page, "loss").get_attribute("data-zoomed") == ""

    # Dragging across a chart zooms to the dragged steps.
    box = _chart(page, "loss").locator("svg").bounding_box()
    y = box["y"] + box["height"] * 0.4
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y)  # one move: a stepped one can zoom to part of the drag first under load
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.zoomed")
    start, end = (int(n) for n in _chart(page, "loss").get_attribute("data-zoomed").split("-"))
    assert 0 < start < end < STEPS and _points(page, "loss") <= 2000
    expect(zoom.get_by_label("From step")).to_have_value(str(start))
    zoom.get_by_role("button", name="Show all").click()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.zoomed === ''")
    assert len(zooms) == 3, zooms  # the typed ranges and the dragged one: redrawing a zoomed chart asks nothing


def test_chart_options_and_zoom_by_time(logged_in: Any, ui_server: Platform) -> None:
    """Smoothing, log scale and the x axis change the model page's chart specs; dragging across a chart drawn
    against wall time zooms to the steps of the dragged time range, at full resolution."""
    page = logged_in
    zooms: list[str] = []
    page.on("request", lambda request: zooms.append(request.url) if "start_step=" in request.url else None)
    model = ui_server.create_model("Timed run")
    # 3,000 steps, 2 s apart: the time axis spans 100 minutes.
    _post(ui_server, model, [{"step": s, "time": 1.7e9 + 2 * s, "values": {"loss": 10.0 / (1 + s)}} for s in range(3000)])
    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]')?.dataset.rendered === 'true'")

    def spec() -> Any:  # the Vega spec the chart was drawn with
        return _chart(page, "loss").evaluate("element => element.vegaSpec")

    def scale(name: str) -> Any:
        return next(scale for scale in spec()["scales"] if scale["name"] == name)

    chart_spec = "document.querySelector('.progress-chart[data-group=\"loss\"]').vegaSpec"

    options = page.get_by_role("form", name="Chart options")
    assert spec()["axes"][0]["title"] == "step" and _chart(page, "loss").locator(".mark-line path").count() == 1
    options.get_by_role("slider", name="Smoothing").fill("0.9")
    page.wait_for_function(f"() => {chart_spec}.marks.filter(m => m.type === 'group').length === 2")
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.rendered === 'true'")
    assert _chart(page, "loss").locator(".mark-line path").count() == 2  # the faded raw line and the smoothed one
    expect(options.locator("output")).to_have_text("0.90")
    options.get_by_role("checkbox", name="Log scale").check()
    page.wait_for_function(f"() => {chart_spec}.scales.find(s => s.name === 'y').type === 'log'")
    options.get_by_role("combobox", name="X axis").select_option("relative")
    page.wait_for_function(f"() => {chart_spec}.marks[1].marks[0].encode.update.x.field === 'elapsed'")
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.rendered === 'true'")
    assert "seconds since the first point" in _chart(page, "loss").locator(".role-axis-title text").all_text_contents()
    options.get_by_role("combobox", name="X axis").select_option("time")
    page.wait_for_function(f"() => {chart_spec}.scales.find(s => s.name === 'x').type === 'time'")
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.rendered === 'true'")

    # The options are kept in this browser: a reload draws the same.
    page.reload()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]')?.dataset.rendered === 'true'")
    assert scale("x")["type"] == "time" and scale("y")["type"] == "log"

    box = _chart(page, "loss").locator("svg").bounding_box()
    y = box["y"] + box["height"] * 0.4
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y)  # one move: a stepped one can zoom to part of the drag first under load
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.zoomed")
    start, end = (int(n) for n in _chart(page, "loss").get_attribute("data-zoomed").split("-"))
    assert 0 < start < end < 3000 and len(zooms) == 1
    assert f"start_step={start}&end_step={end}" in zooms[0]
    page.wait_for_function(f"() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.points === '{end - start + 1}'")
    expect(page.locator("#progress-zoom-note")).to_have_text(f"Steps {start} to {end}, every point.")
    options.get_by_role("combobox", name="X axis").select_option("step")
    options.get_by_role("checkbox", name="Log scale").uncheck()
    options.get_by_role("slider", name="Smoothing").fill("0")


def test_the_jobs_own_charts_come_before_its_system_charts(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("With system metrics")
    # The system series reach the server first (sampled from the job's start), and one of the job's own
    # names sorts after "system/": neither may put a system chart above the job's own charts.
    _post(ui_server, model, [{"step": s, "time": 1e9 + s, "values": {"system/cpu_percent": 50.0,
                                                                   "system/memory_mb": 300.0}} for s in range(5)])
    _post(ui_server, model, [{"step": s, "time": 1e9 + s, "values": {"train_loss": 1.0 / (1 + s),
                                                                   "zeta_accuracy": s / 10}} for s in range(5)])
    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.locator(".progress-chart").nth(3).wait_for()
    groups = page.eval_on_selector_all(".progress-chart", "charts => charts.map(c => c.dataset.group)")
    assert set(groups[:2]) == {"loss", "accuracy"} and set(groups[2:]) == {"system/percent", "system/mb"}, groups


def test_only_the_latest_zoom_is_drawn_whatever_order_the_answers_come_in(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("Zoomed twice")
    _post(ui_server, model, [{"step": s, "time": 1e9 + s, "values": {"loss": 1.0 / (1 + s)}} for s in range(200)])
    held: list[Any] = []

    def hold_the_first_zoom(route: Any) -> None:
        if not held:
            held.append(route)  # answered only after the second zoom is drawn
        else:
            route.continue_()

    page.route("**/live.json?*start_step=*", hold_the_first_zoom)
    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]')?.dataset.rendered === 'true'")
    zoom = page.get_by_role("form", name="Zoom to steps")
    for start, end in ((10, 20), (100, 150)):
        zoom.get_by_label("From step").fill(str(start))
        zoom.get_by_label("to step").fill(str(end))
        zoom.get_by_role("button", name="Zoom").click()
    page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.zoomed === '100-150'")
    assert len(held) == 1
    with page.expect_response(lambda response: "start_step=10&" in response.url):
        held[0].continue_()  # the first zoom's answer arrives last
    page.wait_for_timeout(300)  # time to (wrongly) draw it
    assert _chart(page, "loss").get_attribute("data-zoomed") == "100-150"
    assert _points(page, "loss") == 51
    expect(page.locator("#progress-zoom-note")).to_have_text("Steps 100 to 150, every point.")
