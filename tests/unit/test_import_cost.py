"""`from brevettiai import Job, JobSettings` loads only what a job needs before it runs.

Timings never go into tests (see bench/bench_import.py); what is loaded is a behaviour: these
modules are each a measurable part of the import time and a job that never uses them must not pay.
"""

import os
import subprocess
import sys
from pathlib import Path

DEFERRED = (
    "importlib.metadata",  # pydantic's plugin scan, run when a model's validator is built
    "pydantic.plugin._loader",
    "brevettiai.settings.schema",
    "brevettiai.settings.overrides",
    "brevettiai.io.tools",
    "fsspec", "httpx", "tempfile", "shutil", "socket", "subprocess",
    # what only Job.init needs: its logging set-up, info.json, the job's state and location records
    "logging", "json", "brevettiai._state", "brevettiai._location",
)


def _unmeasured_env() -> dict[str, str]:
    """This environment without `make coverage`'s hook: a measured interpreter imports coverage's own modules."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {DEFERRED!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=_unmeasured_env())
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_import_defers_settings_machinery_and_validator_builds():
    assert _loaded_after("from brevettiai import Job, JobSettings") == []


def test_a_deferred_settings_class_validates_and_reports_errors_on_first_use():
    code = (
        "from brevettiai import Job, JobSettings\n"
        "class S(JobSettings):\n"
        "    epochs: int = 3\n"
        "assert S.model_validate({'epochs': '5'}).epochs == 5\n"
        "assert S.from_config({'epochs': 7}).epochs == 7\n"
        "try:\n"
        "    S.model_validate({'epochs': 'many'})\n"
        "except Exception as exc:\n"
        "    assert 'epochs' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    assert "brevettiai.settings.overrides" in _loaded_after(code)


NO_OP_JOB = (
    "import tempfile\n"
    "from brevettiai import Job\n"
    "job = Job.init(job_dir=tempfile.mkdtemp(), argv=[], log_level=30{extra})\n"
    "job.start()\n"
    "assert job.state.status == 'completed'\n"
    "print(' '.join(type(d).__name__ + ':' + d.id for d in job.datasets + job.tags))\n"
)


def _run_job(extra: str = "", cwd: Path | None = None,
             watched: tuple[str, ...] = ("brevettiai.datamodel", "difflib")) -> tuple[list[str], str]:
    code = NO_OP_JOB.format(extra=extra)
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd,
                            env=_unmeasured_env())
    assert result.returncode == 0, result.stderr
    records, loaded = result.stdout.splitlines()[-2:]
    return loaded.split(), records


def test_a_job_without_datasets_or_tags_never_loads_the_datamodel():
    loaded, records = _run_job()
    assert loaded == []
    assert records == ""


def test_a_job_outside_a_git_repository_starts_no_process_and_never_imports_socket(tmp_path: Path):
    loaded, _ = _run_job(cwd=tmp_path, watched=("subprocess", "socket"))  # the base Job's git state: the cwd's
    assert loaded == []


def test_a_job_with_datasets_and_tags_gets_them_as_records():
    loaded, records = _run_job(", datasets=[{'id': 'd1', 'name': 'cats'}], tags=[{'id': 't1', 'name': 'a'}]")
    assert loaded == ["brevettiai.datamodel"]
    assert records == "Dataset:d1 Tag:t1"


def test_help_prints_without_importing_logging(tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text(
        "import sys\n"
        "from brevettiai import Job, JobSettings\n"
        "class Settings(JobSettings):\n"
        "    epochs: int = 3\n"
        "class Train(Job):\n"
        "    settings: Settings\n"
        "try:\n"
        "    Train.init()\n"
        "finally:\n"
        "    print('logging loaded:', 'logging' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, str(script), "--epochs", "5", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--epochs  an integer; default 3" in result.stdout
    assert result.stdout.rstrip().endswith("logging loaded: False")
