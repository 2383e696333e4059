"""The server process: first start, graceful shutdown, restart with everything kept, storage set by environment."""

from __future__ import annotations

import re
import sys

from platform_fixture import PlatformServer
from server_helpers import created, dataset, job_client, model, model_type


def test_first_start_restart_and_persistence(platform_server_factory: object, tmp_path) -> None:
    storage = tmp_path / "elsewhere"
    server: PlatformServer = platform_server_factory(  # type: ignore[operator]
        admin_password=None, env={"BREVETTI_AI_STORAGE": str(storage)})
    found = re.search(r"Created user 'admin' with password: (\S+)", server.log())
    assert found and server.admin_password == found.group(1), server.log()
    user_token = server.admin_token()
    with server.client(user_token) as admin:
        tag = created(admin.post("/api/tags", json={"name": "kept"}))
        ds = dataset(admin, tagIds=[tag["id"]])
        assert admin.put(f"/api/files/{ds['id']}/x/y.txt", content=b"persisted").status_code == 201
        mt = model_type(admin)
        m = model(admin, modelTypeId=mt["id"], datasetIds=[ds["id"]], settings={"epochs": 2})
        sleeper = model_type(admin, command=[sys.executable, "-c", "import time; time.sleep(60)"],
                             settingsSchema={"fields": [], "presets": {}}, defaults={})
        running = model(admin, modelTypeId=sleeper["id"])
        assert admin.post(f"/api/models/{running['id']}/start").status_code == 200
    assert (storage / ds["id"] / "x" / "y.txt").read_bytes() == b"persisted"
    with job_client(server.url, m["apiKey"]) as job:
        api = f"/api/jobs/{m['id']}"
        job.post(api + "/state", json={"status": "running"})
        job.post(api + "/metrics", json={"batchId": "b", "points": [{"step": 1, "time": 1.0, "values": {"loss": 2.0}}]})
        assert job.put(api + "/charts/curve", json={"mark": "line"}).status_code == 204

    code = server.stop()
    assert code in (0, -15, 143), server.log()
    assert "Application shutdown complete" in server.log()
    server.start()

    log = server.log()
    assert log.count(server.admin_password) == 1  # printed once, on the first start only
    with server.client(user_token) as admin:  # the old login is still valid
        assert admin.get(f"/api/tags/{tag['id']}").json()["name"] == "kept"
        assert admin.get(f"/api/datasets/{ds['id']}").json()["tagIds"] == [tag["id"]]
        assert admin.get(f"/api/files/{ds['id']}/x/y.txt").content == b"persisted"
        assert admin.get(f"/api/modeltypes/{mt['id']}").json()["name"] == mt["name"]
        record = admin.get(f"/api/models/{m['id']}").json()
        assert record["status"] == "running" and record["settings"] == {"epochs": 2}
        assert admin.get(f"/api/models/{m['id']}/metrics").json()["series"]["loss"] == [[1, 2.0, 1.0]]
        assert admin.get(f"/api/models/{m['id']}/charts").json() == {"curve": {"mark": "line"}}
        ended = admin.get(f"/api/models/{running['id']}").json()
        assert ended["status"] == "killed" and "shut down" in ended["error"]["message"]
    with job_client(server.url, m["apiKey"]) as job:  # the job key too
        assert job.post(f"/api/jobs/{m['id']}/heartbeat").json()["status"] == "running"
        assert job.post(f"/api/jobs/{m['id']}/metrics", json={
            "batchId": "b", "points": [{"step": 1, "values": {"loss": 2.0}}]}).json() == {"accepted": 1}
    with server.client() as admin:
        assert len(admin.get(f"/api/models/{m['id']}/metrics").json()["series"]["loss"]) == 1

