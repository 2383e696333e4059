"""The web API over HTTP: datasets, tags, model types, models and reports, validation, keys, info.json."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from platform_fixture import PlatformServer
from pydantic import Field
from server_helpers import SCHEMA, created, dataset, job_client, model, model_type, unique

from brevettiai import JobSettings
from brevettiai.errors import SettingsError
from brevettiai.settings import parse_settings


@pytest.fixture(scope="module")
def admin(platform_server: PlatformServer) -> httpx.Client:
    with platform_server.client() as client:
        yield client


def test_health_docs_and_openapi_need_no_cdn(platform_server: PlatformServer) -> None:
    assert httpx.get(f"{platform_server.url}/healthz").json() == {"status": "ok"}
    page = httpx.get(f"{platform_server.url}/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    assert "http://" not in page.text and "https://" not in page.text and "<script src" not in page.text
    paths = httpx.get(f"{platform_server.url}/openapi.json").json()["paths"]
    for path in ("/api/auth/token", "/api/datasets", "/api/models/{job_id}/start", "/api/jobs/{job_id}/metrics",
                 "/api/files/{rid}/{path}", "/api/ls/{rid}/{path}", "/api/reports", "/api/modeltypes"):
        assert path in paths


def test_datasets_crud(admin: httpx.Client) -> None:
    tag = created(admin.post("/api/tags", json={"name": unique("tag")}))
    name = unique("dataset")
    ds = created(admin.post("/api/datasets", json={"name": name, "reference": "ref", "notes": "n",
                                                   "tagIds": [tag["id"]]}))
    assert ds["bucket"] == f"brevettiai://{ds['id']}" and ds["tagIds"] == [tag["id"]]
    assert set(ds) >= {"id", "name", "bucket", "created", "locked", "reference", "notes", "tagIds"}
    assert admin.get(f"/api/datasets/{ds['id']}").json() == ds
    assert [d["id"] for d in admin.get("/api/datasets", params={"name": name}).json()] == [ds["id"]]
    assert len(admin.get("/api/datasets", params={"limit": 1}).json()) == 1
    assert admin.put(f"/api/files/{ds['id']}/a/b.txt", content=b"x").status_code == 201
    assert admin.delete(f"/api/datasets/{ds['id']}").status_code == 204
    assert admin.get(f"/api/datasets/{ds['id']}").status_code == 404
    assert admin.get(f"/api/files/{ds['id']}/a/b.txt").status_code == 404
    assert admin.delete(f"/api/datasets/{ds['id']}").status_code == 404


def test_dataset_with_unknown_tag_is_refused(admin: httpx.Client) -> None:
    before = len(admin.get("/api/datasets", params={"limit": 1000}).json())
    answer = admin.post("/api/datasets", json={"name": unique("ds"), "tagIds": ["nope"]})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "tagIds", 0]
    assert len(admin.get("/api/datasets", params={"limit": 1000}).json()) == before


def test_tag_tree(admin: httpx.Client) -> None:
    root = created(admin.post("/api/tags", json={"name": unique("root")}))
    child = created(admin.post("/api/tags", json={"name": "child", "parentId": root["id"]}))
    grandchild = created(admin.post("/api/tags", json={"name": "grandchild", "parentId": child["id"]}))
    tree = admin.get(f"/api/tags/{root['id']}").json()
    assert tree["children"][0]["id"] == child["id"]
    assert tree["children"][0]["children"][0]["id"] == grandchild["id"]
    assert tree["children"][0]["parentId"] == root["id"]
    roots = admin.get("/api/tags").json()
    assert root["id"] in [t["id"] for t in roots] and child["id"] not in [t["id"] for t in roots]
    assert admin.post("/api/tags", json={"name": "x", "parentId": "missing"}).status_code == 422
    assert admin.delete(f"/api/tags/{root['id']}").status_code == 204
    for tag in (root, child, grandchild):
        assert admin.get(f"/api/tags/{tag['id']}").status_code == 404


def test_model_types_crud(admin: httpx.Client) -> None:
    mt = model_type(admin, workingDir="/tmp", shortDescription="short")
    assert mt["settingsSchema"]["fields"] == SCHEMA["fields"] and mt["kind"] == "model"
    assert mt["workingDir"] == "/tmp" and mt["shortDescription"] == "short"
    assert admin.get(f"/api/modeltypes/{mt['id']}").json() == mt
    assert [m["id"] for m in admin.get("/api/modeltypes", params={"name": mt["name"]}).json()] == [mt["id"]]
    assert admin.delete(f"/api/modeltypes/{mt['id']}").status_code == 204
    assert admin.get(f"/api/modeltypes/{mt['id']}").status_code == 404


def test_model_key_is_shown_once_and_info_json_has_none(platform_server: PlatformServer, admin: httpx.Client) -> None:
    tag = created(admin.post("/api/tags", json={"name": unique("tag")}))
    ds = dataset(admin)
    mt = model_type(admin)
    m = model(admin, modelTypeId=mt["id"], settings={"epochs": 3, "data": {"size": 64}}, datasetIds=[ds["id"]],
              tagIds=[tag["id"]])
    assert m["apiKey"].startswith("bj_") and m["status"] == "created" and m["kind"] == "model"
    assert m["settings"] == {"epochs": 3, "data": {"size": 64}}
    again = admin.get(f"/api/models/{m['id']}").json()
    assert again["apiKey"] == "<NO_API_KEY>"
    listed = admin.get("/api/models", params={"name": m["name"]}).json()
    assert listed["total"] == 1 and listed["items"][0]["apiKey"] == "<NO_API_KEY>"
    raw = admin.get(f"/api/files/{m['id']}/info.json").text
    assert m["apiKey"] not in raw and "bj_" not in raw
    info = json.loads(raw)
    assert info["id"] == m["id"] and info["name"] == m["name"] and info["kind"] == "model"
    assert info["host_name"] == platform_server.url
    assert info["datasets"] == [{"id": ds["id"], "name": ds["name"], "bucket": f"brevettiai://{ds['id']}"}]
    assert [t["id"] for t in info["tags"]] == [tag["id"]]
    assert info["charts_url"] == f"/api/jobs/{m['id']}/charts"
    assert info["complete_url"] == f"/api/jobs/{m['id']}/state"
    assert info["remote_url"] == f"/api/jobs/{m['id']}/remotemonitor"
    assert info["model_type"] == {"id": mt["id"], "name": mt["name"]}
    assert info["models"] == [] and info["parent"] is None
    with job_client(platform_server.url, m["apiKey"]) as job:
        assert job.get(f"/api/jobs/{m['id']}/info").json() == info


def test_start_rotates_the_key_and_rewrites_info(platform_server: PlatformServer, admin: httpx.Client) -> None:
    mt = model_type(admin)
    m = model(admin, modelTypeId=mt["id"], settings={"epochs": 3})
    first = admin.get(f"/api/files/{m['id']}/info.json").json()
    started = admin.post(f"/api/models/{m['id']}/start")
    assert started.status_code == 200, started.text
    new_key = started.json()["apiKey"]
    assert new_key.startswith("bj_") and new_key != m["apiKey"]
    assert started.json()["status"] in ("queued", "starting", "running", "failed", "completed")
    with job_client(platform_server.url, m["apiKey"]) as old:
        assert old.get(f"/api/jobs/{m['id']}/info").status_code == 401
    with job_client(platform_server.url, new_key) as new:
        info = new.get(f"/api/jobs/{m['id']}/info").json()
    assert new_key not in json.dumps(info) and info["id"] == m["id"]
    assert info["settings"] == first["settings"]
    assert admin.get(f"/api/models/{m['id']}").json()["apiKey"] == "<NO_API_KEY>"
    assert admin.post(f"/api/models/{m['id']}/start").status_code == 409


def test_model_settings_are_validated_against_the_form(admin: httpx.Client) -> None:
    mt = model_type(admin)
    before = admin.get("/api/models", params={"limit": 1}).json()["total"]
    bad = {"epochs": 0, "data": {"size": 33.5, "mode": "cmyk", "classes": ["ok", "bad"]}, "augment": "maybe",  # "yes" is a boolean to pydantic
           "extra": "{not json", "note": 5, "unknown_top_level": {"kept": True}}
    answer = admin.post("/api/models", json={"name": unique("m"), "modelTypeId": mt["id"], "settings": bad})
    assert answer.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in answer.json()["detail"]}
    assert set(errors) == {("settings", "epochs"), ("settings", "data.size"), ("settings", "data.mode"),
                           ("settings", "data.classes"), ("settings", "augment"), ("settings", "extra"),
                           ("settings", "note")}
    assert errors[("settings", "epochs")] == "must be >= 1; got 0"
    assert errors[("settings", "data.size")] == "must be an integer; got 33.5"
    assert "'rgb'" in errors[("settings", "data.mode")]
    assert "JSON" in errors[("settings", "extra")]
    assert admin.get("/api/models", params={"limit": 1}).json()["total"] == before


def test_required_fields_defaults_and_json_text_settings(admin: httpx.Client) -> None:
    mt = model_type(admin, defaults={})
    missing = admin.post("/api/models", json={"name": unique("m"), "modelTypeId": mt["id"], "settings": {}})
    assert missing.status_code == 422
    assert missing.json()["detail"] == [{"loc": ["settings", "epochs"], "msg": "is required",
                                         "type": "value_error.missing"}]
    ok = created(admin.post("/api/models", json={
        "name": unique("m"), "modelTypeId": mt["id"],
        "settings": json.dumps({"epochs": "7", "data": {"classes": '["ok"]'}, "extra": "[1, 2]", "note": None})}))
    assert ok["settings"]["epochs"] == "7"
    with_defaults = model(admin, modelTypeId=model_type(admin)["id"], settings={"data": {"size": 64}})
    assert with_defaults["settings"] == {"epochs": 5, "data": {"size": 64}}


class Tuned(JobSettings):
    lr: float = 0.1
    finite: float = Field(1.0, allow_inf_nan=False)
    names: list[str] = []


def test_the_platform_creates_only_models_whose_job_accepts_the_settings(admin: httpx.Client) -> None:
    """Values the form once let through and the job refused at start (exit 2), and the infinity the job
    takes as text: the form of a class follows the class."""
    mt = model_type(admin, settingsSchema=Tuned.get_schema(), defaults={})
    bad = {"names": [1, 2], "finite": "Infinity"}
    refused = admin.post("/api/models", json={"name": unique("m"), "modelTypeId": mt["id"], "settings": bad})
    assert refused.status_code == 422
    assert {e["loc"][1]: e["msg"] for e in refused.json()["detail"]} == {
        "names": "item 0 must be text; got 1", "finite": "must be a finite number (not NaN or an infinity); got 'Infinity'"}
    for key, value in bad.items():  # what the job would have done with them
        with pytest.raises(SettingsError, match=key):
            parse_settings(Tuned, {key: value})
    accepted = model(admin, modelTypeId=mt["id"], settings={"lr": "1e400", "names": '["a"]'})
    info = admin.get(f"/api/files/{accepted['id']}/info.json").json()
    settings = parse_settings(Tuned, info["settings"])  # as the job reads them at start
    assert settings.lr == math.inf and settings.names == ["a"]


def test_bad_references_and_malformed_json_change_nothing(admin: httpx.Client) -> None:
    before = admin.get("/api/models", params={"limit": 1}).json()["total"]
    answer = admin.post("/api/models", json={"name": unique("m"), "modelTypeId": "nope", "datasetIds": ["nope"],
                                             "tagIds": ["nope"]})
    assert answer.status_code == 422
    locs = [e["loc"] for e in answer.json()["detail"]]
    assert ["body", "modelTypeId"] in locs and ["body", "datasetIds", 0] in locs and ["body", "tagIds", 0] in locs
    broken = admin.post("/api/models", content=b'{"name": "x", ', headers={"Content-Type": "application/json"})
    assert broken.status_code in (400, 422)
    text = admin.post("/api/models", json={"name": unique("m"), "settings": "{oops"})
    assert text.status_code == 422 and text.json()["detail"][0]["loc"] == ["body", "settings"]
    assert admin.post("/api/models", json={"settings": {}}).status_code == 422  # no name
    assert admin.get("/api/models", params={"limit": 1}).json()["total"] == before


def test_reports_belong_to_a_model(platform_server: PlatformServer, admin: httpx.Client) -> None:
    parent = model(admin)
    report_type = model_type(admin, kind="report")
    report = created(admin.post("/api/reports", json={"name": unique("r"), "parentId": parent["id"],
                                                      "modelTypeId": report_type["id"], "settings": {"epochs": 1}}))
    assert report["kind"] == "report" and report["parentId"] == parent["id"] and report["apiKey"].startswith("bj_")
    assert admin.get(f"/api/reports/{report['id']}").json()["parentId"] == parent["id"]
    assert admin.get(f"/api/models/{report['id']}").status_code == 404
    assert admin.get(f"/api/reports/{parent['id']}").status_code == 404
    assert report["id"] in [r["id"] for r in admin.get("/api/reports", params={"q": report["name"]}).json()["items"]]
    info = admin.get(f"/api/files/{report['id']}/info.json").json()
    assert info["parent"]["id"] == parent["id"] and info["models"][0]["bucket"] == f"brevettiai://{parent['id']}"
    model_typed = model_type(admin)
    wrong_kind = admin.post("/api/reports", json={"name": "r", "parentId": parent["id"], "modelTypeId": model_typed["id"]})
    assert wrong_kind.status_code == 422
    assert admin.post("/api/reports", json={"name": "r", "parentId": "nope"}).status_code == 422
    assert admin.delete(f"/api/reports/{report['id']}").status_code == 204
    assert admin.get(f"/api/reports/{report['id']}").status_code == 404


def test_models_list_filters_and_order(admin: httpx.Client) -> None:
    prefix = unique("listing")
    ids = [model(admin, name=f"{prefix}-{i}")["id"] for i in range(3)]
    page = admin.get("/api/models", params={"q": prefix.upper(), "limit": 2}).json()
    assert page["total"] == 3 and [m["id"] for m in page["items"]] == ids[::-1][:2]
    rest = admin.get("/api/models", params={"q": prefix, "offset": 2}).json()
    assert [m["id"] for m in rest["items"]] == [ids[0]]
    assert admin.get("/api/models", params={"q": prefix, "status": "running"}).json()["total"] == 0
    assert admin.get("/api/models", params={"q": prefix, "status": "created,running"}).json()["total"] == 3


def test_delete_model_removes_its_job_dir(admin: httpx.Client) -> None:
    m = model(admin)
    assert admin.put(f"/api/files/{m['id']}/artifacts/x.bin", content=b"123").status_code == 201
    assert admin.delete(f"/api/models/{m['id']}").status_code == 204
    assert admin.get(f"/api/models/{m['id']}").status_code == 404
    assert admin.get(f"/api/files/{m['id']}/artifacts/x.bin").status_code == 404
    assert admin.get(f"/api/ls/{m['id']}/").status_code == 404


def test_start_without_command_is_a_conflict(admin: httpx.Client) -> None:
    m = model(admin)
    answer = admin.post(f"/api/models/{m['id']}/start")
    assert answer.status_code == 409 and "--job_id" in answer.json()["detail"]
    assert admin.get(f"/api/models/{m['id']}").json()["status"] == "created"
