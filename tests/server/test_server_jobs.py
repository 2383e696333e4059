"""The job side of the API (state, heartbeat, metrics, charts, tags) and jobs run by the local runner."""

from __future__ import annotations

import sys
import textwrap
import uuid

import httpx
import pytest
import services
from platform_fixture import PlatformServer
from server_helpers import created, dataset, job_client, model, model_type, unique, web_login

# A job as the runner starts it: `<command> --job_id ID --host URL`, its key in BREVETTI_AI_API_KEY.
# It does what its "behaviour" setting says, talking to the platform with plain httpx.
JOB_SCRIPT = textwrap.dedent('''
    import json, os, signal, sys, time
    import httpx

    args = sys.argv[1:]
    job_id, host = args[args.index("--job_id") + 1], args[args.index("--host") + 1]
    client = httpx.Client(base_url=host, headers={"Authorization": "Bearer " + os.environ["BREVETTI_AI_API_KEY"]})
    api = f"/api/jobs/{job_id}"
    info = client.get(api + "/info").json()
    behaviour = info["settings"]["behaviour"]
    print("job started", json.dumps({"argv": args, "cwd": os.getcwd(),
          "admin_password_seen": "BREVETTI_AI_ADMIN_PASSWORD" in os.environ}), flush=True)
    terminated = []
    signal.signal(signal.SIGTERM, lambda *_: terminated.append(True))
    client.post(api + "/state", json={"status": "running"}).raise_for_status()
    if behaviour == "exit3":
        sys.exit(3)
    if behaviour == "complete":
        points = [{"step": i, "time": time.time(), "values": {"loss": 1 / (i + 1)}} for i in range(5)]
        client.post(api + "/metrics", json={"batchId": "b1", "points": points}).raise_for_status()
        client.put(f"/api/files/{job_id}/artifacts/model.txt", content=b"weights").raise_for_status()
        client.post(api + "/state", json={"status": "completed", "modelPath": "artifacts/model.txt"})
        sys.exit(0)
    deadline = time.time() + 60
    while not terminated and time.time() < deadline:
        answer = client.post(api + "/heartbeat")
        if answer.status_code == 401:  # deleted
            sys.exit(5)
        time.sleep(0.1)
    client.post(api + "/state", json={"status": "killed", "exit": {"code": 143, "signal": "SIGTERM"}})
    sys.exit(143)
''')


@pytest.fixture(scope="module")
def admin(platform_server: PlatformServer) -> httpx.Client:
    with platform_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def runnable_type(admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("job-code")
    (folder / "job.py").write_text(JOB_SCRIPT)
    return model_type(admin, command=[sys.executable, "job.py"], workingDir=str(folder),
                      settingsSchema={"fields": [], "presets": {}}, defaults={})


def wait_status(admin: httpx.Client, job_id: str, statuses: set[str], timeout: float = 30.0) -> dict:
    """The job's record once its status is one of `statuses`."""
    return services.wait_for(lambda: admin.get(f"/api/models/{job_id}").json(), timeout, every=0.1,
                             what=f"job {job_id} reaching {sorted(statuses)}",
                             until=lambda record: record["status"] in statuses)


def started(admin: httpx.Client, type_id: str, behaviour: str) -> tuple[dict, str]:
    job = model(admin, modelTypeId=type_id, settings={"behaviour": behaviour})
    answer = admin.post(f"/api/models/{job['id']}/start")
    assert answer.status_code == 200, answer.text
    return job, answer.json()["apiKey"]


def test_a_local_job_runs_to_completion(platform_server: PlatformServer, admin: httpx.Client,
                                        runnable_type: dict) -> None:
    job, key = started(admin, runnable_type["id"], "complete")
    record = wait_status(admin, job["id"], {"completed", "failed"})
    assert record["status"] == "completed" and record["modelPath"] == "artifacts/model.txt"
    assert record["started"] and record["completed"]
    assert admin.get(f"/api/models/{job['id']}/metrics").json()["series"]["loss"][0][:2] == [0, 1.0]
    artifacts = admin.get(f"/api/models/{job['id']}/artifacts").json()
    assert [(a["name"], a["link"], a["size"]) for a in artifacts] == [
        ("model.txt", f"/api/files/{job['id']}/artifacts/model.txt", 7)]
    def stored_log() -> str | None:
        text = admin.get(f"/api/files/{job['id']}/logs/job.log").text
        return text if "admin_password_seen" in text else None

    log = services.wait_for(stored_log, timeout=15, what="the job's log is stored")
    assert "job started" in log and key not in log
    assert '"admin_password_seen": false' in log
    assert f'"cwd": "{runnable_type["workingDir"]}"' in log
    assert f'["--job_id", "{job["id"]}", "--host", "{platform_server.url}"]' in log


def test_a_job_that_exits_without_reporting_fails_with_its_exit_code(admin: httpx.Client, runnable_type: dict) -> None:
    job, _ = started(admin, runnable_type["id"], "exit3")
    record = wait_status(admin, job["id"], {"failed", "completed", "killed"})
    assert record["status"] == "failed" and record["error"]["code"] == 3 and "exit code 3" in record["error"]["message"]


def test_stop_a_running_job(platform_server: PlatformServer, admin: httpx.Client, runnable_type: dict) -> None:
    job, key = started(admin, runnable_type["id"], "loop")
    wait_status(admin, job["id"], {"running"})
    stopped = admin.post(f"/api/models/{job['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] in ("running", "killed")
    record = wait_status(admin, job["id"], {"killed", "failed", "completed"})
    assert record["status"] == "killed" and record["error"]["signal"] == "SIGTERM"
    with job_client(platform_server.url, key) as job_side:
        assert job_side.post(f"/api/jobs/{job['id']}/heartbeat").json() == {"status": "killed", "stopRequested": True}
        assert job_side.post(f"/api/jobs/{job['id']}/state", json={"status": "running"}).status_code == 409


def test_delete_a_running_job_stops_it(admin: httpx.Client, runnable_type: dict) -> None:
    job, _ = started(admin, runnable_type["id"], "loop")
    wait_status(admin, job["id"], {"running"})
    assert admin.delete(f"/api/models/{job['id']}").status_code == 204
    assert admin.get(f"/api/models/{job['id']}").status_code == 404


def test_state_transitions_and_final_states(platform_server: PlatformServer, admin: httpx.Client) -> None:
    m = model(admin)
    with job_client(platform_server.url, m["apiKey"]) as job:
        api = f"/api/jobs/{m['id']}"
        assert job.post(api + "/state", json={"status": "bogus"}).status_code == 422
        running = job.post(api + "/state", json={"status": "running"}).json()
        assert running["status"] == "running" and running["started"] and running["apiKey"] == "<NO_API_KEY>"
        assert job.post(api + "/heartbeat").json() == {"status": "running", "stopRequested": False}
        failed = job.post(api + "/state", json={"status": "failed", "exit": {
            "code": 1, "exception": "ValueError", "message": "bad", "traceback": "tb", "signal": None}})
        assert failed.status_code == 200
        assert failed.json()["error"] == {"code": 1, "exception": "ValueError", "message": "bad", "traceback": "tb"}
        assert job.post(api + "/state", json={"status": "failed"}).status_code == 200  # a retried report
        for status in ("running", "completed", "killed"):
            assert job.post(api + "/state", json={"status": status}).status_code == 409
    record = admin.get(f"/api/models/{m['id']}").json()
    assert record["status"] == "failed" and record["completed"]
    assert admin.post(f"/api/models/{m['id']}/start").status_code == 409
    assert admin.post(f"/api/models/{m['id']}/stop").json()["status"] == "failed"


def test_a_run_recorded_elsewhere_reports_its_own_times(platform_server: PlatformServer, admin: httpx.Client) -> None:
    """`brevettiai sync` sends an offline run's start and end: the model shows them, not the sync's time;
    times in the future, out of order or an end with `running` are refused, naming the field."""
    m = model(admin)
    with job_client(platform_server.url, m["apiKey"]) as job:
        api = f"/api/jobs/{m['id']}/state"
        future = job.post(api, json={"status": "running", "started": "2999-01-01T00:00:00Z"})
        assert future.status_code == 422 and "started 2999-01-01T00:00:00+00:00 is in the future" in future.text
        naive = job.post(api, json={"status": "running", "started": "2026-01-01T00:00:00"})
        assert naive.status_code == 422 and "started" in naive.text and "timezone" in naive.text
        early_end = job.post(api, json={"status": "running", "completed": "2026-01-01T00:00:00Z"})
        assert early_end.status_code == 422 and "completed is accepted only with a final status" in early_end.text
        backwards = job.post(api, json={"status": "completed", "started": "2026-01-02T00:00:00Z",
                                        "completed": "2026-01-01T00:00:00Z"})
        assert backwards.status_code == 422 and "is before started" in backwards.text
        underflow = job.post(api, json={"status": "running", "started": "0001-01-01T00:00:00+14:00"})
        assert underflow.status_code == 422 and "started 0001-01-01T00:00:00+14:00 is out of range" in underflow.text
        assert admin.get(f"/api/models/{m['id']}").json()["status"] == "created"  # nothing refused changed it

        running = job.post(api, json={"status": "running", "started": "2026-01-01T10:00:00.250+02:00"})
        assert running.status_code == 200 and running.json()["started"].startswith("2026-01-01T08:00:00.25")
        before_start = job.post(api, json={"status": "completed", "completed": "2026-01-01T07:00:00Z"})
        assert before_start.status_code == 422 and "is before the job's start 2026-01-01T08:00:00.25" in before_start.text
        done = job.post(api, json={"status": "completed", "completed": "2026-01-01T09:30:00Z"})
        assert done.status_code == 200 and done.json()["completed"].startswith("2026-01-01T09:30:00")
    record = admin.get(f"/api/models/{m['id']}").json()
    assert record["started"].startswith("2026-01-01T08:00:00.25") and record["completed"].startswith("2026-01-01T09:30")


def test_completed_with_model_path(platform_server: PlatformServer, admin: httpx.Client) -> None:
    m = model(admin)
    with job_client(platform_server.url, m["apiKey"]) as job:
        done = job.post(f"/api/jobs/{m['id']}/state", json={"status": "completed", "modelPath": "artifacts/m.bin"})
        assert done.json()["status"] == "completed" and done.json()["modelPath"] == "artifacts/m.bin"
        assert job.post(f"/api/jobs/{m['id']}/state", json={"status": "completed"}).status_code == 200
        assert job.post(f"/api/jobs/{m['id']}/state", json={"status": "failed"}).status_code == 409


def test_metrics_batches_are_idempotent(platform_server: PlatformServer, admin: httpx.Client) -> None:
    m = model(admin)
    batch = {"batchId": str(uuid.uuid4()), "points": [
        {"step": 1, "time": 100.0, "values": {"loss": 0.5, "acc": 0.7}},
        {"step": 2, "time": 200.0, "values": {"loss": 0.25}},
        {"step": 3, "values": {"loss": None}}]}
    with job_client(platform_server.url, m["apiKey"]) as job:
        for _ in range(3):
            assert job.post(f"/api/jobs/{m['id']}/metrics", json=batch).json() == {"accepted": 3}
        second = {"batchId": str(uuid.uuid4()), "points": [{"step": 4, "time": 300.0, "values": {"loss": 0.1}}]}
        assert job.post(f"/api/jobs/{m['id']}/metrics", json=second).json() == {"accepted": 1}
        bad = job.post(f"/api/jobs/{m['id']}/metrics", json={"batchId": "x", "points": [{"step": "one", "values": {}}]})
        assert bad.status_code == 422
        assert job.post(f"/api/jobs/{m['id']}/metrics", content=b"{oops",
                        headers={"Content-Type": "application/json"}).status_code in (400, 422)
    series = admin.get(f"/api/models/{m['id']}/metrics").json()["series"]
    assert [p[:3] for p in series["loss"][:2]] == [[1, 0.5, 100.0], [2, 0.25, 200.0]]
    assert series["loss"][2][:2] == [3, None] and series["loss"][3] == [4, 0.1, 300.0]
    assert series["acc"] == [[1, 0.7, 100.0]]
    only = admin.get(f"/api/models/{m['id']}/metrics", params={"names": "acc", "since": 50}).json()["series"]
    assert only == {"acc": [[1, 0.7, 100.0]]}
    later = admin.get(f"/api/models/{m['id']}/metrics", params={"names": "loss", "since": 250}).json()["series"]
    assert [p[0] for p in later["loss"]] == [3, 4]


def test_remote_monitor_form_and_json(platform_server: PlatformServer, admin: httpx.Client) -> None:
    m = model(admin)
    with job_client(platform_server.url, m["apiKey"]) as job:
        api = f"/api/jobs/{m['id']}/remotemonitor"
        assert job.post(api, data={"data": '{"epoch": 3, "loss": 0.5, "note": "text"}'}).status_code == 200
        assert job.post(api, json={"epoch": 4, "loss": 0.25}).status_code == 200
        assert job.post(api, content=b"[1", headers={"Content-Type": "application/json"}).status_code == 422
    loss = admin.get(f"/api/models/{m['id']}/metrics").json()["series"]["loss"]
    assert [p[:2] for p in loss] == [[3, 0.5], [4, 0.25]]


def test_charts(platform_server: PlatformServer, admin: httpx.Client) -> None:
    m = model(admin)
    spec = {"mark": "line", "encoding": {"x": {"field": "step"}}}
    with job_client(platform_server.url, m["apiKey"]) as job:
        assert job.put(f"/api/jobs/{m['id']}/charts/loss_curve", json=spec).status_code == 204
        assert job.put(f"/api/jobs/{m['id']}/charts/bad", content=b"[1]").status_code == 422
        assert job.put(f"/api/jobs/{m['id']}/charts/..hidden", json=spec).status_code in (400, 404)
        # a chart file written straight to storage (e.g. offline SDK upload_chart) shows too
        assert job.put(f"/api/files/{m['id']}/artifacts/charts/own.json", json={"mark": "bar"}).status_code == 201
    assert admin.get(f"/api/models/{m['id']}/charts").json() == {"loss_curve": spec, "own": {"mark": "bar"}}
    assert admin.get(f"/api/files/{m['id']}/artifacts/charts/loss_curve.json").json() == spec
    listing = admin.get(f"/api/models/{m['id']}/artifacts").json()
    assert [(e["name"], e["mimeType"], e["isPrefix"]) for e in listing] == [("charts/", "folder", True)]
    inner = admin.get(f"/api/models/{m['id']}/artifacts", params={"prefix": "charts"}).json()
    assert sorted(e["name"] for e in inner) == ["charts/loss_curve.json", "charts/own.json"]
    assert inner[0]["mimeType"] == "application/json" and inner[0]["lastModified"].endswith("Z")
    assert [e["name"] for e in admin.get(f"/api/models/{m['id']}/artifacts",
                                         params={"recursive": "true"}).json()] == sorted(e["name"] for e in inner)


def test_root_tags(platform_server: PlatformServer, admin: httpx.Client) -> None:
    root = created(admin.post("/api/tags", json={"name": unique("root")}))
    created(admin.post("/api/tags", json={"name": "leaf", "parentId": root["id"]}))
    m = model(admin, tagIds=[root["id"]])
    with job_client(platform_server.url, m["apiKey"]) as job:
        roots = job.get(f"/api/jobs/{m['id']}/roottags").json()
    mine = [t for t in roots if t["id"] == root["id"]]
    assert mine and mine[0]["children"][0]["name"] == "leaf" and mine[0]["parentId"] is None


def test_job_endpoints_for_a_missing_job(admin: httpx.Client) -> None:
    assert admin.get("/api/jobs/nope/info").status_code == 404
    assert admin.post("/api/jobs/nope/heartbeat").status_code == 404
    assert admin.post("/api/jobs/nope/metrics", json={"batchId": "b", "points": []}).status_code == 404



COLUMNS = "application/vnd.brevettiai.metric-columns+json"


def _post_columns(job: httpx.Client, job_id: str, body: str) -> httpx.Response:
    return job.post(f"/api/jobs/{job_id}/metrics", content=body.encode(), headers={"Content-Type": COLUMNS})


def test_columnar_metrics_batches_store_like_points_and_are_idempotent(
        platform_server: PlatformServer, admin: httpx.Client) -> None:
    m = model(admin)
    # null: no value at that step; NaN/Infinity: a value stored as null, as in the point form
    body = ('{"batchId": "c1", "steps": [1, 2, 3], "times": [100.0, 200.0, null],'
            ' "series": {"loss": [0.5, 0.25, NaN], "acc": [0.7, null, Infinity]}}')
    with job_client(platform_server.url, m["apiKey"]) as job:
        for _ in range(3):
            answer = _post_columns(job, m["id"], body)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"accepted": 3}
        later = '{"batchId": "c2", "steps": [4], "series": {"loss": [0.1]}}'
        assert _post_columns(job, m["id"], later).json() == {"accepted": 1}
        points = {"batchId": "p1", "points": [{"step": 5, "time": 500.0, "values": {"loss": 0.05}}]}
        assert job.post(f"/api/jobs/{m['id']}/metrics", json=points).json() == {"accepted": 1}
    series = admin.get(f"/api/models/{m['id']}/metrics").json()["series"]
    assert [p[:3] for p in series["loss"][:2]] == [[1, 0.5, 100.0], [2, 0.25, 200.0]]
    assert series["loss"][2][:2] == [3, None] and series["loss"][2][2] > 1e9  # no time given: stored at arrival
    assert [p[:2] for p in series["loss"][3:]] == [[4, 0.1], [5, 0.05]]
    assert [p[:2] for p in series["acc"]] == [[1, 0.7], [3, None]]


@pytest.mark.parametrize(("body", "loc"), [
    ('{"batchId": "x", "steps": [1, 2], "series": {"loss": [1.0]}}', ["body", "series", "loss"]),
    ('{"batchId": "x", "steps": [1, 2], "times": [1.0], "series": {}}', ["body", "times"]),
    ('{"batchId": "x", "steps": [1], "times": [NaN], "series": {"loss": [1.0]}}', ["body", "times", 0]),
    ('{"batchId": "x", "steps": [9223372036854775808], "series": {"loss": [1.0]}}', ["body", "steps", 0]),
    ('{"batchId": "", "steps": [1], "series": {"loss": [1.0]}}', ["body", "batchId"]),
    ('{"batchId": "x", "steps": [1], "series": {"loss": ["one"]}}', ["body", "series", "loss", 0]),
])
def test_columnar_metrics_outside_the_rules_are_refused(
        platform_server: PlatformServer, admin: httpx.Client, body: str, loc: list) -> None:
    m = model(admin)
    with job_client(platform_server.url, m["apiKey"]) as job:
        answer = _post_columns(job, m["id"], body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == loc
    assert admin.get(f"/api/models/{m['id']}/metrics").json()["series"] == {}


def test_a_columnar_batch_has_a_bounded_number_of_points(platform_server: PlatformServer, admin: httpx.Client) -> None:
    m = model(admin)
    steps = list(range(10_001))
    body = f'{{"batchId": "b", "steps": {steps}, "series": {{"a": {[1.0] * len(steps)}}}}}'
    with job_client(platform_server.url, m["apiKey"]) as job:
        answer = _post_columns(job, m["id"], body)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][:2] == ["body", "steps"]


def test_the_sdk_columnar_encoding_round_trips_through_the_server(
        platform_server: PlatformServer, admin: httpx.Client) -> None:
    from brevettiai.platform._metrics import MetricColumns

    m = model(admin)
    uniform = [{"step": s, "time": 10.0 + s, "values": {"loss": 1.0 / (s + 1), "lr": None if s == 1 else 0.1}}
               for s in range(3)]
    ragged = [{"step": 3, "time": 13.0, "values": {"loss": 0.2}}, {"step": 4, "time": 14.0, "values": {"acc": 0.9}}]
    with job_client(platform_server.url, m["apiKey"]) as job:
        for batch_id, points in (("u", uniform), ("r", ragged)):
            batch = MetricColumns()
            for point in points:
                batch.add(point["step"], point["time"], point["values"])
            answer = job.post(f"/api/jobs/{m['id']}/metrics", content=batch.body(batch_id),
                              headers={"Content-Type": COLUMNS})
            assert answer.json() == {"accepted": len(points)}, answer.text
    series = admin.get(f"/api/models/{m['id']}/metrics").json()["series"]
    assert [p[:3] for p in series["loss"]] == [[0, 1.0, 10.0], [1, 0.5, 11.0], [2, 1 / 3, 12.0], [3, 0.2, 13.0]]
    assert [p[:2] for p in series["lr"]] == [[0, 0.1], [1, None], [2, 0.1]]  # None sent: a stored null
    assert [p[:3] for p in series["acc"]] == [[4, 0.9, 14.0]]


def test_columnar_batches_of_many_inserts_are_stored_point_for_point(
        platform_server: PlatformServer, admin: httpx.Client) -> None:
    """Batches longer than one multi-row INSERT, with series on the slice path (finite values at consecutive
    steps) and on the row path (gaps, NaN, steps that skip), read back exactly and in order."""
    from brevettiai.platform._metrics import MetricColumns
    from brevettiai.server.metrics import ROWS_PER_INSERT

    m = model(admin)
    consecutive = [(s, 1000.0 + s / 4, {"loss": 1.0 / (s + 1), **({} if s % 7 == 3 else {"lr": 0.1 if s % 11 else None})})
                   for s in range(ROWS_PER_INSERT * 2 + 37)]
    skipping = [(s, 2000.0 + s, {"loss": -s / 3}) for s in range(len(consecutive) + 5, len(consecutive) + 1300, 2)]
    with job_client(platform_server.url, m["apiKey"]) as job:
        for batch_id, points in (("many-1", consecutive), ("many-2", skipping)):
            batch = MetricColumns()
            for step, stamp, values in points:
                batch.add(step, stamp, values)
            answer = job.post(f"/api/jobs/{m['id']}/metrics", content=batch.body(batch_id),
                              headers={"Content-Type": COLUMNS})
            assert answer.json() == {"accepted": len(points)}, answer.text
    read = admin.get(f"/api/models/{m['id']}/metrics", params={"max_points": 10_000}).json()
    assert read["series"]["loss"] == [[s, v["loss"], t] for s, t, v in consecutive + skipping]
    assert read["series"]["lr"] == [[s, v["lr"], t] for s, t, v in consecutive if "lr" in v]


def test_a_model_never_started_does_not_say_it_waits_for_progress(platform_server: PlatformServer,
                                                                 admin: httpx.Client) -> None:
    """A created model's page says it has not been started, not "Waiting for progress metrics…" (which reads as
    if it ran)."""
    job = model(admin)
    browser = web_login(platform_server)
    try:
        page = browser.get(f"/models/{job['id']}").text
    finally:
        browser.close()
    assert "No progress yet: the model has not been started." in page
    assert "Waiting for progress metrics" not in page


def test_folders_and_files_that_are_not_there_answer_alike_in_the_api_and_the_pages(
        platform_server: PlatformServer, admin: httpx.Client) -> None:
    """The artifacts API, the artifacts browser, the preview and a dataset's page list folders through the files
    service: a bad path is a 400, a missing folder an empty list in the API and a 404 page, no artifacts yet an
    empty browser."""
    m, data = model(admin), dataset(admin)
    api = f"/api/models/{m['id']}/artifacts"
    browser = web_login(platform_server)
    try:
        assert admin.get(api).json() == []
        empty = browser.get(f"/models/{m['id']}/artifacts")
        assert empty.status_code == 200 and "Artifacts of" in empty.text
        assert admin.put(f"/api/files/{m['id']}/artifacts/plots/a.txt", content=b"seen").status_code == 201
        assert admin.put(f"/api/files/{data['id']}/images/b.png", content=b"png").status_code == 201
        assert [e["name"] for e in admin.get(api, params={"prefix": "plots"}).json()] == ["plots/a.txt"]
        assert admin.get(api, params={"prefix": "nothing"}).json() == []
        assert admin.get(api, params={"prefix": "../x"}).status_code == 400
        assert "a.txt" in browser.get(f"/models/{m['id']}/artifacts", params={"folder": "plots"}).text
        missing = browser.get(f"/models/{m['id']}/artifacts", params={"folder": "nothing"})
        assert missing.status_code == 404 and "There is no folder" in missing.text
        assert browser.get(f"/models/{m['id']}/artifacts", params={"folder": "../x"}).status_code == 400
        assert "seen" in browser.get(f"/models/{m['id']}/preview/plots/a.txt").text
        no_file = browser.get(f"/models/{m['id']}/preview/plots")  # a folder is not a file
        assert no_file.status_code == 404 and "There is no file" in no_file.text
        assert "b.png" in browser.get(f"/datasets/{data['id']}", params={"folder": "images"}).text
        assert browser.get(f"/datasets/{data['id']}", params={"folder": "nothing"}).status_code == 404
        assert browser.get(f"/datasets/{data['id']}", params={"folder": "a/../.."}).status_code == 400
    finally:
        browser.close()
