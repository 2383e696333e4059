"""`make demo`'s script runs the whole platform flow and ends with a completed model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from platform_fixture import admin_name

from brevettiai.platform import PlatformAPI

ROOT = Path(__file__).resolve().parents[2]


def test_platform_demo_completes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREVETTI")}
    env["BREVETTI_AI_DEMO_DIR"] = str(tmp_path / "platform")
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "platform_demo.py")], env=env,
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "2 files uploaded" in out and "Job completed; model file: artifacts/model.npz" in out
    assert out.count("  epoch ") == 10
    assert "model.npz" in out and "charts/training_curves.json" in out
    assert (tmp_path / "platform" / "brevettiai.db").exists()


def test_the_demo_registers_its_model_type_once(platform_server, home: Path) -> None:
    """`make demo` run again on the same platform reuses its model type; one of that name running
    something else is not taken for it."""
    sys.path.insert(0, str(ROOT / "examples"))
    import platform_demo

    web = PlatformAPI(username=admin_name(platform_server), password=platform_server.admin_password,
                      host=platform_server.url, remember_me=False)
    other = web.create_modeltype(platform_demo.MODEL_TYPE_NAME, command=["python", "someone_elses_job.py"])
    first = platform_demo.example_model_type(web)
    again = platform_demo.example_model_type(web)
    assert first.id != other.id and again.id == first.id
    assert {t.id for t in web.get_modeltype(name=platform_demo.MODEL_TYPE_NAME)} == {other.id, first.id}
