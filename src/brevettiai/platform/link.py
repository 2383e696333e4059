"""A job's link to the platform it runs on: info, state changes, heartbeat, metrics, charts, tags."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading

from brevettiai._env import env_value
from brevettiai._threads import start_daemon
from brevettiai.contract.jsontypes import JSONMapping, JSONObject
from brevettiai.contract.reports import (
    COLUMNS_CONTENT_TYPE,
    ExitReport,
    HeartbeatAnswer,
    MetricBatch,
    StateReport,
)
from brevettiai.contract.status import ReportedStatus
from brevettiai.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformNotFoundError,
    PlatformValidationError,
    UsageError,
)
from brevettiai.platform._http import PlatformClient
from brevettiai.platform._metrics import MetricColumns, MetricsSender

log = logging.getLogger("brevettiai.platform.job")
_SENDER_LOCK = threading.Lock()


class PlatformLink:
    """Everything a running job says to its platform, with its job key."""

    def __init__(self, host: str, job_id: str, api_key: str | None) -> None:
        if not api_key:
            raise UsageError(f"job '{job_id}' runs on the platform at {host} but has no job key: "
                             f"give --api_key or BREVETTI_AI_API_KEY")
        self.client = PlatformClient(host, api_key)
        self.host = self.client.host
        self.job_id = job_id
        self.heartbeat_interval: float = env_value("heartbeat_interval", 10.0)
        self.flush_timeout: float = env_value("flush_timeout", 60.0)
        self._metrics: MetricsSender | None = None
        self._columnar = True  # until a platform that predates the columnar form says it wants points
        self._heartbeat: threading.Thread | None = None
        self._stop_heartbeat = threading.Event()

    def _path(self, tail: str) -> str:
        return f"/api/jobs/{self.job_id}/{tail}"

    def fetch_info(self) -> JSONObject:
        """The job's info.json from the platform; a refused key or unknown job is a clear error."""
        try:
            return self.client.get(self._path("info")).json()
        except PlatformAuthError:
            raise UsageError(f"The platform at {self.host} refused the job key for job '{self.job_id}': "
                             f"check --api_key / BREVETTI_AI_API_KEY (a key is replaced when the job is "
                             f"started again)") from None
        except PlatformNotFoundError:
            raise UsageError(f"The platform at {self.host} has no job '{self.job_id}' for this key") from None
        except ConnectionError as exc:
            raise UsageError(f"The platform at {self.host} cannot be reached: {exc}") from None

    def set_state(self, status: ReportedStatus, model_path: str | None = None,
                  exit_info: JSONMapping | None = None) -> None:
        """Report a state change; failures are logged, not raised (the job's own record stays)."""
        report = StateReport(status=status, model_path=model_path,
                             exit=ExitReport.model_validate(exit_info) if exit_info else None)
        try:
            self.client.post(self._path("state"), json=report.body(), idempotent=True)
        except PlatformError as exc:
            log.error("Could not report state %s to the platform: %s", status, exc)

    # Heartbeat -----------------------------------------------------------------------------------

    def start_heartbeat(self) -> None:
        """Beat every `heartbeat_interval` seconds; a stop request from the platform stops the job."""
        if self._heartbeat is not None:
            return
        self._stop_heartbeat.clear()
        self._heartbeat = start_daemon(self._beat, "brevettiai-heartbeat")

    def _beat(self) -> None:
        while not self._stop_heartbeat.wait(self.heartbeat_interval):
            try:
                answer = HeartbeatAnswer.model_validate_json(
                    self.client.post(self._path("heartbeat"), idempotent=True, retries=1).content)
            except Exception as exc:
                log.debug("Heartbeat failed: %s", exc)
                continue
            if answer.stop_requested:
                log.warning("The platform asked job %s to stop", self.job_id)
                os.kill(os.getpid(), signal.SIGTERM)  # a real signal: it interrupts a sleeping main thread
                return

    def stop_heartbeat(self) -> None:
        """Stop beating."""
        self._stop_heartbeat.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
            self._heartbeat = None

    # Metrics, charts, tags -----------------------------------------------------------------------

    def _send_metrics(self, batch_id: str, batch: MetricColumns) -> None:
        if self._columnar:
            try:
                self.client.post(self._path("metrics"), content=batch.body(batch_id), idempotent=True,
                                 retries=0, headers={"Content-Type": COLUMNS_CONTENT_TYPE})
                return
            except PlatformValidationError as exc:
                if not _wants_points(exc):
                    raise
                log.debug("The platform at %s takes metrics only point by point", self.host)
                self._columnar = False
        body = MetricBatch.model_validate({"batchId": batch_id, "points": batch.points()})
        self.client.post(self._path("metrics"), content=body.model_dump_json(by_alias=True).encode(), idempotent=True,
                         retries=0, headers={"Content-Type": "application/json"})

    def _spill_folder(self) -> str:
        return tempfile.mkdtemp(prefix=f"brevettiai-metrics-{self.job_id}-")

    def log_metrics(self, step: int, values: JSONMapping) -> None:
        """Queue a metrics point for delivery."""
        if self._metrics is None:
            with _SENDER_LOCK:  # the job's thread and its system-metrics thread may both be first
                if self._metrics is None:
                    self._metrics = MetricsSender(self._send_metrics, self._spill_folder)
        self._metrics.add(step, values)

    def flush_metrics(self, timeout: float | None = None) -> bool:
        """Wait for queued points to be delivered."""
        return True if self._metrics is None else self._metrics.flush(self.flush_timeout if timeout is None else timeout)

    def upload_chart(self, name: str, spec: str) -> None:
        """Store a Vega-Lite chart on the platform (shown on the model page)."""
        self.client.put(self._path(f"charts/{name}"), content=spec.encode(),
                        headers={"Content-Type": "application/json"})

    def root_tags(self) -> list[JSONObject]:
        """The platform's root tags."""
        return self.client.get(self._path("roottags")).json()

    def close(self) -> None:
        """Stop the heartbeat and deliver what is left (kept in a file if the platform stays away)."""
        self.stop_heartbeat()
        if self._metrics is not None:
            sender, self._metrics = self._metrics, None
            if not sender.close(self.flush_timeout) and sender.spill_folder:
                count = sender.spilled
                kept = _keep_undelivered(sender.spill_folder, self.job_id)
                log.error("The platform at %s did not take %d metric points before the job ended; "
                          "they are kept in %s", self.host, count, kept)


def _wants_points(error: PlatformValidationError) -> bool:
    """True when a 422 says the batch has no ``points``: a platform that reads only the point form."""
    detail = error.detail if isinstance(error.detail, list) else []
    return any(isinstance(item, dict) and item.get("loc") == ["body", "points"] and item.get("type") == "missing"
               for item in detail)


def _keep_undelivered(spill_folder: str, job_id: str) -> str:
    """Move spilled batches out of the temp folder to the user's cache, where they are kept."""
    target = os.path.join(os.path.expanduser("~"), ".cache", "brevettiai", "undelivered", job_id)
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(spill_folder):
        shutil.move(os.path.join(spill_folder, name), os.path.join(target, name))
    return target
