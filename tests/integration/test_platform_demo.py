"""`make demo`'s script runs the whole platform flow and ends with a completed model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_platform_demo_completes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREVETTI")}
    env["BREVETTI_AI_DEMO_DIR"] = str(tmp_path / "platform")
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "platform_demo.py")], env=env,
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "2 files uploaded" in out and "Job completed; model file: artifacts/model.npz" in out
    assert out.count("  epoch ") == 10
    assert "model.npz" in out and "charts/training_curves.json" in out
    assert (tmp_path / "platform" / "brevettiai.db").exists()
