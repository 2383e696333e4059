"""Logging in and out, the login cookie, CSRF protection, and a keyboard-only login."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, shot

pytestmark = pytest.mark.browser


def test_login_wrong_password_then_logout(page: Any, ui_server: Platform, screenshots: Path) -> None:
    response = page.goto(f"{ui_server.url}/models?q=abc")
    assert response is not None
    assert page.url == f"{ui_server.url}/login?next=%2Fmodels%3Fq%3Dabc"
    expect(page).to_have_title("Log in · Brevetti AI")
    shot(page, screenshots, "login")

    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("admin")

    page.get_by_label("Password").fill(ui_server.server.admin_password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{ui_server.url}/models?q=abc")
    header = page.locator("header.top")
    expect(header).to_contain_text("Admin")
    for section in ("Models", "Model zoo", "Datasets", "Tags"):
        expect(header.get_by_role("link", name=section, exact=True)).to_have_count(1)

    cookie = next(c for c in page.context.cookies() if c["name"] == "brevettiai_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["value"].startswith("bu_")  # a user token from the server's own login
    assert httpx.get(f"{ui_server.url}/api/auth/me", headers={"Authorization": f"Bearer {cookie['value']}"}).status_code == 200
    # The REST API does not take the cookie: only Bearer tokens.
    with httpx.Client(cookies={"brevettiai_session": cookie["value"]}) as client:
        assert client.get(f"{ui_server.url}/api/auth/me").status_code == 401

    page.goto(f"{ui_server.url}/login")  # logged in already: straight on
    assert page.url == f"{ui_server.url}/models"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{ui_server.url}/login")
    expect(page.locator(".flash")).to_have_text("You are logged out.")
    assert not [c for c in page.context.cookies() if c["name"] == "brevettiai_session"]
    # The token was revoked, not only forgotten by the browser.
    assert httpx.get(f"{ui_server.url}/api/auth/me", headers={"Authorization": f"Bearer {cookie['value']}"}).status_code == 401
    page.goto(f"{ui_server.url}/datasets")
    assert "/login" in page.url


def test_login_with_the_keyboard_only(page: Any, ui_server: Platform) -> None:
    page.goto(f"{ui_server.url}/login")
    expect(page.get_by_label("Username")).to_be_focused()  # focused on arrival
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(ui_server.server.admin_password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{ui_server.url}/models")
    # The skip link is the first stop, and leads to the content.
    page.keyboard.press("Tab")
    page.wait_for_function("() => document.activeElement.textContent === 'Skip to content'")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.wait_for_function("() => document.activeElement.closest('main') !== null")


def test_forms_need_the_csrf_token(logged_in: Any, ui_server: Platform) -> None:
    page = logged_in
    model = ui_server.create_model("Protected", settings={"training": {"epochs": 5}})
    url = f"{ui_server.url}/models/{model['id']}/delete"
    # The browser's cookie alone (as a cross-site form would send it) is not enough.
    for form in ({}, {"csrf_token": "forged"}):
        response = page.request.post(url, form=form, max_redirects=0)
        assert response.status == 403
    assert ui_server.api.get(f"/api/models/{model['id']}").status_code == 200
    upload = page.request.put(f"{ui_server.url}/datasets/{ui_server.ids['dataset']}/files/x.txt", data=b"x")
    assert upload.status == 403
    # With the page's token it goes through.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(url, form={"csrf_token": token}, max_redirects=0)
    assert response.status == 303
    assert ui_server.api.get(f"/api/models/{model['id']}").status_code == 404


def test_pages_need_a_session(ui_server: Platform) -> None:
    with httpx.Client(base_url=ui_server.url) as client:
        for path in ("/models", "/zoo", "/datasets", f"/datasets/{ui_server.ids['dataset']}", "/tags"):
            response = client.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
        assert client.get("/models/x/live.json").status_code == 401
    with httpx.Client(base_url=ui_server.url, cookies={"brevettiai_session": "bu_made-up"}) as client:
        assert client.get("/models").status_code == 303
    with httpx.Client(base_url=ui_server.url) as client:
        page = client.get("/login")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
    login_page_links = httpx.get(f"{ui_server.url}/login").text
    assert "http" not in login_page_links.replace("http-equiv", "")  # no absolute URL: nothing from elsewhere
