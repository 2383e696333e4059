"""The local runner: each job is a subprocess of the server, in its own process group."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from brevettiai.server.runners import Exited, Launch, job_environment, signal_name

log = logging.getLogger("brevettiai.server.runners.local")


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    log_file: str
    kill_at: float | None = None  # when a stopped job that has not ended gets SIGKILL


class LocalRunner:
    """Starts jobs as subprocesses; SIGTERM on stop, SIGKILL when they outlive the grace period."""

    name = "local"

    def __init__(self, environ: dict[str, str], stop_grace: float = 30.0, shutdown_grace: float = 5.0,
                 job_user: str | None = None) -> None:
        self._environ = environ
        self.job_user = job_user
        self.stop_grace = stop_grace
        self.shutdown_grace = shutdown_grace
        self._jobs: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def start(self, launch: Launch) -> str:
        """Start the job's process with stdout and stderr appended to its log file."""
        os.makedirs(os.path.dirname(launch.log_file), exist_ok=True)
        env = job_environment(self._environ, launch.env, launch.host)
        identity = _identity(self.job_user, env)
        with open(launch.log_file, "ab") as log_handle:  # opened by the server: the job needs no access to it
            process = subprocess.Popen(
                launch.argv, cwd=launch.cwd or None, env=env, stdin=subprocess.DEVNULL, stdout=log_handle,
                stderr=subprocess.STDOUT, start_new_session=True,  # its own group: a stop reaches its children
                **identity)
        with self._lock:
            self._jobs[launch.job_id] = _Running(process, launch.log_file)
        log.info("Started job %s as process %d: %s", launch.job_id, process.pid, " ".join(launch.argv))
        return str(process.pid)

    def stop(self, job_id: str, reference: str | None = None) -> bool:
        """Send SIGTERM to the job's process group; SIGKILL follows after `stop_grace` seconds.

        False for a job this server's runner did not start (another replica's supervisor stops it).
        """
        with self._lock:
            running = self._jobs.get(job_id)
            if running is None:
                return False
            if running.kill_at is None:
                running.kill_at = time.monotonic() + self.stop_grace
                _signal(running.process, signal.SIGTERM)
        return True

    def poll(self) -> list[Exited]:
        """Reap ended processes; kill stopped ones that outlived their grace period."""
        ended = []
        with self._lock:
            for job_id, running in list(self._jobs.items()):
                code = running.process.poll()
                if code is None:
                    if running.kill_at is not None and time.monotonic() > running.kill_at:
                        log.warning("Job %s did not stop within %g s: killing it", job_id, self.stop_grace)
                        running.kill_at = float("inf")  # once
                        _signal(running.process, signal.SIGKILL)
                    continue
                del self._jobs[job_id]
                ended.append(_exited(job_id, code, running.log_file))
        return ended

    def shutdown(self) -> list[Exited]:
        """SIGTERM every job, wait `shutdown_grace` seconds, SIGKILL the rest."""
        with self._lock:
            running = list(self._jobs.items())
        for _, job in running:
            _signal(job.process, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_grace
        for _, job in running:
            try:
                job.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(job.process, signal.SIGKILL)
                job.process.wait()
        with self._lock:
            self._jobs.clear()
        return [_exited(job_id, job.process.returncode, job.log_file) for job_id, job in running]


def _identity(user: str | None, env: dict[str, str]) -> dict[str, Any]:
    """Popen arguments that run the job as `user` (its own groups only, its home as HOME); none without one."""
    if user is None:
        return {}
    import pwd

    account = pwd.getpwnam(user)
    env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": os.getgrouplist(user, account.pw_gid)}


def _exited(job_id: str, code: int, log_file: str) -> Exited:
    if code < 0:
        return Exited(job_id, None, signal_name(-code), log_file)
    return Exited(job_id, code, None, log_file)


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the process group of a job (the process alone where groups do not exist)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass
