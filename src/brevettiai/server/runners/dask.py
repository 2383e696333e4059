"""The dask runner: each run of a job is one task on a worker of a dask.distributed cluster.

Needs the ``dask`` extra (``pip install 'brevettiai[dask]'``). The task (`dask_task.run_job`) reaches
the platform at the server's public URL, so give ``--public-url`` an address the workers can reach.
Tasks are fire-and-forget: they outlive this client, report the job's exit and upload its log
themselves, so a server restart loses nothing. A stop sets the run's named Dask Event.
"""

from __future__ import annotations

import logging
import threading

from brevettiai.server.runners import Exited, Launch
from brevettiai.server.runners.dask_task import TASK_PREFIX, run_job, stop_event_name

log = logging.getLogger("brevettiai.server.runners.dask")


def scheduler_problem(address: str, timeout: float = 10.0) -> str | None:
    """Why the scheduler at `address` cannot be used (no dask, unreachable), or None."""
    try:
        from distributed import Client
    except ImportError:
        return "the dask runner needs dask.distributed: pip install './[dask]'"
    try:
        with Client(address, timeout=timeout):
            return None
    except (OSError, TimeoutError, ValueError) as exc:
        return f"cannot reach the Dask scheduler within {timeout:g} s ({type(exc).__name__}: {exc})"


class DaskRunner:
    """Submits runs to a dask scheduler; stops them through their Events."""

    name = "dask"

    def __init__(self, scheduler: str, stop_grace: float = 30.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("the dask runner needs dask.distributed: pip install 'brevettiai[dask]'") from None
        self.stop_grace = stop_grace
        self._client = Client(scheduler, timeout=30)
        self._stopped: set[str] = set()  # events this server set already (a stop is sent once from here)
        self._lock = threading.Lock()

    def start(self, launch: Launch) -> str:
        """Submit the run as a fire-and-forget task; its reference is the task key."""
        from distributed import fire_and_forget

        key = f"{TASK_PREFIX}{launch.job_id}-{launch.run_id}"
        future = self._client.submit(run_job, launch.job_id, launch.run_id, launch.host, launch.argv, launch.cwd,
                                     launch.env, stop_event_name(key), self.stop_grace, key=key, pure=False,
                                     retries=0)
        fire_and_forget(future)
        log.info("Submitted job %s to dask as %s", launch.job_id, key)
        return key

    def stop(self, job_id: str, reference: str | None) -> bool:
        """Set the run's stop Event: its task sends SIGTERM to the job (SIGKILL after the grace)."""
        from distributed import Event

        if not reference or not reference.startswith(TASK_PREFIX):
            return False
        name = stop_event_name(reference)
        with self._lock:
            if name in self._stopped:
                return True
        Event(name, client=self._client).set()
        with self._lock:
            if len(self._stopped) > 10_000:
                self._stopped.clear()
            self._stopped.add(name)
        return True

    def poll(self) -> list[Exited]:
        """Nothing: each task reports its job's exit to the platform itself."""
        return []

    def shutdown(self) -> list[Exited]:
        """Leave the runs on the cluster (they keep reporting to the platform) and disconnect."""
        self._client.close()
        return []
