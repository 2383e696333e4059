"""Where a job keeps its record: an offline folder or a platform, behind one `JobBackend` protocol.

`Job` never asks which one it has. `backend_for` picks the backend from the job's location, the way
fsspec picks a filesystem by protocol: a ``brevettiai://`` job dir is served by a platform, anything
else (a folder, any fsspec URL) is an offline job directory.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from brevettiai import _state
from brevettiai._location import JobLocation
from brevettiai._metrics_file import MetricsFile
from brevettiai._state import JobState
from brevettiai.contract import scheme
from brevettiai.contract.jsontypes import JSONMapping, JSONObject
from brevettiai.errors import JobNotFoundError, UsageError
from brevettiai.io import IoTools
from brevettiai.io import path as io_path

if TYPE_CHECKING:
    from brevettiai.contract.info import JobInfo
    from brevettiai.datamodel import Tag
    from brevettiai.platform.link import PlatformLink

log = logging.getLogger("brevettiai.platform.job")

METRICS_FILE = "metrics.jsonl"
RUNS_FOLDER = "runs"  # an offline job dir keeps earlier runs' status.json and output.json in runs/<run id>/
OUTPUT_FILE = "artifacts/output.json"
_METRICS_BUFFER = 1000  # offline points kept in memory at most before they are appended to the file


class JobBackend(Protocol):
    """What a job says about itself, and to whom."""

    io: IoTools

    def load_info(self, job_name: str) -> JSONObject:
        """The job's info.json; a missing or unreadable one is a `JobNotFoundError`."""

    def begin_run(self, run_id: str) -> None:
        """A new run of the job starts (offline: an earlier run's record in a reused folder is kept aside)."""

    def record_state(self, state: JobState) -> None:
        """Keep the job's state (status.json offline; the platform's record otherwise)."""

    def job_started(self) -> None:
        """The job runs now (a platform job starts its heartbeat)."""

    def log_metrics(self, step: int, values: JSONMapping) -> None:
        """Record one progress point."""

    def flush_metrics(self) -> None:
        """Deliver or write the progress points recorded so far."""

    def save_chart(self, file_name: str, spec: str) -> str:
        """Keep a Vega-Lite chart; returns its path relative to the job dir."""

    def root_tags(self, tags: Sequence[Tag]) -> Sequence[Tag | JSONObject]:
        """The root tags as wire dicts or Tag records (offline: the job's own tags without a parent)."""

    def close(self) -> None:
        """The job ended: deliver what is left; nothing more is sent after this."""


class OfflineBackend:
    """A job directory without a server: info.json, status.json and metrics.jsonl in the folder."""

    def __init__(self, location: JobLocation, io: IoTools) -> None:
        self.location = location
        self.io = io
        self.job_dir = location.job_dir
        self._metrics = MetricsFile(io_path.join(self.job_dir, METRICS_FILE), self.io, max_points=_METRICS_BUFFER)
        self.log_metrics = self._metrics.add  # the training loop's call goes straight to the columns

    def load_info(self, job_name: str) -> JSONObject:
        location = self.location
        try:
            raw = self.io.read_file(location.info_file)
        except FileNotFoundError:
            if not location.create_if_missing:
                raise JobNotFoundError(
                    f"No info.json for job '{location.job_id or '?'}' at {location.info_file}: "
                    f"check --job_dir / --info_file, or give --job_dir DIR of a new offline job") from None
            return self._new_info(job_name)
        log.info("Config args found at: '%s'", location.info_file)
        try:
            info: Any = json.loads(raw)
        except ValueError as exc:
            raise JobNotFoundError(f"The job's info file {location.info_file} is not valid JSON: {exc}") from None
        if not isinstance(info, dict) or "id" not in info:
            raise JobNotFoundError(f"The job's info file {location.info_file} is not a job description: "
                                   f"expected a JSON object with at least an \"id\"")
        if location.job_id and str(info["id"]) != location.job_id:
            raise JobNotFoundError(f"The info file {location.info_file} describes job '{info['id']}', "
                                   f"not the job '{location.job_id}' that was asked for")
        return info

    def _new_info(self, job_name: str) -> dict[str, Any]:
        location = self.location
        info: dict[str, Any] = {"id": location.job_id or str(uuid.uuid4()), "name": job_name, "settings": {},
                "datasets": [], "tags": [], "host_name": location.host}
        self.io.write_file(location.info_file, json.dumps(info, indent=2))
        log.info("No info.json in %s: started a new offline job %s", location.job_dir, info["id"])
        return info

    def begin_run(self, run_id: str) -> None:
        """Keep an earlier run's status.json and output.json in runs/<its run id>/ before this run writes its own."""
        self._metrics.run_id = run_id
        state_file = io_path.join(self.job_dir, _state.STATE_FILE)
        try:
            previous = json.loads(self.io.read_file(state_file))
        except (FileNotFoundError, ValueError):
            return
        earlier = str(previous.get("run_id") or "") if isinstance(previous, dict) else ""
        if not earlier or earlier == run_id:
            return
        _refuse_a_live_run(self.job_dir, earlier, previous)
        kept = io_path.join(self.job_dir, RUNS_FOLDER, _safe_name(earlier))
        self.io.move(state_file, io_path.join(kept, _state.STATE_FILE))
        output = io_path.join(self.job_dir, *OUTPUT_FILE.split("/"))
        if self.io.exists(output):
            self.io.move(output, io_path.join(kept, "output.json"))
        log.warning("The job dir %s was used by run %s before; its status and output are kept in %s "
                    "(metrics.jsonl lines carry their run id)", self.job_dir, earlier, kept)

    def record_state(self, state: JobState) -> None:
        self.io.write_file(io_path.join(self.job_dir, _state.STATE_FILE), json.dumps(state.to_dict(), indent=2))

    def job_started(self) -> None:
        return None

    log_metrics: Callable[[int, JSONMapping], None]

    def flush_metrics(self) -> None:
        """Append the points recorded so far to ``<job_dir>/metrics.jsonl``."""
        self._metrics.flush()

    def save_chart(self, file_name: str, spec: str) -> str:
        relative = f"artifacts/charts/{file_name}.json"
        self.io.write_file(io_path.join(self.job_dir, *relative.split("/")), spec)
        return relative

    def root_tags(self, tags: Sequence[Tag]) -> Sequence[Tag | JSONObject]:
        return [tag for tag in tags if not tag.parent_id]

    def close(self) -> None:
        self._metrics.close()


class PlatformBackend:
    """A job served by a platform: everything goes through its job endpoints with the job key."""

    def __init__(self, location: JobLocation, link: PlatformLink, io: IoTools) -> None:
        self.location = location
        self.link = link
        self.io = io

    def begin_run(self, run_id: str) -> None:
        return None  # the platform gives every run its own id and record

    def load_info(self, job_name: str) -> JSONObject:
        info = self.link.fetch_info()
        log.info("Config args found at: '%s'", self.location.info_file)
        self._take_remote_monitor_points(info)
        return info

    def _take_remote_monitor_points(self, info: JSONObject) -> None:
        """Points a `RemoteMonitor` of this process sends to the job's remote endpoint join its metrics stream.

        Registered under each name of the platform: the host it was reached at and the host name its info gives.
        """
        from brevettiai.platform.metrics_sinks import register_sink

        known = cast("JobInfo", info)
        remote = known.get("remote_url")
        host_name = known.get("host_name")
        register_sink(self, (self.link.host, self.location.host, host_name if isinstance(host_name, str) else None),
                      remote if isinstance(remote, str) else None)

    def record_state(self, state: JobState) -> None:
        if state.status == "created":  # the platform created the job and keeps its state
            return
        self.link.set_state(state.status, state.model_path, cast("JSONMapping | None", state.to_dict()["exit"]))

    def job_started(self) -> None:
        self.link.start_heartbeat()

    def log_metrics(self, step: int, values: JSONMapping) -> None:
        self.link.log_metrics(step, values)  # taken into columns at once: no copy needed

    def flush_metrics(self) -> None:
        self.link.flush_metrics()

    def save_chart(self, file_name: str, spec: str) -> str:
        self.link.upload_chart(file_name, spec)  # the platform also saves the artifact file
        return f"artifacts/charts/{file_name}.json"

    def root_tags(self, tags: Sequence[Tag]) -> Sequence[Tag | JSONObject]:
        return self.link.root_tags()

    def close(self) -> None:
        from brevettiai.platform.metrics_sinks import unregister_sink

        unregister_sink(self)  # a monitor used after the job's end posts itself: this stream is closed
        self.link.close()


def backend_for(location: JobLocation, io: IoTools | None) -> JobBackend:
    """The backend serving a job at `location` (and the io it reads and writes with)."""
    if location.on_platform:
        from brevettiai.platform.link import PlatformLink

        job_id = location.job_id or scheme.strip_scheme(location.job_dir).split("/")[0]
        link = PlatformLink(location.host or "", job_id, location.api_key)
        io = io or IoTools(storage_options={scheme.PROTOCOL: {"host": link.host, "api_key": location.api_key}})
        return PlatformBackend(location, link, io)
    return OfflineBackend(location, io or IoTools())


def _refuse_a_live_run(job_dir: str, run_id: str, previous: dict[str, Any]) -> None:
    """Two runs at once in one folder would write over each other's status, output and artifacts."""
    state = JobState.from_dict(previous)
    if state.status == "running" and state.pid != os.getpid() and _state.effective_status(state) == "running":
        raise UsageError(f"The job dir {job_dir} is in use: run {run_id} is still running there (pid {state.pid}). "
                         f"Wait for it to end, stop it, or give another --job_dir")


def _safe_name(run_id: str) -> str:
    """A run id as a folder name (run ids are timestamps; anything else is made harmless)."""
    return "".join(ch if ch.isalnum() or ch in "-_.T" else "_" for ch in run_id).strip(".") or "run"
