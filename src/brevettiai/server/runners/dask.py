"""The dask runner: each job runs as a subprocess on a worker of a dask.distributed cluster.

Needs the ``dask`` extra (``pip install 'brevettiai[dask]'``). The job reaches the platform at the
server's public URL, so give ``--public-url`` an address the workers can reach. A stop sets a dask
Event the task watches; the job's output comes back with the task's result and is stored as its log.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import threading
import uuid
from typing import Any

from brevettiai.server.runners import Exited, Launch, job_environment, signal_name

log = logging.getLogger("brevettiai.server.runners.dask")

LOG_LIMIT = 50 << 20  # the last 50 MB of a job's output come back to the server


def run_job_process(argv: list[str], cwd: str | None, env: dict[str, str], stop_event: str) -> tuple[int, bytes]:
    """On a worker: run the job, SIGTERM it when the stop event is set; its exit code and output."""
    from distributed import Event

    stop = Event(stop_event)
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(argv, cwd=cwd if cwd and os.path.isdir(cwd) else None,
                                   env=job_environment(os.environ, env), stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        stopping = False
        while process.poll() is None:
            if not stopping and stop.wait(timeout=1.0):
                stopping = True
                os.killpg(process.pid, signal.SIGTERM)
        size = output.seek(0, os.SEEK_END)
        output.seek(max(0, size - LOG_LIMIT))
        return process.returncode, output.read()


class DaskRunner:
    """Submits jobs to a dask scheduler and collects how they ended."""

    name = "dask"

    def __init__(self, scheduler: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("the dask runner needs dask.distributed: pip install 'brevettiai[dask]'") from None
        self._client = Client(scheduler)
        self._jobs: dict[str, tuple[Any, str, str]] = {}  # job id -> (future, stop event name, log file)
        self._lock = threading.Lock()

    def start(self, launch: Launch) -> str:
        """Submit the job; its reference is the dask task key."""
        event = f"brevettiai-stop-{launch.job_id}-{uuid.uuid4().hex[:8]}"
        key = f"brevettiai-job-{launch.job_id}-{uuid.uuid4().hex[:8]}"
        future = self._client.submit(run_job_process, launch.argv, launch.cwd, launch.env, event, key=key, pure=False)
        with self._lock:
            self._jobs[launch.job_id] = (future, event, launch.log_file)
        log.info("Submitted job %s to dask as %s", launch.job_id, key)
        return key

    def stop(self, job_id: str) -> bool:
        """Set the job's stop event: the task sends SIGTERM to the job."""
        from distributed import Event

        with self._lock:
            entry = self._jobs.get(job_id)
        if entry is None:
            return False
        Event(entry[1], client=self._client).set()
        return True

    def poll(self) -> list[Exited]:
        """Jobs whose task finished, with their output written to their log file."""
        ended = []
        with self._lock:
            done = [(job_id, entry) for job_id, entry in self._jobs.items() if entry[0].done()]
            for job_id, _ in done:
                del self._jobs[job_id]
        for job_id, (future, _, log_file) in done:
            ended.append(self._collect(job_id, future, log_file))
        return ended

    def _collect(self, job_id: str, future: Any, log_file: str) -> Exited:
        try:
            code, output = future.result()
        except Exception as exc:  # the task itself failed (worker lost, command not found)
            code, output = None, f"the dask task failed: {exc!r}\n".encode()
        os.makedirs(os.path.dirname(log_file), exist_ok=True)
        with open(log_file, "ab") as handle:
            handle.write(output)
        if code is not None and code < 0:
            return Exited(job_id, None, signal_name(-code), log_file)
        return Exited(job_id, code, None, log_file)

    def shutdown(self) -> list[Exited]:
        """Leave the jobs running on the cluster (they keep reporting to the platform) and disconnect."""
        with self._lock:
            self._jobs.clear()
        self._client.close()
        return []
