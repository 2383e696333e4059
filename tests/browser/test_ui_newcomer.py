"""A newcomer's first hour on the pages: a job that ends updates its page in place, the one-time key
does not push the live charts off the first screen, times say their zone, defaults show their value,
new models get an unused name, the API description renders its Markdown and links back, test
reports are in the navigation, and a phone-sized screen clips neither the runs table nor a legend."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, login

pytestmark = pytest.mark.browser


def _model_id(page: Any) -> str:
    return page.url.split("/models/")[1].split("?")[0]


def test_a_job_that_ends_updates_its_page_without_a_reload(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{ui_server.url}/zoo/{ui_server.ids['lr']}")
    page.get_by_label("Epochs").fill("3000")
    page.get_by_label("Log Every").fill("5")
    page.get_by_role("button", name="Create and start training").click()
    page.wait_for_url("**/models/*")
    expect(page.get_by_role("textbox", name="Job key")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page loads again
    assert page.locator("#job").get_attribute("data-terminal") == "false"  # loaded while the job is active
    assert page.get_by_role("button", name="Stop").count() == 1

    # The key box leaves the live charts on the first screen (at least a third of the first one). The first
    # chart, not a named one: the charts come in the order their series first reach the page, and on a busy
    # machine the job's system/... series (sampled every 10 s) can arrive before its loss.
    chart = page.locator("#progress-charts .progress-chart svg").first
    chart.wait_for(timeout=60_000)
    box = chart.bounding_box()
    assert box is not None and box["y"] + box["height"] / 3 <= 800, f"the first chart is below the fold: {box}"

    # When it ends: buttons, artifacts, results and environment arrive in place; the key stays.
    page.locator("#job[data-refreshed='true']").wait_for(timeout=90_000)
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("#job-status")).to_have_text("completed")
    expect(page.get_by_role("textbox", name="Job key")).to_have_value(re.compile(r"^bj_"))
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile(r"^Artifacts \([1-9]\d*\)$"))).to_have_count(1)
    expect(page.locator("#results-title")).to_be_visible()
    page.locator('.vega-chart[data-chart="training_curves"][data-rendered="true"] svg').wait_for()
    environment = page.locator("section", has=page.locator("#env-title"))
    expect(environment).to_contain_text("Python")
    expect(environment).not_to_contain_text("has not written its environment")
    expect(page.locator("#overview-title + dl")).to_contain_text("Run time")


def test_times_carry_their_zone_on_every_page(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("Timed", settings={"training": {"epochs": 20}}, start=True)
    ui_server.wait_for(model["id"], {"completed"})
    paths = ["/models", f"/models/{model['id']}", f"/models/{model['id']}/artifacts", "/datasets",
             f"/datasets/{ui_server.ids['dataset']}", f"/zoo/{ui_server.ids['lr']}", "/testreports"]
    seen = 0
    for path in paths:
        page.goto(ui_server.url + path)
        shown = page.evaluate(r"""() => [...document.querySelectorAll('main time, main td, main .muted')]
            .map(e => e.textContent.trim()).filter(t => /^\d{4}-\d\d-\d\d \d\d:\d\d/.test(t))""")
        bare = [text for text in shown if not re.search(r"UTC([+-]\d{1,2}(:\d\d)?)?$", text)]  # any browser zone
        assert not bare, f"{path} shows times without their zone: {bare}"
        seen += len(shown)
    assert seen >= 8


def test_the_settings_table_shows_the_value_of_defaults(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("Mostly defaults", settings={"training": {"epochs": 7}})
    page.goto(f"{ui_server.url}/models/{model['id']}")
    table = page.locator("#settings-table")
    assert table.locator("tr", has_text="Epochs").locator("td").first.inner_text() == "7"
    assert table.locator("tr", has_text="Learning Rate").locator("td").first.inner_text() == "0.5 (default)"
    assert table.locator("tr", has_text="N Samples").locator("td").first.inner_text() == "2000 (default)"
    assert "—" not in table.locator("td:nth-child(2)").all_inner_texts()


def test_the_create_form_proposes_an_unused_name(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    page.goto(f"{ui_server.url}/zoo/{ui_server.ids['failing']}")
    first = page.get_by_label("Name").input_value()
    assert re.fullmatch(r"Broken importer #\d+", first), first
    page.get_by_role("button", name="Create without starting").click()
    page.wait_for_url("**/models/*")
    page.goto(f"{ui_server.url}/zoo/{ui_server.ids['failing']}")
    second = page.get_by_label("Name").input_value()
    assert second != first and re.fullmatch(r"Broken importer #\d+", second)
    assert ui_server.api.get("/api/models", params={"name": second}).json()["total"] == 0


def test_test_reports_are_in_the_navigation(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    sections = page.get_by_role("navigation", name="Sections")
    sections.get_by_role("link", name="Test reports").click()
    page.wait_for_url("**/testreports")
    expect(sections.get_by_role("link", name="Test reports")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="Test reports")).to_have_count(1)


def test_the_api_description_renders_markdown_and_links_back(page: Any, ui_server: Platform) -> None:
    login(page, ui_server)
    page.goto(f"{ui_server.url}/docs")
    page.locator("#operations details").first.wait_for()
    description = page.locator("#description")
    assert description.locator("code", has_text="Authorization: Bearer").count() == 1
    assert "`" not in description.inner_text()
    metrics = page.locator("details", has_text="/api/models/{job_id}/metrics").first
    metrics.locator("summary").first.click()
    expect(metrics.locator(".body p code", has_text="max_points").first).to_be_visible()
    raw_backticks = page.evaluate("""() => [...document.querySelectorAll('#operations .body p')]
        .map(p => p.textContent).filter(t => t.includes('`'))""")
    assert raw_backticks == []
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Models").click()
    page.wait_for_url("**/models")


def test_a_phone_screen_clips_neither_the_runs_table_nor_a_legend(context: Any, ui_server: Platform) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, ui_server)
    model = ui_server.create_model("A model with a rather long name to fit on a phone",
                                   settings={"training": {"epochs": 40}}, start=True)
    ui_server.wait_for(model["id"], {"completed"})

    page.goto(f"{ui_server.url}/models")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    # Every column of the runs table is reachable: the table scrolls inside its frame, nothing is cut off.
    clipped = page.evaluate("""() => {
        const wrap = document.querySelector('#job-list').closest('.table-wrap') || document.querySelector('#job-list');
        const style = getComputedStyle(wrap);
        const table = wrap.querySelector('table') || wrap;
        return table.scrollWidth > wrap.clientWidth + 1 && !['auto', 'scroll'].includes(style.overflowX);
    }""")
    assert not clipped, "the runs table is wider than the screen and cannot scroll"

    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.locator('.progress-chart[data-group="loss"] svg').wait_for()
    page.locator('.vega-chart[data-chart="training_curves"][data-rendered="true"] svg').wait_for()
    # Legends and axis labels lie inside the drawing (an SVG shows nothing outside its own box).
    outside = page.evaluate("""() => [...document.querySelectorAll('.progress-chart svg, .vega-chart svg')].flatMap(svg => {
        const frame = svg.getBoundingClientRect();
        return [...svg.querySelectorAll('.role-legend, .role-axis-label text')].filter(part => {
            const box = part.getBoundingClientRect();
            return box.width > 0 && (box.left < frame.left - 1 || box.right > frame.right + 1 ||
                box.top < frame.top - 1 || box.bottom > frame.bottom + 1 || box.right > window.innerWidth);
        }).map(part => svg.closest('[aria-label]').getAttribute('aria-label') + ': ' + part.textContent);
    })""")
    assert outside == [], f"legends or axis labels cut off on a 390px screen: {outside}"
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1


def test_no_page_is_wider_than_a_phone(context: Any, ui_server: Platform) -> None:
    """At 390 px every page fits the screen; wide tables scroll inside their frame (hidden labels included)."""
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, ui_server)
    model = ui_server.create_model("Fits a phone")
    ids = ui_server.ids
    paths = ["/models", f"/models/{model['id']}", f"/models/{model['id']}/artifacts", "/testreports", "/zoo",
             f"/zoo/{ids['lr']}", "/datasets", f"/datasets/{ids['dataset']}", "/tags", "/profile", "/admin", "/docs"]
    wider = {}
    for path in paths:
        page.goto(ui_server.url + path)
        if path == "/docs":
            page.locator("#operations details").first.wait_for()
            page.locator("details", has_text="/api/models/{job_id}/metrics").first.locator("summary").first.click()
        extra = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if extra > 1:
            wider[path] = extra
    assert wider == {}, f"pages wider than a 390 px screen (by px): {wider}"
