"""The compare view follows running runs (their new points drawn, inside a zoomed range too; their last
values in the metrics table and the parallel coordinates; their status and outputs shown when they end,
without a reload; polling stops when every run has ended), and times show in the browser's own zone with the
UTC time in their tooltip."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, login

pytestmark = pytest.mark.browser


def _points(job: httpx.Client, job_id: str, steps: range) -> None:
    answer = job.post(f"/api/jobs/{job_id}/metrics", json={"batchId": uuid.uuid4().hex, "points": [
        {"step": step, "time": 1.7e9 + step, "values": {"loss": 1.0 / (1 + step)}} for step in steps]})
    assert answer.status_code == 200, answer.text


def _loss_points(page: Any) -> int:
    return int(page.locator('.progress-chart[data-group="loss"]').get_attribute("data-points") or 0)


def _last_loss(page: Any) -> list[str]:
    """The metrics table's "loss (last)" row, one cell per run."""
    row = page.locator("#compare-outputs tbody tr", has=page.locator("th", has_text="loss (last)")).first
    return row.locator("td").all_inner_texts()


# JavaScript: the texts drawn in the parallel coordinates (each axis' highest and lowest value, its labels)
PARALLEL_TEXTS = "() => [...document.querySelectorAll('#parallel-chart svg text')].map(t => t.textContent)"


def test_a_running_run_grows_and_ends_without_a_reload(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    prefix = f"live-{uuid.uuid4().hex[:6]}"
    running = ui_server.create_model(f"{prefix} running", settings={"training": {"epochs": 3}})
    done = ui_server.create_model(f"{prefix} done", settings={"training": {"epochs": 5}})
    with httpx.Client(base_url=ui_server.url, headers={"Authorization": f"Bearer {done['apiKey']}"}) as job:
        job.post(f"/api/jobs/{done['id']}/state", json={"status": "running"}).raise_for_status()
        _points(job, done["id"], range(20))
        job.post(f"/api/jobs/{done['id']}/state", json={"status": "completed"}).raise_for_status()
    key = {"Authorization": f"Bearer {running['apiKey']}"}
    with httpx.Client(base_url=ui_server.url, headers=key) as job:
        job.post(f"/api/jobs/{running['id']}/state", json={"status": "running"}).raise_for_status()
        _points(job, running["id"], range(5))

        data_requests: list[str] = []
        page.on("request", lambda request: data_requests.append(request.url) if "/compare/data.json" in request.url else None)
        page.goto(f"{ui_server.url}/compare?ids={running['id']},{done['id']}")
        page.wait_for_function("() => document.querySelector('.progress-chart[data-group=\"loss\"]')?.dataset.rendered === 'true'")
        page.evaluate("window.__sameDocument = true")
        assert _loss_points(page) == 25
        row = page.locator(f'#compare-runs tr[data-run-id="{running["id"]}"]')
        expect(row.locator(".status")).to_have_text("running")

        # Its last loss is in the metrics table and on the parallel coordinates' metric axis (0.2, 1 / 5).
        assert _last_loss(page) == ["0.2", "0.05"]
        page.wait_for_function("() => document.querySelector('#parallel-chart').dataset.rendered === 'true'")
        assert page.locator("#parallel-chart").get_attribute("data-metric") == "last:loss"
        assert "0.2" in page.evaluate(PARALLEL_TEXTS)

        # Zoomed to steps 3 to 15: the running run's new points inside the range appear while it stays zoomed.
        zoom = page.get_by_role("form", name="Zoom to steps")
        zoom.get_by_label("From step").fill("3")
        zoom.get_by_label("to step").fill("15")
        zoom.get_by_role("button", name="Zoom").click()
        page.wait_for_function("() => { const c = document.querySelector('.progress-chart[data-group=\"loss\"]');"
                               " return c.dataset.zoomed === '3-15' && c.dataset.points === '15'; }")  # 2 + 13
        _points(job, running["id"], range(5, 12))
        page.wait_for_function("() => { const c = document.querySelector('.progress-chart[data-group=\"loss\"]');"
                               " return c.dataset.zoomed === '3-15' && c.dataset.points === '22'; }")  # 7 new
        # ... and its new last loss (1 / 12) in the table and on the parallel coordinates, without a reload.
        assert _last_loss(page) == ["0.0833333", "0.05"]
        page.wait_for_function(f"() => ({PARALLEL_TEXTS})().includes('0.0833333')")
        assert "0.2" not in page.evaluate(PARALLEL_TEXTS)
        zoom.get_by_role("button", name="Show all").click()
        page.wait_for_function("() => Number(document.querySelector('.progress-chart[data-group=\"loss\"]').dataset.points) === 32")

        # It ends with an output.json: its status, finish time and metrics arrive; polling stops.
        job.put(f"/api/files/{running['id']}/artifacts/output.json",
                content=json.dumps({"output": {"test_accuracy": 0.77}})).raise_for_status()
        job.post(f"/api/jobs/{running['id']}/state", json={"status": "completed"}).raise_for_status()
    page.wait_for_function("() => document.getElementById('compare').dataset.live === ''")
    row = page.locator(f'#compare-runs tr[data-run-id="{running["id"]}"]')
    expect(row.locator(".status")).to_have_text("completed")
    expect(row.locator("time")).to_have_count(2)  # created and finished
    outputs = page.locator("#compare-outputs tbody tr", has=page.locator("th", has_text="test_accuracy")).first
    expect(outputs.locator("td")).to_have_text(["0.77", "—"])
    # The output it wrote became a metric to set the settings against.
    metric = page.get_by_role("combobox", name="Against metric")
    expect(metric.locator("option")).to_have_text(["test_accuracy", "loss (last)"])
    polls = page.locator("#compare").get_attribute("data-polls")
    page.wait_for_timeout(2500)  # longer than a poll's interval: no poll follows
    assert page.locator("#compare").get_attribute("data-polls") == polls
    assert page.evaluate("window.__sameDocument") is True
    assert len(data_requests) == 2 and "start_step=3" in data_requests[1]  # the page's points, the zoom


def test_times_show_in_the_browsers_zone_with_the_utc_time_in_a_tooltip(browser: Any, ui_server: Platform) -> None:
    run = ui_server.create_model(f"tokyo-{uuid.uuid4().hex[:6]}")
    other = ui_server.create_model(f"tokyo-{uuid.uuid4().hex[:6]}")
    created = datetime.datetime.fromisoformat(run["created"].replace("Z", "+00:00")).replace(microsecond=0)
    tokyo = created.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S") + " UTC+9"
    utc = created.strftime("%Y-%m-%dT%H:%M:%SZ") + " (UTC)"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        login(page, ui_server)
        for path in (f"/models/{run['id']}", f"/compare?ids={run['id']},{other['id']}",
                     f"/models?q={run['name']}"):
            page.goto(ui_server.url + path)
            shown = page.locator(f'main time[datetime="{created.strftime("%Y-%m-%dT%H:%M:%SZ")}"]').first
            assert shown.inner_text() == tokyo, path
            assert shown.get_attribute("title") == utc, path
    finally:
        context.close()
