"""`brevettiai sync` reports a run's state as the contract's `StateReport`: the run's own times when they
are times with a zone, and without them (the platform's clock then stamps the state) when they are not."""

from __future__ import annotations

import pytest

from brevettiai.contract.reports import ExitReport
from brevettiai.utils.sync import _report


def test_a_run_reports_its_own_times_in_wire_names() -> None:
    report = _report("completed", started="2026-11-30T10:00:00.000Z", completed="2026-11-30T10:05:00.000Z",
                     model_path="artifacts/model.onnx", exit=ExitReport(code=0))
    assert report.body() == {"status": "completed", "modelPath": "artifacts/model.onnx", "exit": {"code": 0},
                             "started": "2026-11-30T10:00:00Z", "completed": "2026-11-30T10:05:00Z"}


@pytest.mark.parametrize("bad", ["2026-11-30T10:00:00", "yesterday"])
def test_a_time_without_a_zone_is_left_to_the_platform_with_a_warning(bad: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    report = _report("failed", started=bad, completed="2026-11-30T10:05:00+01:00")
    assert report.body() == {"status": "failed", "completed": "2026-11-30T10:05:00+01:00"}
    assert f"started time {bad!r}" in caplog.text
