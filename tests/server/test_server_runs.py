"""A run's live log (GET /api/models/<id>/log), its notes and tags (PATCH), and starting created runs,
against the real server process with real jobs run by the local runner."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import created, job_client, model, model_type, unique
from services import SeaweedFS, wait_for

# A real SDK job that prints numbered lines until the test creates its "stop" file, so the test sees
# its log grow while it runs; it waits for its system-metrics sampler so those series are recorded too.
PRINTER = textwrap.dedent('''
    import pathlib, sys, time
    from brevettiai import Job

    class Printer(Job):
        def run(self):
            stop = pathlib.Path(self.settings.stop_file)
            line = 0
            deadline = time.monotonic() + 60
            while not stop.exists() and time.monotonic() < deadline:
                print(f"line {line} of the printer: ünïcode ✓", flush=True)
                line += 1
                time.sleep(0.1)
            self._system_sampler.ready.wait(20)
            print("printer done", flush=True)
            print("a warning on stderr", file=sys.stderr, flush=True)

    if __name__ == "__main__":
        Printer.init().start()
''')


STOP_FILE_SCHEMA = {"fields": [{"type": "input", "inputType": "text", "model": "stop_file", "label": "Stop file",
                               "required": True}]}


@pytest.fixture(scope="module")
def admin(platform_server: PlatformServer) -> httpx.Client:
    with platform_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def printer_type(admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("printer")
    (folder / "printer.py").write_text(PRINTER)
    return model_type(admin, command=[sys.executable, str(folder / "printer.py")], settingsSchema=STOP_FILE_SCHEMA,
                      defaults={})


def test_the_log_grows_while_the_job_runs_and_is_kept_after_it_ends(
        admin: httpx.Client, printer_type: dict, platform_server: PlatformServer, tmp_path: Path) -> None:
    _follow_a_printer(admin, printer_type, platform_server, tmp_path)


def test_the_log_of_a_job_on_object_storage_is_followed_from_the_runners_file(
        seaweedfs: SeaweedFS, platform_server_factory: object, tmp_path: Path) -> None:
    """With S3 storage the local runner writes the log to its own file until the job ends, then stores it."""
    server: PlatformServer = platform_server_factory(  # type: ignore[operator]
        "--storage", f"s3://{seaweedfs.new_bucket()}/platform", env=seaweedfs.env)
    with server.client() as client:
        folder = tmp_path / "code"
        folder.mkdir()
        (folder / "printer.py").write_text(PRINTER)
        kind = model_type(client, command=[sys.executable, str(folder / "printer.py")], settingsSchema=STOP_FILE_SCHEMA,
                          defaults={})
        job_id = _follow_a_printer(client, kind, server, tmp_path)
        # once the process has exited the runner stores the log in the bucket; the answer is the same
        wait_for(lambda: client.head(f"/api/files/{job_id}/logs/job.log").status_code == 200, 30, every=0.1,
                 what="the stored log")
        stored = client.get(f"/api/files/{job_id}/logs/job.log").text
        assert client.get(f"/api/models/{job_id}/log", params={"offset": 0}).json()["text"] == stored


def _follow_a_printer(admin: httpx.Client, printer_type: dict, platform_server: PlatformServer, tmp_path: Path) -> str:
    stop_file = tmp_path / "stop"
    job = created(admin.post("/api/models", json={"name": unique("printer"), "modelTypeId": printer_type["id"],
                                                  "settings": {"stop_file": str(stop_file)}}))
    assert admin.get(f"/api/models/{job['id']}/log").json() == {
        "offset": 0, "nextOffset": 0, "size": 0, "text": "", "active": False, "complete": True, "exists": False}
    started = admin.post(f"/api/models/{job['id']}/start")
    assert started.status_code == 200, started.text
    key = started.json()["apiKey"]

    first = wait_for(lambda: admin.get(f"/api/models/{job['id']}/log", params={"offset": 0}).json(), 60, every=0.1,
                     what="printer lines", until=lambda a: a["text"].count("of the printer") >= 3,
                     detail=lambda: platform_server.log()[-2000:])
    assert first["active"] and not first["complete"] and first["offset"] == 0
    assert "line 0 of the printer: ünïcode ✓\n" in first["text"]
    # following from the offset returns only what came after, whole characters
    later = wait_for(lambda: admin.get(f"/api/models/{job['id']}/log", params={"offset": first["nextOffset"]}).json(),
                     30, every=0.1, what="more lines", until=lambda a: a["text"])
    assert later["offset"] == first["nextOffset"] and later["size"] >= later["nextOffset"] > first["nextOffset"]
    assert not later["text"].startswith("line 0 ")
    assert admin.get(f"/api/models/{job['id']}").json()["status"] == "running"

    # a job key reads its own job's log, not another job's
    with job_client(platform_server.url, key) as own:
        assert own.get(f"/api/models/{job['id']}/log").status_code == 200
        other = model(admin)
        assert own.get(f"/api/models/{other['id']}/log").status_code == 404

    stop_file.write_text("")
    wait_for(lambda: admin.get(f"/api/models/{job['id']}").json(), 60, every=0.1, what="completion",
             until=lambda record: record["status"] == "completed", detail=lambda: platform_server.log()[-3000:])
    whole = wait_for(lambda: admin.get(f"/api/models/{job['id']}/log", params={"offset": 0}).json(), 30, every=0.1,
                     what="the whole log after the end",
                     until=lambda a: a["complete"] and "a warning on stderr" in a["text"])
    assert "printer done" in whole["text"] and not whole["active"] and whole["nextOffset"] == whole["size"]
    tail = admin.get(f"/api/models/{job['id']}/log").json()  # no offset: the end of the log
    assert "a warning on stderr\n" in tail["text"] and tail["text"].endswith("\n") and tail["complete"]
    assert tail["nextOffset"] == tail["size"] == whole["size"]
    # the system metrics of the SDK reached the platform through the job's metrics path
    series = admin.get(f"/api/models/{job['id']}/metrics").json()["series"]
    assert series["system/memory_mb"] and series["system/cpu_percent"]
    return job["id"]


def test_log_offsets_past_the_end_and_bad_offsets(admin: httpx.Client) -> None:
    job = model(admin)
    answer = admin.get(f"/api/models/{job['id']}/log", params={"offset": 10**9})
    assert answer.status_code == 200 and answer.json()["exists"] is False
    assert admin.get(f"/api/models/{job['id']}/log", params={"offset": -1}).status_code == 422
    assert admin.get(f"/api/reports/{job['id']}/log").status_code == 404  # a model is not a report
    assert admin.get(f"/api/models/{unique('missing')}/log").status_code == 404


def test_notes_tags_and_name_are_edited_with_patch(admin: httpx.Client, platform_server: PlatformServer) -> None:
    tag = created(admin.post("/api/tags", json={"name": unique("tag")}))
    job = model(admin)
    answer = admin.patch(f"/api/models/{job['id']}", json={"notes": "# Why\n<script>x</script>", "tagIds": [tag["id"]]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["notes"] == "# Why\n<script>x</script>" and body["tagIds"] == [tag["id"]]
    assert body["name"] == job["name"]  # not given: unchanged
    info = admin.get(f"/api/files/{job['id']}/info.json").json()
    assert [t["id"] for t in info["tags"]] == [tag["id"]]  # the job's record names its tags
    renamed = admin.patch(f"/api/models/{job['id']}", json={"name": "renamed"}).json()
    assert renamed["name"] == "renamed" and renamed["notes"].startswith("# Why")

    missing = admin.patch(f"/api/models/{job['id']}", json={"tagIds": ["no-such-tag"]})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "tagIds", 0]
    unknown = admin.patch(f"/api/models/{job['id']}", json={"settings": {"epochs": 3}})
    assert unknown.status_code == 422 and "settings" in unknown.text
    too_long = admin.patch(f"/api/models/{job['id']}", json={"notes": "x" * 100_001})
    assert too_long.status_code == 422
    assert admin.patch(f"/api/reports/{job['id']}", json={"notes": ""}).status_code == 404

    key = created(admin.post("/api/models", json={"name": unique("m")}))["apiKey"]
    with job_client(platform_server.url, key) as as_job:
        assert as_job.patch(f"/api/models/{job['id']}", json={"notes": "mine"}).status_code == 403
    assert admin.get(f"/api/models/{job['id']}").json()["notes"].startswith("# Why")


def test_a_created_model_starts_later_and_a_failed_start_leaves_it_created(admin: httpx.Client) -> None:
    no_command = model_type(admin, command=[])
    job = created(admin.post("/api/models", json={"name": unique("m"), "modelTypeId": no_command["id"]}))
    refused = admin.post(f"/api/models/{job['id']}/start")
    assert refused.status_code == 409 and "no model type with a command" in refused.text
    assert admin.get(f"/api/models/{job['id']}").json()["status"] == "created"  # not queued without a process

    runnable = model_type(admin)
    job = created(admin.post("/api/models", json={"name": unique("m"), "modelTypeId": runnable["id"]}))
    assert admin.post(f"/api/models/{job['id']}/start").status_code == 200
    assert admin.get(f"/api/models/{job['id']}").json()["status"] in {"queued", "starting", "running", "failed",
                                                                      "completed"}
