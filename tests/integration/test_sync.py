"""`brevettiai sync`: an offline job directory brought into a real platform server, safely repeatable."""

from __future__ import annotations

import datetime
import json
import os
import re
import stat
from pathlib import Path

import httpx
import pytest
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


def _sync(server, job_dir: Path, capsys, *flags: str) -> tuple[int, str]:
    code = sync.main([str(job_dir), "--host", server.url, "--username", admin_name(server),
                      "--password", server.admin_password, "--no-progress", *flags])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _synced_model(server, job_dir: Path, run_id: str) -> str:
    return json.loads((job_dir / ".brevettiai-sync.json").read_text())["runs"][server.url][run_id]


class _Terminal:
    """A command whose stderr is a terminal 100 columns wide (so it shows its progress bar), read as it writes."""

    def __init__(self, command: list[str]) -> None:
        import fcntl
        import pty
        import struct
        import subprocess
        import termios

        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=dict(os.environ))
        os.close(follower)
        self._leader = leader
        self.seen = b""

    def wait_for(self, pattern: bytes, timeout: float = 60) -> None:
        import select
        import time

        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.seen):
            assert self.process.poll() is None and time.monotonic() < deadline, self.seen.decode(errors="replace")
            if select.select([self._leader], [], [], 0.5)[0]:
                try:
                    self.seen += os.read(self._leader, 4096)
                except OSError:  # the terminal closed: the command ended
                    raise AssertionError(f"the command ended ({self.process.wait()}) before {pattern!r} showed: "
                                         f"{self.seen.decode(errors='replace')}; {self.process.stdout.read()}") from None

    def kill(self) -> None:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        os.close(self._leader)


def test_an_offline_job_syncs_once_and_again_safely(platform_server, home: Path, tmp_path: Path, capsys) -> None:
    job_dir = tmp_path / "offline"
    # No system/... samples: how many a run records depends on how long it takes (a loaded CI run recorded one,
    # and the count of synced points was off by it).
    job = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "5"], system_metrics=False)
    job.start()

    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0, out
    model_id = _synced_model(platform_server, job_dir, job.run_id)
    assert f"/models/{model_id}: 2 files sent, 0 already there, {sync.BATCH_POINTS + 7} metric points" in out, out
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
    assert code == 0 and f"/models/{model_id}: already synced (completed)" in out, out
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
    import subprocess
    import sys

    job_dir = tmp_path / "many"
    job = OfflineTrain.init(job_dir=str(job_dir), argv=[])
    job.start()
    for index in range(150):
        (job_dir / "artifacts" / "parts" / f"{index:03}.txt").parent.mkdir(parents=True, exist_ok=True)
        (job_dir / "artifacts" / "parts" / f"{index:03}.txt").write_text(f"part {index}\n")
    command = [sys.executable, "-m", "brevettiai.cli", "sync", str(job_dir), "--host", platform_server.url,
               "--username", admin_name(platform_server), "--password", platform_server.admin_password]
    terminal = _Terminal(command)
    try:
        terminal.wait_for(rb"sync many: +\d+%\|[^|]*\| *([2-9]\d|\d{3,})/")  # the bar moved past 20 items
    finally:
        terminal.kill()
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


class FailingTrain(OfflineTrain):
    def run(self) -> str:
        for step in range(3):
            self.log_metrics(step, loss=10.0 + step)
        self.add_output_metric("accuracy", 0.1)
        raise RuntimeError("second run broke")


def _three_runs(job_dir: Path) -> list[Job]:
    """Three runs in one folder: completed, failed, completed (the current one)."""
    first = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "1"], system_metrics=False)
    first.start()
    second = FailingTrain.init(job_dir=str(job_dir), argv=["--epochs", "2"], system_metrics=False)
    with pytest.raises(RuntimeError):
        second.start()
    third = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "3"], system_metrics=False)
    third.start()
    return [first, second, third]


def _loss_count(admin: httpx.Client, model_id: str) -> int:
    answer = admin.get(f"/api/models/{model_id}/metrics", params={"names": "loss", "max_points": 10})
    return int(answer.json()["counts"].get("loss", 0))


def _model_total(admin: httpx.Client) -> int:
    return int(admin.get("/api/models", params={"limit": 1}).json()["total"])


def _check_three_models(server, job_dir: Path, runs: list[Job], *, in_order: bool = True) -> list[str]:
    """Each run is its own model with its settings, metrics, output, final state and times (`in_order`: the
    models were created oldest run first)."""
    first, second, third = runs
    ids = [_synced_model(server, job_dir, job.run_id) for job in runs]
    assert len(set(ids)) == 3
    with server.client() as admin:
        models = [admin.get(f"/api/models/{model_id}").json() for model_id in ids]
        assert [m["settings"]["epochs"] for m in models] == [1, 2, 3]
        assert [m["status"] for m in models] == ["completed", "failed", "completed"]
        assert not in_order or [m["created"] for m in models] == sorted(m["created"] for m in models)
        assert models[1]["error"]["message"] == "second run broke"
        assert models[0]["modelPath"] is None and models[2]["modelPath"] == "artifacts/model.bin"
        assert [_loss_count(admin, model_id) for model_id in ids] == [sync.BATCH_POINTS + 7, 3, sync.BATCH_POINTS + 7]
        outputs = [admin.get(f"/api/files/{model_id}/artifacts/output.json").json() for model_id in ids]
        assert [o["output"] for o in outputs] == [{"accuracy": 0.93}, {"accuracy": 0.1}, {"accuracy": 0.93}]
        assert [o["job"]["run_id"] for o in outputs] == [job.run_id for job in runs]
        files = [{name for e in admin.get(f"/api/ls/{model_id}/", params={"recursive": "true"}).json()
                  if not (name := e["name"].split("/", 1)[1]).startswith("info.json")}  # the platform's own
                 for model_id in ids]
        assert files[0] == files[1] == {"artifacts/output.json"}  # earlier runs' other artifacts were overwritten
        assert "artifacts/model.bin" in files[2] and not any(name.startswith("runs/") for name in files[2])
        for job, model in zip(runs, models, strict=True):  # the run's own times, not the sync's
            assert job.run_id in model["notes"] and f"started {job.state.started}" in model["notes"], model["notes"]
            assert f"ended {job.state.finished}" in model["notes"]
            assert _moment(model["started"]) == _moment(job.state.started), model
            assert _moment(model["completed"]) == _moment(job.state.finished), model
    return ids


def _moment(text: str | None) -> datetime.datetime:
    """A time of the API or a state file as an aware UTC datetime (naive means UTC)."""
    assert text, "no time given"
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def test_every_run_of_a_reused_folder_syncs_as_its_own_model_at_once(platform_server, home: Path, tmp_path: Path,
                                                                     capsys) -> None:
    """Three runs (one failed) and then one sync: each becomes a model, oldest first; a second sync sends nothing."""
    job_dir = tmp_path / "three"
    runs = _three_runs(job_dir)
    with platform_server.client() as admin:
        before = _model_total(admin)
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and "synced 3 run(s), 0 already synced" in out, out
    ids = _check_three_models(platform_server, job_dir, runs)
    lines = out.splitlines()
    for line, job, model_id, status in zip(lines[1:4], runs, ids, ("completed", "failed", "completed"), strict=True):
        assert line.startswith(f"  run {job.run_id}") and f"/models/{model_id}: " in line and f"status {status}" in line
    assert "(current)" in lines[3] and "earlier runs' artifacts were overwritten" in out, out

    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and "synced 0 run(s), 3 already synced" in out, out
    with platform_server.client() as admin:
        assert _model_total(admin) == before + 3
        assert [_loss_count(admin, model_id) for model_id in ids] == [sync.BATCH_POINTS + 7, 3, sync.BATCH_POINTS + 7]


def test_one_run_of_a_folder_is_chosen_with_run(platform_server, home: Path, tmp_path: Path, capsys) -> None:
    job_dir = tmp_path / "choose"
    first, second, third = _three_runs(job_dir)
    code, out = _sync(platform_server, job_dir, capsys, "--run", "nope")
    assert code == 2 and "Traceback" not in out and out.count("\n") == 1, out
    assert f"--run 'nope' is not a run of {job_dir}: accepted values are current, {first.run_id}, {second.run_id}" in out

    code, out = _sync(platform_server, job_dir, capsys, "--run", second.run_id)
    assert code == 0 and "synced 1 run(s)" in out and f"run {second.run_id} ->" in out and "status failed" in out, out
    code, out = _sync(platform_server, job_dir, capsys, "--run", "current")
    assert code == 0 and f"run {third.run_id} (current) ->" in out and first.run_id not in out, out
    record = json.loads((job_dir / sync.SYNC_FILE).read_text())["runs"][platform_server.url]
    assert set(record) == {second.run_id, third.run_id}

    code, out = _sync(platform_server, job_dir, capsys)  # the one left
    assert code == 0 and "synced 1 run(s), 2 already synced" in out, out
    _check_three_models(platform_server, job_dir, [first, second, third], in_order=False)


def test_an_earlier_run_without_its_output_gets_the_folder_settings_and_says_so(platform_server, home: Path,
                                                                                tmp_path: Path, capsys) -> None:
    """A folder whose earlier run kept no output.json (removed by hand, or a run that stopped before writing
    it): its model has info.json's settings, and the output says so."""
    job_dir = tmp_path / "older"
    first = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "7"], system_metrics=False)
    first.start()
    OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "8"], system_metrics=False).start()
    kept = job_dir / "runs" / first.run_id
    (kept / "output.json").unlink()
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0, out
    assert f"note: run(s) {first.run_id} kept no output.json: their models have the settings of the folder's info.json" in out
    with platform_server.client() as admin:
        model = admin.get(f"/api/models/{_synced_model(platform_server, job_dir, first.run_id)}").json()
        assert model["settings"] == {} and model["status"] == "completed"  # the folder's info.json has no settings
        assert _loss_count(admin, model["id"]) == sync.BATCH_POINTS + 7


def test_an_interrupted_sync_of_several_runs_resumes(platform_server, home: Path, tmp_path: Path) -> None:
    """A sync of three runs killed (SIGKILL) once its one progress bar passed the first run's first metrics
    batch: the next sync completes every run, creates no second model for a run and stores no point twice."""
    import subprocess
    import sys

    job_dir = tmp_path / "several"
    runs = _three_runs(job_dir)
    for index in range(150):  # the current run's files take a while to send
        (job_dir / "artifacts" / "parts" / f"{index:03}.txt").parent.mkdir(parents=True, exist_ok=True)
        (job_dir / "artifacts" / "parts" / f"{index:03}.txt").write_text(f"part {index}\n")
    with platform_server.client() as admin:
        before = _model_total(admin)
    command = [sys.executable, "-m", "brevettiai.cli", "sync", str(job_dir), "--host", platform_server.url,
               "--username", admin_name(platform_server), "--password", platform_server.admin_password]
    terminal = _Terminal(command)
    try:  # past the first run's first metrics batch (the bar counts files and points of all runs)
        terminal.wait_for(rb"sync several: +\d+%\|[^|]*\| *([5-9]\d{3}|\d{5,})/")
    finally:
        terminal.kill()
    with platform_server.client() as admin:
        current = json.loads((job_dir / sync.SYNC_FILE).read_text())["runs"][platform_server.url].get(runs[2].run_id)
        assert current is None or admin.get(f"/api/models/{current}").json()["status"] != "completed", \
            "the sync was not interrupted before its end"

    again = subprocess.run([*command, "--no-progress"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    counts = re.match(r"synced (\d) run\(s\), (\d) already synced", again.stdout)
    assert counts is not None and int(counts[1]) >= 1 and int(counts[1]) + int(counts[2]) == 3, again.stdout
    _check_three_models(platform_server, job_dir, runs)
    with platform_server.client() as admin:
        assert _model_total(admin) == before + 3
        names = {e["name"] for e in admin.get(f"/api/ls/{_synced_model(platform_server, job_dir, runs[2].run_id)}/",
                                              params={"recursive": "true"}).json()}
        assert sum("/parts/" in name for name in names) == 150


def test_an_earlier_run_killed_without_a_trace_is_sent_as_failed(platform_server, home: Path, tmp_path: Path,
                                                                 capsys) -> None:
    """An earlier run whose process was killed (-9) left status.json at running: the folder moved on, so its
    model ends failed with a message saying so, never running forever."""
    job_dir = tmp_path / "killed"
    first = OfflineTrain.init(job_dir=str(job_dir), argv=[], system_metrics=False)
    first.start()
    OfflineTrain.init(job_dir=str(job_dir), argv=[], system_metrics=False).start()
    kept = job_dir / "runs" / first.run_id / "status.json"
    state = json.loads(kept.read_text())
    kept.write_text(json.dumps({**state, "status": "running", "finished": None, "pid": 2 ** 22 + 1}))  # no such process
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and f"run {first.run_id} -> " in out, out
    with platform_server.client() as admin:
        model = admin.get(f"/api/models/{_synced_model(platform_server, job_dir, first.run_id)}").json()
        assert model["status"] == "failed", model
        assert model["error"]["message"] == "the offline run ended without recording how (lost)"
        assert _loss_count(admin, model["id"]) == sync.BATCH_POINTS + 7


def test_run_times_the_platform_refuses_are_left_to_its_clock(platform_server, home: Path, tmp_path: Path,
                                                               capsys, caplog) -> None:
    """A machine whose clock ran ahead of the platform's: the run's times are refused (in the future), the
    state still arrives, stamped by the platform, and the output says so."""
    job_dir = tmp_path / "ahead"
    job = OfflineTrain.init(job_dir=str(job_dir), argv=["--epochs", "1"], system_metrics=False)
    job.start()
    state_file = job_dir / "status.json"
    record = json.loads(state_file.read_text())
    record["started"], record["finished"] = "2999-01-01T00:00:00.000Z", "2999-01-01T01:00:00.000Z"
    state_file.write_text(json.dumps(record))
    code, out = _sync(platform_server, job_dir, capsys)
    assert code == 0 and "status completed" in out, out
    assert "refused the run's own completed" in caplog.text or "refused the run's own started" in caplog.text
    with platform_server.client() as admin:
        model = admin.get(f"/api/models/{_synced_model(platform_server, job_dir, job.run_id)}").json()
    this_year = str(datetime.datetime.now(datetime.UTC).year)
    assert model["status"] == "completed" and model["started"].startswith(this_year), model
    assert model["completed"].startswith(this_year), model
