"""Models through the pages, as a person uses them: create one from the zoo form (with a validation
error fixed on the way), watch it train, open its charts, report and artifacts; a failed job; stop,
run again, delete; test reports beside their model; escaping of user content."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, login, shot

pytestmark = pytest.mark.browser


def _sample(page: Any) -> tuple[str, int] | None:
    """(status, points of the loss chart) as the page shows them now; None while it reloads."""
    try:
        return page.evaluate("""() => {
            const status = document.querySelector('#job-status');
            const chart = document.querySelector('.progress-chart[data-group="loss"]');
            return [status ? status.textContent : '', chart ? Number(chart.dataset.points || 0) : 0];
        }""")
    except Exception:  # the page is navigating (it reloads itself when the job ends)
        return None


def test_create_model_from_the_zoo_and_watch_it_train(logged_in: Any, ui_server: Platform, screenshots: Path) -> None:
    page = logged_in
    # Company for the models list (its screenshot): a quick model, a broken one, one never started.
    ui_server.create_model("Baseline", settings={"training": {"epochs": 50}}, start=True)
    ui_server.create_model("Nightly import", model_type="failing", start=True)
    ui_server.create_model("Wider features", settings={"data": {"n_features": 32}})
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Model zoo").click()
    page.get_by_role("link", name="Create model of type Logistic regression").click()
    # The click starts a navigation; the title is read only once the form's page has loaded.
    expect(page).to_have_title(re.compile(r"^New model: Logistic regression"))

    # Advanced settings are folded away; bounds come from the schema.
    advanced = page.locator("details.advanced", has_text="Advanced settings of Training")
    assert advanced.get_attribute("open") is None
    assert not page.get_by_label("L2").is_visible()
    epochs = page.get_by_label("Epochs")
    assert epochs.get_attribute("min") == "1" and epochs.get_attribute("type") == "number"

    # A value out of range: the server refuses it, next to the field, and keeps what was typed.
    page.get_by_label("Name").fill("Churn model")
    page.get_by_label("N Samples").fill("20000")
    epochs.fill("0")
    page.get_by_label("Log Every").fill("100")
    page.get_by_role("button", name="Create and start training").click()
    expect(page.locator("#f-training-epochs-error")).to_have_text("must be >= 1; got 0")
    expect(page.get_by_label("Epochs")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_value("Churn model")
    expect(page.get_by_label("N Samples")).to_have_value("20000")
    expect(page.get_by_label("Log Every")).to_have_value("100")
    expect(page.locator("#form-errors").get_by_role("link", name="Epochs: must be >= 1; got 0")).to_have_count(1)
    shot(page, screenshots, "zoo-form-error")
    assert ui_server.api.get("/api/models", params={"name": "Churn model"}).json()["total"] == 0

    # Fixed: created, started, and its key shown once.
    page.get_by_label("Epochs").fill("100000")  # long enough to be seen running on a fast machine
    page.get_by_label("production").check()
    page.get_by_label("bottle samples").check()
    page.get_by_role("button", name="Create and start training").click()
    page.wait_for_url("**/models/*")
    model_id = page.url.split("/models/")[1].split("?")[0]
    key = page.get_by_role("textbox", name="Job key").input_value()
    assert key.startswith("bj_")
    assert "created=" not in page.url  # the key is not shown again on reload

    # Status and the loss chart change while it runs.
    samples: list[tuple[str, int]] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        sample = _sample(page)
        if sample is not None:
            samples.append(sample)
            if sample[0] in ("completed", "failed", "killed"):
                break
        time.sleep(0.25)
    running = [points for status, points in samples if status == "running" and points > 0]
    assert running, f"never saw the chart while running: {samples}"
    assert max(running) > min(running), f"the progress chart did not grow while running: {samples}"
    assert {"queued", "starting", "running"} & {s for s, _ in samples}

    # When it ends the page loads again with its results.
    ui_server.wait_for(model_id, {"completed"})
    page.wait_for_function("() => document.querySelector('#job-status').textContent === 'completed'")
    # Without a reload first: the finished job's parts are swapped in, and its own chart is drawn (the page
    # had no chart when it opened, so it loads Vega-Lite and vega-embed only now).
    page.wait_for_function("() => document.getElementById('job').dataset.refreshed === 'true'")
    page.locator('.vega-chart[data-chart="training_curves"][data-rendered="true"] svg').wait_for()
    page.reload()
    expect(page.get_by_role("textbox", name="Job key")).to_have_count(0)
    page.locator('.vega-chart[data-chart="training_curves"][data-rendered="true"] svg').wait_for()
    page.locator('.progress-chart[data-group="accuracy"] svg').wait_for()
    loss_points = int(page.locator('.progress-chart[data-group="loss"]').get_attribute("data-points") or 0)
    assert loss_points == 2 * 100000 // 100  # train_loss and test_loss at every 100th epoch
    report = page.frame_locator('iframe[title="Report report.html"]')
    expect(report.get_by_role("heading", name="Logistic regression")).to_be_visible()
    settings = page.locator("#settings-table")
    expect(settings.locator("tr", has_text="Epochs").locator("td").first).to_have_text("100000")
    expect(settings).to_contain_text("Gradient descent steps over the whole training set")
    expect(page.locator("#env-title")).to_be_visible()
    expect(page.locator("section", has=page.locator("#env-title"))).to_contain_text("Python")
    expect(page.get_by_role("link", name="bottle samples")).to_have_count(1)
    expect(page.locator(".chips .tag", has_text="production")).to_have_count(1)
    page.locator('.progress-chart[data-group="loss"]').scroll_into_view_if_needed()
    shot(page, screenshots, "model-page")

    # The artifacts browser: folders, sizes, downloads.
    page.get_by_role("link", name=re.compile(r"^Artifacts \(\d+\)$")).click()
    names = page.locator("#artifact-list tbody tr td:first-child")
    expect(names.filter(has_text="charts/")).to_have_count(1)  # the artifacts page the click loads
    expect(names.filter(has_text="model.npz")).to_have_count(1)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download model.npz").click()
    download = download_info.value
    assert download.suggested_filename == "model.npz"
    data = Path(download.path()).read_bytes()
    assert data[:2] == b"PK"  # numpy's npz is a zip file
    page.get_by_role("link", name="charts/").click()
    expect(page.locator("#artifact-list")).to_contain_text("training_curves.json")

    page.get_by_role("link", name="Models", exact=True).click()
    expect(page.locator("#job-list").get_by_role("link", name="Churn model")).to_have_count(1)
    shot(page, screenshots, "models-list")


def test_a_failed_job_shows_its_error_and_traceback(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    page.goto(f"{ui_server.url}/zoo/{ui_server.ids['failing']}")
    page.get_by_label("Name").fill("Import attempt")
    page.get_by_role("button", name="Create and start training").click()
    page.wait_for_url("**/models/*")
    model_id = page.url.split("/models/")[1].split("?")[0]
    ui_server.wait_for(model_id, {"failed"})
    page.reload()  # (without the key box on screen the page also reloads itself when the job ends)
    expect(page.locator("#job-status")).to_have_text("failed")
    message = page.locator("#job-error").inner_text()
    assert "ValueError" in message and "the samples are corrupt: row 17 has 3 columns" in message
    traceback = page.get_by_label("Traceback").inner_text()
    assert "Traceback (most recent call last)" in traceback and "failing_job.py" in traceback
    expect(page.get_by_text("Last lines of the job's log")).to_have_count(1)


def test_the_page_shows_the_results_when_the_job_ends(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("Reloads by itself", settings={"training": {"epochs": 4000}}, start=True)
    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.locator("#results-title").wait_for(timeout=60_000)  # drawn by the server, swapped in when the job ends
    expect(page.locator("#job-status")).to_have_text("completed")


def test_stop_run_again_and_delete(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    settings = {"data": {"n_samples": 20000}, "training": {"epochs": 10_000_000, "log_every": 1000}}
    model = ui_server.create_model("Runs too long", settings=settings, start=True)
    ui_server.wait_for(model["id"], {"running"})
    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".flash")).to_contain_text("Asked the job to stop")
    stopped = ui_server.wait_for(model["id"], {"killed", "failed"})
    assert stopped["status"] == "killed", stopped  # a stop the user asked for is no failure
    # The open page follows (unless it was already drawn stopped): the status, and a "Stopped" card (not a red
    # "Error" one), without a reload.
    page.wait_for_function("() => document.querySelector('#job-status').textContent === 'killed'")
    page.wait_for_function("() => ['refreshed', 'terminal'].some(k => document.querySelector('#job').dataset[k] === 'true')")
    expect(page.locator("#error-title")).to_have_text("Stopped")
    expect(page.locator(".error-card")).to_have_count(0)
    expect(page.locator("#job-error")).to_contain_text("stopped")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)

    page.goto(f"{ui_server.url}/models/{model['id']}")
    expect(page.locator("#error-title")).to_have_text("Stopped")
    page.get_by_role("button", name="Run again").click()
    # The page is a model's page already: wait for the new model's, not for any.
    page.wait_for_url(lambda url: "/models/" in url and model["id"] not in url)
    again_id = page.url.split("/models/")[1].split("?")[0]
    assert again_id != model["id"]
    again = ui_server.api.get(f"/api/models/{again_id}").json()
    assert again["name"] == "Runs too long #2" and again["modelTypeId"] == ui_server.ids["lr"]
    assert again["settings"]["training"]["epochs"] == 10_000_000
    assert again["status"] in ("queued", "starting", "running")
    page.get_by_role("button", name="Stop").click()
    ui_server.wait_for(again_id, {"killed", "failed"})

    # Delete asks first; Cancel keeps it, Delete permanently removes it.
    page.goto(f"{ui_server.url}/models/{again_id}")
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading").first).to_have_text("Delete the model “Runs too long #2”?")
    page.get_by_role("link", name="Cancel").click()
    assert ui_server.api.get(f"/api/models/{again_id}").status_code == 200
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete permanently").click()
    page.wait_for_url(f"{ui_server.url}/models")
    expect(page.locator(".flash")).to_contain_text("Deleted the model")
    assert ui_server.api.get(f"/api/models/{again_id}").status_code == 404
    response = page.goto(f"{ui_server.url}/models/{again_id}")
    assert response is not None and response.status == 404
    assert "not found" in page.locator(".error-box").inner_text()


def test_test_reports_beside_their_model(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("Model with a report", settings={"training": {"epochs": 50}}, start=True)
    ui_server.wait_for(model["id"], {"completed"})
    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.locator("#testreports-title").wait_for()
    page.get_by_role("link", name="Summary report").click()
    expect(page.get_by_label("Name")).to_have_value("Model with a report report #1")
    page.get_by_role("button", name="Create and start training").click()
    page.wait_for_url("**/testreports/*")
    report_id = page.url.split("/testreports/")[1].split("?")[0]
    ui_server.wait_for(report_id, {"completed"}, kind="reports")
    page.goto(f"{ui_server.url}/models/{model['id']}")
    page.locator("section", has=page.locator("#testreports-title")).get_by_role(
        "link", name="Model with a report report #1").click()
    page.wait_for_url(f"**/testreports/{report_id}")
    summary = page.frame_locator('iframe[title="Report summary.html"]')
    expect(summary.locator("#model")).to_have_text("Model: Model with a report")
    expect(page.locator("section", has=page.locator("#results-title")).locator("td").first).to_have_text("41")
    page.get_by_role("link", name=re.compile(r"^Artifacts \(\d+\)$")).click()
    expect(page.locator("#artifact-list")).to_contain_text("summary.html")
    page.goto(f"{ui_server.url}/testreports/{report_id}")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Model with a report", exact=True).click()
    page.wait_for_url(f"**/models/{model['id']}")


def test_user_content_is_escaped(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    name = "<script>alert(1)</script>"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    model = ui_server.create_model(name, settings={"training": {"epochs": 5}})
    ui_server.api.post("/api/datasets", json={"name": '"><img src=x onerror=alert(2)>'}).raise_for_status()
    page.goto(f"{ui_server.url}/models?q=alert")
    assert page.locator("#job-list").get_by_role("link", name=name).count() == 1
    page.goto(f"{ui_server.url}/models/{model['id']}")
    assert page.get_by_role("heading", level=1).inner_text().endswith(name)
    assert page.title().startswith(name)
    page.goto(f"{ui_server.url}/datasets?q=onerror")
    assert page.locator("#dataset-list").get_by_role("link", name='"><img src=x onerror=alert(2)>').count() == 1
    assert page.locator("#dataset-list img").count() == 0
    assert dialogs == []


def test_narrow_screen_and_labels(context: Any, ui_server: Platform, screenshots: Path) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 375, "height": 740})
    login(page, ui_server)
    model = ui_server.create_model("Narrow", settings={"training": {"epochs": 40}}, start=True)
    ui_server.wait_for(model["id"], {"completed"})
    for path in ("/models", f"/models/{model['id']}", f"/zoo/{ui_server.ids['lr']}",
                 f"/datasets/{ui_server.ids['dataset']}", "/datasets", "/tags", "/zoo"):
        page.goto(ui_server.url + path)
        assert page.title(), path
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a 375px screen"
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML)""")
        assert unlabelled == [], f"{path} has inputs without a label: {unlabelled}"
        if path == f"/models/{model['id']}":
            shot(page, screenshots, "model-page-narrow", full_page=False)
