"""Hardening against careless and hostile clients (issue 8), each case against the real server process:
bounded bodies, strict JSON before anything is saved, reads of bad stored records, login throttling,
job keys that end with their run, and readiness when the database cannot be written."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import job_client, model, unique, web_login
from services import wait_for

SURROGATE_STATE = '{"status":"failed","exit":{"message":"\\ud800"}}'


def _post_raw(client: httpx.Client, path: str, text: str | bytes, token: str | None = None) -> httpx.Response:
    data = text.encode() if isinstance(text, str) else text
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    return client.post(path, content=data, headers=headers)


def _put_raw(client: httpx.Client, path: str, text: str | bytes) -> httpx.Response:
    data = text.encode() if isinstance(text, str) else text
    return client.put(path, content=data, headers={"Content-Type": "application/json"})


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    while total > 0:
        yield b" " * min(size, total)
        total -= size


@pytest.fixture(scope="module")
def admin(platform_server: PlatformServer) -> Iterator[httpx.Client]:
    with platform_server.client() as client:
        yield client


# Bounded input ---------------------------------------------------------------------------------------

def test_login_body_over_its_limit_is_413_naming_the_limit(platform_server: PlatformServer) -> None:
    with httpx.Client(base_url=platform_server.url, timeout=60) as anonymous:
        declared = _post_raw(anonymous, "/api/auth/token", b"{" + b" " * 100_000 + b"}")
        streamed = anonymous.post("/api/auth/token", content=_chunks(100 * 1024 * 1024),
                                  headers={"Content-Type": "application/json"})
    for answer in (declared, streamed):
        assert answer.status_code == 413, answer.text
        assert "16 KiB" in answer.json()["detail"]


def test_large_body_without_a_valid_token_is_refused_before_it_is_read(platform_server: PlatformServer) -> None:
    with httpx.Client(base_url=platform_server.url, timeout=60) as anonymous:
        streamed = anonymous.post("/api/datasets", content=_chunks(100 * 1024 * 1024),
                                  headers={"Content-Type": "application/json"})
        declared_huge = _post_raw(anonymous, "/api/datasets", b" " * (100 * 1024 * 1024))
        bad_token = _post_raw(anonymous, "/api/datasets", b" " * (512 * 1024), token="bu_not-a-token")
    assert streamed.status_code == 401, streamed.text
    assert bad_token.status_code == 401, bad_token.text
    assert declared_huge.status_code == 413 and "1 MiB" in declared_huge.json()["detail"]


def test_json_api_body_over_1_mib_is_413_and_a_big_chart_under_its_limit_is_stored(admin: httpx.Client) -> None:
    job = model(admin)
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        too_big = _post_raw(key, f"/api/jobs/{job['id']}/state", '{"status": "running", "x": "' + "y" * (1 << 20) + '"}')
        chart = {"data": {"values": [{"x": i, "y": i * 0.5} for i in range(60_000)]}, "mark": "line"}
        stored = _put_raw(key, f"/api/jobs/{job['id']}/charts/big", json.dumps(chart))
    assert too_big.status_code == 413 and "1 MiB" in too_big.json()["detail"]
    assert stored.status_code == 204, stored.text
    assert len(admin.get(f"/api/models/{job['id']}/charts").json()["big"]["data"]["values"]) == 60_000


def test_validation_errors_name_the_field_but_never_echo_the_input(admin: httpx.Client) -> None:
    secret = "s3cret-" + "x" * 50_000
    answer = admin.post("/api/datasets", json={"name": [secret]})
    assert answer.status_code == 422
    assert "s3cret" not in answer.text and len(answer.content) < 2000
    assert answer.json()["detail"][0]["loc"] == ["body", "name"]
    broken = _post_raw(admin, "/api/datasets", '{"name": "' + secret)
    assert broken.status_code == 422 and "s3cret" not in broken.text


# Validate before saving ------------------------------------------------------------------------------

def test_a_state_holding_a_lone_surrogate_is_refused_and_changes_nothing(admin: httpx.Client) -> None:
    job = model(admin)
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        answer = _post_raw(key, f"/api/jobs/{job['id']}/state", SURROGATE_STATE)
        nan_code = _post_raw(key, f"/api/jobs/{job['id']}/state", '{"status":"failed","exit":{"code":NaN}}')
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "exit", "message"]
    assert nan_code.status_code == 422 and nan_code.json()["detail"][0]["loc"] == ["body", "exit", "code"]
    after = admin.get(f"/api/models/{job['id']}")
    assert after.status_code == 200 and after.json()["status"] == "created" and after.json()["error"] is None
    assert admin.get("/api/models").status_code == 200


def test_settings_given_as_json_text_are_held_to_the_same_rules(admin: httpx.Client) -> None:
    name = unique("model")
    answer = admin.post("/api/models", json={"name": name, "settings": '{"lr": NaN, "ok": 1}'})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "settings", "lr"]
    assert admin.get("/api/models", params={"name": name}).json()["total"] == 0


@pytest.mark.parametrize(("point", "field"), [
    ('{"step": 1, "time": Infinity, "values": {"loss": 1}}', "time"),
    ('{"step": 1, "time": NaN, "values": {"loss": 1}}', "time"),
    ('{"step": 9223372036854775808, "values": {"loss": 1}}', "step"),
    ('{"step": -9223372036854775809, "values": {"loss": 1}}', "step"),
])
def test_metrics_outside_what_can_be_stored_are_refused(admin: httpx.Client, point: str, field: str) -> None:
    job = model(admin)
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        answer = _post_raw(key, f"/api/jobs/{job['id']}/metrics", f'{{"batchId": "b1", "points": [{point}]}}')
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][-1] == field
    assert admin.get(f"/api/models/{job['id']}/metrics").json()["series"] == {}


def test_a_metrics_batch_has_a_bounded_number_of_points(admin: httpx.Client) -> None:
    job = model(admin)
    points = [{"step": i, "values": {"a": 1}} for i in range(10_001)]
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        answer = key.post(f"/api/jobs/{job['id']}/metrics", json={"batchId": "b1", "points": points})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "points"]


def test_a_metrics_body_over_8_mib_is_413_declared_or_streamed_and_nothing_is_stored(admin: httpx.Client) -> None:
    job = model(admin)
    path = f"/api/jobs/{job['id']}/metrics"
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        declared = _post_raw(key, path, b'{"batchId": "b1", "points": []' + b" " * (8 << 20) + b"}")
        streamed = key.post(path, content=_chunks(20 << 20), headers={"Content-Type": "application/json"})
        for answer in (declared, streamed):
            assert answer.status_code == 413, answer.text
            assert "8 MiB accepted for metrics requests" in answer.json()["detail"]
            assert answer.headers["connection"] == "close"
        unauthorised = _post_raw(key, path, '{"batchId": "b2", "points": []}', token="bj_not-a-key")
        assert unauthorised.status_code == 401, unauthorised.text
        assert key.post(path, json={"batchId": "b3", "points": [{"step": 1, "values": {"a": 1}}]}).json() == {
            "accepted": 1}
    assert admin.get(f"/api/models/{job['id']}/metrics").json()["counts"] == {"a": 1}


@pytest.mark.parametrize("epoch", ["1e300", "Infinity", "NaN", "-Infinity", "9" * 400])
def test_remote_monitor_epochs_outside_int64_are_refused(admin: httpx.Client, epoch: str) -> None:
    job = model(admin)
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        as_json = _post_raw(key, f"/api/jobs/{job['id']}/remotemonitor", f'{{"epoch": {epoch}, "loss": 0.5}}')
        as_form = key.post(f"/api/jobs/{job['id']}/remotemonitor", data={"data": f'{{"epoch": {epoch}, "loss": 1}}'})
    for answer in (as_json, as_form):
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["body", "epoch"]
    assert admin.get(f"/api/models/{job['id']}/metrics").json()["series"] == {}


@pytest.mark.parametrize("spec", ['{"a": ' * 900 + "1" + "}" * 900, "[" * 100_000 + "]" * 100_000,
                                  '{"title": "\\ud800"}'])
def test_charts_nested_too_deep_or_holding_a_surrogate_are_refused(admin: httpx.Client, spec: str) -> None:
    job = model(admin)
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        answer = _put_raw(key, f"/api/jobs/{job['id']}/charts/bad", spec)
    assert answer.status_code == 422, answer.text[:300]
    listed = admin.get(f"/api/models/{job['id']}/charts")
    assert listed.status_code == 200 and listed.json() == {}


def test_a_chart_file_too_deep_to_answer_is_skipped_by_chart_reads(admin: httpx.Client) -> None:
    job = model(admin)
    deep = '{"a": ' * 900 + "1" + "}" * 900
    assert admin.put(f"/api/files/{job['id']}/artifacts/charts/deep.json", content=deep.encode()).status_code == 201
    assert admin.put(f"/api/files/{job['id']}/artifacts/charts/ok.json", content=b'{"mark": "bar"}').status_code == 201
    listed = admin.get(f"/api/models/{job['id']}/charts")
    assert listed.status_code == 200 and listed.json() == {"ok": {"mark": "bar"}}


@pytest.mark.parametrize("path", ["/api/models", "/api/reports", "/api/datasets"])
def test_list_offsets_beyond_int64_are_422(admin: httpx.Client, path: str) -> None:
    for offset in (2**63, 2**64 + 5, 10**30):
        answer = admin.get(path, params={"offset": offset})
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["query", "offset"]


def test_web_list_pages_beyond_any_offset_are_refused_not_500(platform_server: PlatformServer) -> None:
    browser = web_login(platform_server)
    try:
        answers = [browser.get(path, params={"page": 2**70}) for path in ("/models", "/testreports", "/datasets")]
    finally:
        browser.close()
    assert [answer.status_code for answer in answers] == [422] * 3


@pytest.mark.parametrize("kind", ["list", "folder"])
def test_an_info_json_that_is_not_an_object_is_rebuilt_from_the_record(admin: httpx.Client, kind: str) -> None:
    job = model(admin)
    assert admin.delete(f"/api/files/{job['id']}/info.json").status_code == 204
    if kind == "list":
        assert admin.put(f"/api/files/{job['id']}/info.json", content=b"[1, 2, 3]").status_code == 201
    else:
        assert admin.put(f"/api/files/{job['id']}/info.json/inside.txt", content=b"x").status_code == 201
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        answer = key.get(f"/api/jobs/{job['id']}/info")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == job["id"] and answer.json()["name"] == job["name"]


def test_reads_survive_a_stored_record_holding_a_lone_surrogate(platform_server: PlatformServer,
                                                                admin: httpx.Client) -> None:
    job = model(admin, settings={"note": "fine"})
    # A record as an older version stored it: the JSON text holds an escaped lone surrogate.
    with sqlite3.connect(platform_server.data_dir / "brevettiai.db", timeout=30) as connection:
        connection.execute("UPDATE jobs SET status = 'failed', error = ? WHERE id = ?",
                           ('{"message": "bad \\ud800 text"}', job["id"]))
    one = admin.get(f"/api/models/{job['id']}")
    assert one.status_code == 200, one.text
    assert one.json()["error"]["message"] == "bad \ufffd text"
    assert admin.get("/api/models", params={"q": job["name"]}).status_code == 200
    browser = web_login(platform_server)
    try:
        page = browser.get(f"/models/{job['id']}")
    finally:
        browser.close()
    assert page.status_code == 200 and "bad \ufffd text" in page.text


# Keys end with their job -----------------------------------------------------------------------------

def test_a_job_key_stops_writing_when_its_run_ends_but_still_reads(admin: httpx.Client) -> None:
    job = model(admin)
    jid = job["id"]
    with job_client(str(admin.base_url), job["apiKey"]) as key:
        assert key.put(f"/api/files/{jid}/artifacts/a.txt", content=b"before").status_code == 201
        assert key.post(f"/api/jobs/{jid}/state", json={"status": "running"}).status_code == 200
        assert key.post(f"/api/jobs/{jid}/state", json={"status": "completed"}).status_code == 200
        refused = {
            "file put": key.put(f"/api/files/{jid}/artifacts/b.txt", content=b"after"),
            "file delete": key.delete(f"/api/files/{jid}/artifacts/a.txt"),
            "metrics": key.post(f"/api/jobs/{jid}/metrics",
                                json={"batchId": "late", "points": [{"step": 1, "values": {"a": 1}}]}),
            "chart": key.put(f"/api/jobs/{jid}/charts/late", json={"mark": "bar"}),
            "remote monitor": key.post(f"/api/jobs/{jid}/remotemonitor", json={"epoch": 1, "loss": 1}),
        }
        for what, answer in refused.items():
            assert answer.status_code == 403, (what, answer.text)
            assert "has ended" in answer.json()["detail"], what
        assert key.post(f"/api/jobs/{jid}/state", json={"status": "completed"}).status_code == 200
        assert key.post(f"/api/jobs/{jid}/state", json={"status": "failed"}).status_code == 409
        assert key.get(f"/api/files/{jid}/artifacts/a.txt").content == b"before"
        assert key.get(f"/api/jobs/{jid}/info").status_code == 200
        # the runner task's last upload of the job's own log still lands after the job reported its end
        assert key.put(f"/api/files/{jid}/logs/job.log", content=b"tail").status_code == 201
    assert admin.get(f"/api/files/{jid}/artifacts/b.txt").status_code == 404
    assert admin.get(f"/api/models/{jid}/metrics").json()["series"] == {}


# Login throttling ------------------------------------------------------------------------------------

def _login(url: str, password: str, address: str = "127.0.0.1") -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=address)) as client:
        return client.post("/api/auth/token", json={"username": "admin", "password": password})


def test_wrong_passwords_are_throttled_and_the_real_user_gets_back_in(fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    answers = [_login(server.url, "wrong") for _ in range(8)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled, [a.status_code for a in answers]
    assert 1 <= int(throttled[0].headers["Retry-After"]) <= 30
    assert "too many failed logins" in throttled[0].json()["detail"]
    # Flood from one address; the real user, from another address, is held back for seconds at most.
    flood_until = time.monotonic() + 3
    while time.monotonic() < flood_until:
        _login(server.url, "wrong")
    first = _login(server.url, server.admin_password, address="127.0.0.2")
    if first.status_code == 429:
        assert int(first.headers["Retry-After"]) <= 30
    wait_for(lambda: _login(server.url, server.admin_password, address="127.0.0.2").status_code == 200, 35,
             what="the real user logging in from another address")
    # A success resets the username's count: one wrong password is a plain 401 again.
    assert _login(server.url, "wrong", address="127.0.0.3").status_code == 401


def test_the_login_form_is_throttled_too(fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    answers = []
    for _ in range(8):
        with httpx.Client(base_url=server.url, timeout=60) as browser:
            token = browser.get("/login").cookies["brevettiai_login_csrf"]
            answers.append(browser.post("/login", data={"username": "admin", "password": "wrong",
                                                        "csrf_token": token, "next": "/models"}))
    statuses = [answer.status_code for answer in answers]
    assert statuses[:5] == [401] * 5 and 429 in statuses, statuses
    throttled = next(answer for answer in answers if answer.status_code == 429)
    assert "Too many failed logins" in throttled.text and "Retry-After" in throttled.headers


# Readiness -------------------------------------------------------------------------------------------

def test_healthz_is_503_naming_the_database_while_it_cannot_be_written(fresh_platform_server: PlatformServer) -> None:
    server = fresh_platform_server
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    holder = sqlite3.connect(server.data_dir / "brevettiai.db", timeout=5, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        wait_for(lambda: httpx.get(f"{server.url}/healthz", timeout=30).status_code == 503, 10,
                 what="/healthz reporting the locked database")
        answer = httpx.get(f"{server.url}/healthz", timeout=30).json()
        assert answer["status"] == "unavailable" and answer["detail"].startswith("database: cannot write")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    wait_for(lambda: httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200, 10,
             what="/healthz ok again")


def test_healthz_is_503_while_postgresql_is_read_only(postgres: Any, platform_server_factory: Any) -> None:
    import psycopg

    url = postgres.new_database()
    server = platform_server_factory("--database-url", url)
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    name = url.rsplit("/", 1)[1]

    def set_read_only(on: bool) -> None:
        with psycopg.connect(postgres.admin_dsn, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = {'on' if on else 'off'}")
            # The server's pooled connections reconnect (pre-ping) and get the new default.
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    set_read_only(True)
    try:
        wait_for(lambda: httpx.get(f"{server.url}/healthz", timeout=30).status_code == 503, 15,
                 what="/healthz reporting the read-only database")
        detail = httpx.get(f"{server.url}/healthz", timeout=30).json()["detail"]
        assert detail.startswith("database: cannot write") and "read-only" in detail
    finally:
        set_read_only(False)
    wait_for(lambda: httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200, 15,
             what="/healthz ok again")
