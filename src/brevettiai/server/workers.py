"""``--workers N``: N server processes on one machine, accepting connections from one shared socket.

The parent (`brevettiai.server.serve`) migrates the database, creates the admin user and gets the
signing key once, then forks the workers here; each builds its own app and context (database pool, runner, supervisor, token cache) and serves
the inherited socket. The parent says "ready" once every worker is, forwards SIGTERM/SIGINT to the
workers, and replaces a worker that dies while the server runs. Replicas of one platform on other
machines coordinate through the database exactly as these processes do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Callable

log = logging.getLogger("brevettiai.server")

STOP_GRACE = 30.0  # after this long a worker that has not stopped is killed


def _stop_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies (even by SIGKILL), so no worker serves on alone."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve_workers(sock: socket.socket, count: int, serve_one: Callable[[socket.socket, Callable[[], object]], int],
                  on_ready: Callable[[], None]) -> int:
    """Run `count` processes of `serve_one(sock, ready)` until SIGTERM/SIGINT; the exit code.

    The caller has prepared the database already (migrations, admin user, signing key).
    """
    ready_read, ready_write = os.pipe()
    workers: dict[int, int] = {}  # pid -> worker number
    stopping = failed = False
    parent = os.getpid()

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.close(ready_read)
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, signal.SIG_DFL)
                _stop_with_parent()
                if os.getppid() != parent:  # the parent died before the line above took effect
                    return
                code = serve_one(sock, lambda: os.write(ready_write, b"."))
            except BaseException:
                log.exception("Server worker %d failed", number)
            finally:
                os._exit(code)
        workers[pid] = number

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        for number in range(count):
            start(number)
        os.close(ready_write)  # the workers hold it
        ready = 0
        stop_deadline: float | None = None
        while workers:
            if ready < count and not stopping:
                readable, _, _ = select.select([ready_read], [], [], 0.1)
                if readable:
                    ready += len(os.read(ready_read, 64))
                    if ready >= count:
                        on_ready()
            else:
                time.sleep(0.1)
            if stopping:
                stop_deadline = stop_deadline or time.monotonic() + STOP_GRACE
                if time.monotonic() > stop_deadline:
                    for pid in workers:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
            while workers:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                exited = workers.pop(pid) if pid in workers else None
                if exited is None or stopping:
                    continue
                if ready < count:  # a worker that cannot even start: stop the others too
                    log.error("Server worker %d exited during start (status %s); stopping", exited, status)
                    failed = True
                    stop(signal.SIGTERM, None)
                    continue
                log.warning("Server worker %d (pid %d) exited (status %s); starting a new one", exited, pid, status)
                start(exited)
        return 3 if failed or ready < count else 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(ready_read)
