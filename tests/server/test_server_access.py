"""Every cell of the contract's access table for job keys, and path traversal (docs/platform-api.md)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import created, dataset, job_client, model, unique


@dataclass
class World:
    url: str
    admin: httpx.Client
    own: dict
    other: dict
    given: dict
    not_given: dict
    report: dict


@pytest.fixture(scope="module")
def world(platform_server: PlatformServer) -> World:
    admin = platform_server.client()
    given, not_given = dataset(admin), dataset(admin)
    own = model(admin, datasetIds=[given["id"]])
    other = model(admin)
    report = created(admin.post("/api/reports", json={"name": unique("report"), "parentId": other["id"]}))
    for rid in (own["id"], other["id"], given["id"], not_given["id"]):
        assert admin.put(f"/api/files/{rid}/folder/file.txt", content=b"content").status_code == 201
    yield World(platform_server.url, admin, own, other, given, not_given, report)
    admin.close()


def _key(world: World, who: str) -> str:
    return {"own": world.own["apiKey"], "report": world.report["apiKey"]}[who]


READ_CASES = [("own", 200), ("other", 404), ("given", 200), ("not_given", 404)]


@pytest.mark.parametrize(("target", "expected"), READ_CASES)
def test_job_key_reads(world: World, target: str, expected: int) -> None:
    rid = getattr(world, target)["id"]
    with job_client(world.url, _key(world, "own")) as job:
        assert job.get(f"/api/files/{rid}/folder/file.txt").status_code == expected
        assert job.head(f"/api/files/{rid}/folder/file.txt").status_code == expected
        assert job.get(f"/api/ls/{rid}/folder").status_code == expected
        assert job.get(f"/api/ls/{rid}/").status_code == expected
        assert job.get(f"/api/ls/{rid}/", params={"recursive": "true"}).status_code == expected


WRITE_CASES = [("own", 201, 204), ("other", 404, 404), ("given", 403, 403), ("not_given", 404, 404)]


@pytest.mark.parametrize(("target", "put_status", "delete_status"), WRITE_CASES)
def test_job_key_writes(world: World, target: str, put_status: int, delete_status: int) -> None:
    rid = getattr(world, target)["id"]
    with job_client(world.url, _key(world, "own")) as job:
        assert job.put(f"/api/files/{rid}/written.txt", content=b"new").status_code == put_status
        assert job.delete(f"/api/files/{rid}/folder/file.txt").status_code == delete_status
    # nothing changed where the job was refused
    if put_status != 201:
        assert world.admin.get(f"/api/files/{rid}/written.txt").status_code == 404
        assert world.admin.get(f"/api/files/{rid}/folder/file.txt").content == b"content"
    else:
        assert world.admin.get(f"/api/files/{rid}/written.txt").content == b"new"
        assert world.admin.get(f"/api/files/{rid}/folder/file.txt").status_code == 404
        assert world.admin.put(f"/api/files/{rid}/folder/file.txt", content=b"content").status_code == 201


def test_info_json_is_read_only_to_its_job(world: World) -> None:
    rid = world.own["id"]
    before = world.admin.get(f"/api/files/{rid}/info.json").content
    with job_client(world.url, _key(world, "own")) as job:
        assert job.get(f"/api/files/{rid}/info.json").status_code == 200
        assert job.put(f"/api/files/{rid}/info.json", content=b"{}").status_code == 403
        assert job.delete(f"/api/files/{rid}/info.json").status_code == 403
    assert world.admin.get(f"/api/files/{rid}/info.json").content == before


def test_a_report_reads_its_model_read_only(world: World) -> None:
    parent = world.other["id"]
    with job_client(world.url, _key(world, "report")) as job:
        assert job.get(f"/api/files/{parent}/folder/file.txt").status_code == 200
        assert job.put(f"/api/files/{parent}/folder/file.txt", content=b"x").status_code == 403
        assert job.get(f"/api/files/{world.own['id']}/folder/file.txt").status_code == 404


@pytest.mark.parametrize(("target", "expected"), [("own", 200), ("other", 404)])
def test_job_endpoints_of_own_job_only(world: World, target: str, expected: int) -> None:
    job_id = getattr(world, target)["id"]
    with job_client(world.url, _key(world, "own")) as job:
        assert job.get(f"/api/jobs/{job_id}/info").status_code == expected
        assert job.post(f"/api/jobs/{job_id}/heartbeat").status_code == expected
        assert job.post(f"/api/jobs/{job_id}/metrics", json={"batchId": unique("b"), "points": []}).status_code == expected
        assert job.get(f"/api/jobs/{job_id}/roottags").status_code == expected
        assert job.put(f"/api/jobs/{job_id}/charts/c", json={"mark": "line"}).status_code == (
            204 if expected == 200 else 404)
        assert job.post(f"/api/jobs/{job_id}/remotemonitor", json={"epoch": 1}).status_code == expected


@pytest.mark.parametrize("authorization", [None, "Bearer bj_not-a-key", "Bearer bu_not-a-token", "Bearer garbage",
                                           "Basic YWRtaW46YWRtaW4=", "bj_missing-scheme"])
def test_missing_or_bad_token_is_401(world: World, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    rid, job_id = world.own["id"], world.own["id"]
    with httpx.Client(base_url=world.url, headers=headers) as anyone:
        for response in (anyone.get(f"/api/files/{rid}/folder/file.txt"),
                         anyone.head(f"/api/files/{rid}/folder/file.txt"),
                         anyone.get(f"/api/ls/{rid}/"),
                         anyone.put(f"/api/files/{rid}/x.txt", content=b"x"),
                         anyone.delete(f"/api/files/{rid}/folder/file.txt"),
                         anyone.get(f"/api/jobs/{job_id}/info"),
                         anyone.post(f"/api/jobs/{job_id}/heartbeat"),
                         anyone.get("/api/models"),
                         anyone.get("/api/auth/me")):
            assert response.status_code == 401, (response.request.url, response.text)
    assert world.admin.get(f"/api/files/{rid}/x.txt").status_code == 404


def test_a_job_key_cannot_use_the_web_api(world: World) -> None:
    with job_client(world.url, _key(world, "own")) as job:
        assert job.get("/api/models").status_code == 403
        assert job.get("/api/auth/me").status_code == 403
        assert job.post(f"/api/models/{world.own['id']}/start").status_code == 403


def test_a_user_reads_and_writes_everything(world: World) -> None:
    for rid in (world.own["id"], world.other["id"], world.given["id"], world.not_given["id"]):
        assert world.admin.put(f"/api/files/{rid}/user.txt", content=b"u").status_code == 201
        assert world.admin.get(f"/api/files/{rid}/user.txt").content == b"u"
        assert world.admin.delete(f"/api/files/{rid}/user.txt").status_code == 204
    assert world.admin.get("/api/files/not-a-resource/x").status_code == 404


TRAVERSALS = ["folder/%2e%2e/%2e%2e/etc/passwd", "%2e%2e/x", "folder/..%2f..%2fx", "%2Fetc%2Fpasswd",
              "folder%5C..%5Cx", "a%00b", "C:%5Cwindows"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_is_400(world: World, path: str) -> None:
    rid = world.own["id"]
    with job_client(world.url, _key(world, "own")) as job:
        for method in ("GET", "PUT", "DELETE"):
            request = job.build_request(method, f"{world.url}/api/files/{rid}/{path}", content=b"x" if method == "PUT" else None)
            assert job.send(request).status_code == 400, (method, path)
        assert job.send(job.build_request("GET", f"{world.url}/api/ls/{rid}/{path}")).status_code == 400
    assert world.admin.send(world.admin.build_request("GET", f"{world.url}/api/files/%2e%2e/{rid}/x")).status_code == 400
