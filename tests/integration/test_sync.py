"""`brevettiai sync`: an offline job directory brought into a real platform server, safely repeatable."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import httpx
from platform_fixture import admin_name

from brevettiai import Job, JobSettings
from brevettiai.utils import sync


class Settings(JobSettings):
    epochs: int = 3
    rate: float = 0.1


class OfflineTrain(Job):
    settings: Settings

    def run(self) -> str:
        for step in range(sync.BATCH_POINTS + 7):  # more than one metrics batch
            self.log_metrics(step, loss=1.0 / (step + 1))
        path = self.artifact_path("model.bin")
        self.io.write_file(path, b"weights")
        self.add_output_metric("accuracy", 0.93)
        return path


def _sync(server, job_dir: Path, capsys) -> tuple[int, str]:
    code = sync.main([str(job_dir), "--host", server.url, "--username", admin_name(server),
                      "--password", server.admin_password, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _synced_model(server, job_dir: Path, run_id: str) -> str:
    return json.loads((job_dir / ".brevettiai-sync.json").read_text())["runs"][server.url][run_id]


def test_an_offline_job_syncs_once_and_again_safely(platform_server, home: Path, tmp_path: Path, capsys) -> None:
    job_dir = tmp_path / "offline"
    # No system/... samples: how many a run records depends on how long it takes (a loaded CI run recorded one,
    # and the count of synced points was off by it).
    job = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "5"], system_metrics=False)
    job.start()

    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0, out
    model_id = _synced_model(platform_server, job_dir, job.run_id)
    assert f"synced to model {model_id}" in out and f"{sync.BATCH_POINTS + 7} metric points" in out
    key_file = home / ".cache" / "brevettiai" / "sync-keys" / f"{model_id}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() not in (job_dir / ".brevettiai-sync.json").read_text()

    with platform_server.client() as admin:
        model = admin.get(f"/api/models/{model_id}").json()
        assert model["status"] == "completed" and model["settings"] == {"epochs": 5, "rate": 0.1}
        assert model["modelPath"] == "artifacts/model.bin"
        assert admin.get(f"/api/files/{model_id}/artifacts/model.bin").content == b"weights"
        output = admin.get(f"/api/files/{model_id}/artifacts/output.json").json()
        assert output["output"] == {"accuracy": 0.93}
        losses = admin.get(f"/api/models/{model_id}/metrics", params={"names": "loss", "max_points": 100_000}).json()["series"]["loss"]
        assert len(losses) == sync.BATCH_POINTS + 7

    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and "already synced" in out, out
    with platform_server.client() as admin:
        again = admin.get(f"/api/models/{model_id}/metrics", params={"names": "loss", "max_points": 100_000}).json()["series"]["loss"]
        assert len(again) == sync.BATCH_POINTS + 7


def test_a_running_job_syncs_in_parts_without_duplicates(platform_server, home: Path, tmp_path: Path,
                                                          capsys) -> None:
    job_dir = tmp_path / "running"
    job = OfflineTrain.init(job_dir=str(job_dir), argv=[])
    job._mark_running()
    for step in range(sync.BATCH_POINTS + 3):
        job.log_metrics(step, loss=float(step))
    job.flush_metrics()

    code, out = _sync(platform_server, job_dir, capsys)  # mid-run: the full batch only
    assert code == 0 and "status running" in out, out
    model_id = _synced_model(platform_server, job_dir, job.run_id)
    key_file = home / ".cache" / "brevettiai" / "sync-keys" / f"{model_id}.key"
    key = key_file.read_text()
    os.remove(key_file)
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 2 and str(key_file) in out and "Traceback" not in out, out
    key_file.write_text(key)

    for step in range(sync.BATCH_POINTS + 3, sync.BATCH_POINTS + 10):
        job.log_metrics(step, loss=float(step))
    job.fail("stopped by hand")

    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and "status failed" in out, out
    with platform_server.client() as admin:
        model = admin.get(f"/api/models/{model_id}").json()
        assert model["status"] == "failed" and model["error"]["message"] == "stopped by hand"
        steps = [p[0] for p in admin.get(f"/api/models/{model_id}/metrics", params={"max_points": 100_000}).json()["series"]["loss"]]
        assert sorted(steps) == list(range(sync.BATCH_POINTS + 10))


def test_each_run_of_a_reused_folder_syncs_as_its_own_model(platform_server, home: Path, tmp_path: Path,
                                                            capsys) -> None:
    job_dir = tmp_path / "reused"
    first = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "1"])
    first.start()
    assert _sync(platform_server, job_dir, capsys)[0] == 0
    first_model = _synced_model(platform_server, job_dir, first.run_id)

    class Failing(OfflineTrain):
        def run(self) -> str:
            self.log_metrics(0, loss=9.0)
            raise RuntimeError("second run broke")

    second = Failing.init(job_dir=str(job_dir), argv=["--epochs", "2"])
    try:
        second.start()
    except RuntimeError:
        pass
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and "status failed" in out, out
    second_model = _synced_model(platform_server, job_dir, second.run_id)
    assert second_model != first_model
    with platform_server.client() as admin:
        old, new = (admin.get(f"/api/models/{i}").json() for i in (first_model, second_model))
        assert old["status"] == "completed" and old["settings"]["epochs"] == 1
        assert new["status"] == "failed" and new["settings"]["epochs"] == 2
        assert new["error"]["message"] == "second run broke"
        losses = admin.get(f"/api/models/{second_model}/metrics", params={"max_points": 100_000}).json()["series"]
        assert losses == {"loss": [[0, 9.0, losses["loss"][0][2]]]}  # only the second run's point
        names = {e["name"].split("/", 1)[1] for e in admin.get(f"/api/ls/{second_model}/",
                                                               params={"recursive": "true"}).json()}
        assert "artifacts/output.json" in names
        assert not any(name.startswith("runs/") for name in names), names  # the first run's records stay home
    assert "already synced" in _sync(platform_server, job_dir, capsys)[1]


def test_a_folder_that_is_no_job_is_a_clear_error(platform_server, home: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, out = _sync(platform_server, tmp_path / "empty", capsys)
    assert code == 2 and "info.json is missing" in out and "Traceback" not in out
    assert isinstance(httpx.get(platform_server.url + "/healthz").json(), dict)


def test_an_interrupted_sync_resumes_where_it_stopped_with_a_progress_bar(platform_server, home: Path,
                                                                          tmp_path: Path) -> None:
    """A sync killed half-way (SIGKILL, on a terminal showing its progress bar) is completed by the next
    one: files already sent are skipped, no metric point is stored twice."""
    import fcntl
    import pty
    import signal
    import struct
    import subprocess
    import sys
    import termios
    import time

    job_dir = tmp_path / "many"
    job = OfflineTrain.init(job_dir=str(job_dir), argv=[])
    job.start()
    for index in range(150):
        (job_dir / "artifacts" / "parts" / f"{index:03}.txt").parent.mkdir(parents=True, exist_ok=True)
        (job_dir / "artifacts" / "parts" / f"{index:03}.txt").write_text(f"part {index}\n")
    command = [sys.executable, "-m", "brevettiai.cli", "sync", str(job_dir), "--host", platform_server.url,
               "--username", admin_name(platform_server), "--password", platform_server.admin_password]
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a terminal 100 columns wide
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=dict(os.environ))
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while not re.search(rb"sync many: +\d+%\|[^|]*\| *([2-9]\d|\d{3,})/", seen):  # the bar moved past 20 items
            assert process.poll() is None and time.monotonic() < deadline, seen.decode(errors="replace")
            try:
                seen += os.read(leader, 4096)
            except OSError:  # the terminal closed: the command ended
                raise AssertionError(f"sync ended ({process.wait()}) before it could be interrupted: "
                                     f"{seen.decode(errors='replace')}; {process.stdout.read()}") from None
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    model_id = _synced_model(platform_server, job_dir, job.run_id)
    with platform_server.client() as admin:
        sent = admin.get(f"/api/ls/{model_id}/", params={"recursive": "true"}).json()
    assert 20 < len(sent) < 152, "the sync was not interrupted half-way"

    again = subprocess.run([*command, "--no-progress"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    counts = re.search(r"(\d+) files sent, (\d+) already there", again.stdout)
    assert counts is not None, again.stdout
    resent, skipped = int(counts[1]), int(counts[2])
    assert skipped >= 20 and resent + skipped == 152, again.stdout  # what the first sync stored is not sent again
    with platform_server.client() as admin:
        names = {e["name"] for e in admin.get(f"/api/ls/{model_id}/", params={"recursive": "true"}).json()}
        assert sum("/parts/" in name for name in names) == 150
        losses = admin.get(f"/api/models/{model_id}/metrics", params={"names": "loss", "max_points": 100_000}).json()
        assert len(losses["series"]["loss"]) == sync.BATCH_POINTS + 7
        assert admin.get(f"/api/models/{model_id}").json()["status"] == "completed"


def test_a_host_that_is_no_platform_is_named_in_one_line(home: Path, tmp_path: Path, capsys) -> None:
    """A --host that points at some other web server (here Python's own, which answers POST with an HTML
    page) is one line naming the host, not the page's HTML."""
    import http.server
    import threading

    job_dir = tmp_path / "offline"
    OfflineTrain.init(job_dir=str(job_dir), argv=[]).start()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{other.server_address[1]}"
    try:
        code = sync.main([str(job_dir), "--host", host, "--username", "admin", "--password", "x", "--no-progress"])
    finally:
        other.shutdown()
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert err.count("\n") == 1 and "<html" not in err.lower(), err
    assert host in err and "not a brevettiai platform" in err, err


def test_earlier_runs_of_a_reused_folder_never_synced_are_named(platform_server, home: Path, tmp_path: Path,
                                                                capsys) -> None:
    """Two runs in one folder, then one sync: only the current run goes, and the output says which earlier run
    did not (instead of dropping it silently); a run synced before is not named."""
    job_dir = tmp_path / "twice"
    first = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "1"])
    first.start()
    second = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "2"])
    second.start()
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and "synced to model" in out, out
    assert "1 earlier run(s) of this folder were never synced" in out and first.run_id in out, out
    third = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "3"])
    third.start()
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and first.run_id in out and second.run_id not in out, out  # the second was synced
