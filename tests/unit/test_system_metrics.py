"""System metrics (CPU, memory) recorded by a running job as system/... progress series, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from services import wait_for

from brevettiai import Job
from brevettiai.errors import UsageError


class Busy(Job):
    """Runs until its system-metrics sampler is ready (psutil is imported in the sampler's thread)."""

    def run(self) -> None:
        self.log_metrics(1, loss=0.5)
        if self._system_sampler is not None:
            assert self._system_sampler.ready.wait(20)
        sum(i * i for i in range(200_000))


def series_lines(job_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (job_dir / "metrics.jsonl").read_text().splitlines()]


def test_system_metrics_appear_as_series_of_an_offline_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BREVETTI_AI_SYSTEM_METRICS", raising=False)
    job = Busy.init(job_dir=str(tmp_path), argv=[])
    job.start()
    lines = series_lines(tmp_path)
    system = [line for line in lines if "system/cpu_percent" in line]
    assert system, lines
    point = system[-1]
    assert point["system/memory_mb"] > 1  # this Python process holds more than a megabyte
    assert 0 <= point["system/system_memory_percent"] <= 100
    assert point["system/process_cpu_percent"] >= 0
    assert point["run_id"] == job.run_id
    assert any(line.get("loss") == 0.5 for line in lines)  # the job's own points are kept beside them


@pytest.mark.parametrize("how", ["environment", "argument"])
def test_system_metrics_are_off_when_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    if how == "environment":
        monkeypatch.setenv("BREVETTI_AI_SYSTEM_METRICS", "0")
        job = Busy.init(job_dir=str(tmp_path), argv=[])
    else:
        monkeypatch.setenv("BREVETTI_AI_SYSTEM_METRICS", "1")
        job = Busy.init(job_dir=str(tmp_path), argv=[], system_metrics=False)
    job.start()
    lines = series_lines(tmp_path)
    assert [line for line in lines if "loss" in line]
    assert not [name for line in lines for name in line if name.startswith("system/")]


def test_a_sampler_thread_records_while_the_job_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREVETTI_AI_SYSTEM_METRICS_INTERVAL", "1")
    job = Job.init(job_dir=str(tmp_path), argv=[])
    with job:
        sampler = job._system_sampler
        wait_for(lambda: sampler.samples >= 2, 10, what="two system samples")
    steps = [line["step"] for line in series_lines(tmp_path) if "system/cpu_percent" in line]
    assert steps == sorted(steps) and steps[-1] >= 2  # whole seconds since sampling began


@pytest.mark.parametrize("name, value", [("BREVETTI_AI_SYSTEM_METRICS", "maybe"),
                                         ("BREVETTI_AI_SYSTEM_METRICS_INTERVAL", "0.1")])
def test_bad_switch_values_name_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                             value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=name):
        Busy.init(job_dir=str(tmp_path), argv=[])
