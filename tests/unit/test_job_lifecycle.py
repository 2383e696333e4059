"""Job.init resolution, start/run/complete, failures, kills and storage paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from services import wait_for

from brevettiai import Job, JobSettings
from brevettiai.errors import JobNotFoundError, JobStateError, SettingsError, StoragePathError

KEY = "job-key-that-must-not-leak"


class Train(JobSettings):
    epochs: int = 2
    rate: float = 0.1


class TrainJob(Job):
    settings: Train

    def run(self) -> str:
        path = self.artifact_path("model.bin")
        self.io.write_file(path, b"weights")
        self.add_output_metric("accuracy", 0.9)
        return path


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_start_runs_writes_output_and_completes(make_job_dir) -> None:
    job_dir = make_job_dir({"settings": {"epochs": 5}})
    job = TrainJob.init(job_dir=str(job_dir), api_key=KEY, argv=["--rate", "0.5"])
    assert isinstance(job.settings, Train) and job.settings.epochs == 5 and job.settings.rate == 0.5
    assert job.start() == str(job_dir / "artifacts" / "model.bin")
    state = read(job_dir / "status.json")
    assert state["status"] == "completed" and state["model_path"] == "artifacts/model.bin"
    assert state["started"] <= state["finished"]
    output = read(job_dir / "artifacts" / "output.json")
    assert output["output"] == {"accuracy": 0.9}
    assert output["job"]["settings"] == {"epochs": 5, "rate": 0.5}
    assert output["job"]["state"]["status"] == "completed"
    assert output["environment"]["python"].count(".") == 2
    for file in job_dir.rglob("*.json"):
        assert KEY not in file.read_text()


def test_settings_declared_as_class_attribute_or_annotation(make_job_dir) -> None:
    class ByAttribute(Job):
        Settings = Train

    class ByAnnotation(Job):
        settings: Train

    for cls in (ByAttribute, ByAnnotation):
        job = cls.init(job_dir=str(make_job_dir()), argv=[])
        assert isinstance(job.settings, Train) and cls.Settings is Train


def test_base_job_takes_any_settings(make_job_dir) -> None:
    job = Job.init(job_dir=str(make_job_dir({"settings": {"a": 1, "b": {"c": "d"}}})), argv=["--b.c", "e"])
    assert job.settings.get_config() == {"a": 1, "b": {"c": "e"}}


def test_exception_in_run_marks_failed_and_reraises(make_job_dir) -> None:
    class Broken(Job):
        def run(self) -> None:
            raise ValueError("bad data in batch 3")

    job_dir = make_job_dir()
    job = Broken.init(job_dir=str(job_dir), argv=[])
    with pytest.raises(ValueError, match="batch 3"):
        job.start()
    state = read(job_dir / "status.json")
    assert state["status"] == "failed" and state["exit"]["exception"] == "ValueError"
    assert state["exit"]["message"] == "bad data in batch 3" and "Traceback" in state["exit"]["traceback"]
    assert read(job_dir / "artifacts" / "output.json")["job"]["state"]["status"] == "failed"


@pytest.mark.parametrize(("code", "status"), [(3, "failed"), (0, "completed")])
def test_sys_exit_in_run_records_the_code(make_job_dir, code: int, status: str) -> None:
    class Exits(Job):
        def run(self) -> None:
            sys.exit(code)

    job_dir = make_job_dir()
    with pytest.raises(SystemExit):
        Exits.init(job_dir=str(job_dir), argv=[]).start()
    state = read(job_dir / "status.json")
    assert state["status"] == status
    if code:
        assert state["exit"]["code"] == code


def test_context_manager_and_completing_twice(make_job_dir) -> None:
    job_dir = make_job_dir()
    with Job.init(job_dir=str(job_dir), argv=[]) as job:
        assert read(job_dir / "status.json")["status"] == "running"
    assert job.complete() is None  # a second completion changes nothing
    assert read(job_dir / "status.json")["status"] == "completed"
    with pytest.raises(JobStateError):
        job.start()
    with pytest.raises(RuntimeError), Job.init(job_dir=str(make_job_dir(name="other")), argv=[]) as failing:
        raise RuntimeError("inside with")
    assert failing.state.status == "failed"


def test_storage_paths(make_job_dir) -> None:
    job_dir = make_job_dir()
    job = Job.init(job_dir=str(job_dir), argv=[])
    temp = job.temp_path("a", "b.txt")
    assert Path(temp).parent.is_dir() and Path(temp).is_relative_to(job.temp_dir)
    assert Path(job.artifact_path("pivot", dir=True)).is_dir()
    assert job.upload_artifact("report.html", "<h1>hi</h1>") == "artifacts/report.html"
    assert job.upload_chart("loss curve", {"mark": "line"}) == "artifacts/charts/loss_curve.json"
    for bad in ("../escape.txt", "/etc/passwd", "s3://bucket/x"):
        with pytest.raises(StoragePathError):
            job.artifact_path(bad)
        with pytest.raises(StoragePathError):
            job.upload_artifact(bad, "x")
    temp_dir = job.temp_dir
    job.complete()
    assert not os.path.exists(temp_dir), "the automatic temp dir is removed when the job ends"


def test_cache_path_is_used_and_kept(make_job_dir, tmp_path: Path) -> None:
    cache = tmp_path / "scratch"
    job = Job.init(job_dir=str(make_job_dir()), cache_path=str(cache), argv=[])
    assert job.temp_path("x.txt").startswith(str(cache))
    job.complete()
    assert cache.is_dir()


def test_resolution_order_argument_then_argv_then_environment(make_job_dir, monkeypatch, tmp_path) -> None:
    bucket = tmp_path / "bucket"
    for job_id in ("from-arg", "from-argv", "from-env"):
        make_job_dir({"id": job_id}, name=f"bucket/{job_id}")
    monkeypatch.setenv("BREVETTI_AI_DATA_BUCKET", str(bucket))
    monkeypatch.setenv("BREVETTI_AI_JOB_ID", "from-env")
    assert Job.init(argv=[]).id == "from-env"
    assert Job.init(argv=["--model_id", "from-argv"]).id == "from-argv"
    assert Job.init(job_id="from-arg", argv=["--job_id", "from-argv"]).id == "from-arg"
    assert Job.init(argv=["--test_id=from-argv"]).id == "from-argv"


def test_info_file_only_uses_its_folder_as_job_dir(make_job_dir) -> None:
    job_dir = make_job_dir({"id": "solo"})
    job = Job.init(argv=["--info_file", str(job_dir / "info.json")])
    assert job.id == "solo" and job.job_dir == str(job_dir)


def test_new_offline_job_in_an_empty_job_dir(tmp_path: Path) -> None:
    job = Job.init(job_dir=str(tmp_path / "fresh"), argv=[])
    info = read(tmp_path / "fresh" / "info.json")
    assert info["id"] == job.id and len(job.id) == 36


def test_no_job_anywhere_is_a_clear_error() -> None:
    with pytest.raises(JobNotFoundError, match=r"--job_id.*--info_file.*--job_dir") as info:
        Job.init(argv=[])
    assert info.value.code == 2
    with pytest.raises(JobNotFoundError, match="has no job directory"):
        Job.init(job_id="abc", argv=[])


def test_bad_info_files(make_job_dir, tmp_path: Path) -> None:
    job_dir = make_job_dir({"id": "one"})
    with pytest.raises(JobNotFoundError, match="describes job 'one'"):
        Job.init(job_id="two", job_dir=str(job_dir), argv=[])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(JobNotFoundError, match="not valid JSON"):
        Job.init(info_file=str(broken), argv=[])
    with pytest.raises(JobNotFoundError, match="No info.json"):
        Job.init(info_file=str(tmp_path / "missing.json"), argv=[])


def test_invalid_settings_from_info_json_name_the_field(make_job_dir) -> None:
    with pytest.raises(SettingsError, match=r"'epochs'.*'many'"):
        TrainJob.init(job_dir=str(make_job_dir({"settings": {"epochs": "many"}})), argv=[])


def test_key_is_masked_and_endpoint_urls_lose_it(make_job_dir) -> None:
    job = Job.init(job_dir=str(make_job_dir({"remote_url": f"/api/models/x/remotemonitor?key={KEY}&a=1"})),
                   api_key=KEY, argv=[])
    assert KEY not in repr(job) and job.api_key == KEY
    assert job.api_endpoints["remote"] == "/api/models/x/remotemonitor?a=1"


def test_job_dir_may_be_an_fsspec_url() -> None:
    import fsspec

    fsspec.filesystem("memory").pipe("/jobs/mem-job/info.json", json.dumps({"id": "mem-job", "settings": {}}).encode())
    job = TrainJob.init(job_dir="memory://jobs/mem-job", argv=[])
    job.start()
    output = json.loads(fsspec.filesystem("memory").cat("/jobs/mem-job/artifacts/output.json"))
    assert output["job"]["state"]["status"] == "completed"


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "job_script.py"
    script.write_text(textwrap.dedent(body))
    return script


def _run(script: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60, **kwargs)


def test_user_errors_exit_2_without_traceback(tmp_path: Path, make_job_dir) -> None:
    script = _script(tmp_path, """
        from brevettiai import Job, JobSettings
        class S(JobSettings):
            epochs: int = 1
        class J(Job):
            settings: S
        J.init().start()
    """)
    job_dir = make_job_dir()
    typo = _run(script, "--job_dir", str(job_dir), "--epoch", "3")
    assert typo.returncode == 2 and "Traceback" not in typo.stderr
    assert "--epoch" in typo.stderr and "did you mean --epochs" in typo.stderr
    nojob = _run(script)
    assert nojob.returncode == 2 and "Traceback" not in nojob.stderr and "No job to run" in nojob.stderr
    helped = _run(script, "--help")
    assert helped.returncode == 0 and "--epochs" in helped.stdout


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_marks_the_job_killed(tmp_path: Path, make_job_dir, signum: int, code: int) -> None:
    job_dir = make_job_dir()
    script = _script(tmp_path, """
        import sys, time
        from brevettiai import Job
        class Slow(Job):
            def run(self):
                self.add_output_metric("progress", 0.5)
                print("running", flush=True)
                time.sleep(30)
        Slow.init(job_dir=sys.argv[1], argv=[]).start()
    """)
    process = subprocess.Popen([sys.executable, str(script), str(job_dir)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "running"
    process.send_signal(signum)
    process.wait(timeout=30)
    assert process.returncode in (code, -signum)  # an uncaught KeyboardInterrupt re-raises SIGINT
    state = read(job_dir / "status.json")
    assert state["status"] == "killed" and state["exit"]["signal"] == signal.Signals(signum).name
    assert read(job_dir / "artifacts" / "output.json")["output"] == {"progress": 0.5}


def test_process_exiting_with_a_running_job_records_failure(tmp_path: Path, make_job_dir) -> None:
    job_dir = make_job_dir()
    script = _script(tmp_path, """
        import sys
        from brevettiai import Job
        job = Job.init(job_dir=sys.argv[1], argv=[])
        job.start(complete_job=False) if False else job.__enter__()
    """)
    assert _run(script, str(job_dir)).returncode == 0
    state = read(job_dir / "status.json")
    assert state["status"] == "failed" and "never called" in state["exit"]["message"]


def test_metrics_are_kept_in_the_job_dir(make_job_dir) -> None:
    job_dir = make_job_dir()
    with Job.init(job_dir=str(job_dir), argv=[]) as job:
        for step in range(3):
            job.log_metrics(step, loss=1.0 / (step + 1))
    lines = [json.loads(line) for line in (job_dir / "metrics.jsonl").read_text().splitlines()]
    lines = [p for p in lines if "system/cpu_percent" not in p]  # the job's own points, not its system metrics
    assert [p["step"] for p in lines] == [0, 1, 2] and lines[2]["loss"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("key_flag", [["--api_key", KEY], [f"--api_key={KEY}"]])
def test_output_records_the_argv_the_job_was_given_without_the_key(make_job_dir, key_flag) -> None:
    job_dir = make_job_dir({"settings": {"epochs": 5}})
    job = TrainJob.init(job_dir=str(job_dir), argv=["--rate", "0.5", *key_flag])
    job.start()
    recorded = read(job_dir / "artifacts" / "output.json")["job"]["argv"]
    assert recorded[1:] == ["--rate", "0.5"]
    assert KEY not in json.dumps(recorded)


def test_a_reused_job_dir_keeps_each_runs_record(make_job_dir, caplog) -> None:
    job_dir = make_job_dir({"settings": {"epochs": 2}})
    first = TrainJob.init(job_dir=str(job_dir), argv=[])
    first.log_metrics(0, loss=1.0)
    first.start()
    with caplog.at_level("WARNING", logger="brevettiai"):
        second = TrainJob.init(job_dir=str(job_dir), argv=["--rate", "0.3"])
    assert second.run_id != first.run_id
    assert f"used by run {first.run_id}" in caplog.text
    second.log_metrics(0, loss=0.5)
    second.fail("broken on purpose")
    kept = job_dir / "runs" / first.run_id
    assert read(kept / "status.json")["status"] == "completed"
    assert read(kept / "output.json")["job"]["settings"]["rate"] == 0.1
    assert read(job_dir / "status.json")["status"] == "failed"
    assert read(job_dir / "artifacts" / "output.json")["job"]["settings"]["rate"] == 0.3
    lines = [json.loads(line) for line in (job_dir / "metrics.jsonl").read_text().splitlines()]
    lines = [p for p in lines if "system/cpu_percent" not in p]
    assert [(line["run_id"], line["loss"]) for line in lines] == [(first.run_id, 1.0), (second.run_id, 0.5)]


def test_sdk_helper_threads_leave_stop_signals_to_the_main_thread() -> None:
    """A SIGTERM the kernel hands to a helper thread would not wake a main thread sleeping in run()."""
    from brevettiai._threads import start_daemon

    seen: list[set[int]] = []
    start_daemon(lambda: seen.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, []))), "probe").join(10)
    assert {signal.SIGTERM, signal.SIGINT} <= seen[0]
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the main thread takes them


def test_a_job_dir_whose_run_is_still_running_is_not_reused(make_job_dir, tmp_path: Path) -> None:
    """A second run started in a folder while the first still runs there (its process alive on this machine) stops
    with a message naming the folder and the running run, instead of moving the live run's status away (its end
    would then overwrite the second run's record)."""
    job_dir = make_job_dir({"settings": {"epochs": 2}})
    release = tmp_path / "release"
    script = textwrap.dedent(f"""
        import os, time
        from brevettiai import Job
        class Waits(Job):
            def run(self):
                while not os.path.exists({str(release)!r}):
                    time.sleep(0.05)
        Waits.init(job_dir={str(job_dir)!r}, argv=[]).start()
    """)
    first = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "BREVETTI_AI_SYSTEM_METRICS": "0"})
    try:
        def first_run_state() -> dict | None:
            assert first.poll() is None, "the first run ended before it was seen running"
            return read(job_dir / "status.json") if (job_dir / "status.json").exists() else None

        running = wait_for(first_run_state, 30, what="the first run running",
                           until=lambda state: state is not None and state["status"] == "running")
        with pytest.raises(SystemExit) as info:
            TrainJob.init(job_dir=str(job_dir), argv=[])
        assert info.value.code == 2
        assert f"is in use: run {running['run_id']} is still running there" in str(info.value)
        assert read(job_dir / "status.json")["run_id"] == running["run_id"]  # left where it was
    finally:
        release.touch()
        first.wait(30)
    assert read(job_dir / "status.json")["status"] == "completed"
    second = TrainJob.init(job_dir=str(job_dir), argv=[])  # once it ended, the folder is reused as usual
    assert read(job_dir / "runs" / running["run_id"] / "status.json")["status"] == "completed"
    second.start()
