"""`RemoteMonitor`: the original SDK's per-epoch progress reporter, batched and non-blocking here.

``RemoteMonitor(root=job.host_name, path=job.api_endpoints["remote"]).on_epoch_end(epoch, logs)``
records the epoch's logs as a metrics point. When a job of this process runs on that platform with
that remote endpoint, the point joins the job's batched metrics stream (the job registered it under
the endpoint's address and path, `brevettiai.platform.metrics_sinks`, so another spelling of the
platform's root finds it too); otherwise it is posted to
``root + path`` with the job key (``api_key=`` or ``BREVETTI_AI_API_KEY``) in the Authorization header.
`Job.get_remote_monitor()` gives the monitor its job's stream directly (offline: metrics.jsonl).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from brevettiai.contract.jsontypes import JSONValue

if TYPE_CHECKING:
    from brevettiai.job import Job
    from brevettiai.platform._http import PlatformClient
    from brevettiai.platform.metrics_sinks import MetricsSink

log = logging.getLogger("brevettiai.interfaces.remote_monitor")


def _plain(value: object) -> JSONValue:
    """numpy scalars and arrays to Python numbers and lists."""
    tolist = getattr(value, "tolist", None)
    return cast("JSONValue", tolist() if callable(tolist) else value)  # the platform refuses what is not JSON


def _is_job(value: object) -> bool:
    """True for a `brevettiai.Job` (its module is loaded when there is one: nothing is imported here)."""
    module = sys.modules.get("brevettiai.job")
    return module is not None and isinstance(value, module.Job)


class RemoteMonitor:
    """Reports training progress to the platform; usable as a Keras-style callback."""

    def __init__(self, root: str | None, path: str | None, api_key: str | None = None,
                 sink: MetricsSink | None = None, *, job: Job | None = None) -> None:
        """`sink`: the metrics stream taking the points (`Job.get_remote_monitor` gives its job's);
        `job=` is the deprecated spelling of ``sink=job.backend``."""
        if job is None and _is_job(sink):  # the old fourth argument was the job
            job, sink = cast("Job", sink), None
        if job is not None:
            warnings.warn("RemoteMonitor(job=...) is deprecated; use job.get_remote_monitor() or "
                          "RemoteMonitor(..., sink=job.backend)", DeprecationWarning, stacklevel=2)
            sink = sink or job.backend
        self.root = root
        self.path = path
        self._api_key = api_key
        self._given_sink = sink  # `job.get_remote_monitor()` gives its job's; else found by address
        self._client: PlatformClient | None = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, object] | None = None) -> None:
        """Record the metrics of one finished epoch."""
        values = {str(k): _plain(v) for k, v in (logs or {}).items()}
        sink = self._sink()
        if sink is not None:
            sink.log_metrics(int(epoch), values)
            return
        if not self.root or not self.path:
            log.warning("RemoteMonitor has no platform address (root=%r, path=%r); epoch %s not reported",
                        self.root, self.path, epoch)
            return
        try:
            self._post({"epoch": int(epoch), **values})
        except Exception as exc:  # progress reporting must never stop training
            log.warning("Could not report epoch %s to %s: %s", epoch, self.root, exc)

    def _sink(self) -> MetricsSink | None:
        """The metrics stream that takes this monitor's points: the one given, else the one of its address."""
        if self._given_sink is not None:
            return self._given_sink
        from brevettiai.platform.metrics_sinks import sink_for

        return sink_for(self.root, self.path)

    def _post(self, body: dict[str, JSONValue]) -> None:
        if self._client is None:
            from brevettiai._env import env_value
            from brevettiai.platform._http import PlatformClient

            self._client = PlatformClient(self.root or "", self._api_key or env_value("api_key"))
        self._client.post(self.path or "", json=body, idempotent=True)

    # Keras calls these; there is nothing to do at those moments.
    def set_model(self, model: object) -> None:
        """Keras callback hook (unused)."""

    def set_params(self, params: object) -> None:
        """Keras callback hook (unused)."""

    def on_train_begin(self, logs: Mapping[str, object] | None = None) -> None:
        """Keras callback hook (unused)."""

    def on_train_end(self, logs: Mapping[str, object] | None = None) -> None:
        """Flush the job's metrics at the end of training."""
        sink = self._sink()
        if sink is not None:
            sink.flush_metrics()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, object] | None = None) -> None:
        """Keras callback hook (unused)."""
