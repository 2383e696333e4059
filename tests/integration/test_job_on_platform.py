"""Jobs running against a real platform server: started by it, reporting progress, surviving outages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import services

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float = 60.0):  # noqa: ANN001, ANN201
    """`services.wait_for` with this module's pace: jobs here take seconds."""
    return services.wait_for(predicate, timeout, every=0.2, what="the job's condition")


def create_model(admin: httpx.Client, name: str, settings: dict | None = None, **extra) -> dict:
    response = admin.post("/api/models", json={"name": name, "settings": settings or {}, "datasetIds": [],
                                               "tagIds": [], **extra})
    assert response.status_code == 201, response.text
    return response.json()


def job_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREVETTI")}
    env.update(extra)
    return env


def write_script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(body))
    return script


def test_example_job_started_by_the_platform(platform_server) -> None:
    with platform_server.client() as admin:
        model_type = admin.post("/api/modeltypes", json={
            "name": "Logistic regression (test)", "command": [sys.executable, "examples/logistic_regression.py"],
            "workingDir": str(ROOT), "settingsSchema": {"fields": [], "presets": {}}}).json()
        model = create_model(admin, "LR via runner", {"training": {"epochs": 40, "log_every": 10}},
                             modelTypeId=model_type["id"])
        started = admin.post(f"/api/models/{model['id']}/start").json()
        final = wait_for(lambda: (m := admin.get(f"/api/models/{model['id']}").json())["status"]
                         in ("completed", "failed", "lost", "killed") and m)
        log = admin.get(f"/api/files/{model['id']}/logs/job.log").text
        assert final["status"] == "completed", log
        assert final["modelPath"] == "artifacts/model.npz"
        series = admin.get(f"/api/models/{model['id']}/metrics").json()["series"]
        assert [point[0] for point in series["train_loss"]] == [10, 20, 30, 40]
        charts = admin.get(f"/api/models/{model['id']}/charts").json()
        assert charts["training_curves"]["mark"]["type"] == "line"
        names = {entry["name"] for entry in admin.get(f"/api/models/{model['id']}/artifacts",
                                                      params={"recursive": "true"}).json()}
        assert {"model.npz", "output.json", "report.html", "charts/training_curves.json"} <= names
        output = admin.get(f"/api/files/{model['id']}/artifacts/output.json").text
        assert started["apiKey"] not in output and started["apiKey"] not in log
        assert json.loads(output)["job"]["settings"]["training"]["epochs"] == 40


def test_wrong_key_is_a_clear_error_at_init(platform_server, tmp_path: Path) -> None:
    with platform_server.client() as admin:
        model = create_model(admin, "wrong key")
    script = write_script(tmp_path, """
        from brevettiai import Job
        Job.init().start()
    """)
    result = subprocess.run([sys.executable, str(script), "--job_id", model["id"], "--api_key", "bj_not-the-key"],
                            env=job_env(BREVETTI_AI_HOST=platform_server.url), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "refused the job key" in result.stderr and "bj_not-the-key" not in result.stderr


def test_metrics_survive_a_server_restart_mid_job(platform_server_factory, tmp_path: Path) -> None:
    server = platform_server_factory()
    with server.client() as admin:
        model = create_model(admin, "restart")
    resume, back = tmp_path / "resume", tmp_path / "back"
    # The job ends only once the platform is back: on a loaded machine the restart can take longer than the
    # job's own patience when it ends (it then keeps the points on disk, which is not what this test is about).
    script = write_script(tmp_path, f"""
        import os, time
        from brevettiai import Job
        class Steady(Job):
            def run(self):
                for step in range(300):
                    self.log_metrics(step, loss=1.0 / (step + 1))
                    if step == 50:
                        print("halfway", flush=True)
                        while not os.path.exists({str(resume)!r}):  # until the platform is down
                            time.sleep(0.02)
                    if step == 150:
                        print("logged while away", flush=True)
                        while not os.path.exists({str(back)!r}):  # until the platform is up again
                            time.sleep(0.02)
        Steady.init(argv=[]).start()
    """)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=job_env(BREVETTI_AI_HOST=server.url, BREVETTI_AI_JOB_ID=model["id"],
                                           BREVETTI_AI_API_KEY=model["apiKey"]))
    assert process.stdout.readline().strip() == "halfway"
    server.stop()
    resume.touch()
    assert process.stdout.readline().strip() == "logged while away"  # 100 steps logged with no platform
    server.start()
    back.touch()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    with server.client() as admin:
        final = admin.get(f"/api/models/{model['id']}").json()
        series = admin.get(f"/api/models/{model['id']}/metrics").json()["series"]
    assert final["status"] == "completed"
    assert sorted(int(point[0]) for point in series["loss"]) == list(range(300))


def test_killed_job_ends_lost_not_running(platform_server_factory, tmp_path: Path) -> None:
    server = platform_server_factory("--heartbeat-timeout", "2")
    with server.client() as admin:
        model = create_model(admin, "killed")
    script = write_script(tmp_path, """
        import time
        from brevettiai import Job
        class Hang(Job):
            def run(self):
                print("running", flush=True)
                time.sleep(120)
        Hang.init(argv=[]).start()
    """)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               env=job_env(BREVETTI_AI_HOST=server.url, BREVETTI_AI_JOB_ID=model["id"],
                                           BREVETTI_AI_API_KEY=model["apiKey"], BREVETTI_AI_HEARTBEAT_INTERVAL="0.5"))
    assert process.stdout.readline().strip() == "running"
    with server.client() as admin:
        wait_for(lambda: admin.get(f"/api/models/{model['id']}").json()["status"] == "running", timeout=10)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        status = wait_for(lambda: (s := admin.get(f"/api/models/{model['id']}").json()["status"]) != "running" and s,
                          timeout=20)
    assert status == "lost"


def test_stop_from_the_platform_kills_the_job(platform_server, tmp_path: Path) -> None:
    script = write_script(tmp_path, """
        import time
        from brevettiai import Job
        class Hang(Job):
            def run(self):
                self.add_output_metric("reached", True)
                print("reached", flush=True)
                time.sleep(120)
        Hang.init().start()
    """)
    with platform_server.client() as admin:
        model_type = admin.post("/api/modeltypes", json={"name": "hang", "command": [sys.executable, str(script)],
                                                         "settingsSchema": {"fields": [], "presets": {}}}).json()
        model = create_model(admin, "to stop", modelTypeId=model_type["id"])
        admin.post(f"/api/models/{model['id']}/start")
        wait_for(lambda: admin.get(f"/api/models/{model['id']}").json()["status"] == "running", timeout=30)
        wait_for(lambda: "reached" in admin.get(f"/api/files/{model['id']}/logs/job.log").text, timeout=30)
        admin.post(f"/api/models/{model['id']}/stop")
        final = wait_for(lambda: (m := admin.get(f"/api/models/{model['id']}").json())["status"] != "running" and m,
                         timeout=30)
        output = admin.get(f"/api/files/{model['id']}/artifacts/output.json").json()
    assert final["status"] == "killed"
    assert output["output"] == {"reached": True}


def test_stop_requested_on_the_platform_reaches_a_job_through_its_heartbeat(platform_server, tmp_path: Path) -> None:
    """A job the platform's runner did not start (run by hand against the platform) can only hear of a stop
    through its heartbeat: the stop must still end it as killed, with its output delivered."""
    script = write_script(tmp_path, """
        import time
        from brevettiai import Job
        class Hang(Job):
            def run(self):
                self.add_output_metric("reached", True)
                print("running", flush=True)
                time.sleep(120)
        Hang.init(argv=[]).start()
    """)
    with platform_server.client() as admin:
        model = create_model(admin, "stopped by heartbeat")
        process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=job_env(BREVETTI_AI_HOST=platform_server.url,
                                                          BREVETTI_AI_JOB_ID=model["id"],
                                                          BREVETTI_AI_API_KEY=model["apiKey"],
                                                          BREVETTI_AI_HEARTBEAT_INTERVAL="0.3"))
        try:
            assert process.stdout.readline().strip() == "running"
            assert admin.post(f"/api/models/{model['id']}/stop").status_code == 200
            _, stderr = process.communicate(timeout=30)  # well before the job's own 120 s
        finally:
            process.kill()
        final = admin.get(f"/api/models/{model['id']}").json()
        output = admin.get(f"/api/files/{model['id']}/artifacts/output.json").json()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "asked job" in stderr and "to stop" in stderr  # the heartbeat heard it, not a runner
    assert final["status"] == "killed"
    assert output["output"] == {"reached": True} and output["job"]["state"]["status"] == "killed"


def test_job_reads_its_dataset_reports_epochs_and_sees_root_tags(platform_server, tmp_path: Path) -> None:
    with platform_server.client() as admin:
        root_tag = admin.post("/api/tags", json={"name": f"root-{time.time_ns()}"}).json()
        admin.post("/api/tags", json={"name": "child", "parentId": root_tag["id"]})
        dataset = admin.post("/api/datasets", json={"name": "images"}).json()
        admin.put(f"/api/files/{dataset['id']}/ok/1.png", content=b"\x89PNG one")
        admin.put(f"/api/files/{dataset['id']}/defect/2.png", content=b"\x89PNG two")
        model = create_model(admin, "reader", datasetIds=[dataset["id"]], tagIds=[root_tag["id"]])
    script = write_script(tmp_path, """
        import json, sys
        from brevettiai import Job
        from brevettiai.interfaces.remote_monitor import RemoteMonitor
        from brevettiai.platform import get_image_samples
        with Job.init() as job:  # the key comes as --api_key: get_image_samples must use the job's
            samples = get_image_samples(job.datasets, as_frame=False)
            monitor = RemoteMonitor(root=job.host_name, path=job.api_endpoints["remote"])
            for epoch in range(3):
                monitor.on_epoch_end(epoch, {"acc": 0.5 + epoch / 10})
            try:
                job.io.write_file(job.datasets[0].bucket + "/new.png", b"x")
                refused = False
            except PermissionError:
                refused = True
            roots = [t.name for t in job.get_root_tags()]
            print(json.dumps({"samples": sorted((s["folder"], s["path"].rsplit("/", 1)[1]) for s in samples),
                              "refused": refused, "roots": roots}))
    """)
    result = subprocess.run([sys.executable, str(script), "--api_key", model["apiKey"]], capture_output=True,
                            text=True, timeout=60,
                            env=job_env(BREVETTI_AI_HOST=platform_server.url, BREVETTI_AI_JOB_ID=model["id"]))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["samples"] == [["defect", "2.png"], ["ok", "1.png"]]
    assert seen["refused"] is True, "a job key must not write into a dataset"
    assert root_tag["name"] in seen["roots"] and "child" not in seen["roots"]
    with platform_server.client() as admin:
        series = admin.get(f"/api/models/{model['id']}/metrics").json()["series"]
    assert [[int(p[0]), p[1]] for p in series["acc"]] == [[0, 0.5], [1, 0.6], [2, 0.7]]
