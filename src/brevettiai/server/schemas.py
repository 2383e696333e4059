"""The records of the HTTP API as pydantic models: camelCase on the wire, snake_case in Python.

The records the SDK reads too (logins and tokens, users, tags, datasets, model types, models and
reports, artifact entries), what a job sends (state, exit, metric points; the heartbeat's answer) and
the bodies the web API takes (``*In``: datasets, tags, model types, models, reports) are defined once in
`brevettiai.contract.records`, `.reports` and `.requests`; the models here are those under the server's
names, with the server's own checks. The server-only bodies and answers are defined here.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from brevettiai.contract.records import (
    DatasetRecord,
    FileEntryRecord,
    JobRecord,
    LoginRequest,
    ModelTypeRecord,
    TagRecord,
    TokenRecord,
    UserRecord,
    WireRecord,
)
from brevettiai.contract.reports import ExitReport, HeartbeatAnswer, MetricBatch, StateReport
from brevettiai.contract.requests import (
    DatasetRequest,
    ModelRequest,
    ModelTypeRequest,
    ReportRequest,
    TagRequest,
)
from brevettiai.contract.status import JobStatus

MAX_OFFSET = 2**53  # list offsets beyond what any table holds are refused (422), not passed to the database
MAX_PAGE = 10**9


CLOCK_SKEW = datetime.timedelta(minutes=5)  # how far ahead of the server's clock a reported time may be

Wire = WireRecord  # base of every record: camelCase aliases, snake_case names accepted, unknown keys ignored


# Auth ---------------------------------------------------------------------------------------------

class Login(LoginRequest):
    """Credentials for a user token."""


class UserOut(UserRecord):
    """A user (never its password)."""


class TokenOut(TokenRecord):
    """A new user token, when it expires and whose it is."""

    user: UserOut


# Datasets and tags ----------------------------------------------------------------------------------

class DatasetIn(DatasetRequest):
    """A dataset to create."""


class DatasetOut(DatasetRecord):
    """A dataset; its files are at ``/api/files/<id>/...`` (``bucket`` for the SDK)."""


class TagIn(TagRequest):
    """A tag to create: a root, or below ``parentId``."""


class TagOut(TagRecord):
    """A tag with its subtree."""

    children: list[TagOut] = Field(default_factory=list)


# Model types ----------------------------------------------------------------------------------------

class ModelTypeIn(ModelTypeRequest):
    """A model type to create."""


class ModelTypeOut(ModelTypeRecord):
    """What jobs of this type run: command, working dir, settings form and defaults."""


# Models and reports ---------------------------------------------------------------------------------

class ModelIn(ModelRequest):
    """A model to create."""


class ReportIn(ReportRequest, ModelIn):
    """A report to create, on the model ``parentId``."""


MAX_NOTES = 100_000  # characters of a run's notes


class JobPatch(Wire):
    """What a user may change about a model or report after creating it; only the keys given change."""

    model_config = ConfigDict(**WireRecord.model_config, extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=255)
    notes: str | None = Field(None, max_length=MAX_NOTES, description="Markdown; shown rendered (HTML is not)")
    tag_ids: list[str] | None = Field(None, max_length=1000, description="The run's tags (all of them)")


class JobOut(JobRecord):
    """A model or report."""


class JobLog(Wire):
    """A part of a job's log (stdout and stderr), for following it."""

    offset: int = Field(description="The byte of the log `text` starts at")
    next_offset: int = Field(description="The offset to ask for next")
    size: int = Field(description="The log's size in bytes so far")
    text: str = Field(description="The log from `offset`, whole UTF-8 characters (invalid bytes replaced)")
    active: bool = Field(description="The job may still write to it")
    complete: bool = Field(description="The job has ended and the whole log was read")
    exists: bool = Field(description="The job has written a log")


class JobList(Wire):
    """One page of models or reports, and how many match in all."""

    items: list[JobOut]
    total: int


class RunList(JobList):
    """One page of the runs table: the jobs, how many match in all, and the chosen columns' values."""

    columns: list[str] = Field(default_factory=list, description="The fields asked for in `columns`, as written "
                               "in a filter (e.g. settings.training.epochs, metrics.test_accuracy)")
    values: list[dict[str, Any]] = Field(default_factory=list, description="Per item (same order): each column's "
                                         "value by its name; null where the run has none")


class FileEntry(FileEntryRecord):
    """A file or folder below a job's artifacts/."""


class MetricSeries(Wire):
    """Progress metrics by name."""

    series: dict[str, list[list[float | None]]] = Field(
        description="name -> [[step, value, time], ...] by step; a series longer than max_points as min/max "
                    "buckets: each bucket's lowest value at its first step, its highest at its last step")
    counts: dict[str, int] = Field(default_factory=dict, description="name -> points stored in the range read")
    bucket_steps: dict[str, int] = Field(default_factory=dict, description="name -> steps per bucket; 1: every "
                                                                           "point is in the answer")
    cursor: int | None = Field(None, description="Pass as `after` to read only the points stored since")


# Files ----------------------------------------------------------------------------------------------

class LsEntry(BaseModel):
    """A file or folder of a listing."""

    name: str
    type: Literal["file", "directory"]
    size: int
    md5: str | None
    mtime: float | None


class Stored(BaseModel):
    """Where a PUT stored the file, its size and md5."""

    path: str
    size: int
    md5: str


class Refused(BaseModel):
    """A file of the archive that was not stored, and why (the answer ``PUT /api/files`` would give)."""

    name: str = Field(description="its name in the archive")
    status: int
    detail: str


class ArchiveStored(BaseModel):
    """The files stored from an archive, in the order they came, and those refused."""

    files: list[Stored]
    refused: list[Refused] = []


# Job side -------------------------------------------------------------------------------------------

class ExitIn(ExitReport):
    """How a job ended when it did not complete."""


class StateIn(StateReport):
    """A state a job reports; a run recorded elsewhere (`brevettiai sync`) also gives its own times."""

    exit: ExitIn | None = None

    @model_validator(mode="after")
    def _times_in_order(self) -> StateIn:
        latest = datetime.datetime.now(datetime.UTC) + CLOCK_SKEW
        for name in ("started", "completed"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                value = value.astimezone(datetime.UTC)
            except OverflowError:  # e.g. year 1 at +14:00: before the first moment a datetime can hold in UTC
                raise ValueError(f"{name} {value.isoformat()} is out of range") from None
            if value > latest:
                raise ValueError(f"{name} {value.isoformat()} is in the future; a run's own times are in the past")
            setattr(self, name, value)
        if self.completed is not None and self.status == "running":
            raise ValueError("completed is accepted only with a final status (completed, failed, killed)")
        if self.started is not None and self.completed is not None and self.completed < self.started:
            raise ValueError(f"completed {self.completed.isoformat()} is before started {self.started.isoformat()}")
        return self


class HeartbeatOut(HeartbeatAnswer):
    """The job's status and whether it was asked to stop."""

    status: JobStatus


class ClaimIn(Wire):
    """The runner's task of a run claims it before starting the job."""

    run_id: str
    # Chosen at random by the task attempt: the same claim sent again is recognised as its own.
    claim_token: str | None = Field(default=None, max_length=64)


class ClaimOut(Wire):
    """The run is this task's to run; whether a stop was asked for meanwhile."""

    claimed: bool
    stop_requested: bool


class RunExitIn(Wire):
    """How the process of a run ended (neither code nor signal: it never started), or that its worker was lost."""

    run_id: str
    code: int | None = None
    signal: str | None = None
    lost: bool = False


class MetricsIn(MetricBatch):
    """A batch of metric points; ``batchId`` makes a retried batch count once."""


class Accepted(Wire):
    """How many points were accepted."""

    accepted: int


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its nested definitions written in place (for hand-made OpenAPI bodies)."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)
