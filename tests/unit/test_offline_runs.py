"""Reading the runs of a reused offline job directory, as `brevettiai sync` sends them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brevettiai.errors import UsageError
from brevettiai.utils._offline_runs import read_job, read_points


def _folder(tmp_path: Path) -> Path:
    """A folder as an older SDK left it: two earlier runs (one without output.json), a current one, and
    metrics lines of each run, some from before run ids, one of a run the folder no longer knows."""
    folder = tmp_path / "job"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "info.json").write_text(json.dumps({"id": "j1", "name": "train", "settings": {"epochs": 1}}))
    runs = {"2026-01-02T000000.000000": ("completed", {"epochs": 2}), "2026-01-01T000000.000000": ("failed", None)}
    for run_id, (status, settings) in runs.items():
        (folder / "runs" / run_id).mkdir(parents=True)
        (folder / "runs" / run_id / "status.json").write_text(json.dumps(
            {"status": status, "run_id": run_id, "created": run_id[:10] + "T00:00:00.000Z"}))
        if settings is not None:
            (folder / "runs" / run_id / "output.json").write_text(json.dumps({"job": {"name": "t2", "settings": settings}}))
    (folder / "status.json").write_text(json.dumps({"status": "completed", "run_id": "2026-01-03T000000.000000",
                                                    "created": "2026-01-03T00:00:00.000Z"}))
    (folder / "artifacts" / "output.json").write_text(json.dumps({"job": {"name": "t3", "settings": {"epochs": 3}}}))
    lines = [{"step": 0, "time": "2025-12-31T00:00:00Z", "loss": 9.0},  # before run ids: the oldest run's
             {"step": 0, "run_id": "2026-01-01T000000.000000", "loss": 1.0},
             {"step": 0, "run_id": "2026-01-02T000000.000000", "loss": 2.0, "flag": True},
             {"step": 0, "run_id": "gone", "loss": 5.0},
             {"step": 0, "run_id": "2026-01-03T000000.000000", "loss": 3.0},
             {"step": 1, "run_id": "2026-01-03T000000.000000", "loss": float("nan")},
             {"step": 2, "run_id": "2026-01-03T000000.000000", "loss": 10**400},  # beyond a float: skipped
             {"step": 2**64, "run_id": "2026-01-03T000000.000000", "loss": 1.0}]  # beyond a step: skipped
    (folder / "metrics.jsonl").write_text("\n".join([*map(json.dumps, lines), "not json"]) + "\n")
    return folder


def test_runs_come_oldest_first_with_their_settings_and_points(tmp_path: Path) -> None:
    job = read_job(_folder(tmp_path))
    assert [run.run_id for run in job.runs] == ["2026-01-01T000000.000000", "2026-01-02T000000.000000",
                                                "2026-01-03T000000.000000"]
    assert [run.current for run in job.runs] == [False, False, True]
    assert [run.state.status for run in job.runs] == ["failed", "completed", "completed"]
    assert [run.settings for run in job.runs] == [{"epochs": 1}, {"epochs": 2}, {"epochs": 3}]
    assert [run.settings_from_info for run in job.runs] == [True, False, False]
    assert [run.name for run in job.runs] == ["train", "t2", "t3"]
    assert job.runs[0].output_file is None and job.runs[1].output_file is not None

    read_points(job, job.runs)
    assert [[p["values"] for p in run.points] for run in job.runs] == [[{"loss": 9.0}, {"loss": 1.0}],
                                                                       [{"loss": 2.0}], [{"loss": 3.0}]]


def test_points_are_read_only_for_the_runs_sent(tmp_path: Path) -> None:
    job = read_job(_folder(tmp_path))
    read_points(job, job.runs[1:2])
    assert [len(run.points) for run in job.runs] == [0, 1, 0]


def test_a_run_is_chosen_by_its_id_or_current(tmp_path: Path) -> None:
    job = read_job(_folder(tmp_path))
    assert [run.run_id for run in job.select("current")] == ["2026-01-03T000000.000000"]
    assert [run.run_id for run in job.select("2026-01-02T000000.000000")] == ["2026-01-02T000000.000000"]
    assert len(job.select(None)) == 3
    with pytest.raises(UsageError, match=r"--run '2026' is not a run of .*: accepted values are current, "
                                         r"2026-01-01T000000.000000, 2026-01-02T000000.000000"):
        job.select("2026")
