"""`RemoteMonitor` gets its job's metrics stream handed to it, or finds it by address: never as "the current job"."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest

from brevettiai import Job
from brevettiai.interfaces.remote_monitor import RemoteMonitor
from brevettiai.platform.metrics_sinks import endpoint_address, register_sink, sink_for, unregister_sink

REMOTE = "/api/jobs/{}/remotemonitor"


def _offline_job(folder: Path, job_id: str) -> Job:
    folder.mkdir()
    (folder / "info.json").write_text(json.dumps({"id": job_id, "name": job_id}))
    return Job.init(job_dir=str(folder), argv=[], log_level=30, system_metrics=False)


def _points(folder: Path) -> list[tuple[int, dict]]:
    lines = (folder / "metrics.jsonl").read_text().splitlines() if (folder / "metrics.jsonl").exists() else []
    records = [json.loads(line) for line in lines]
    return [(r["step"], {k: v for k, v in r.items() if k not in ("step", "time", "run_id")}) for r in records]


def test_the_jobs_own_monitor_reports_into_its_metrics_offline_too(tmp_path: Path) -> None:
    with _offline_job(tmp_path / "a", "a") as job:
        monitor = job.get_remote_monitor()
        for epoch in range(3):
            monitor.on_epoch_end(np.int64(epoch), {"acc": np.float32(0.5), "confusion": np.eye(2, dtype=int)})
        monitor.on_train_end()
        assert len(_points(tmp_path / "a")) == 3  # on_train_end flushed them
    assert _points(tmp_path / "a") == [(e, {"acc": 0.5, "confusion": [[1, 0], [0, 1]]}) for e in range(3)]


def test_one_address_however_it_is_written() -> None:
    address = endpoint_address("http://127.0.0.1:8000", "/api/jobs/j1/remotemonitor")
    assert address == "http://127.0.0.1:8000/api/jobs/j1/remotemonitor"
    assert endpoint_address("http://127.0.0.1:8000/", "api/jobs/j1/remotemonitor?key=x#top") == address
    assert endpoint_address("127.0.0.1:8000", "/api/jobs/j1/remotemonitor") == address
    assert endpoint_address("http://elsewhere", address) == address  # a whole URL is its own address
    assert endpoint_address("HTTP://127.0.0.1:8000", "/api/jobs/j1/remotemonitor/") == address
    assert endpoint_address("Http://Platform.Example:80/", "api/jobs/J1") == "http://platform.example/api/jobs/J1"
    assert endpoint_address("https://platform.example:443", "/a") == "https://platform.example/a"
    assert endpoint_address("https://platform.example:8443/prefix/", "/a") == "https://platform.example:8443/prefix/a"
    assert endpoint_address("http://[::1]:8000", "/a") == "http://[::1]:8000/a"
    assert endpoint_address(None, "/api/jobs/j1/remotemonitor") is None
    assert endpoint_address("http://127.0.0.1:8000", None) is None


def test_a_monitor_finds_the_stream_of_its_own_address_among_several_jobs(tmp_path: Path) -> None:
    root = "http://platform.example:8000"
    first, second = _offline_job(tmp_path / "a", "a"), _offline_job(tmp_path / "b", "b")
    register_sink(first.backend, [root, "http://other-name-of-the-platform"], REMOTE.format("a"))
    register_sink(second.backend, [root], REMOTE.format("b"))  # created last: no "current job" wins
    try:
        for epoch in range(2):
            RemoteMonitor(root=root + "/", path=REMOTE.format("a") + "?key=old").on_epoch_end(epoch, {"x": epoch})
            RemoteMonitor(root=root, path=REMOTE.format("b")).on_epoch_end(epoch, {"x": 10 + epoch})
        RemoteMonitor(root="http://other-name-of-the-platform", path=REMOTE.format("a")).on_epoch_end(2, {"x": 2})
        assert sink_for(root, REMOTE.format("c")) is None  # another job's address: posted, not taken
        first.complete()
        second.complete()
    finally:
        unregister_sink(first.backend)
        unregister_sink(second.backend)
    assert _points(tmp_path / "a") == [(0, {"x": 0}), (1, {"x": 1}), (2, {"x": 2})]
    assert _points(tmp_path / "b") == [(0, {"x": 10}), (1, {"x": 11})]
    assert sink_for(root, REMOTE.format("a")) is None


def test_a_sink_that_is_gone_is_not_found(tmp_path: Path) -> None:
    job = _offline_job(tmp_path / "a", "a")
    register_sink(job.backend, ["http://platform.example"], REMOTE.format("a"))
    assert sink_for("http://platform.example", REMOTE.format("a")) is job.backend
    job.complete()
    del job
    gc.collect()
    assert sink_for("http://platform.example", REMOTE.format("a")) is None


def test_a_monitor_for_another_name_of_the_platform_finds_the_job_by_its_path(tmp_path: Path) -> None:
    job = _offline_job(tmp_path / "a", "a")
    register_sink(job.backend, ["http://127.0.0.1:8000"], REMOTE.format("a"))
    try:
        for root, path in [("http://localhost:8000", REMOTE.format("a")), (None, REMOTE.format("a") + "/"),
                           ("http://proxy.example", "http://proxy.example" + REMOTE.format("a")),
                           ("http://[not-an-address", REMOTE.format("a"))]:  # no error in the training loop
            assert sink_for(root, path) is job.backend, (root, path)
        assert sink_for("http://localhost:8000", REMOTE.format("b")) is None
        assert sink_for("http://localhost:8000", REMOTE.format("a").upper()) is None  # a job id's case counts
    finally:
        unregister_sink(job.backend)
        job.complete()
    assert sink_for("http://localhost:8000", REMOTE.format("a")) is None


def test_the_old_job_argument_still_reports_into_the_jobs_stream_with_a_deprecation_warning(tmp_path: Path) -> None:
    with _offline_job(tmp_path / "a", "a") as job:
        with pytest.warns(DeprecationWarning, match="job.get_remote_monitor"):
            by_name = RemoteMonitor(root=None, path=None, job=job)
        with pytest.warns(DeprecationWarning):
            by_place = RemoteMonitor(None, None, None, job)  # the old fourth argument
        by_name.on_epoch_end(0, {"x": 0})
        by_place.on_epoch_end(1, {"x": 1})
        by_place.on_train_end()
        assert _points(tmp_path / "a") == [(0, {"x": 0}), (1, {"x": 1})]
