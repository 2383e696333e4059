"""Every cell of the access table by role (docs/platform-api.md "Access by role") against the real server:
each route of the app, called by a viewer, a member, an admin and a member's read-only token (API), and
anonymously for the public ones. Allowed: the route runs (no 401/403). Refused: 403 naming the role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
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

from brevettiai.server import access
from brevettiai.server.roles import PUBLIC, at_least

DOCS = Path(__file__).parents[2] / "docs" / "platform-api.md"
CALLERS = ("viewer", "member", "admin", "read-only token")


@cache
def app_cells() -> list[tuple[str, str]]:
    """(method, path template) of every route the server's app has."""
    from fastapi.routing import iter_route_contexts

    from brevettiai.server.app import create_app
    from brevettiai.server.config import ServerConfig

    app = create_app(ServerConfig.load({}, {}).resolved())
    return sorted({(method, route.path) for route in iter_route_contexts(app.routes)
                   for method in (route.methods or {"GET"})})


def _is_page(path: str) -> bool:
    return not path.startswith("/api/")


@dataclass
class Caller:
    name: str
    role: str
    password: str = ""
    api: httpx.Client | None = None
    web: httpx.Client | None = None
    csrf: str = ""


@dataclass
class World:
    server: PlatformServer
    admin: httpx.Client
    callers: dict[str, Caller] = field(default_factory=dict)
    shared: dict[str, str] = field(default_factory=dict)


def _login(server: PlatformServer, name: str, password: str) -> tuple[httpx.Client, httpx.Client, str]:
    api = server.client(user_token(server.url, name, password))
    web = web_login(server, password, username=name)
    return api, web, page_csrf(web)


@pytest.fixture(scope="module")
def world(platform_server: PlatformServer) -> World:
    admin = platform_server.client()
    world = World(platform_server, admin)
    for role in ("viewer", "member", "admin"):
        name, password = add_user(admin, role)
        api, web, csrf = _login(platform_server, name, password)
        world.callers[role] = Caller(name, role, password, api, web, csrf)
    member = world.callers["member"]
    token = created(member.api.post("/api/tokens", json={"name": "ci", "expires": "1d", "readOnly": True}))["token"]
    world.callers["read-only token"] = Caller(member.name, "viewer", api=platform_server.client(token))
    world.shared = _resources(world, ["{job_id}", "{rid}", "{dataset_id}", "{type_id}", "{tag_id}", "{user_id}"])
    yield world
    for caller in world.callers.values():
        for client in (caller.api, caller.web):
            if client is not None:
                client.close()
    admin.close()


def _resources(world: World, needed: list[str], report: bool = False) -> dict[str, str]:
    """Fresh records for the placeholders a path has (each write gets its own, so cells do not interfere)."""
    admin, found = world.admin, {}
    if "{job_id}" in needed:
        kind = model(admin, modelTypeId=world.shared.get("{type_id}") or model_type(admin)["id"])
        if report:
            kind = created(admin.post("/api/reports", json={"name": unique("report"), "parentId": kind["id"]}))
        found["{job_id}"] = kind["id"]
    if "{rid}" in needed or "{dataset_id}" in needed:
        rid = dataset(admin)["id"]
        assert admin.put(f"/api/files/{rid}/folder/file.txt", content=b"content").status_code == 201
        found["{rid}"] = found["{dataset_id}"] = rid
    if "{type_id}" in needed:
        found["{type_id}"] = model_type(admin)["id"]
    if "{tag_id}" in needed:
        found["{tag_id}"] = created(admin.post("/api/tags", json={"name": unique("tag")}))["id"]
    if "{user_id}" in needed:
        name, _ = add_user(admin, "viewer")
        found["{user_id}"] = name
    return found


def _request(world: World, caller: Caller | None, method: str, path: str) -> httpx.Response:
    placeholders = re.findall(r"\{[a-z_]+(?::path)?\}", path)
    fresh = method not in ("GET", "HEAD") or path.endswith("/delete")
    values = (_resources(world, placeholders, report=path.startswith(("/api/reports", "/testreports")))
              if fresh else {**world.shared})
    if path.startswith(("/api/reports", "/testreports")) and not fresh:
        values["{job_id}"] = world.shared.setdefault("report", _resources(world, ["{job_id}"], True)["{job_id}"])
    values.update({"{path:path}": "folder/file.txt", "{folder:path}": "folder", "{name}": "chart", "{token_id}": "none"})
    if "{ticket}" in path:  # a report link as the model page gives it
        page = world.callers["admin"].web.get(f"/models/{values['{job_id}']}").text  # type: ignore[union-attr]
        values["{ticket}"] = re.search(r'data-artifacts-base="/reports/[^/]+/([^/]+)/"', page).group(1)
    url = path
    for placeholder in placeholders:
        url = url.replace(placeholder, values[placeholder])
    if caller is None:
        client = httpx.Client(base_url=world.server.url, timeout=60)
    elif path in ("/api/auth/logout", "/logout") and caller.web is None:  # the read-only token: one of its own
        member = world.callers["member"].api
        assert member is not None
        token = created(member.post("/api/tokens", json={"name": "out", "expires": "1d", "readOnly": True}))["token"]
        client = world.server.client(token)
    elif path in ("/api/auth/logout", "/logout"):  # a session of its own: logging out must not end the caller's
        api, web, csrf = _login(world.server, caller.name, caller.password)
        caller = Caller(caller.name, caller.role, caller.password, api, web, csrf)
        client = caller.web if _is_page(path) else caller.api
    else:
        client = caller.web if _is_page(path) else caller.api
    assert client is not None
    if _is_page(path):
        if method == "PUT":
            return client.put(url, content=b"x", headers={"X-CSRF-Token": caller.csrf if caller else ""})
        if method == "POST":
            return client.post(url, data={"csrf_token": caller.csrf if caller else ""})
        return client.request(method, url)
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, url, json={} if "charts" not in url else {"mark": "line"})
    return client.request(method, url)


def _cells() -> list[tuple[str, str, str]]:
    cells = []
    for method, path in app_cells():
        needed = access.required(method, path)
        if needed == PUBLIC:
            cells.append(("anonymous", method, path))
            continue
        for who in CALLERS:
            if who == "read-only token" and _is_page(path):
                continue  # pages take a login cookie, never a token
            cells.append((who, method, path))
    return cells


@pytest.mark.parametrize(("who", "method", "path"), _cells())
def test_every_role_on_every_route(world: World, who: str, method: str, path: str) -> None:
    needed = access.required(method, path)
    caller = world.callers.get(who)
    response = _request(world, caller, method, path)
    shown = f"{who} {method} {path} -> {response.status_code} {response.text[:300]}"
    if caller is None or at_least(caller.role, needed):
        assert response.status_code not in (401, 403), shown
        if _is_page(path) and caller is not None and path != "/logout":
            assert "/login" not in response.headers.get("location", ""), shown
    else:
        assert response.status_code == 403, shown
        assert f"needs the {needed} role" in response.text.lower(), shown


def test_every_route_has_a_row_in_the_access_table_and_no_row_is_stale() -> None:
    routes = set(app_cells())
    assert sorted(routes - set(access.TABLE)) == [], "routes the access table does not name (add a row)"
    assert sorted(set(access.TABLE) - routes) == [], "rows of the access table without a route"


def test_the_documented_table_is_the_access_table() -> None:
    text = DOCS.read_text(encoding="utf-8").split("### Access by role", 1)[1]
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
            rows[(cells[0], cells[1])] = tuple(cells[2:])
    expected = {}
    for (method, path), needed in access.TABLE.items():
        expected[(method, path)] = tuple("✓" if at_least(role, needed) else "—" for role in ("viewer", "member", "admin"))
    assert rows == expected


def test_every_control_the_pages_guard_names_a_row_of_the_access_table() -> None:
    """`can(user, METHOD, PATH)` in a template raises on a path the table lacks; catch a typo without drawing the page."""
    templates = Path(access.__file__).parent / "ui" / "templates"
    calls = re.compile(r'can\(user, "([A-Z]+)", (prefix ~ )?"([^"]+)"\)')
    found = []
    for template in sorted(templates.glob("*.html")):
        for method, prefixed, path in calls.findall(template.read_text(encoding="utf-8")):
            for prefix in (("/models", "/testreports") if prefixed else ("",)):
                found.append((template.name, method, prefix + path))
    assert len(found) >= 15, found  # the pages do guard their controls
    missing = [cell for cell in found if (cell[1], cell[2]) not in access.TABLE]
    assert missing == [], "controls guarded by routes the access table does not name"


def test_a_page_asks_the_table_with_the_role_its_token_leaves() -> None:
    """`can` is what templates call: a member's read-only token acts as a viewer; a path the table lacks is an error."""
    from brevettiai.server.auth import Principal
    from brevettiai.server.roles import narrower
    from brevettiai.server.ui.web import WebUser, can

    def user(role: str, ceiling: str | None = None) -> WebUser:
        return WebUser(Principal(user_id="u", role=narrower(role, ceiling), username="u"), "u", "u", "bu_x")

    assert can(user("member"), "POST", "/models/{job_id}/stop")
    assert not can(user("member", ceiling="viewer"), "POST", "/models/{job_id}/stop")
    assert can(user("member", ceiling="viewer"), "GET", "/models/{job_id}")
    assert not can(user("member"), "GET", "/admin") and can(user("admin"), "GET", "/admin")
    assert not can(None, "GET", "/models")
    with pytest.raises(KeyError, match="no row for POST /models/{job_id}/stopp"):
        can(user("admin"), "POST", "/models/{job_id}/stopp")
