"""The dask runner, against an in-process dask cluster; skipped unless the dask extra is installed."""

from __future__ import annotations

import sys
import time

import pytest
from platform_fixture import PlatformServer
from server_helpers import model, model_type

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'brevettiai[dask]')")


@pytest.fixture(scope="module")
def scheduler() -> str:
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None, protocol="tcp",
                                       host="127.0.0.1")
    yield cluster.scheduler_address
    cluster.close()


def _wait(admin, job_id: str, statuses: set[str]) -> dict:
    deadline = time.monotonic() + 60
    while (record := admin.get(f"/api/models/{job_id}").json())["status"] not in statuses:
        assert time.monotonic() < deadline, record
        time.sleep(0.2)
    return record


def test_jobs_run_and_stop_on_dask(scheduler: str, platform_server_factory: object) -> None:
    server: PlatformServer = platform_server_factory(  # type: ignore[operator]
        "--runner", "dask", "--dask-scheduler", scheduler)
    with server.client() as admin:
        quick = model_type(admin, command=[sys.executable, "-c", "print('on a worker'); raise SystemExit(4)"],
                           settingsSchema={"fields": [], "presets": {}}, defaults={})
        m = model(admin, modelTypeId=quick["id"])
        assert admin.post(f"/api/models/{m['id']}/start").status_code == 200
        record = _wait(admin, m["id"], {"failed", "completed", "killed"})
        assert record["status"] == "failed" and record["error"]["code"] == 4
        assert "on a worker" in admin.get(f"/api/files/{m['id']}/logs/job.log").text

        sleeper = model_type(admin, command=[sys.executable, "-c", "import time; time.sleep(120)"],
                             settingsSchema={"fields": [], "presets": {}}, defaults={})
        s = model(admin, modelTypeId=sleeper["id"])
        assert admin.post(f"/api/models/{s['id']}/start").status_code == 200
        time.sleep(1.5)
        assert admin.post(f"/api/models/{s['id']}/stop").status_code == 200
        assert _wait(admin, s["id"], {"killed", "failed"})["status"] == "killed"
