"""The lifecycle state of a job, kept as ``status.json`` in its job directory."""

from __future__ import annotations

import datetime
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from brevettiai.contract.jsontypes import JSONMapping, JSONObject
from brevettiai.contract.status import TERMINAL, OfflineStatus, ShownOfflineStatus

Status = OfflineStatus
STATE_FILE = "status.json"


def _hostname() -> str:
    """This machine's host name (as `socket.gethostname()` gives it)."""
    from brevettiai._environment import host_name

    return host_name()


def now() -> str:
    """The current UTC time in ISO 8601 with a Z suffix."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ExitInfo:
    """How a job ended when it did not complete: an exit code, an exception, or a signal."""

    code: int | None = None
    exception: str | None = None
    message: str | None = None
    traceback: str | None = None
    signal: str | None = None


@dataclass
class JobState:
    """Status and timestamps of one job run; `pid` and `hostname` tell a reader who runs it."""

    status: Status = "created"
    run_id: str = ""
    created: str = field(default_factory=now)
    started: str | None = None
    finished: str | None = None
    model_path: str | None = None
    pid: int = field(default_factory=os.getpid)
    hostname: str = field(default_factory=_hostname)
    exit: ExitInfo | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the job is completed, failed or killed."""
        return self.status in TERMINAL

    def to_dict(self) -> JSONObject:
        """The JSON-ready form written to status.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: JSONMapping) -> JobState:
        """Read a state written by `to_dict` (unknown keys are ignored)."""
        known: dict[str, Any] = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("exit"), dict):
            known["exit"] = ExitInfo(**{k: v for k, v in known["exit"].items() if k in ExitInfo.__dataclass_fields__})
        return cls(**known)


def process_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def effective_status(state: JobState) -> ShownOfflineStatus:
    """The status to show: a running job whose process is gone from this host is ``lost``."""
    if state.status == "running" and state.hostname == _hostname() and not process_alive(state.pid):
        return "lost"
    return state.status
