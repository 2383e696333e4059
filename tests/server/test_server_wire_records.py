"""One contract on both sides of the wire (issue 10): what the real server answers is exactly what the
SDK's records read, and what the SDK sends is what the server stores.

"Exactly": every key of an answer is a field of the SDK record (nothing lands in its extras), every
field of the record is in the answer (no SDK default fills a gap), and the record written back
(`to_wire`) is the answer itself, value for value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import created, job_client, model_type, unique

from brevettiai.contract.reports import HeartbeatAnswer
from brevettiai.contract.wire import WireRecord
from brevettiai.datamodel import Dataset, Tag
from brevettiai.datamodel.web import FileEntry, Model, ModelType, Report, Token, User
from brevettiai.platform.link import PlatformLink


def read_exactly(record: type[WireRecord], answer: dict[str, Any]) -> WireRecord:
    """`answer` read as `record`, failing on any key or field the two do not share or any value they change."""
    read = record.model_validate(answer)
    aliases = {info.alias or name for name, info in record.model_fields.items()}
    assert answer.keys() == aliases, (f"{record.__name__} does not model {sorted(answer.keys() - aliases)}; "
                                      f"the server leaves out {sorted(aliases - answer.keys())}")
    assert read.model_dump(mode="json", by_alias=True) == answer
    return read


@pytest.fixture
def admin(platform_server: PlatformServer) -> Iterator[httpx.Client]:
    with platform_server.client() as client:
        yield client


def test_every_answer_for_users_tokens_tags_datasets_model_types_runs_and_artifacts_reads_exactly_as_sdk_records(
        platform_server: PlatformServer, admin: httpx.Client) -> None:
    me = read_exactly(User, admin.get("/api/auth/me").json())
    for user in admin.get("/api/users").json():
        read_exactly(User, user)
    token = admin.post("/api/auth/token", json={"username": me.username,
                                                "password": platform_server.admin_password}).json()
    read_exactly(User, token["user"])
    issued = read_exactly(Token, token)
    assert isinstance(issued, Token) and issued.access_token not in repr(issued)

    kind = read_exactly(ModelType, model_type(admin))
    assert isinstance(kind, ModelType) and kind.settings_schema["fields"]
    read_exactly(ModelType, admin.get(f"/api/modeltypes/{kind.id}").json())
    for item in admin.get("/api/modeltypes").json():
        read_exactly(ModelType, item)

    tag = created(admin.post("/api/tags", json={"name": unique("tag")}))
    child = read_exactly(Tag, created(admin.post("/api/tags", json={"name": unique("tag"), "parentId": tag["id"]})))
    tree = read_exactly(Tag, admin.get(f"/api/tags/{tag['id']}").json())
    assert isinstance(tree, Tag) and tree.find(child.name) == child  # type: ignore[attr-defined]
    for root in admin.get("/api/tags").json():
        read_exactly(Tag, root)
    data = created(admin.post("/api/datasets", json={"name": unique("data"), "tagIds": [tag["id"]]}))
    read_exactly(Dataset, data)
    for item in admin.get("/api/datasets").json():
        read_exactly(Dataset, item)
    body = {"name": unique("model"), "modelTypeId": kind.id, "settings": {"epochs": 7, "data": {"size": 64}},
            "datasetIds": [data["id"]], "tagIds": [tag["id"]]}
    model = read_exactly(Model, created(admin.post("/api/models", json=body)))
    assert isinstance(model, Model) and model.has_api_key and model.settings["data"] == {"size": 64}
    report = read_exactly(Report, created(admin.post("/api/reports", json={
        "name": unique("report"), "parentId": model.id, "datasetIds": [data["id"]]})))
    assert isinstance(report, Report) and report.kind == "report" and report.parent_id == model.id

    edited = read_exactly(Model, admin.patch(f"/api/models/{model.id}", json={"notes": "*first*"}).json())
    started = read_exactly(Model, admin.post(f"/api/models/{model.id}/start", params={"launch": False}).json())
    assert isinstance(started, Model) and started.has_api_key and started.api_key != model.api_key
    assert isinstance(edited, Model) and edited.notes == "*first*" and not edited.has_api_key

    # A run that reported a failure carries its error; its artifacts list files and folders.
    with job_client(platform_server.url, started.api_key) as job:
        for path in ("artifacts/notes.txt", "artifacts/deep/weights.bin"):
            assert job.put(f"/api/files/{model.id}/{path}", content=b"x").status_code == 201
        read_exactly(Model, job.post(f"/api/jobs/{model.id}/state", json={
            "status": "failed", "exit": {"code": 3, "message": "out of data", "signal": None}}).json())
        heartbeat = job.post(f"/api/jobs/{model.id}/heartbeat").json()
    assert read_exactly(HeartbeatAnswer, heartbeat) == HeartbeatAnswer(status="failed", stop_requested=False)

    failed = read_exactly(Model, admin.get(f"/api/models/{model.id}").json())
    assert isinstance(failed, Model) and failed.status == "failed" and failed.error == {"code": 3,
                                                                                         "message": "out of data"}
    for page in (admin.get("/api/models", params={"limit": 500}).json(),
                 admin.get("/api/reports", params={"limit": 500}).json()):
        items = page["items"] if isinstance(page, dict) else page
        assert items
        for item in items:
            read_exactly(Report if item["kind"] == "report" else Model, item)
    listed = {}
    for recursive in (False, True):
        entries = [read_exactly(FileEntry, entry) for entry in
                   admin.get(f"/api/models/{model.id}/artifacts", params={"recursive": recursive}).json()]
        listed[recursive] = {(entry.name, entry.is_folder) for entry in entries if isinstance(entry, FileEntry)}
    assert listed == {False: {("notes.txt", False), ("deep/", True)},
                      True: {("notes.txt", False), ("deep/weights.bin", False)}}


def test_what_a_job_sends_through_its_link_is_what_the_server_stores(
        platform_server: PlatformServer, admin: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    model = created(admin.post("/api/models", json={"name": unique("model")}))
    link = PlatformLink(platform_server.url, model["id"], model["apiKey"])
    caplog.set_level(logging.ERROR, "brevettiai.platform.job")  # set_state logs a refused report, never raises
    try:
        link.set_state("running", model_path="artifacts/model.onnx")
        assert admin.get(f"/api/models/{model['id']}").json()["status"] == "running"
        link.log_metrics(1, {"loss": 0.5, "acc": None})
        assert link.flush_metrics(30)
        link._columnar = False  # the point form, as to a platform that reads only that
        link.log_metrics(2, {"loss": 0.25, "acc": 0.75})
        assert link.flush_metrics(30)
        link.set_state("failed", exit_info={"code": 2, "exception": "ValueError", "message": "bad", "kept": 1})
    finally:
        link.close()
    assert not caplog.records, [r.getMessage() for r in caplog.records]

    stored = admin.get(f"/api/models/{model['id']}").json()
    assert stored["status"] == "failed" and stored["modelPath"] == "artifacts/model.onnx"
    assert stored["error"] == {"code": 2, "exception": "ValueError", "message": "bad", "kept": 1}
    series = admin.get(f"/api/models/{model['id']}/metrics").json()["series"]
    assert [point[:2] for point in series["loss"]] == [[1, 0.5], [2, 0.25]]
    assert [point[:2] for point in series["acc"]] == [[1, None], [2, 0.75]]  # a None value: a stored gap
