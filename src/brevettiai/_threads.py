"""Background threads of a running job that never take its stop signals.

Python runs signal handlers in the main thread, but the kernel may deliver a process's SIGTERM or
SIGINT to any thread that does not block it. A signal that lands on a helper thread (waiting on git,
the network or a queue) does not interrupt the main thread's ``time.sleep`` or blocking read, so a
job told to stop would go on until that call returns. Helper threads therefore block both signals.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

_JOB_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def start_daemon(target: Callable[[], object], name: str) -> threading.Thread:
    """Start `target` in a daemon thread that leaves SIGTERM and SIGINT to the main thread."""

    def run() -> None:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, _JOB_SIGNALS)
        target()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
