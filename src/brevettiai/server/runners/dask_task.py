"""The task a Dask worker runs for one run of a job: claim the run, run the job, report how it ended.

The task talks to the platform itself, over HTTP with the run's job key, so it needs nothing of the
server that submitted it (which may restart meanwhile):

- It first claims its run (``POST /api/jobs/<id>/claim``). Dask runs a task again when the worker
  running it dies; such a second attempt finds the run claimed, does not start the job, and reports
  that the worker running it was lost. Running a job again is always an explicit new run. Each attempt
  claims with a random token of its own, so a claim it sends again (the first answer was lost) is
  answered as its own, not as a re-run's.
- The job runs in a process group of its own, held by `keeper`: on Linux the keeper kills the whole
  group when the worker dies (``PR_SET_PDEATHSIG``), and the task kills the group when it ends: no
  job (nor any process it started) outlives its task, so there are never two processes for one run.
- A stop is a named Dask ``Event`` any server replica may set: SIGTERM to the group at once,
  SIGKILL after the stop grace.
- The job's output is uploaded to ``<job>/logs/job.log`` every few seconds and at the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import httpx

from brevettiai.server.runners import job_environment, keeper, signal_name

log = logging.getLogger("brevettiai.server.runners.dask_task")

TASK_PREFIX = "brevettiai-job-"
LOG_PATH = "logs/job.log"
LOG_LIMIT = 50 << 20  # the last 50 MB of a job's output are kept as its log
LOG_EVERY = 3.0  # seconds between uploads of a growing log (more for a large one: see _next_upload)
LOG_UPLOAD_RATE = 2 << 20  # bytes/s of log re-uploads at most, on average
# Seconds between looks at the job's process. A set Event ends the wait at once, so this is not the
# stop's latency; each wait is one long poll to the scheduler.
WATCH_EVERY = 0.5
REPORT_PATIENCE = 120.0  # how long the task retries reaching the platform (a server restarting)
WORKER_LOST = "the Dask worker running it was lost"


def stop_event_name(task_key: str) -> str:
    """The name of the Dask Event that stops the run submitted as `task_key`."""
    return "brevettiai-stop-" + task_key.removeprefix(TASK_PREFIX)


def run_job(job_id: str, run_id: str, host: str, argv: list[str], cwd: str | None, env: dict[str, str],
            stop_event: str, stop_grace: float) -> int | None:
    """On a worker: claim the run, run the job until it ends or is stopped, report its exit; its exit code."""
    # Straight to the platform, never through a proxy of the worker's environment: the header holds the
    # job's key (its job is told the same: `job_environment` puts the platform in NO_PROXY).
    with httpx.Client(base_url=host, timeout=30, headers={"Authorization": "Bearer " + env["BREVETTI_AI_API_KEY"]},
                      trust_env=False) as platform:
        api = f"/api/jobs/{job_id}"
        claim = _send(platform, "POST", api + "/claim", json={"runId": run_id, "claimToken": uuid.uuid4().hex},
                      patience=REPORT_PATIENCE)
        if claim is None:
            log.error("Job %s run %s: the platform at %s cannot be reached; not running it", job_id, run_id, host)
            return None
        if claim.status_code in (401, 404):
            log.warning("Job %s run %s: the platform does not know it (deleted?); not running it", job_id, run_id)
            return None
        if claim.status_code == 409:  # claimed before: Dask runs this task again because a worker died
            log.warning("Job %s run %s was claimed before: %s; not running it again", job_id, run_id, WORKER_LOST)
            _send(platform, "POST", api + "/exit", json={"runId": run_id, "lost": True}, patience=REPORT_PATIENCE)
            return None
        if claim.status_code != 200 or claim.json().get("stopRequested"):
            _send(platform, "POST", api + "/exit", json={"runId": run_id}, patience=REPORT_PATIENCE)
            return None
        code = _run(platform, job_id, argv, cwd, env, stop_event, stop_grace)
        exited: dict[str, Any] = {"runId": run_id, "code": None, "signal": None}
        if code is not None and code < 0:
            exited["signal"] = signal_name(-code)
        else:
            exited["code"] = code
        _send(platform, "POST", api + "/exit", json=exited, patience=REPORT_PATIENCE)
        return code


def _run(platform: httpx.Client, job_id: str, argv: list[str], cwd: str | None, env: dict[str, str],
         stop_event: str, stop_grace: float) -> int | None:
    """Run the job's process group to its end, honouring a stop; its exit code (None: it could not start)."""
    from distributed import Event

    stop = Event(stop_event)
    with tempfile.NamedTemporaryFile(prefix=f"brevettiai-{job_id}-", suffix=".log") as output:
        try:  # the keeper holds the job's group and kills it when this worker dies
            process = subprocess.Popen([sys.executable, "-I", keeper.__file__, str(os.getpid()), *argv],
                                       cwd=cwd if cwd and os.path.isdir(cwd) else None,
                                       env=job_environment(os.environ, env, str(platform.base_url)), stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            output.write(f"the job could not be started: {exc}\n".encode())
            output.flush()
            _upload_log(platform, job_id, output.name, patience=REPORT_PATIENCE)
            return 127
        streamer = _LogStreamer(platform, job_id, output.name)
        kill_at = None
        try:
            while process.poll() is None:
                if kill_at is None:
                    if _wait(stop, WATCH_EVERY):
                        log.info("Job %s: stop requested, SIGTERM to its process group", job_id)
                        _signal_group(process.pid, signal.SIGTERM)
                        kill_at = time.monotonic() + stop_grace
                else:
                    time.sleep(WATCH_EVERY)
                    if time.monotonic() > kill_at:
                        log.warning("Job %s did not stop within %g s: SIGKILL", job_id, stop_grace)
                        _signal_group(process.pid, signal.SIGKILL)
                        kill_at = float("inf")
        finally:
            _signal_group(process.pid, signal.SIGKILL)  # the job's children, and the job itself on an error
            process.wait()
            with contextlib.suppress(Exception):
                stop.clear()  # the scheduler forgets an Event nobody waits for once it is cleared
        _upload_log(platform, job_id, output.name, streamer.finish(), patience=REPORT_PATIENCE)
        return process.returncode


class _LogStreamer:
    """Uploads the growing log from a thread of its own, so a slow upload never delays a stop."""

    def __init__(self, platform: httpx.Client, job_id: str, path: str) -> None:
        self._client = httpx.Client(base_url=platform.base_url, headers=platform.headers, timeout=30)
        self.job_id, self.path, self.uploaded = job_id, path, -1
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"brevettiai-log-{job_id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        pause = LOG_EVERY
        while not self._done.wait(pause):
            self.uploaded = _upload_log(self._client, self.job_id, self.path, self.uploaded)
            pause = max(LOG_EVERY, min(self.uploaded, LOG_LIMIT) / LOG_UPLOAD_RATE)  # each upload sends it all

    def finish(self) -> int:
        """Stop uploading; how many bytes the last upload sent (-1: none)."""
        self._done.set()
        self._thread.join()
        self._client.close()
        return self.uploaded


def _wait(stop: Any, timeout: float) -> bool:
    """Wait for the stop Event; a scheduler briefly away counts as no stop (the next look asks again)."""
    try:
        return bool(stop.wait(timeout=timeout))
    except Exception:
        time.sleep(timeout)
        return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _upload_log(platform: httpx.Client, job_id: str, path: str, uploaded: int = -1, patience: float = 0) -> int:
    """Upload the log (its last `LOG_LIMIT` bytes) if it grew since `uploaded` bytes; the size uploaded.

    `patience`: how long to retry while the platform cannot be reached (0 while the job runs: the
    next upload tries again, and the job's stop must not wait for it).
    """
    size = os.path.getsize(path)
    if size == uploaded:
        return uploaded
    with open(path, "rb") as handle:
        handle.seek(max(0, size - LOG_LIMIT))
        data = handle.read(size)
    answer = _send(platform, "PUT", f"/api/files/{job_id}/{LOG_PATH}", patience=patience, content=data,
                   headers={"Content-Type": "text/plain; charset=utf-8"})
    return size if answer is not None and answer.is_success else uploaded


def _send(platform: httpx.Client, method: str, path: str, patience: float, **kwargs: Any) -> httpx.Response | None:
    """A request, retried while the platform cannot be reached or answers 5xx; None if it never answered."""
    deadline, pause = time.monotonic() + patience, 0.2
    while True:
        try:
            answer = platform.request(method, path, **kwargs)
            if answer.status_code < 500:
                return answer
        except httpx.HTTPError as exc:
            log.debug("%s %s failed: %s", method, path, exc)
        if time.monotonic() > deadline:
            log.error("Could not reach the platform for %s %s", method, path)
            return None
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
