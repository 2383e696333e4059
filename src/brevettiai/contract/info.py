"""A job's ``info.json``, defined once: the server writes it (`brevettiai.server.jobs.build_info`), the SDK
reads it (`brevettiai.job.Job`, through the backend's ``load_info``).

Plain `TypedDict`s, checked by mypy on both sides and free at run time: a job's start reads the file as
JSON and validates nothing here (the SDK turns datasets and tags into its records itself). The keys
the server writes are the required ones; a hand-written or offline info file may leave any key out,
so the SDK reads every key with ``.get``.
"""

# No `from __future__ import annotations`: TypedDict sees `NotRequired` only in evaluated annotations.
from typing import TYPE_CHECKING, NotRequired, TypedDict

if TYPE_CHECKING:
    from brevettiai.contract.jsontypes import JSONObject

__all__ = ["ENDPOINT_KEYS", "InfoJob", "InfoModelType", "InfoParent", "JobInfo"]


class InfoJob(TypedDict):
    """A dataset or model the job reads: its files are at ``/api/files/<id>/...`` (``bucket``)."""

    id: str
    name: str
    bucket: str


class InfoParent(InfoJob):
    """The model a report is about."""

    kind: str


class InfoModelType(TypedDict):
    """The job's model type."""

    id: str
    name: str


class JobInfo(TypedDict):
    """The keys of ``info.json``: the required ones are what the server writes, never the job's key."""

    id: str
    name: str
    kind: str
    host_name: str | None
    run_id: str | None
    settings: "JSONObject | str"
    datasets: list[InfoJob]
    tags: "list[JSONObject]"  # `brevettiai.contract.records.TagRecord`s on the wire
    models: list[InfoJob]  # a report's model (its parent), else none
    parent: InfoParent | None
    charts_url: str
    complete_url: str
    remote_url: str
    model_type: InfoModelType | None
    # Written by others (an offline job, an earlier platform), read by the SDK when present.
    api_key: NotRequired[str]
    model_path: NotRequired[str | None]
    security_credentials_url: NotRequired[str | None]


# The endpoints a job calls, by the name `Job.api_endpoints` gives them -> the info key of their URL.
ENDPOINT_KEYS: dict[str, str] = {"charts": "charts_url", "complete": "complete_url", "remote": "remote_url",
                                 "security_credentials": "security_credentials_url"}
