"""``GET /api/compare`` through the real server process: runs side by side (settings that differ, labelled
from their model types' forms; output metrics; last values; downsampled and ranged series), its errors
and who may read it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import created, job_client, model, model_type, post_points, unique, web_login

OTHER_SCHEMA = {"fields": [
    {"type": "label", "tag": "optimizer", "label": "Optimizer"},
    {"type": "input", "inputType": "number", "model": "optimizer.lr", "label": "Learning rate", "default": 0.1},
    {"type": "input", "inputType": "number", "model": "epochs", "label": "Passes", "default": 3},
], "presets": {}}


def _output(job: httpx.Client, job_id: str, output: dict[str, Any]) -> None:
    answer = job.put(f"/api/files/{job_id}/artifacts/output.json", content=json.dumps({"output": output}))
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def runs(platform_server: PlatformServer) -> dict[str, Any]:
    """Three runs: two of the test schema (epochs and data.size differ; a long loss series), one of another type."""
    admin = platform_server.client()
    first_type, other_type = model_type(admin), model_type(admin, settingsSchema=OTHER_SCHEMA)
    a = model(admin, name="wide", modelTypeId=first_type["id"], settings={"epochs": 5, "data": {"size": 64, "mode": "rgb"}})
    b = model(admin, name="narrow", modelTypeId=first_type["id"], settings={"epochs": 9, "data": {"mode": "rgb"}})
    c = model(admin, name="other", modelTypeId=other_type["id"], settings={"optimizer": {"lr": 0.01}})
    with job_client(platform_server.url, a["apiKey"]) as job:
        post_points(job, a["id"], [{"step": s, "time": 1e9 + s, "values": {"loss": 1.0 / (1 + s), "acc": s / 30_000}}
                               for s in range(30_000)])
        _output(job, a["id"], {"test_accuracy": 0.91, "note": "best"})
    with job_client(platform_server.url, b["apiKey"]) as job:
        post_points(job, b["id"], [{"step": s, "time": 2e9 + s, "values": {"loss": 2.0 / (1 + s)}} for s in range(50)])
        _output(job, b["id"], {"test_accuracy": 0.85})
    return {"admin": admin, "a": a, "b": b, "c": c, "url": platform_server.url}


def test_compare_shows_what_differs_with_labels_outputs_and_series(runs: dict[str, Any]) -> None:
    a, b, c = runs["a"], runs["b"], runs["c"]
    answer = runs["admin"].get("/api/compare", params={"ids": f"{a['id']},{b['id']},{c['id']}"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert [run["name"] for run in data["runs"]] == ["wide", "narrow", "other"]
    diff = {row["path"]: row for row in data["settings"]}
    # data.size: 64 against the form's default 224 (b does not hold it); c's type has no such setting.
    assert diff["data.size"]["label"] == "Data › Size" and diff["data.size"]["values"] == [64, 224, None]
    assert diff["epochs"]["values"] == [5, 9, 5]  # the type defaults of the helper are stored at creation
    assert diff["epochs"]["label"] == "Epochs"
    assert diff["epochs"]["values"] == [5, 9, 5] and diff["epochs"]["numeric"] is True
    assert diff["optimizer.lr"] == {"path": "optimizer.lr", "label": "Optimizer › Learning rate",
                                    "values": [None, None, 0.01], "numeric": True}
    assert diff["data.mode"]["values"] == ["rgb", "rgb", None]  # the same in two runs, absent in the third
    outputs = {row["name"]: row["values"] for row in data["outputs"]}
    assert outputs == {"note": ["best", None, None], "test_accuracy": [0.91, 0.85, None]}
    assert data["metrics"] == ["acc", "loss"]
    last = {row["name"]: row["values"] for row in data["lastValues"]}
    assert last["loss"] == [1.0 / 30_000, 2.0 / 50, None]
    # The long series comes back bounded, the short one point for point; the run without points has none.
    assert data["counts"][a["id"]]["loss"] == 30_000 and len(data["series"][a["id"]]["loss"]) <= 500
    assert data["bucketSteps"][b["id"]] == {"loss": 1} and len(data["series"][b["id"]]["loss"]) == 50
    assert data["series"][b["id"]]["loss"][3] == [3, 0.5, 2e9 + 3]
    assert data["series"][c["id"]] == {}


def test_compare_of_two_runs_of_one_type_hides_what_is_the_same(runs: dict[str, Any]) -> None:
    a, b = runs["a"], runs["b"]
    data = runs["admin"].get("/api/compare", params=[("ids", a["id"]), ("ids", b["id"])]).json()
    assert [row["path"] for row in data["settings"]] == ["epochs", "data.size"]
    assert data["sameSettings"] >= 1  # data.mode


def test_a_step_range_comes_back_point_for_point(runs: dict[str, Any]) -> None:
    a, b = runs["a"], runs["b"]
    data = runs["admin"].get("/api/compare", params={"ids": f"{a['id']},{b['id']}", "names": "loss",
                                                     "start_step": 20_000, "end_step": 21_499, "max_points": 2000}).json()
    assert data["bucketSteps"] == {a["id"]: {"loss": 1}, b["id"]: {}}
    rows = data["series"][a["id"]]["loss"]
    assert [row[0] for row in rows] == list(range(20_000, 21_500))
    assert list(data["series"][a["id"]]) == ["loss"]


@pytest.mark.parametrize(("ids", "message"), [
    ("one", "compare needs 2 to 20 different run ids, separated by commas; 1 given"),
    ("", "compare needs 2 to 20 different run ids, separated by commas; 0 given"),
    (",".join(f"run{i}" for i in range(21)), "compare needs 2 to 20 different run ids, separated by commas; 21 given"),
    ("a,a", "compare needs 2 to 20 different run ids, separated by commas; 1 given"),
    ("a,b/c", "'b/c' is not a run id (letters, digits, '-' and '_')"),
])
def test_bad_id_lists_are_refused_naming_the_rule(runs: dict[str, Any], ids: str, message: str) -> None:
    answer = runs["admin"].get("/api/compare", params={"ids": ids})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "ids"]
    assert answer.json()["detail"][0]["msg"] == message


def test_an_unknown_run_is_named(runs: dict[str, Any]) -> None:
    unknown = unique("nosuchrun")
    answer = runs["admin"].get("/api/compare", params={"ids": f"{runs['a']['id']},{unknown}"})
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"run '{unknown}' not found"


def test_a_bad_range_and_no_token_are_refused(runs: dict[str, Any]) -> None:
    ids = f"{runs['a']['id']},{runs['b']['id']}"
    answer = runs["admin"].get("/api/compare", params={"ids": ids, "start_step": 10, "end_step": 5})
    assert answer.status_code == 422 and "end_step 5 is before start_step 10" in answer.text
    assert httpx.get(f"{runs['url']}/api/compare", params={"ids": ids}).status_code == 401


def test_a_job_key_reads_only_what_its_job_may_read(runs: dict[str, Any], platform_server: PlatformServer) -> None:
    a, b = runs["a"], runs["b"]
    with job_client(runs["url"], a["apiKey"]) as job:
        answer = job.get("/api/compare", params={"ids": f"{a['id']},{b['id']}"})
        assert answer.status_code == 404 and answer.json()["detail"] == f"run '{b['id']}' not found"
        assert b["name"] not in answer.text
    # A test report's key may compare itself with its model (it may read the model).
    report = created(runs["admin"].post("/api/reports", json={"name": unique("report"), "parentId": a["id"]}))
    with job_client(runs["url"], report["apiKey"]) as job:
        answer = job.get("/api/compare", params={"ids": f"{report['id']},{a['id']}"})
        assert answer.status_code == 200, answer.text
        assert [run["id"] for run in answer.json()["runs"]] == [report["id"], a["id"]]
        assert job.get("/api/compare", params={"ids": f"{report['id']},{b['id']}"}).status_code == 404


def test_the_page_data_is_the_points_of_the_api_answer(runs: dict[str, Any], platform_server: PlatformServer) -> None:
    ids = f"{runs['a']['id']},{runs['b']['id']}"
    browser = web_login(platform_server)
    try:
        page = browser.get("/compare/data.json", params={"ids": ids})
        assert page.status_code == 200
        api = runs["admin"].get("/api/compare", params={"ids": ids}).json()
        assert page.json() == {key: api[key] for key in ("series", "counts", "bucketSteps", "cursors")}
        assert browser.get("/compare/data.json", params={"ids": runs["a"]["id"]}).status_code == 422
        unknown = browser.get("/compare/data.json", params={"ids": f"{runs['a']['id']},nosuchrun"})
        assert unknown.status_code == 404 and "'nosuchrun' not found" in unknown.text
        shown = browser.get("/compare", params={"ids": ids})
        assert shown.status_code == 200 and "Data › Size" in shown.text
        refused = browser.get("/compare", params={"ids": runs["a"]["id"]})
        assert refused.status_code == 422 and "compare needs 2 to 20 different run ids" in refused.text
    finally:
        browser.close()


def test_a_cursor_polls_only_the_points_stored_since(runs: dict[str, Any], platform_server: PlatformServer) -> None:
    admin = runs["admin"]
    first, second = model(admin, name=unique("live")), model(admin, name=unique("live"))
    with job_client(platform_server.url, first["apiKey"]) as job:
        post_points(job, first["id"], [{"step": s, "values": {"loss": 1.0}} for s in range(3)])
        cursors = admin.get("/api/compare", params={"ids": f"{first['id']},{second['id']}"}).json()["cursors"]
        assert cursors[second["id"]] is None  # nothing stored yet
        post_points(job, first["id"], [{"step": 3, "values": {"loss": 0.5}}])
    since = admin.get(f"/api/models/{first['id']}/metrics", params={"after": cursors[first["id"]]}).json()
    assert [row[:2] for row in since["series"]["loss"]] == [[3, 0.5]]
