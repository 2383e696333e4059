"""Keeps a job's process group together: run as ``python -I keeper.py PARENT_PID COMMAND [ARG...]``.

The Dask task starts this script in a new process group (session); it starts the job's command as
its child in the same group and waits for it. When the task's worker dies, the kernel sends this
process SIGUSR1 (Linux ``PR_SET_PDEATHSIG``) and it SIGKILLs the whole group: the job and every
process the job started. SIGTERM sent to the group (a stop) reaches the job; this process ignores it
and ends with the job, passing on its exit code or the signal that ended it.

Only the standard library: it runs as a script, without importing brevettiai.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def _prctl_pdeathsig(signum: int) -> None:
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


def _kill_group(*_: object) -> None:
    os.killpg(0, signal.SIGKILL)


def _child_setup() -> None:
    """In the job's process: the default reaction to stops, and SIGKILL if this keeper dies."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _prctl_pdeathsig(signal.SIGKILL)


def main(argv: list[str]) -> int:
    """Run the job; its exit code (this process ends by the job's signal if one ended it)."""
    parent, command = int(argv[0]), argv[1:]
    signal.signal(signal.SIGUSR1, _kill_group)
    _prctl_pdeathsig(signal.SIGUSR1)
    if os.getppid() != parent:  # the parent died before prctl took effect
        _kill_group()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        job = subprocess.Popen(command, preexec_fn=_child_setup)
    except OSError as exc:
        print(f"the job could not be started: {exc}", file=sys.stderr, flush=True)
        return 127
    code = job.wait()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
