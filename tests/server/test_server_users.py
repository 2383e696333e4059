"""Users, roles, personal access tokens, passwords and the audit log, over HTTP against the real server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import (
    add_user,
    created,
    dataset,
    model,
    model_type,
    page_csrf,
    unique,
    user_token,
    web_login,
)


@pytest.fixture(scope="module")
def admin(platform_server: PlatformServer) -> httpx.Client:
    with platform_server.client() as client:
        yield client


def _me(client: httpx.Client) -> dict:
    answer = client.get("/api/auth/me")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _events(admin: httpx.Client, **params: str) -> list[dict]:
    answer = admin.get("/api/audit", params={"limit": "1000", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def test_a_viewer_changes_nothing_through_the_api_or_the_forms(platform_server: PlatformServer,
                                                               admin: httpx.Client) -> None:
    name, password = add_user(admin, "viewer")
    viewer = platform_server.client(user_token(platform_server.url, name, password))
    browser = web_login(platform_server, password, username=name)
    csrf = page_csrf(browser)
    kind = model_type(admin)
    job = model(admin, modelTypeId=kind["id"])
    data = dataset(admin)
    counts = {path: len(admin.get(path).json()) for path in ("/api/datasets", "/api/modeltypes", "/api/tags")}
    models_before = admin.get("/api/models").json()["total"]

    api_attempts = [
        viewer.post("/api/models", json={"name": unique("m"), "modelTypeId": kind["id"]}),
        viewer.post("/api/reports", json={"name": unique("r"), "parentId": job["id"]}),
        viewer.post("/api/datasets", json={"name": unique("d")}),
        viewer.post("/api/modeltypes", json={"name": unique("t"), "settingsSchema": {"fields": []}, "command": ["x"]}),
        viewer.post("/api/tags", json={"name": unique("tag")}),
        viewer.post(f"/api/models/{job['id']}/start"),
        viewer.post(f"/api/models/{job['id']}/stop"),
        viewer.delete(f"/api/models/{job['id']}"),
        viewer.delete(f"/api/datasets/{data['id']}"),
        viewer.delete(f"/api/modeltypes/{kind['id']}"),
        viewer.put(f"/api/files/{data['id']}/upload.txt", content=b"x"),
        viewer.post(f"/api/transfer/{data['id']}", json={"method": "PUT", "files": [{"path": "a", "size": 1}]}),
        viewer.post("/api/users", json={"username": unique("u"), "role": "admin"}),
    ]
    form_attempts = [
        browser.post("/datasets/new", data={"csrf_token": csrf, "name": unique("d")}),
        browser.post(f"/models/{job['id']}/stop", data={"csrf_token": csrf}),
        browser.post(f"/models/{job['id']}/rerun", data={"csrf_token": csrf}),
        browser.post(f"/models/{job['id']}/delete", data={"csrf_token": csrf}),
        browser.post(f"/zoo/{kind['id']}", data={"csrf_token": csrf, "name": unique("m")}),
        browser.post("/tags", data={"csrf_token": csrf, "name": unique("tag")}),
        browser.post(f"/datasets/{data['id']}/delete", data={"csrf_token": csrf}),
        browser.put(f"/datasets/{data['id']}/files/page.txt", content=b"x", headers={"X-CSRF-Token": csrf}),
    ]
    for answer in api_attempts + form_attempts:
        assert answer.status_code == 403, (answer.request.method, answer.request.url, answer.text[:200])
        assert "needs the" in answer.text.lower()
    # Reading still works, and nothing changed.
    assert viewer.get(f"/api/models/{job['id']}").json()["status"] == "created"
    assert browser.get(f"/models/{job['id']}").status_code == 200
    assert {path: len(admin.get(path).json()) for path in counts} == counts
    assert admin.get("/api/models").json()["total"] == models_before
    assert admin.get(f"/api/files/{data['id']}/upload.txt").status_code == 404
    assert admin.get(f"/api/files/{data['id']}/page.txt").status_code == 404
    denied = [e for e in _events(admin, actor=name) if e["outcome"] == "denied"]
    assert {e["target"] for e in denied} >= {f"/api/models/{job['id']}/start", f"/models/{job['id']}/delete"}
    assert all(e["address"] == "127.0.0.1" for e in denied)


def test_a_member_creates_starts_stops_and_deletes_and_is_recorded_as_creator(platform_server: PlatformServer,
                                                                              admin: httpx.Client) -> None:
    name, password = add_user(admin, "member")
    member = platform_server.client(user_token(platform_server.url, name, password))
    me = _me(member)
    kind = model_type(member)
    job = model(member, modelTypeId=kind["id"])
    data = dataset(member)
    assert kind["createdBy"] == job["createdBy"] == data["createdBy"] == me["id"]
    assert member.post(f"/api/models/{job['id']}/start").status_code == 200
    assert member.post(f"/api/models/{job['id']}/stop").status_code == 200
    assert member.delete(f"/api/models/{job['id']}").status_code == 204
    assert member.delete(f"/api/datasets/{data['id']}").status_code == 204
    assert member.delete(f"/api/modeltypes/{kind['id']}").status_code == 204
    assert member.get("/api/users").status_code == 403  # users are an admin's
    done = {(e["action"], e["target"]) for e in _events(admin, actor=name) if e["outcome"] == "ok"}
    assert {("model.create", job["id"]), ("model.start", job["id"]), ("model.stop", job["id"]),
            ("model.delete", job["id"]), ("dataset.create", data["id"]), ("dataset.delete", data["id"]),
            ("modeltype.create", kind["id"]), ("modeltype.delete", kind["id"])} <= done


def test_disabling_a_user_ends_its_sessions_and_tokens_at_once(platform_server: PlatformServer,
                                                               admin: httpx.Client) -> None:
    name, password = add_user(admin, "member")
    api = platform_server.client(user_token(platform_server.url, name, password))
    pat = created(api.post("/api/tokens", json={"name": "ci", "expires": "1d"}))["token"]
    script = platform_server.client(pat)
    browser = web_login(platform_server, password, username=name)
    for _ in range(2):  # cached on the server now
        assert api.get("/api/models").status_code == script.get("/api/models").status_code == 200
        assert browser.get("/models").status_code == 200

    assert admin.patch(f"/api/users/{name}", json={"disabled": True}).json()["disabled"] is True
    assert api.get("/api/models").status_code == 401
    assert script.get("/api/models").status_code == 401
    assert f"user '{name}' is disabled" in script.get("/api/models").text
    assert browser.get("/models", follow_redirects=False).headers["location"].startswith("/login")
    refused = httpx.post(f"{platform_server.url}/api/auth/token", json={"username": name, "password": password})
    assert refused.status_code == 403 and "disabled" in refused.text
    assert any(e["action"] == "user.disable" and e["target"] == name for e in _events(admin))
    assert any(e["action"] == "sign_in" and e["outcome"] == "denied" and e["actor"] == name for e in _events(admin))

    admin.patch(f"/api/users/{name}", json={"disabled": False})
    assert api.get("/api/models").status_code == 401  # its sessions were ended, not paused
    assert script.get("/api/models").status_code == 200  # its tokens work again
    assert platform_server.client(user_token(platform_server.url, name, password)).get("/api/models").status_code == 200


def test_a_role_change_applies_to_the_next_request(platform_server: PlatformServer, admin: httpx.Client) -> None:
    name, password = add_user(admin, "member")
    member = platform_server.client(user_token(platform_server.url, name, password))
    assert member.post("/api/tags", json={"name": unique("tag")}).status_code == 201
    assert admin.patch(f"/api/users/{name}", json={"role": "viewer"}).json()["role"] == "viewer"
    refused = member.post("/api/tags", json={"name": unique("tag")})
    assert refused.status_code == 403 and "needs the member role" in refused.text
    assert _me(member)["role"] == "viewer"
    assert any(e["action"] == "user.set_role" and e["detail"] == "member -> viewer" for e in _events(admin, actor="admin"))


def test_a_read_only_token_reads_and_is_listed_and_revoked(platform_server: PlatformServer,
                                                           admin: httpx.Client) -> None:
    name, password = add_user(admin, "admin")
    owner = platform_server.client(user_token(platform_server.url, name, password))
    new = created(owner.post("/api/tokens", json={"name": "reader", "expires": "12h", "readOnly": True}))
    assert new["token"].startswith("bp_") and new["readOnly"] and new["state"] == "active"
    reader = platform_server.client(new["token"])
    assert reader.get("/api/models").status_code == 200
    refused = reader.post("/api/datasets", json={"name": unique("d")})
    assert refused.status_code == 403 and "read-only token" in refused.text
    assert reader.get("/api/users").status_code == 403  # an admin's read-only token is a viewer
    listed = {row["name"]: row for row in owner.get("/api/tokens").json()}
    assert listed["reader"]["lastUsed"] is not None and "token" not in listed["reader"]
    assert owner.delete("/api/tokens/reader").status_code == 204
    assert reader.get("/api/models").status_code == 401
    assert owner.get("/api/tokens").json()[0]["state"] == "revoked"
    assert owner.delete("/api/tokens/reader").status_code == 404  # by name: only unrevoked ones
    # Someone else's token cannot be revoked by id.
    other = created(admin.post("/api/tokens", json={"name": "mine", "expires": "1d"}))
    assert owner.delete(f"/api/tokens/{other['id']}").status_code == 404
    assert platform_server.client(other["token"]).get("/api/models").status_code == 200


@pytest.mark.parametrize(("expires", "why"), [("0d", "not valid"), ("400d", "too long"), ("soon", "not valid")])
def test_token_expiry_must_be_a_bounded_duration(admin: httpx.Client, expires: str, why: str) -> None:
    answer = admin.post("/api/tokens", json={"name": "x", "expires": expires})
    assert answer.status_code == 400 and why in answer.text


@pytest.mark.parametrize(("password", "why"), [("short1", "too short"), ("password123", "commonest"),
                                               ("iloveyou123", "commonest"), ("aaaaaaaaaaaa", "too few"),
                                               ("{name}-and-more", "contains the username")])
def test_the_password_policy_refuses_weak_passwords(admin: httpx.Client, password: str, why: str) -> None:
    name = unique("weak")
    answer = admin.post("/api/users", json={"username": name, "role": "viewer", "password": password.format(name=name)})
    assert answer.status_code == 400 and why in answer.text, answer.text
    assert password.format(name=name) not in answer.text
    assert admin.get("/api/users").json() and name not in {u["username"] for u in admin.get("/api/users").json()}


def test_users_change_their_own_password_and_admins_reset_it(platform_server: PlatformServer,
                                                             admin: httpx.Client) -> None:
    name, password = add_user(admin, "viewer")
    first = platform_server.client(user_token(platform_server.url, name, password))
    second = platform_server.client(user_token(platform_server.url, name, password))
    assert first.post("/api/auth/password", json={"currentPassword": "wrong-password-1",
                                                   "newPassword": "a-new-long-secret"}).status_code == 400
    assert first.post("/api/auth/password", json={"currentPassword": password,
                                                   "newPassword": "a-new-long-secret"}).status_code == 204
    assert first.get("/api/auth/me").status_code == 200  # this session stays
    assert second.get("/api/auth/me").status_code == 401  # the others end
    user_token(platform_server.url, name, "a-new-long-secret")
    reset = admin.post(f"/api/users/{name}/password", json={})
    assert reset.status_code == 200 and len(reset.json()["password"]) >= 10
    assert first.get("/api/auth/me").status_code == 401
    user_token(platform_server.url, name, reset.json()["password"])


def test_new_users_get_a_generated_password_once_and_names_are_unique(platform_server: PlatformServer,
                                                                      admin: httpx.Client) -> None:
    name = unique("gen")
    body = created(admin.post("/api/users", json={"username": name, "role": "member"}))
    assert body["user"]["role"] == "member" and body["password"]
    user_token(platform_server.url, name, body["password"])
    assert admin.post("/api/users", json={"username": name, "role": "member"}).status_code == 409
    assert admin.post("/api/users", json={"username": "bad name!", "role": "member"}).status_code == 400
    assert admin.post("/api/users", json={"username": unique("x"), "role": "owner"}).status_code == 400
    listed = {u["username"]: u for u in admin.get("/api/users").json()}
    assert listed[name]["role"] == "member" and listed["admin"]["role"] == "admin"


def test_the_last_admin_cannot_be_disabled_or_demoted(tmp_path: Path) -> None:
    from brevettiai.server import auth, users
    from brevettiai.server.db.migrate import upgrade
    from brevettiai.server.db.session import Database

    database = Database(f"sqlite:///{tmp_path / 'users.db'}")
    upgrade(database.engine)
    auth.ensure_admin(database, "first-admin-password")
    for change in (lambda: users.set_disabled(database, "admin"), lambda: users.set_role(database, "admin", "member")):
        with pytest.raises(users.UserError, match="last enabled admin"):
            change()
    users.add_user(database, "second", "admin", "another-admin-passphrase")
    assert users.set_role(database, "admin", "member").role == "member"
    with pytest.raises(users.UserError, match="last enabled admin"):
        users.set_disabled(database, "second")
    assert [(u.username, u.role) for u in users.list_users(database)] == [("admin", "member"), ("second", "admin")]
    database.dispose()


def test_sign_ins_are_audited_with_address_and_the_log_is_paged(platform_server: PlatformServer,
                                                               admin: httpx.Client) -> None:
    name, password = add_user(admin, "viewer")
    assert httpx.post(f"{platform_server.url}/api/auth/token",
                      json={"username": name, "password": "not-the-password"}).status_code == 401
    user_token(platform_server.url, name, password)
    signs = [(e["outcome"], e["address"]) for e in _events(admin, action="sign_in", actor=name)]
    assert signs == [("ok", "127.0.0.1"), ("failed", "127.0.0.1")]  # newest first
    assert all("not-the-password" not in str(e) for e in _events(admin))
    page = admin.get("/api/audit", params={"limit": "2", "offset": "1"}).json()
    everything = admin.get("/api/audit", params={"limit": "1000"}).json()
    assert page["total"] == everything["total"] >= 3 and page["offset"] == 1
    assert [e["id"] for e in page["events"]] == [e["id"] for e in everything["events"][1:3]]
