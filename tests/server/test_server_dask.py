"""The dask runner against a real scheduler and two worker processes (the `dask_cluster` fixture).

Exactly-once runs, worker loss, restarts and stops across replicas are in test_server_dispatch.py.
"""

from __future__ import annotations

import sys

from platform_fixture import PlatformServer
from server_helpers import model, model_type
from services import DaskCluster, wait_for

FINAL = {"completed", "failed", "killed", "lost"}
NO_FORM = {"settingsSchema": {"fields": [], "presets": {}}, "defaults": {}}


def test_jobs_run_and_stop_on_dask(dask_cluster: DaskCluster, platform_server_factory: object) -> None:
    server: PlatformServer = platform_server_factory(  # type: ignore[operator]
        "--runner", "dask", "--dask-scheduler", dask_cluster.scheduler_address)
    with server.client() as admin:
        def final(job_id: str) -> dict:
            return wait_for(lambda: (r := admin.get(f"/api/models/{job_id}").json())["status"] in FINAL and r,
                            timeout=60, what=f"job {job_id} ending")

        quick = model_type(admin, command=[sys.executable, "-c", "print('on a worker'); raise SystemExit(4)"], **NO_FORM)
        failing = model(admin, modelTypeId=quick["id"])
        assert admin.post(f"/api/models/{failing['id']}/start").json()["status"] == "queued"
        record = final(failing["id"])
        assert record["status"] == "failed" and record["error"]["code"] == 4, record
        assert "exit code 4" in record["error"]["message"]
        assert "on a worker" in admin.get(f"/api/files/{failing['id']}/logs/job.log").text
        assert record["started"] and record["completed"]

        sleeper = model_type(admin, command=[sys.executable, "-c", "import time; print('sleeping', flush=True); "
                                             "time.sleep(120)"], **NO_FORM)
        sleeping = model(admin, modelTypeId=sleeper["id"])
        assert admin.post(f"/api/models/{sleeping['id']}/start").status_code == 200
        wait_for(lambda: "sleeping" in admin.get(f"/api/files/{sleeping['id']}/logs/job.log").text, timeout=60,
                 what="the log of a running job reaching storage")
        live = admin.get(f"/api/models/{sleeping['id']}/log", params={"offset": 0}).json()
        assert "sleeping" in live["text"] and live["active"] and not live["complete"]  # the live log API follows it
        assert admin.post(f"/api/models/{sleeping['id']}/stop").status_code == 200
        record = final(sleeping["id"])
        assert record["status"] == "killed" and record["error"]["signal"] == "SIGTERM", record

        missing = model_type(admin, command=["/nonexistent/command"], **NO_FORM)
        broken = model(admin, modelTypeId=missing["id"])
        admin.post(f"/api/models/{broken['id']}/start")
        record = final(broken["id"])
        assert record["status"] == "failed" and record["error"]["code"] == 127, record
        assert "could not be started" in admin.get(f"/api/files/{broken['id']}/logs/job.log").text


def test_an_unreachable_scheduler_stops_the_server_with_one_line(tmp_path) -> None:
    import subprocess

    from services import free_port

    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    result = subprocess.run([sys.executable, "-m", "brevettiai.cli", "server", "--port", "0", "--data-dir",
                             str(tmp_path / "data"), "--runner", "dask", "--dask-scheduler", address],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith(f"error: --dask-scheduler {address}: cannot reach the Dask scheduler")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
