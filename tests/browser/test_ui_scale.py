"""The models list with 10,000 models (rows inserted straight into the database): paging and search
work, and stay fast because they are LIMIT/OFFSET queries on the (kind, created) index reading only listed
columns (the query plan is asserted; timings are not: they belong in bench/, not in tests)."""

from __future__ import annotations

import datetime
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from platform_fixture import start_platform_server
from playwright.sync_api import expect
from ui_helpers import Platform, login

pytestmark = pytest.mark.browser

COUNT = 10_000
STATUSES = ["completed", "failed", "killed", "running", "created"]


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server whose database holds 10,000 models."""
    server = start_platform_server(tmp_path_factory.mktemp("crowded") / "data")
    try:
        api = server.client()
        type_id = api.post("/api/modeltypes", json={"name": "Bulk type"}).json()["id"]
        start = datetime.datetime(2026, 1, 1)
        rows = []
        for i in range(COUNT):
            created = start + datetime.timedelta(minutes=i)
            status = STATUSES[i % len(STATUSES)]
            completed = created + datetime.timedelta(seconds=90) if status in ("completed", "failed", "killed") else None
            rows.append((str(uuid.uuid4()), "model", f"bulk model {i:05d}", status, created.isoformat(sep=" "),
                         created.isoformat(sep=" "), completed.isoformat(sep=" ") if completed else None, type_id,
                         "{}", "[]", "[]", 0))
        with sqlite3.connect(server.data_dir / "brevettiai.db", timeout=30) as db:
            db.executemany("INSERT INTO jobs (id, kind, name, status, created, started, completed, model_type_id, "
                           "settings, dataset_ids, tag_ids, stop_requested) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        yield Platform(server, api, {"type": type_id})
    finally:
        server.stop()
        server.kill()


def goto_ok(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, url


def test_ten_thousand_models_page_and_search(page: Any, crowded: Platform, screenshots: Path) -> None:
    login(page, crowded)
    goto_ok(page, f"{crowded.url}/models")
    rows = page.locator("#job-list tbody tr")
    assert rows.count() == 50
    assert page.locator(".pager-count").inner_text() == "1–50 of 10,000"
    assert rows.first.locator("td:not(.select-cell)").first.inner_text() == "bulk model 09999"  # newest first
    assert rows.first.locator("td:not(.select-cell)").nth(1).inner_text() == "Bulk type"

    page.get_by_role("link", name="Next page").click()
    expect(page.locator(".pager-count")).to_have_text("51–100 of 10,000")
    expect(rows.first.locator("td:not(.select-cell)").first).to_have_text("bulk model 09949")

    page.get_by_role("link", name="Last page").click()
    page.wait_for_url("**page=200")
    expect(page.locator(".pager-count")).to_have_text("9,951–10,000 of 10,000")
    expect(rows.last.locator("td:not(.select-cell)").first).to_have_text("bulk model 00000")

    page.get_by_label("Filter models").fill("model 04242")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**filter=model+04242*")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td:not(.select-cell)").first).to_have_text("bulk model 04242")

    page.get_by_label("Filter models").fill("model 01")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**status=failed*")
    expect(page.locator(".pager-count")).to_have_text("1–50 of 200")  # 01000-01999, every fifth failed
    assert set(rows.locator("td:nth-child(4)").all_inner_texts()) == {"failed"}
    goto_ok(page, f"{crowded.url}/models?page=150")
    assert page.locator(".pager-count").inner_text() == "7,451–7,500 of 10,000"
    goto_ok(page, f"{crowded.url}/models?page=999")
    assert "page=200" in page.url


def test_the_list_query_uses_the_index(crowded: Platform) -> None:
    with sqlite3.connect(crowded.server.data_dir / "brevettiai.db") as db:
        plan = " ".join(str(row) for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT jobs.id, jobs.name FROM jobs LEFT OUTER JOIN model_types ON model_types.id = "
            "jobs.model_type_id WHERE jobs.kind = 'model' ORDER BY jobs.created DESC, jobs.id DESC LIMIT 50 OFFSET 9950"))
    assert "ix_jobs_kind_created" in plan
