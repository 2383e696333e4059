"""The example job trains for real, offline, and leaves a complete job directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_job_trains_and_completes(tmp_path: Path) -> None:
    job_dir = tmp_path / "lr"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "logistic_regression.py"), "--job_dir", str(job_dir),
         "--training.epochs", "60", "--training.log_every", "20", "--data.noise", "0.1"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    state = json.loads((job_dir / "status.json").read_text())
    assert state["status"] == "completed" and state["model_path"] == "artifacts/model.npz"
    output = json.loads((job_dir / "artifacts" / "output.json").read_text())
    assert output["output"]["test_accuracy"] > 0.8  # it learned something from nearly noise-free data
    assert output["job"]["settings"]["training"]["epochs"] == 60
    chart = json.loads((job_dir / "artifacts" / "charts" / "training_curves.json").read_text())
    assert chart["mark"]["type"] == "line" and chart["data"]["values"]
    points = (job_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(p)["step"] for p in points if "system/" not in p] == [20, 40, 60]


def test_example_job_rejects_a_bad_setting_clearly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "logistic_regression.py"), "--job_dir", str(tmp_path / "x"),
         "--training.epochs", "0"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--training.epochs '0'" in result.stderr and "greater than or equal to 1" in result.stderr
