"""The runs table as a person uses it: a filter typed into the models list (and a mistyped one, shown
next to the box with a close name), settings and metric columns picked and kept for the user, headers
that sort, and a phone-sized screen that scrolls the table instead of clipping it."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, login, shot

pytestmark = pytest.mark.browser

# name, epochs, test accuracy, loss per step
RUNS = [("sweep lr-a", 40, 0.93, [0.9, 0.4, 0.21]), ("sweep lr-b", 80, 0.88, [0.8, 0.3, 0.12]),
        ("sweep lr-c", 5, 0.97, [0.7, 0.2]), ("sweep lr-d", 120, 0.61, [0.9, 0.8])]


def _reported_runs(ui_server: Platform, tag_id: str) -> None:
    """Models that report their progress and output.json with their own key, as a job does."""
    for name, epochs, accuracy, losses in RUNS:
        model = ui_server.create_model(name, settings={"training": {"epochs": epochs}}, tagIds=[tag_id])
        with httpx.Client(base_url=ui_server.url, headers={"Authorization": f"Bearer {model['apiKey']}"}) as job:
            api = f"/api/jobs/{model['id']}"
            job.post(api + "/state", json={"status": "running"}).raise_for_status()
            job.post(api + "/metrics", json={"batchId": "1", "points": [
                {"step": step, "values": {"loss": loss}} for step, loss in enumerate(losses)]}).raise_for_status()
            job.put(f"/api/files/{model['id']}/artifacts/output.json",
                    content=json.dumps({"output": {"test_accuracy": accuracy}})).raise_for_status()
            job.post(api + "/state", json={"status": "completed"}).raise_for_status()


def _names(page: Any) -> Any:
    """The name column of the runs table (a locator: expect(...) waits for the page a click loads)."""
    return page.locator("#job-list tbody tr td:nth-child(2)")


def _column(page: Any, header: str) -> Any:
    """The cells of the column headed `header`, once the table shows that header."""
    headers = page.locator("#job-list thead th")
    expect(headers.filter(has_text=header)).to_have_count(1)
    index = headers.all_inner_texts().index(header)
    return page.locator(f"#job-list tbody tr td:nth-child({index + 1})")


def test_filter_columns_sort_and_a_narrow_screen(logged_in: Any, ui_server: Platform, screenshots: Path,
                                                browser: Any) -> None:
    page = logged_in
    tag = f"vials-{uuid.uuid4().hex[:6]}"
    tag_id = ui_server.api.post("/api/tags", json={"name": tag}).json()["id"]
    _reported_runs(ui_server, tag_id)
    page.goto(f"{ui_server.url}/models")

    # A mistyped setting: the error is next to the box and names the close key.
    box = page.get_by_label("Filter models")
    box.fill(f'settings.training.epoch > 10 and tag = "{tag}"')
    page.get_by_role("button", name="Apply").click()
    error = page.locator("#filter-error")
    expect(error).to_contain_text("no model has the setting 'training.epoch'; did you mean settings.training.epochs?")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_value(f'settings.training.epoch > 10 and tag = "{tag}"')  # kept to be fixed

    box.fill(f'settings.training.epochs > 10 and metrics.test_accuracy >= 0.8 and tag = "{tag}"')
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#filter-error")).to_have_count(0)
    expect(_names(page)).to_have_count(2)
    assert sorted(_names(page).all_inner_texts()) == ["sweep lr-a", "sweep lr-b"]

    # Columns: an epochs setting and the accuracy from the picker, a series minimum typed in.
    page.locator("#column-picker summary").click()
    page.get_by_role("checkbox", name="training.epochs").check()
    page.get_by_role("checkbox", name="test_accuracy").check()
    page.get_by_label("More columns (comma-separated)").fill("metrics.loss.min")
    page.get_by_role("button", name="Show these columns").click()
    headers = page.locator("#job-list thead th")
    expect(headers.last).to_have_text("metrics.loss.min")  # the page the choice loads
    assert headers.all_inner_texts()[-3:] == ["settings.training.epochs", "metrics.test_accuracy", "metrics.loss.min"]
    expect(box).to_have_value(re.compile(r"^settings\.training\.epochs > 10"))  # the filter survives the choice

    # Sorting by a header: ascending, then descending.
    page.get_by_role("link", name="metrics.test_accuracy").click()
    expect(page.locator("#job-list thead th[aria-sort]")).to_have_text(re.compile(r"^metrics\.test_accuracy"))
    expect(_names(page)).to_have_text(["sweep lr-b", "sweep lr-a"])
    page.get_by_role("link", name="metrics.test_accuracy").click()
    expect(_column(page, "metrics.test_accuracy ▼")).to_have_text(["0.93", "0.88"])
    expect(_names(page)).to_have_text(["sweep lr-a", "sweep lr-b"])
    expect(_column(page, "metrics.loss.min")).to_have_text(["0.21", "0.12"])
    expect(_column(page, "settings.training.epochs")).to_have_text(["40", "80"])
    shot(page, screenshots, "runs-table")

    # The choice is kept on the server for this user: a new browser session shows the same columns.
    other = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        narrow = other.new_page()
        login(narrow, ui_server, "/models")
        narrow.goto(f"{ui_server.url}/models?filter=tag+%3D+%22{tag}%22&sort=metrics.test_accuracy+desc")
        assert narrow.locator("#job-list thead th").all_inner_texts()[-3:] == [
            "settings.training.epochs", "metrics.test_accuracy ▼", "metrics.loss.min"]
        expect(_names(narrow)).to_have_text(["sweep lr-c", "sweep lr-a", "sweep lr-b", "sweep lr-d"])
        # A phone: the table scrolls inside its frame; the page itself does not get wider than the screen.
        sizes = narrow.evaluate("""() => {
            const wrap = document.querySelector('#runs-table-wrap');
            return [wrap.scrollWidth, wrap.clientWidth, document.documentElement.scrollWidth, window.innerWidth];
        }""")
        assert sizes[0] > sizes[1] and sizes[2] <= sizes[3], sizes
        last = narrow.locator("#job-list tbody tr:first-child td:last-child")
        last.scroll_into_view_if_needed()
        expect(last).to_be_visible()
        expect(last).to_have_text("0.2")
    finally:
        other.close()

    # Back to no extra columns (the other tests share this user).
    page.locator("#column-picker summary").click()
    checked = page.locator("#column-picker input[type=checkbox]:checked")
    while checked.count():
        checked.first.uncheck()
    page.get_by_label("More columns (comma-separated)").fill("")
    page.get_by_role("button", name="Show these columns").click()
    expect(page.locator("#job-list thead th")).to_have_count(6)  # the compare checkbox column and 5 others
