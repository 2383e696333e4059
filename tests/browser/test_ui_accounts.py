"""The admin page (users, audit log) and the profile page (own password, access tokens), as people use them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_helpers import Platform, login, new_user, shot

pytestmark = pytest.mark.browser


def _row(page: Any, table: str, key: str, value: str) -> Any:
    return page.locator(f"#{table} tr[data-{key}='{value}']")


def test_admin_page_manages_users_and_shows_the_audit_log(page: Any, browser: Any, ui_server: Platform,
                                                          screenshots: Path) -> None:
    login(page, ui_server)
    page.locator("header.top").get_by_role("link", name="Admin", exact=True).click()
    page.wait_for_url(f"{ui_server.url}/admin")
    assert page.title() == "Admin · Brevetti AI"

    # Add a user without a password: one is generated and shown this once.
    name = f"colleague-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Role", exact=True).select_option("member")
    page.get_by_role("button", name="Add user").click()
    generated = page.get_by_label("Password", exact=True).input_value()
    assert len(generated) >= 10
    assert page.get_by_role("heading", name=f"Password of {name} — shown only this once").is_visible()
    row = _row(page, "user-list", "user", name)
    assert row.locator(".user-state").inner_text() == "enabled"
    shot(page, screenshots, "admin-page")
    page.reload()
    assert generated not in page.content()

    # The colleague logs in, in a browser of their own.
    other = browser.new_context()
    try:
        theirs = other.new_page()
        login(theirs, ui_server, username=name, password=generated)
        assert theirs.locator("header.top").get_by_role("link", name="Admin", exact=True).count() == 0

        # Set the role to viewer: their next request is a viewer's.
        row = _row(page, "user-list", "user", name)
        row.get_by_label(f"Role of {name}").select_option("viewer")
        row.get_by_role("button", name=f"Set role of {name}").click()
        assert page.get_by_role("status").inner_text() == f"{name} is now viewer."
        theirs.goto(f"{ui_server.url}/datasets/new")
        assert "This needs the member role" in theirs.locator("main").inner_text()

        # Reset the password: a new one is shown, their session ends.
        _row(page, "user-list", "user", name).get_by_role("button", name=f"Reset password of {name}").click()
        reset = page.get_by_label("Password", exact=True).input_value()
        assert reset and reset != generated
        theirs.goto(f"{ui_server.url}/models")
        assert "/login" in theirs.url
        login(theirs, ui_server, username=name, password=reset)

        # Disable: their session stops at once.
        _row(page, "user-list", "user", name).get_by_role("button", name=f"Disable {name}").click()
        assert _row(page, "user-list", "user", name).locator(".user-state").inner_text() == "disabled"
        theirs.goto(f"{ui_server.url}/models")
        assert "/login" in theirs.url
        theirs.get_by_label("Username").fill(name)
        theirs.get_by_label("Password").fill(reset)
        theirs.get_by_role("button", name="Log in").click()
        assert "is disabled" in theirs.get_by_role("alert").inner_text()
    finally:
        other.close()

    # The audit log shows what happened, newest first, and filters by action.
    page.get_by_label("Action").fill("user.disable")
    page.get_by_role("button", name="Show").click()
    first = page.locator("#audit-log tbody tr").first
    assert name in first.inner_text() and "admin" in first.inner_text() and "127.0.0.1" in first.inner_text()
    page.get_by_label("Action").fill("sign_in")
    page.get_by_role("button", name="Show").click()
    assert page.locator("#audit-log tbody tr", has_text="denied").filter(has_text=name).count() >= 1


def test_profile_page_changes_the_password_and_manages_tokens(page: Any, ui_server: Platform,
                                                              screenshots: Path) -> None:
    name, password = new_user(ui_server, "member")
    login(page, ui_server, username=name, password=password)
    page.locator("header.top").get_by_role("link", name=f"Logged in as {name}").click()
    page.wait_for_url(f"{ui_server.url}/profile")
    assert page.locator("#my-role").inner_text() == "member"

    # A read-only token: shown once, works for reading only, listed with its last use, revoked.
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_label("Read-only").check()
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("New token").input_value()
    assert token.startswith("bp_")
    shot(page, screenshots, "profile-page")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{ui_server.url}/api/models", headers=headers).status_code == 200
    assert httpx.post(f"{ui_server.url}/api/tags", headers=headers, json={"name": "x"}).status_code == 403
    page.goto(f"{ui_server.url}/profile")
    assert token not in page.content()
    row = _row(page, "token-list", "token", "ci")
    assert row.locator(".token-state").inner_text() == "active" and "read-only" in row.inner_text()
    assert row.locator("time").count() == 3  # created, expires, last used
    row.get_by_role("button", name="Revoke ci").click()
    assert page.get_by_role("status").inner_text() == "Revoked the token “ci”."
    assert _row(page, "token-list", "token", "ci").locator(".token-state").inner_text() == "revoked"
    assert httpx.get(f"{ui_server.url}/api/models", headers=headers).status_code == 401

    # Changing the password: the form says what is wrong, then takes a good one.
    def change(current: str, new: str, again: str | None = None) -> None:
        page.get_by_label("Current password").fill(current)
        page.get_by_label("New password", exact=True).fill(new)
        page.get_by_label("New password again").fill(new if again is None else again)
        page.get_by_role("button", name="Change password").click()

    change("wrong-current-password", "a-fresh-long-passphrase")
    assert page.get_by_role("alert").inner_text() == "The current password is wrong."
    change(password, "a-fresh-long-passphrase", "something-else-entirely")
    assert "differ" in page.get_by_role("alert").inner_text()
    change(password, "password123")
    assert "commonest passwords" in page.get_by_role("alert").inner_text()
    change(password, "a-fresh-long-passphrase")
    assert "Your password is changed" in page.get_by_role("status").inner_text()
    assert httpx.post(f"{ui_server.url}/api/auth/token",
                      json={"username": name, "password": "a-fresh-long-passphrase"}).status_code == 200
    assert httpx.post(f"{ui_server.url}/api/auth/token",
                      json={"username": name, "password": password}).status_code == 401


def test_a_viewer_sees_no_admin_link_and_is_refused_the_admin_page(page: Any, ui_server: Platform) -> None:
    name, password = new_user(ui_server, "viewer")
    login(page, ui_server, username=name, password=password)
    assert page.locator("header.top").get_by_role("link", name="Admin", exact=True).count() == 0
    response = page.goto(f"{ui_server.url}/admin")
    assert response is not None and response.status == 403
    assert "This needs the admin role" in page.locator("main").inner_text()
    page.goto(f"{ui_server.url}/profile")
    assert page.get_by_label("Read-only").is_checked() and page.get_by_label("Read-only").is_disabled()
