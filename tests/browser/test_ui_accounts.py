"""The admin page (users, audit log) and the profile page (own password, access tokens), as people use them."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, login, new_user, shot

pytestmark = pytest.mark.browser


def _row(page: Any, table: str, key: str, value: str) -> Any:
    return page.locator(f"#{table} tr[data-{key}='{value}']")


def test_admin_page_manages_users_and_shows_the_audit_log(page: Any, browser: Any, ui_server: Platform,
                                                          screenshots: Path) -> None:
    login(page, ui_server)
    page.locator("header.top").get_by_role("link", name="Admin", exact=True).click()
    page.wait_for_url(f"{ui_server.url}/admin")
    expect(page).to_have_title("Admin · Brevetti AI")

    # Add a user without a password: one is generated and shown this once.
    name = f"colleague-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Role", exact=True).select_option("member")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("heading", name=f"Password of {name} — shown only this once")).to_be_visible()
    generated = page.get_by_label("Password", exact=True).input_value()
    assert len(generated) >= 10
    row = _row(page, "user-list", "user", name)
    expect(row.locator(".user-state")).to_have_text("enabled")
    shot(page, screenshots, "admin-page")
    page.reload()
    assert generated not in page.content()

    # The colleague logs in, in a browser of their own.
    other = browser.new_context()
    try:
        theirs = other.new_page()
        login(theirs, ui_server, username=name, password=generated)
        expect(theirs.locator("header.top").get_by_role("link", name="Models", exact=True)).to_have_count(1)
        expect(theirs.locator("header.top").get_by_role("link", name="Admin", exact=True)).to_have_count(0)

        # Set the role to viewer: their next request is a viewer's.
        row = _row(page, "user-list", "user", name)
        row.get_by_label(f"Role of {name}").select_option("viewer")
        row.get_by_role("button", name=f"Set role of {name}").click()
        expect(page.get_by_role("status")).to_have_text(f"{name} is now viewer.")
        theirs.goto(f"{ui_server.url}/datasets/new")
        expect(theirs.locator("main")).to_contain_text("This needs the member role")

        # Reset the password: a new one is shown, their session ends.
        _row(page, "user-list", "user", name).get_by_role("button", name=f"Reset password of {name}").click()
        password_box = page.get_by_label("Password", exact=True)
        expect(password_box).not_to_have_value(generated)  # the page the reset loads shows a new one
        reset = password_box.input_value()
        assert reset
        theirs.goto(f"{ui_server.url}/models")
        assert "/login" in theirs.url
        login(theirs, ui_server, username=name, password=reset)

        # Disable: their session stops at once.
        _row(page, "user-list", "user", name).get_by_role("button", name=f"Disable {name}").click()
        expect(_row(page, "user-list", "user", name).locator(".user-state")).to_have_text("disabled")
        theirs.goto(f"{ui_server.url}/models")
        assert "/login" in theirs.url
        theirs.get_by_label("Username").fill(name)
        theirs.get_by_label("Password").fill(reset)
        theirs.get_by_role("button", name="Log in").click()
        expect(theirs.get_by_role("alert")).to_contain_text("is disabled")
    finally:
        other.close()

    # The audit log shows what happened, newest first, and filters by action.
    page.get_by_label("Action").fill("user.disable")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**action=user.disable*")
    first = page.locator("#audit-log tbody tr").first
    expect(first).to_contain_text(name)
    assert "admin" in first.inner_text() and "127.0.0.1" in first.inner_text()
    page.get_by_label("Action").fill("sign_in")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**action=sign_in*")
    expect(page.locator("#audit-log tbody tr", has_text="denied").filter(has_text=name).first).to_be_attached()


def test_profile_page_changes_the_password_and_manages_tokens(page: Any, ui_server: Platform,
                                                              screenshots: Path) -> None:
    name, password = new_user(ui_server, "member")
    login(page, ui_server, username=name, password=password)
    page.locator("header.top").get_by_role("link", name=f"Logged in as {name}").click()
    page.wait_for_url(f"{ui_server.url}/profile")
    expect(page.locator("#my-role")).to_have_text("member")

    # A read-only token: shown once, works for reading only, listed with its last use, revoked.
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_label("Read-only").check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_label("New token")).to_have_value(re.compile(r"^bp_"))
    token = page.get_by_label("New token").input_value()
    shot(page, screenshots, "profile-page")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{ui_server.url}/api/models", headers=headers).status_code == 200
    assert httpx.post(f"{ui_server.url}/api/tags", headers=headers, json={"name": "x"}).status_code == 403
    page.goto(f"{ui_server.url}/profile")
    assert token not in page.content()
    row = _row(page, "token-list", "token", "ci")
    expect(row.locator(".token-state")).to_have_text("active")
    expect(row).to_contain_text("read-only")
    expect(row.locator("time")).to_have_count(3)  # created, expires, last used
    row.get_by_role("button", name="Revoke ci").click()
    expect(page.get_by_role("status")).to_have_text("Revoked the token “ci”.")
    expect(_row(page, "token-list", "token", "ci").locator(".token-state")).to_have_text("revoked")
    assert httpx.get(f"{ui_server.url}/api/models", headers=headers).status_code == 401

    # Changing the password: the form says what is wrong, then takes a good one.
    def change(current: str, new: str, again: str | None = None) -> None:
        page.get_by_label("Current password").fill(current)
        page.get_by_label("New password", exact=True).fill(new)
        page.get_by_label("New password again").fill(new if again is None else again)
        page.get_by_role("button", name="Change password").click()

    change("wrong-current-password", "a-fresh-long-passphrase")
    expect(page.get_by_role("alert")).to_have_text("The current password is wrong.")
    change(password, "a-fresh-long-passphrase", "something-else-entirely")
    expect(page.get_by_role("alert")).to_contain_text("differ")
    change(password, "password123")
    expect(page.get_by_role("alert")).to_contain_text("commonest passwords")
    change(password, "a-fresh-long-passphrase")
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    assert httpx.post(f"{ui_server.url}/api/auth/token",
                      json={"username": name, "password": "a-fresh-long-passphrase"}).status_code == 200
    assert httpx.post(f"{ui_server.url}/api/auth/token",
                      json={"username": name, "password": password}).status_code == 401


def test_a_viewer_sees_no_admin_link_and_is_refused_the_admin_page(page: Any, ui_server: Platform) -> None:
    name, password = new_user(ui_server, "viewer")
    login(page, ui_server, username=name, password=password)
    expect(page.locator("header.top").get_by_role("link", name="Models", exact=True)).to_have_count(1)
    expect(page.locator("header.top").get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    response = page.goto(f"{ui_server.url}/admin")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("This needs the admin role")
    page.goto(f"{ui_server.url}/profile")
    expect(page.get_by_label("Read-only")).to_be_checked()
    expect(page.get_by_label("Read-only")).to_be_disabled()
