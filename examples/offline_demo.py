"""`make demo-offline`: run the example job offline in a fresh job directory and show what it left there."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOB_SCRIPT = ROOT / "examples" / "logistic_regression.py"


def write_info(job_dir: Path) -> dict:
    """Write the job's info.json as a platform would: id, name and form settings (JSON text included)."""
    info = {
        "id": str(uuid.uuid4()),
        "name": "Logistic regression demo",
        "settings": {"data": {"n_samples": 4000, "noise": "0.8"}, "training": {"learning_rate": 0.3}},
        "datasets": [],
        "tags": [],
    }
    job_dir.mkdir(parents=True)
    (job_dir / "info.json").write_text(json.dumps(info, indent=2))
    return info


def show_tree(job_dir: Path) -> None:
    """List the job directory with file sizes."""
    for path in sorted(job_dir.rglob("*")):
        if path.is_file():
            print(f"  {path.relative_to(job_dir)!s:<40} {path.stat().st_size:>8} bytes")


def main() -> int:
    job_dir = ROOT / "runs" / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    info = write_info(job_dir)
    command = [sys.executable, str(JOB_SCRIPT), "--job_dir", str(job_dir),
               "--training.epochs", "150", "--training.log_every", "15"]
    print(f"Running the example job {info['id']} offline:\n  {' '.join(command[1:])}\n", flush=True)
    result = subprocess.run(command)
    if result.returncode != 0:
        print(f"\nThe job failed (exit code {result.returncode}); see {job_dir / 'status.json'}")
        return result.returncode
    state = json.loads((job_dir / "status.json").read_text())
    output = json.loads((job_dir / "artifacts" / "output.json").read_text())
    metrics = (job_dir / "metrics.jsonl").read_text().splitlines()
    print(f"\nJob {state['status']} in {job_dir}")
    print(f"  model:    {state['model_path']}")
    print(f"  results:  {json.dumps(output['output'])}")
    print(f"  progress: {len(metrics)} metric points in metrics.jsonl, last: {metrics[-1]}")
    print(f"  settings: {json.dumps(output['job']['settings'])}")
    print("\nWhat the job left in its directory:")
    show_tree(job_dir)
    print(f"\nOpen {job_dir / 'artifacts' / 'report.html'} for the report; "
          f"artifacts/charts/training_curves.json is a Vega-Lite chart.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
