"""A run's page beyond watching it: run again with changes, Start, the live log, artifact previews,
notes (Markdown, rendered inert) and tags edited after creation."""

from __future__ import annotations

import base64
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, shot

PRINTER = textwrap.dedent('''
    """Prints numbered lines until its stop file exists (a job whose log grows while it runs)."""
    import pathlib, time
    from brevettiai import Job

    class Printer(Job):
        def run(self):
            stop = pathlib.Path(self.settings.stop_file)
            line = 0
            deadline = time.monotonic() + 90
            while not stop.exists() and time.monotonic() < deadline:
                line += 1
                print(f"epoch {line}: loss {1 / line:.4f}, samples/s {900 + line % 7 * 13}", flush=True)
                self.log_metrics(line, loss=1 / line)
                time.sleep(0.2)
            print("training done", flush=True)

    if __name__ == "__main__":
        Printer.init().start()
''')
STOP_SCHEMA = {"fields": [{"type": "input", "inputType": "text", "model": "stop_file", "label": "Stop file",
                           "required": True}]}
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def printer_type(ui_server: Platform, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("printer")
    (folder / "printer.py").write_text(PRINTER)
    answer = ui_server.api.post("/api/modeltypes", json={
        "name": "Printer", "shortDescription": "Prints its progress until told to stop.",
        "settingsSchema": STOP_SCHEMA, "command": [sys.executable, str(folder / "printer.py")]})
    answer.raise_for_status()
    return answer.json()["id"]


@pytest.fixture(scope="module")
def no_command_type(ui_server: Platform) -> str:
    answer = ui_server.api.post("/api/modeltypes", json={"name": "Run it yourself", "command": []})
    answer.raise_for_status()
    return answer.json()["id"]


def _model_id(page: Any) -> str:
    return page.url.split("/models/")[1].split("?")[0].split("#")[0]


def test_run_again_with_changes_prefills_the_form_and_the_server_validates_it(
        logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    source = ui_server.create_model("Tuned run", settings={"training": {"epochs": 37, "learning_rate": 0.2}},
                                    datasetIds=[ui_server.ids["dataset"]], tagIds=[ui_server.ids["subtag"]])
    page.goto(f"{ui_server.url}/models/{source['id']}")
    page.get_by_role("link", name="Run again with changes").click()
    page.wait_for_url("**/zoo/*?from=*")
    expect(page.locator("#clone-source")).to_contain_text("Tuned run")
    expect(page.get_by_label("Name")).to_have_value("Tuned run #2")  # a new run's name, unique as on a fresh form
    expect(page.locator("#f-training-epochs")).to_have_value("37")
    expect(page.locator("#f-training-learning_rate")).to_have_value("0.2")
    expect(page.locator(f"#ds-{ui_server.ids['dataset']}")).to_be_checked()
    expect(page.locator(f"#tag-{ui_server.ids['subtag']}")).to_be_checked()
    expect(page.locator(f"#tag-{ui_server.ids['tag']}")).not_to_be_checked()

    page.locator("#f-training-epochs").fill("0")  # below the setting's minimum: the server refuses it
    page.get_by_role("button", name="Create without starting").click()
    expect(page.locator("#form-errors")).to_contain_text("was not created")
    expect(page.locator("#f-training-epochs")).to_have_value("0")
    page.locator("#f-training-epochs").fill("12")
    page.get_by_label("Name").fill("Tuned run, fewer epochs")
    page.get_by_role("button", name="Create without starting").click()
    page.wait_for_url("**/models/*")
    clone = ui_server.api.get(f"/api/models/{_model_id(page)}").json()
    assert clone["id"] != source["id"] and clone["status"] == "created"
    assert clone["name"] == "Tuned run, fewer epochs"
    assert clone["settings"]["training"]["epochs"] == 12 and clone["settings"]["training"]["learning_rate"] == 0.2
    assert clone["datasetIds"] == [ui_server.ids["dataset"]] and clone["tagIds"] == [ui_server.ids["subtag"]]

    # created, never started: the page offers Start, which queues it
    expect(page.locator("#notstarted-title")).to_have_text("Not started")
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("Started the model.")
    expect(page.locator("#job-key")).to_have_value(re.compile(r"^bj_"))  # the new key, shown once
    ui_server.wait_for(clone["id"], {"completed"})


def test_a_run_that_cannot_start_stays_created_with_the_reason(
        logged_in: Any, ui_server: Platform, no_command_type: str) -> None:
    page = logged_in
    model = ui_server.api.post("/api/models", json={"name": "Mine to run", "modelTypeId": no_command_type}).json()
    page.goto(f"{ui_server.url}/models/{model['id']}")
    expect(page.locator("#not-started-reason")).to_contain_text("has no command to run")
    expect(page.get_by_role("button", name="Start", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Run again", exact=True).click()
    # The page is a model's page already: wait for the new model's, not for any.
    page.wait_for_url(lambda url: "/models/" in url and model["id"] not in url)
    again_id = _model_id(page)
    expect(page.locator(".flash")).to_contain_text("could not start")
    expect(page.locator("#job-status")).to_have_text("created")
    expect(page.locator("#not-started-reason")).to_contain_text("has no command to run")
    assert ui_server.api.get(f"/api/models/{again_id}").json()["status"] == "created"  # kept, not queued


def test_the_live_log_grows_while_the_job_runs_and_stays_after_it_ends(
        logged_in: Any, ui_server: Platform, printer_type: str, tmp_path: Path, screenshots: Path) -> None:
    page = logged_in
    stop_file = tmp_path / "stop"
    model = ui_server.api.post("/api/models", json={"name": "Printer at work", "modelTypeId": printer_type,
                                                    "settings": {"stop_file": str(stop_file)}}).json()
    ui_server.api.post(f"/api/models/{model['id']}/start").raise_for_status()
    page.goto(f"{ui_server.url}/models/{model['id']}")
    log = page.locator("#log-text")
    page.wait_for_function("() => document.querySelector('#log-text').textContent.includes('epoch 3:')")
    first = len(log.text_content())
    page.wait_for_function("() => document.querySelector('#log-text').textContent.includes('epoch 12:')")
    assert len(log.text_content()) > first  # new lines arrived without a reload
    expect(page.locator("#job-status")).to_have_text("running")
    expect(page.locator("#log-state")).to_contain_text("Live")
    page.locator('#progress-charts .progress-chart[data-rendered="true"] svg').first.wait_for()
    page.locator("#job-log").scroll_into_view_if_needed()
    shot(page, screenshots, "live-log")

    with page.expect_download() as download:
        page.locator("#log-download").click()
    assert "epoch 3:" in Path(download.value.path()).read_text()

    stop_file.write_text("")
    ui_server.wait_for(model["id"], {"completed"})
    page.wait_for_function("() => document.querySelector('#job-status').textContent === 'completed'", timeout=30_000)
    page.wait_for_function("() => (document.querySelector('#log-text') || {textContent: ''})"
                           ".textContent.includes('training done')", timeout=30_000)
    page.goto(f"{ui_server.url}/models/{model['id']}")  # after the end, for every state, the log is kept
    expect(page.locator("#log-text")).to_contain_text("epoch 1:")
    expect(page.locator("#log-text")).to_contain_text("training done")


def test_artifact_previews_are_inert(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("With artifacts")
    files = {"notes.txt": b"<script>window.__ran = 1</script>\nplain text \xc3\xa9",
             "metrics.json": b'{"accuracy": 0.93, "classes": ["ok", "<b>bad</b>"]}',
             "table.csv": b"name,score\nalpha,1\n<img src=x onerror=window.__ran=2>,2\n",
             "plots/curve.png": PNG, "model.bin": b"\x00\x01", "empty.json": b""}
    for name, data in files.items():
        ui_server.api.put(f"/api/files/{model['id']}/artifacts/{name}", content=data).raise_for_status()
    page.goto(f"{ui_server.url}/models/{model['id']}/artifacts")
    assert page.get_by_role("link", name="Preview model.bin").count() == 0  # no preview for binaries

    page.get_by_role("link", name="Preview notes.txt").click()
    expect(page.locator("#preview .preview-text")).to_have_text(re.compile(r"^<script>window\.__ran = 1</script>"))
    expect(page.locator("#preview")).to_contain_text("plain text é")

    page.goto(f"{ui_server.url}/models/{model['id']}/artifacts")
    page.get_by_role("link", name="Preview metrics.json").click()
    preview = page.locator("#preview .preview-text")
    expect(preview).to_contain_text('"<b>bad</b>"')  # the preview the click loads
    assert preview.text_content() == '{\n  "accuracy": 0.93,\n  "classes": [\n    "ok",\n    "<b>bad</b>"\n  ]\n}'

    page.goto(f"{ui_server.url}/models/{model['id']}/artifacts")
    page.get_by_role("link", name="Preview empty.json").click()  # says it is empty, not "Not valid JSON"
    expect(page.locator("#preview")).to_contain_text("The file is empty")
    assert "Not valid JSON" not in page.locator("#preview").inner_text()

    page.goto(f"{ui_server.url}/models/{model['id']}/artifacts")
    page.get_by_role("link", name="Preview table.csv").click()
    expect(page.locator(".preview-table th")).to_have_text(["name", "score"])
    expect(page.locator(".preview-table tbody tr")).to_have_count(2)
    expect(page.locator(".preview-table tbody td").first).to_have_text("alpha")
    expect(page.locator(".preview-table img")).to_have_count(0)

    page.goto(f"{ui_server.url}/models/{model['id']}/artifacts?folder=plots")
    page.get_by_role("link", name="Preview curve.png").click()
    image = page.locator("#preview img")
    expect(image).to_have_attribute("alt", "plots/curve.png")
    page.wait_for_function("() => document.querySelector('#preview img').naturalWidth === 2")
    assert page.evaluate("() => window.__ran") is None
    inline = ui_server.api.get(f"/models/{model['id']}/inline/artifacts/plots/curve.png")
    assert inline.status_code in (303, 401)  # the inline route is for the logged-in pages only
    answer = page.request.get(f"{ui_server.url}/models/{model['id']}/inline/artifacts/plots/curve.png")
    assert answer.status == 200 and "sandbox" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_notes_are_rendered_inert_and_tags_are_edited(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("Annotated")
    page.goto(f"{ui_server.url}/models/{model['id']}")
    expect(page.locator("#notes-empty")).to_have_text("No notes yet.")
    page.get_by_text("Edit the notes").click()
    page.get_by_label("Notes (Markdown").fill(
        "## Why this run\n**Higher** learning rate.\n\n<script>window.__pwned = 1</script>\n"
        "<img src=x onerror=\"window.__pwned = 2\">\n\n[click](javascript:window.__pwned=3) "
        "[docs](https://example.org/a)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    page.get_by_role("button", name="Save notes").click()
    expect(page.locator(".flash")).to_contain_text("Saved the notes.")
    notes = page.locator("#notes-text")
    expect(notes.locator("h2")).to_have_text("Why this run")
    expect(notes.locator("strong")).to_have_text("Higher")
    expect(notes.locator("td")).to_have_text(["1", "2"])
    assert notes.locator("script, img, iframe, [onerror]").count() == 0
    assert "<script>window.__pwned = 1</script>" in notes.inner_text()  # shown as text
    assert [a.get_attribute("href") for a in notes.locator("a").all()] == ["https://example.org/a"]
    assert page.evaluate("() => window.__pwned") is None
    assert ui_server.api.get(f"/api/models/{model['id']}").json()["notes"].startswith("## Why this run")

    page.get_by_text("Edit the tags").click()
    page.locator(f"#edit-tag-{ui_server.ids['tag']}").check()
    page.get_by_role("button", name="Save tags").click()
    expect(page.locator(".flash")).to_contain_text("Saved the tags (1).")
    expect(page.locator("#job-tags")).to_have_text("production")
    assert ui_server.api.get(f"/api/models/{model['id']}").json()["tagIds"] == [ui_server.ids["tag"]]
    page.get_by_text("Edit the tags").click()
    page.locator(f"#edit-tag-{ui_server.ids['tag']}").uncheck()
    page.get_by_role("button", name="Save tags").click()
    expect(page.locator("#job-tags")).to_have_text("No tags.")


def test_a_test_report_runs_again_with_changes_about_the_same_model(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    parent = ui_server.create_model("Reported model")
    report = ui_server.api.post("/api/reports", json={"name": "Summary of it", "parentId": parent["id"],
                                                      "modelTypeId": ui_server.ids["report"],
                                                      "tagIds": [ui_server.ids["tag"]]}).json()
    page.goto(f"{ui_server.url}/testreports/{report['id']}")
    page.get_by_role("link", name="Run again with changes").click()
    expect(page.get_by_label("Name")).to_have_value("Summary of it #2")
    expect(page.locator("input[name=parent_id]")).to_have_value(parent["id"])
    expect(page.locator(f"#tag-{ui_server.ids['tag']}")).to_be_checked()
    page.get_by_label("Name").fill("Summary, second look")
    page.get_by_role("button", name="Create without starting").click()
    page.wait_for_url("**/testreports/*")
    again = ui_server.api.get(f"/api/reports/{page.url.split('/testreports/')[1].split('?')[0]}").json()
    assert again["parentId"] == parent["id"] and again["name"] == "Summary, second look"
    assert again["tagIds"] == [ui_server.ids["tag"]] and again["status"] == "created"
