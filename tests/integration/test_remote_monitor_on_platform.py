"""`RemoteMonitor(root=job.host_name, path=job.api_endpoints["remote"])` joins the right job's stream.

Two jobs run in one process on a real platform server, each given its key as an argument (none in the
environment, so a point posted by the monitor itself would be refused): each monitor's points reach its
own job, whichever job was created last.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_job_on_platform import create_model, job_env, write_script


def test_two_jobs_in_one_process_each_get_their_monitors_points(platform_server, tmp_path: Path) -> None:
    with platform_server.client() as admin:
        first, second = create_model(admin, "monitored one"), create_model(admin, "monitored two")
    script = write_script(tmp_path, """
        import sys
        from brevettiai import Job
        from brevettiai.interfaces.remote_monitor import RemoteMonitor

        (first_id, first_key), (second_id, second_key) = zip(sys.argv[1::2], sys.argv[2::2])
        first = Job.init(job_id=first_id, api_key=first_key, argv=[])
        second = Job.init(job_id=second_id, api_key=second_key, argv=[])
        monitors = [RemoteMonitor(root=job.host_name, path=job.api_endpoints["remote"]) for job in (first, second)]
        with first, second:
            for epoch in range(3):
                monitors[0].on_epoch_end(epoch, {"acc": epoch / 10})
                monitors[1].on_epoch_end(epoch, {"acc": 1 + epoch / 10})
            for monitor in monitors:
                monitor.on_train_end()
    """)
    result = subprocess.run([sys.executable, str(script), first["id"], first["apiKey"], second["id"],
                             second["apiKey"]], capture_output=True, text=True, timeout=90,
                            env=job_env(BREVETTI_AI_HOST=platform_server.url, BREVETTI_AI_SYSTEM_METRICS="0"))
    assert result.returncode == 0, result.stderr
    assert "Could not report" not in result.stderr, result.stderr
    with platform_server.client() as admin:
        series = [admin.get(f"/api/models/{m['id']}/metrics").json()["series"] for m in (first, second)]
        statuses = [admin.get(f"/api/models/{m['id']}").json()["status"] for m in (first, second)]
    assert statuses == ["completed", "completed"]
    assert [[int(p[0]), p[1]] for p in series[0]["acc"]] == [[0, 0.0], [1, 0.1], [2, 0.2]]
    assert [[int(p[0]), p[1]] for p in series[1]["acc"]] == [[0, 1.0], [1, 1.1], [2, 1.2]]


def test_a_monitor_joins_its_jobs_stream_however_the_platform_is_spelled(platform_server, tmp_path: Path) -> None:
    """The platform's root written another way (localhost for 127.0.0.1, upper case, a trailing ``/`` on
    the path, a path without its leading ``/``) is still the job's endpoint: the points join the job's
    stream. Posted by the monitor itself they would be refused, the key being given to `Job.init` only."""
    with platform_server.client() as admin:
        model = create_model(admin, "monitored by many names")
    port = platform_server.url.rsplit(":", 1)[1]
    script = write_script(tmp_path, """
        import sys
        from brevettiai import Job
        from brevettiai.interfaces.remote_monitor import RemoteMonitor

        job_id, key, port = sys.argv[1:]
        with Job.init(job_id=job_id, api_key=key, host=f"http://127.0.0.1:{port}", argv=[]) as job:
            path = job.api_endpoints["remote"]
            spellings = [(f"http://localhost:{port}", path), (f"HTTP://127.0.0.1:{port}/", path),
                         (f"http://127.0.0.1:{port}", path + "/"), (f"127.0.0.1:{port}", path.lstrip("/")),
                         (job.host_name, path)]
            for epoch, (root, monitor_path) in enumerate(spellings):
                RemoteMonitor(root=root, path=monitor_path).on_epoch_end(epoch, {"loss": 1 / (1 + epoch)})
            job.flush_metrics()
    """)
    result = subprocess.run([sys.executable, str(script), model["id"], model["apiKey"], port],
                            capture_output=True, text=True, timeout=90,
                            env=job_env(BREVETTI_AI_SYSTEM_METRICS="0"))
    assert result.returncode == 0, result.stderr
    assert "Could not report" not in result.stderr, result.stderr
    with platform_server.client() as admin:
        series = admin.get(f"/api/models/{model['id']}/metrics").json()["series"]
    assert [[int(p[0]), p[1]] for p in series["loss"]] == [[epoch, 1 / (1 + epoch)] for epoch in range(5)]
