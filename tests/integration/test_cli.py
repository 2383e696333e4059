"""The brevettiai command as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def brevettiai(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brevettiai.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_schema_of_a_job_subclass_as_form_and_json_schema() -> None:
    form = json.loads(brevettiai("schema", "examples.logistic_regression:LogisticRegressionJob").stdout)
    models = [f.get("model") for f in form["fields"]]
    assert "training.epochs" in models and "data.noise" in models
    schema = json.loads(brevettiai("schema", "examples.logistic_regression:LogisticRegressionSettings",
                                   "--format", "json-schema").stdout)
    assert schema["title"] == "LogisticRegressionSettings" and "$defs" in schema


def test_schema_bad_target_is_a_clear_error() -> None:
    result = brevettiai("schema", "no_such_module:Thing")
    assert result.returncode == 2 and "no_such_module" in result.stderr and "Traceback" not in result.stderr


def test_status_shows_a_killed_process_as_lost(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from brevettiai import Job
        class Hang(Job):
            def run(self):
                print("running", flush=True)
                time.sleep(60)
        Hang.init(job_dir=sys.argv[1], argv=[]).start()
    """))
    job_dir = tmp_path / "job"
    process = subprocess.Popen([sys.executable, str(script), str(job_dir)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "running"
    assert "status:   running" in brevettiai("status", str(job_dir)).stdout
    process.send_signal(signal.SIGKILL)  # nothing in the process can record this
    process.wait(timeout=30)
    shown = brevettiai("status", str(job_dir)).stdout
    assert "status:   lost" in shown and "is gone" in shown


def test_status_of_a_folder_that_is_no_job() -> None:
    result = brevettiai("status", str(ROOT / "examples"))
    assert result.returncode == 2 and "no status.json" in result.stderr


def test_help_shows_flags_without_a_value_type() -> None:
    """A flag takes no value, so its help line shows no type; options that take one keep theirs."""
    for command in ([], ["server"], ["token", "create"]):
        result = brevettiai(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "--help" in result.stdout and "Show this message and exit." in result.stdout
        assert "<bool>" not in result.stdout, result.stdout
    assert "--version" in brevettiai("--help").stdout
    assert "--port" in (server := brevettiai("server", "--help").stdout) and "<str>" in server
    assert "--read-only" in brevettiai("token", "create", "--help").stdout
    version = brevettiai("--version")
    assert version.returncode == 0 and version.stdout.startswith("brevettiai ")
