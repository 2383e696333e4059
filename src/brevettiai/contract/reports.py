"""What a running job says to its platform, defined once: the bodies of ``/api/jobs/<id>/...`` and the
heartbeat's answer.

The SDK builds these (`brevettiai.platform.link`); the server reads them through subclasses that add
its own checks (`brevettiai.server.schemas`: a run's times not in the future, in order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import AwareDatetime, ConfigDict, Field

from brevettiai.contract.status import ReportedStatus
from brevettiai.contract.wire import WireRecord

if TYPE_CHECKING:
    from brevettiai.contract.jsontypes import JSONObject

__all__ = ["COLUMNS_CONTENT_TYPE", "ExitReport", "HeartbeatAnswer", "MetricBatch", "MetricPoint", "StateReport"]

# The columnar form of a metrics batch, sent with this Content-Type: ``{batchId, steps, times, series:
# {name: [one value per step]}}``; null in a series is "no value at this step", NaN/Infinity a stored null.
# Several times cheaper to build and read than `MetricBatch`, so the SDK sends it and the server parses it
# straight from the bytes (`brevettiai.server.metrics`).
COLUMNS_CONTENT_TYPE = "application/vnd.brevettiai.metric-columns+json"


class ExitReport(WireRecord):
    """How a job ended when it did not complete (more keys are kept as they are)."""

    model_config = ConfigDict(extra="allow")
    code: int | None = None
    exception: str | None = None
    message: str | None = None
    traceback: str | None = None
    signal: str | int | None = None


class StateReport(WireRecord):
    """A state a job reports (``POST .../state``); a run recorded elsewhere (`brevettiai sync`) also gives
    its own times."""

    status: ReportedStatus
    model_path: str | None = None
    exit: ExitReport | None = None
    started: AwareDatetime | None = None
    completed: AwareDatetime | None = None

    def body(self) -> JSONObject:
        """The JSON body: camelCase keys, only the fields given."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class HeartbeatAnswer(WireRecord):
    """The answer to ``POST .../heartbeat``: the job's status and whether it was asked to stop.

    ``status`` is any text here: a stop request must reach a job even from a platform that knows more
    statuses than the job's SDK (the server answers a `JobStatus`, `brevettiai.server.schemas.HeartbeatOut`).
    """

    status: str = Field(description="The job's status (a JobStatus)")
    stop_requested: bool


class MetricPoint(WireRecord):
    """Metric values at a step (time: epoch seconds, default now); a NaN or infinite value is stored as null."""

    model_config = ConfigDict(ser_json_inf_nan="constants")  # written as JSON's NaN/Infinity, like json.dumps
    step: int
    time: float | None = None
    values: dict[str, float | None]


class MetricBatch(WireRecord):
    """A batch of metric points (``POST .../metrics``, the point form); ``batchId`` makes a retried batch
    count once."""

    batch_id: str = Field(min_length=1, max_length=64)
    points: list[MetricPoint]
