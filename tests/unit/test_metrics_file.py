"""An offline job's metrics.jsonl: one JSON line per point, with its run id, kept through a kill."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from services import wait_for

from brevettiai import Job


def lines(job_dir: Path) -> list[dict]:
    """The file's complete lines (a writer may be in the middle of one)."""
    path = job_dir / "metrics.jsonl"
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


def test_each_line_is_the_point_as_json_with_its_run_id(tmp_path: Path) -> None:
    job = Job.init(job_dir=str(tmp_path), argv=[], system_metrics=False)
    job.log_metrics(0, loss=1.0, accuracy=None)
    job.log_metrics(1, loss=float("nan"))  # accuracy missing at this step: left out of the line
    job.log_metrics(2, loss=3, accuracy=True, note="a, b")
    job.flush_metrics()
    for step in range(3, 6):  # a batch where every point names every series
        job.log_metrics(step, loss=step / 3, accuracy=float("inf"))
    job.complete()
    raw = (tmp_path / "metrics.jsonl").read_text().splitlines()
    points = [json.loads(line) for line in raw]
    for line, point in zip(raw, points, strict=True):
        assert line == json.dumps(point)  # exactly what json.dumps of the point writes
        assert point["run_id"] == job.run_id and point["time"].endswith("Z")
    assert [p["step"] for p in points] == [0, 1, 2, 3, 4, 5]
    assert points[0]["loss"] == 1.0 and points[0]["accuracy"] is None
    assert math.isnan(points[1]["loss"]) and "accuracy" not in points[1]
    assert points[2]["loss"] == 3 and points[2]["accuracy"] is True and points[2]["note"] == "a, b"
    assert [p["loss"] for p in points[3:]] == [1.0, 4 / 3, 5 / 3]
    assert all(p["accuracy"] == math.inf for p in points[3:])


def test_numpy_scalars_are_written_as_numbers(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    job = Job.init(job_dir=str(tmp_path), argv=[], system_metrics=False)
    job.log_metrics(0, loss=np.float32(0.5), count=np.int64(3))
    job.complete()
    (point,) = lines(tmp_path)
    assert point["loss"] == 0.5 and point["count"] == 3


def test_a_metric_named_like_a_field_does_not_replace_the_run_id(tmp_path: Path) -> None:
    job = Job.init(job_dir=str(tmp_path), argv=[], system_metrics=False)
    job.log_metrics(4, run_id=1.0, loss=0.5)
    job.complete()
    (point,) = lines(tmp_path)
    assert point == {"step": 4, "time": point["time"], "run_id": job.run_id, "loss": 0.5}


KILLED = textwrap.dedent("""
    import sys, time
    from brevettiai import Job

    job = Job.init(job_dir=sys.argv[1], argv=[], system_metrics=False)
    for step in range(int(sys.argv[2])):
        job.log_metrics(step, loss=1.0 / (step + 1))
    print(job.run_id, flush=True)
    time.sleep(60)  # killed while it runs
""")


@pytest.mark.parametrize("points", [3, 2500])
def test_points_reach_the_file_while_the_job_runs_and_survive_a_kill(tmp_path: Path, points: int) -> None:
    """Every full thousand of points is in the file before log_metrics returns; the rest follows within a second."""
    process = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp_path), str(points)], stdout=subprocess.PIPE,
                               text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    try:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        assert run_id, "the job did not start"
        kept_at_once = points - points % 1000
        assert len(lines(tmp_path)) >= kept_at_once
        wait_for(lambda: len(lines(tmp_path)) == points, timeout=20, what="the background writer")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    written = lines(tmp_path)
    assert [p["step"] for p in written] == list(range(points))
    assert {p["run_id"] for p in written} == {run_id}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_does_not_write_the_parents_points_again(tmp_path: Path) -> None:
    """A data loader's forked worker that logs a point writes only its own; the parent writes its own once."""
    job = Job.init(job_dir=str(tmp_path), argv=[], system_metrics=False)
    for step in range(3):
        job.log_metrics(step, loss=1.0)
    pid = os.fork()
    if pid == 0:
        try:
            job.log_metrics(100, loss=0.0)
            job.flush_metrics()
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    job.complete()
    assert sorted(p["step"] for p in lines(tmp_path)) == [0, 1, 2, 100]
