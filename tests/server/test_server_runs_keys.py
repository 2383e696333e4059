"""The settings keys the runs table offers (column chooser, close names in filter errors) are those of every
run of the kind, read from the database: a key only an old run has (older than hundreds of newer runs) is
offered and suggested, and a key only test reports have is offered on the reports page, not the models page;
a filter on a key only the other kind has is an error; a column typed in that no run has is kept with a
note naming close keys. On SQLite and on PostgreSQL, through a real server process."""

from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from platform_fixture import PlatformServer
from server_helpers import created, page_csrf, web_login

NEWER = 210  # more runs after the old one than the newest 200 the models page used to read the keys of


def _offered(html: str) -> set[str]:
    """The columns the page's column chooser offers."""
    return {part.split('"', 1)[0] for part in html.split('name="column" value="')[1:]}


def _scenario(server: PlatformServer) -> None:
    with server.client() as admin:
        old = created(admin.post("/api/models", json={"name": "old", "settings": {"legacy": {"momentum": 0.9}}}))

        def newer(index: int) -> None:
            created(admin.post("/api/models", json={"name": f"new {index}", "settings": {"epochs": index}}))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(newer, range(NEWER)))
        created(admin.post("/api/reports", json={"name": "check", "parentId": old["id"],
                                                 "settings": {"threshold": 0.5}}))

        for bad, expected in [
            ("settings.legacy.momentu > 0", "no model has the setting 'legacy.momentu'; "
                                            "did you mean settings.legacy.momentum?"),
            ("momentum > 0", "unknown field 'momentum'; did you mean settings.legacy.momentum?"),
        ]:
            answer = admin.get("/api/models", params={"filter": bad})
            assert answer.status_code == 400 and expected in answer.json()["detail"], (bad, answer.text)
        found = admin.get("/api/models", params={"filter": "settings.legacy.momentum > 0.5"})
        assert [item["name"] for item in found.json()["items"]] == ["old"]
        # A key of the other kind only is an error naming the kind, not an empty list.
        for path, bad, expected in [("/api/models", "settings.threshold > 0", "no model has the setting 'threshold'"),
                                    ("/api/reports", "settings.epochs > 0", "no report has the setting 'epochs'")]:
            answer = admin.get(path, params={"filter": bad})
            assert answer.status_code == 400 and expected in answer.json()["detail"], (bad, answer.text)
        found = admin.get("/api/reports", params={"filter": "settings.threshold > 0"})
        assert [item["name"] for item in found.json()["items"]] == ["check"]

    browser = web_login(server)
    try:
        models = _offered(browser.get("/models").text)
        assert {"settings.legacy.momentum", "settings.epochs"} <= models
        assert "settings.threshold" not in models
        reports = _offered(browser.get("/testreports").text)
        assert "settings.threshold" in reports
        assert not {"settings.legacy.momentum", "settings.epochs"} & reports
        # A column typed in that no run has is kept (runs may report it later), and the page says why it is
        # empty and what was perhaps meant.
        answer = browser.post("/models/columns", data={"csrf_token": page_csrf(browser), "column": "settings.epochs",
                                                       "extra": "settings.legacy.momentu"})
        assert answer.status_code == 303
        page = html.unescape(browser.get("/models").text)
        assert ("Saved the columns; no model has the setting 'legacy.momentu'; "
                "did you mean settings.legacy.momentum? (empty until one does).") in page
        headers = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
        assert "<code>settings.epochs</code>" in headers and "<code>settings.legacy.momentu</code>" in headers
    finally:
        browser.close()


def test_every_runs_settings_keys_are_offered_on_sqlite(platform_server_factory: Any) -> None:
    _scenario(platform_server_factory())


def test_every_runs_settings_keys_are_offered_on_postgresql(postgres: Any, platform_server_factory: Any) -> None:
    _scenario(platform_server_factory("--database-url", postgres.new_database()))
