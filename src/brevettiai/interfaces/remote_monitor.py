"""`RemoteMonitor`: the original SDK's per-epoch progress reporter, batched and non-blocking here.

``RemoteMonitor(root=job.host_name, path=job.api_endpoints["remote"]).on_epoch_end(epoch, logs)``
records the epoch's logs as a metrics point. Inside a job running on that platform the point joins
the job's batched metrics stream; otherwise it is posted to ``root + path`` with the job key
(``api_key=`` or ``BREVETTI_AI_API_KEY``) in the Authorization header.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brevettiai.job import Job

log = logging.getLogger("brevettiai.interfaces.remote_monitor")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays to Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


class RemoteMonitor:
    """Reports training progress to the platform; usable as a Keras-style callback."""

    def __init__(self, root: str | None, path: str | None, api_key: str | None = None,
                 job: Job | None = None) -> None:
        self.root = root
        self.path = path
        self._api_key = api_key
        self._given_job = job  # `job.get_remote_monitor()` gives it; else the job running in this process
        self._client: Any = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, object] | None = None) -> None:
        """Record the metrics of one finished epoch."""
        values = {str(k): _plain(v) for k, v in (logs or {}).items()}
        job = self._job()
        if job is not None:
            job.log_metrics(int(epoch), **values)
            return
        if not self.root or not self.path:
            log.warning("RemoteMonitor has no platform address (root=%r, path=%r); epoch %s not reported",
                        self.root, self.path, epoch)
            return
        try:
            self._post({"epoch": int(epoch), **values})
        except Exception as exc:  # progress reporting must never stop training
            log.warning("Could not report epoch %s to %s: %s", epoch, self.root, exc)

    def _job(self) -> Any:
        """The job whose metrics stream takes the points: it runs on this monitor's platform and endpoint."""
        from brevettiai._backend import PlatformBackend
        from brevettiai.job import current_job

        job = self._given_job or current_job()
        if job is None or not isinstance(job.backend, PlatformBackend):
            return None
        if self.path and job.api_endpoints.get("remote") not in (None, self.path.split("?")[0]):
            return None
        return job

    def _post(self, body: dict[str, Any]) -> None:
        from brevettiai.platform._http import PlatformClient

        if self._client is None:
            from brevettiai._env import env_value

            self._client = PlatformClient(self.root or "", self._api_key or env_value("api_key"))
        self._client.post(self.path, json=body, idempotent=True)

    # Keras calls these; there is nothing to do at those moments.
    def set_model(self, model: object) -> None:
        """Keras callback hook (unused)."""

    def set_params(self, params: object) -> None:
        """Keras callback hook (unused)."""

    def on_train_begin(self, logs: Mapping[str, object] | None = None) -> None:
        """Keras callback hook (unused)."""

    def on_train_end(self, logs: Mapping[str, object] | None = None) -> None:
        """Flush the job's metrics at the end of training."""
        job = self._job()
        if job is not None:
            job.flush_metrics()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, object] | None = None) -> None:
        """Keras callback hook (unused)."""
