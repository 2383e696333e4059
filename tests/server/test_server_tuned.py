"""A server with a 2 s heartbeat timeout, 2 s user tokens and a 1 MiB upload limit: lost jobs, token
expiry, oversized uploads; and settings from flags winning over the environment (which sets other values)."""

from __future__ import annotations

import io
import sys
import tarfile
import time

import httpx
import pytest
from platform_fixture import PlatformServer, start_platform_server
from server_helpers import created, dataset, job_client, model, model_type, unique
from services import wait_for

MiB = 1 << 20
HEARTBEAT_TIMEOUT = 2.0  # seconds: `quick`'s --heartbeat-timeout


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> PlatformServer:
    folder = tmp_path_factory.mktemp("quick")
    env = {"BREVETTI_AI_HEARTBEAT_TIMEOUT": "600", "BREVETTI_AI_MAX_UPLOAD": "10",  # the flags win over these
           "BREVETTI_AI_PUBLIC_URL": "http://jobs.example:9", "BREVETTI_AI_DATABASE_URL": f"sqlite:///{folder}/env.db"}
    server = start_platform_server(folder / "data", ["--heartbeat-timeout", f"{HEARTBEAT_TIMEOUT:g}", "--token-ttl", "2s",
                                                     "--max-upload", "1MiB"], env=env)
    yield server
    server.stop()
    server.kill()


def test_settings_from_the_environment_where_no_flag_is_given(quick: PlatformServer) -> None:
    with quick.client() as admin:
        m = model(admin)
        assert admin.get(f"/api/files/{m['id']}/info.json").json()["host_name"] == "http://jobs.example:9"
    assert (quick.data_dir.parent / "env.db").exists() and not (quick.data_dir / "brevettiai.db").exists()


def test_oversized_uploads_are_413_and_leave_nothing(quick: PlatformServer) -> None:
    with quick.client() as admin:
        rid = dataset(admin)["id"]
        assert admin.put(f"/api/files/{rid}/exact.bin", content=b"x" * MiB).status_code == 201
        declared = admin.put(f"/api/files/{rid}/big.bin", content=b"x" * (MiB + 1))
        assert declared.status_code == 413
        streamed = admin.put(f"/api/files/{rid}/big.bin", content=(b"x" * 65536 for _ in range(40)))
        assert streamed.status_code == 413
        assert admin.get(f"/api/files/{rid}/big.bin").status_code == 404
    uploads = quick.data_dir / "storage" / ".uploads"
    assert not uploads.exists() or not list(uploads.iterdir())


def test_an_oversized_file_in_an_archive_is_refused_413_and_the_others_stored(quick: PlatformServer) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, size in (("small.bin", 10), ("big.bin", MiB + 1), ("exact.bin", MiB)):
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, io.BytesIO(b"x" * size))
    with quick.client() as admin:
        rid = dataset(admin)["id"]
        answer = admin.put(f"/api/archive/{rid}", content=out.getvalue())
        assert answer.status_code == 201, answer.text
        assert [f["path"] for f in answer.json()["files"]] == [f"{rid}/small.bin", f"{rid}/exact.bin"]
        assert [(r["name"], r["status"]) for r in answer.json()["refused"]] == [("big.bin", 413)]
        assert admin.get(f"/api/files/{rid}/big.bin").status_code == 404
    uploads = quick.data_dir / "storage" / ".uploads"
    assert not uploads.exists() or not list(uploads.iterdir())


def record(server: PlatformServer, job_id: str) -> dict:
    """The model's record, asked with a new token (tokens here live 2 s)."""
    with server.client() as admin:
        return admin.get(f"/api/models/{job_id}").json()


def wait_status(server: PlatformServer, job_id: str, status: str, timeout: float = 15.0) -> dict:
    """The model's record once it has `status`."""
    return wait_for(lambda: record(server, job_id), timeout, every=0.1, what=f"model {job_id} becoming {status}",
                    until=lambda current: current["status"] == status)


def test_a_silent_running_job_becomes_lost_and_comes_back(quick: PlatformServer) -> None:
    with quick.client() as admin:
        m = model(admin)
        # Reads between beats with a token that outlives the 2 s logins: no password hashing in the loop.
        reader = created(admin.post("/api/tokens", json={"name": unique("reader"), "expires": "30m",
                                                          "readOnly": True}))["token"]
    with job_client(quick.url, m["apiKey"]) as job, quick.client(reader) as watcher:
        api = f"/api/jobs/{m['id']}"
        job.post(api + "/state", json={"status": "running"})
        # Beating keeps it running past the timeout. Read between beats (the server looks for silent jobs
        # every 0.5 s), lost is wrong only if less than a timeout passed since the last beat was sent; a longer
        # stall of a loaded machine may lose it rightly (the next beat brings it back).
        began = time.monotonic()
        judged_at = []
        while time.monotonic() - began < 3 * HEARTBEAT_TIMEOUT:
            sent = time.monotonic()
            assert job.post(api + "/heartbeat").json()["status"] == "running"
            time.sleep(0.6)  # a beat every 0.6 s or so: what is judged is the measured time since the beat
            status = watcher.get(f"/api/models/{m['id']}").json()["status"]
            since_beat = time.monotonic() - sent
            if since_beat < HEARTBEAT_TIMEOUT:
                assert status == "running", f"lost {since_beat:.2f} s after a heartbeat was sent"
                judged_at.append(time.monotonic() - began)
        assert judged_at and judged_at[-1] > HEARTBEAT_TIMEOUT, judged_at
        lost = wait_status(quick, m["id"], "lost", timeout=10)
        assert "no heartbeat" in lost["error"]["message"]
        assert job.post(api + "/heartbeat").json() == {"status": "running", "stopRequested": False}
        assert record(quick, m["id"])["error"] is None
        assert job.post(api + "/state", json={"status": "completed"}).json()["status"] == "completed"


def test_a_started_job_that_never_beats_is_lost_and_can_still_be_stopped(quick: PlatformServer) -> None:
    with quick.client() as admin:
        sleeper = model_type(admin, command=[sys.executable, "-c", "import time; time.sleep(60)"],
                             settingsSchema={"fields": [], "presets": {}}, defaults={})
        m = model(admin, modelTypeId=sleeper["id"])
        assert admin.post(f"/api/models/{m['id']}/start").json()["status"] == "queued"
    wait_status(quick, m["id"], "lost", timeout=10)
    with quick.client() as admin:
        assert admin.post(f"/api/models/{m['id']}/stop").status_code == 200
    killed = wait_status(quick, m["id"], "killed", timeout=10)
    assert killed["error"]["signal"] == "SIGTERM" and "stopped on request" in killed["error"]["message"]


def test_user_tokens_expire(quick: PlatformServer) -> None:
    token = quick.admin_token()
    with quick.client(token) as admin:
        m = model(admin)
        assert admin.put(f"/api/files/{m['id']}/a.txt", content=b"a").status_code == 201
        wait_for(lambda: admin.get("/api/auth/me").status_code == 401, timeout=10, what="the 2 s token expiring")
        for response in (admin.get("/api/auth/me"), admin.get("/api/models"),
                         admin.get(f"/api/files/{m['id']}/a.txt"), admin.head(f"/api/files/{m['id']}/a.txt"),
                         admin.get(f"/api/ls/{m['id']}/"), admin.put(f"/api/files/{m['id']}/b.txt", content=b"b"),
                         admin.delete(f"/api/files/{m['id']}/a.txt"), admin.get(f"/api/jobs/{m['id']}/info"),
                         admin.post(f"/api/jobs/{m['id']}/heartbeat")):
            assert response.status_code == 401, response.request.url
            if response.request.method != "HEAD":
                assert "expired" in response.json()["detail"]
    with quick.client() as admin:
        assert admin.get(f"/api/files/{m['id']}/a.txt").content == b"a"
        assert admin.get(f"/api/files/{m['id']}/b.txt").status_code == 404


def test_logout_revokes_the_token(quick: PlatformServer) -> None:
    with quick.client() as admin:
        me = admin.get("/api/auth/me").json()
        assert me["username"] == "admin" and me["isAdmin"] is True and me["role"] == "admin"
        assert set(me) == {"id", "username", "firstName", "lastName", "email", "isAdmin", "role", "disabled", "created"}
        assert admin.post("/api/auth/logout").status_code == 204
        assert admin.get("/api/auth/me").status_code == 401


def test_login(quick: PlatformServer) -> None:
    good = httpx.post(f"{quick.url}/api/auth/token", json={"username": "admin", "password": quick.admin_password})
    body = good.json()
    assert body["accessToken"].startswith("bu_") and body["tokenType"] == "bearer"
    assert body["expiresAt"].endswith("Z") and body["user"]["username"] == "admin"
    for credentials in ({"username": "admin", "password": "wrong"}, {"username": "nobody", "password": "x"}):
        assert httpx.post(f"{quick.url}/api/auth/token", json=credentials).status_code == 401
    assert httpx.post(f"{quick.url}/api/auth/token", json={"username": "admin"}).status_code == 422
