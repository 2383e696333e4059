"""Pages offer only what the signed-in user may do: a viewer sees no control whose route would answer 403,
a member sees them on the same pages (so the test fails if the controls vanish for everyone)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ui_helpers import Platform, login, new_user

pytestmark = pytest.mark.browser

# The write controls each page draws for a member (CSS selectors), by page.
CONTROLS = {
    "models list": ['a.button[href="/zoo"]'],
    "running model": ['form[action$="/stop"]', 'form[action$="/rerun"]', 'a[href*="?from="]', 'a[href$="/delete"]',
                      'form[action$="/notes"]', 'form[action$="/tags"]'],
    "completed model": ['form[action$="/rerun"]', 'a[href*="?from="]', 'a[href$="/delete"]',
                        'form[action$="/notes"]', 'form[action$="/tags"]', 'a.button[href*="?parent="]'],
    "created model": ['form[action$="/start"]', 'a[href$="/delete"]'],
    "datasets": ['a[href="/datasets/new"]'],
    "a dataset": ['a[href$="/delete"]', "#upload-form", 'form[action$="/tags"]'],
    "tags": ['form[action="/tags"]'],
    "model zoo": ['a.button[href^="/zoo/"]'],
    "create form": ['button[name="action"]'],
    "compare": [],
}
# Forms a viewer may post anywhere: log out, and their own choice of columns on the models list.
VIEWER_FORMS = {"/logout", "/models/columns"}


def _model(ui_server: Platform, name: str, statuses: list[str]) -> str:
    """A model that went through `statuses`, reported with its own job key as a job does."""
    model = ui_server.create_model(name)
    with httpx.Client(base_url=ui_server.url, headers={"Authorization": f"Bearer {model['apiKey']}"}) as job:
        for status in statuses:
            job.post(f"/api/jobs/{model['id']}/state", json={"status": status}).raise_for_status()
    return model["id"]


def _pages(ui_server: Platform, running: str, completed: str, created: str) -> dict[str, str]:
    ids = ui_server.ids
    return {"models list": "/models", "running model": f"/models/{running}", "completed model": f"/models/{completed}",
            "created model": f"/models/{created}", "datasets": "/datasets", "a dataset": f"/datasets/{ids['dataset']}",
            "tags": "/tags", "model zoo": "/zoo", "create form": f"/zoo/{ids['lr']}",
            "compare": f"/compare?ids={running},{completed}"}


def _write_controls(page: Any) -> list[str]:
    """Every control on the page that changes something a viewer may not change (a form they may read, as the
    create form, counts when it has a button that sends it)."""
    found = page.eval_on_selector_all(
        "main form[method=post]:has([type=submit]), main a[href$='/delete'], main a[href='/datasets/new'], "
        "main #upload-form, main button[name=action]",
        "els => els.map(e => e.outerHTML.split('>')[0] + '>')")
    allowed = tuple(f'action="{action}"' for action in VIEWER_FORMS)
    return [html for html in found if not any(mark in html for mark in allowed)]


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_pages_draw_write_controls_only_for_roles_that_may_use_them(browser: Any, ui_server: Platform,
                                                                   role: str) -> None:
    running = _model(ui_server, f"roles running {role}", ["running"])
    completed = _model(ui_server, f"roles completed {role}", ["running", "completed"])
    created = ui_server.create_model(f"roles created {role}")["id"]
    name, password = new_user(ui_server, role)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        login(page, ui_server, username=name, password=password)
        for title, path in _pages(ui_server, running, completed, created).items():
            answer = page.goto(f"{ui_server.url}{path}")
            assert answer is not None and answer.status == 200, f"{role} {title}: {answer and answer.status}"
            if title == "running model":
                assert page.locator("#job-status").inner_text() == "running"
            present = {selector: page.locator(f"main {selector}").count() for selector in CONTROLS[title]}
            if role == "viewer":
                assert not any(present.values()), f"a viewer sees write controls on {title}: {present}"
                assert _write_controls(page) == [], f"a viewer sees write controls on {title}"
            else:
                assert all(present.values()), f"a member misses write controls on {title}: {present}"
        page.goto(f"{ui_server.url}/models")  # what a viewer may do stays
        assert page.get_by_role("button", name="Compare selected").count() == 1
        assert page.locator('form[action="/models/columns"]').count() == 1
    finally:
        context.close()


def test_a_viewer_posting_a_hidden_control_is_still_refused(ui_server: Platform, logged_in: Any) -> None:
    """The server's 403 stays: hiding a button is a courtesy, not the check."""
    page = logged_in
    created = ui_server.create_model("roles refused")["id"]
    page.goto(f"{ui_server.url}/models/{created}")
    csrf = page.locator('form[action$="/start"] input[name=csrf_token]').get_attribute("value")
    name, password = new_user(ui_server, "viewer")
    viewer = page.context.browser.new_context()
    try:
        theirs = viewer.new_page()
        login(theirs, ui_server, username=name, password=password)
        viewer_csrf = theirs.locator('meta[name="csrf-token"]').get_attribute("content")
        assert viewer_csrf != csrf
        answer = theirs.request.post(f"{ui_server.url}/models/{created}/start", form={"csrf_token": viewer_csrf},
                                     max_redirects=0)
        assert answer.status == 403 and "needs the member role" in answer.text()
        assert ui_server.api.get(f"/api/models/{created}").json()["status"] == "created"
    finally:
        viewer.close()


def test_a_viewer_reads_the_create_form_as_a_description_and_learns_who_can_create(browser: Any,
                                                                                   ui_server: Platform) -> None:
    """A viewer is told their role cannot create and which roles can, and reads the settings (type, default,
    bounds, help) instead of a form without buttons; a member gets the form."""
    from playwright.sync_api import expect

    type_id = ui_server.ids["lr"]
    source = ui_server.create_model("roles described", settings={"training": {"epochs": 7}})["id"]
    for role in ("viewer", "member"):
        name, password = new_user(ui_server, role)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            login(page, ui_server, username=name, password=password)
            page.goto(f"{ui_server.url}/zoo/{type_id}")
            main = page.locator("main")
            if role == "member":
                expect(main.locator("#f-training-epochs")).to_have_value("200")
                assert main.locator("#read-only-form, #settings-description").count() == 0
                continue
            notice = main.locator("#read-only-form")
            expect(notice).to_contain_text("Your role (viewer) cannot create models.")
            expect(notice).to_contain_text("The member and admin roles can")
            assert main.locator("form, input, select, textarea, button").count() == 0
            epochs = main.locator('#settings-description tr[data-setting="training.epochs"]')
            expect(epochs).to_contain_text("Epochs")
            assert [cell.strip() for cell in epochs.locator("td").all_inner_texts()] == [
                "whole number", "200", "≥ 1", "Gradient descent steps over the whole training set"]
            fraction = main.locator('#settings-description tr[data-setting="data.test_fraction"] td')
            assert [fraction.nth(0).inner_text(), fraction.nth(2).inner_text()] == ["number", "> 0 and < 1"]
            expect(main.locator("#settings-description th[scope=rowgroup]").first).to_contain_text("Data")
            # "Run again with changes" of a run: its values, read-only too.
            page.goto(f"{ui_server.url}/zoo/{type_id}?from={source}")
            expect(main.locator('#settings-description tr[data-setting="training.epochs"] td').nth(1)).to_have_text("7")
            expect(main.locator("#settings-description thead")).to_contain_text("Value")
            assert main.locator("form, input").count() == 0
        finally:
            context.close()
