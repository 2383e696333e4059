"""The README's code as a newcomer copies it: the quickstart job, its commands, the platform example
against a real server, and the install command (this checkout, never PyPI's original 2.0.0)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version
from platform_fixture import admin_name
from services import wait_for

import brevettiai

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
FINAL = {"completed", "failed", "killed", "lost"}


def code_blocks(section: str, language: str) -> list[str]:
    """The fenced blocks of one language in a `## ` section of the README, in order."""
    start = README.index(f"\n## {section}\n")
    end = README.find("\n## ", start + 1)
    text = README[start:end if end > 0 else None]
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BREVETTI_AI_", "BREVETTIAI_"))}
    env["HOME"] = str(tmp_path)  # a saved login lands here, not in the user's home
    return env


def test_the_quickstart_job_and_its_commands_run_as_written(tmp_path: Path) -> None:
    job_code, commands = code_blocks("Quickstart", "python")[0], code_blocks("Quickstart", "bash")[0]
    (tmp_path / "train.py").write_text(job_code)
    lines = [line.split("#")[0].strip() for line in commands.splitlines() if line.startswith("python train.py")]
    assert len(lines) == 2, commands
    for line in lines:
        argv = [sys.executable, *shlex.split(line)[1:]]
        result = subprocess.run(argv, cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        if "--help" in line:
            assert "--epochs" in result.stdout and "--data.size" in result.stdout and ">= 32" in result.stdout
    state = json.loads((tmp_path / "runs" / "first" / "status.json").read_text())
    assert state["status"] == "completed" and state["model_path"] == "artifacts/model.txt"
    output = json.loads((tmp_path / "runs" / "first" / "artifacts" / "output.json").read_text())
    assert output["job"]["settings"]["data"] == {"size": 64, "classes": ["a", "b", "c"]}


def test_the_platform_example_runs_as_written(platform_server, tmp_path: Path) -> None:
    """Only the password and the address are the test server's; the model trains to completion."""
    (code,) = code_blocks("The platform", "python")
    assert 'password="..."' in code and '"http://127.0.0.1:8000"' in code
    code = code.replace('username="admin"', f'username="{admin_name(platform_server)}"')
    code = code.replace('password="..."', f"password={platform_server.admin_password!r}")
    code = code.replace('"http://127.0.0.1:8000"', repr(platform_server.url))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(tmp_path), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    model_id, key = result.stdout.splitlines()[0].split()
    assert key.startswith("bj_")
    with platform_server.client() as admin:
        model = wait_for(lambda: admin.get(f"/api/models/{model_id}").json(), 90, every=0.3,
                         what="the README's model ending", until=lambda record: record["status"] in FINAL)
        log = admin.get(f"/api/files/{model_id}/logs/job.log")
    assert model["status"] == "completed", log.text[-2000:]
    assert model["modelPath"] == "artifacts/model.npz"


def test_the_readme_installs_this_checkout_which_pip_prefers_to_the_original() -> None:
    installs = [line.split("#")[0].strip() for line in README.splitlines() if line.startswith("pip install")]
    assert installs, "the README says how to install"
    for line in installs:
        target = shlex.split(line)[-1]
        assert target.startswith(("./", ".[", "-e")), f"{line!r} would install PyPI's brevettiai, not this checkout"
    # PyPI's last release of the original SDK is 2.0.0: a lower version would let pip pick it as an upgrade.
    assert Version(brevettiai.__version__) > Version("2.0.0")
    from importlib.metadata import version

    assert version("brevettiai") == brevettiai.__version__


@pytest.mark.parametrize("flag", ["--version"])
def test_the_command_tells_its_version(flag: str) -> None:
    result = subprocess.run([sys.executable, "-m", "brevettiai.cli", flag], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"brevettiai {brevettiai.__version__}"
