"""A job's statuses and their transitions: the words both halves use, which are final, and which moves the
platform makes.

```
created --start--> queued --dispatcher--> starting --job reports--> running --> completed | failed | killed
   |                  |                      |                        |
   |                  '--stop--> killed      '--- no heartbeat / worker lost ---> lost
   '-- job run by hand --> running
```

`completed`, `failed` and `killed` are final: a different status after them is refused, the same one again
changes nothing (a retried report). `lost` is not final: a job that reports again is back to what it reports.
Offline, a job's status.json holds the SDK's part of this: created, running and the finals.

`TRANSITIONS` is the whole table; every status change of the server asks `may_move` first. The named sets
say where each of the server's moves may begin (a start, a claim, the heartbeat's watch, a stop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

JobStatus = Literal["created", "queued", "starting", "running", "completed", "failed", "killed", "lost"]
ReportedStatus = Literal["running", "completed", "failed", "killed"]  # what a job itself may send
OfflineStatus = Literal["created", "running", "completed", "failed", "killed"]  # what status.json holds
ShownOfflineStatus = OfflineStatus | Literal["lost"]  # status.json's, or lost: its process is gone

JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
REPORTED_STATUSES: tuple[ReportedStatus, ...] = get_args(ReportedStatus)

TERMINAL: Final[frozenset[JobStatus]] = frozenset({"completed", "failed", "killed"})
ACTIVE: Final[frozenset[JobStatus]] = frozenset({"queued", "starting", "running", "lost"})  # a stop has something to stop

# Where each of the server's moves may begin.
STARTABLE: Final[frozenset[JobStatus]] = frozenset({"created"})  # a start (queued, or starting when run by hand)
KILLED_AT_ONCE: Final[frozenset[JobStatus]] = frozenset({"queued"})  # a stop ends it: no process to signal yet
CLAIMABLE: Final[frozenset[JobStatus]] = frozenset({"starting", "lost"})  # a runner's task may claim its run
WATCHED: Final[frozenset[JobStatus]] = frozenset({"starting", "running"})  # lost after the heartbeat timeout;
# these are also the jobs that take a place of --max-running-jobs
REVIVED: Final[frozenset[JobStatus]] = frozenset({"starting", "lost"})  # a heartbeat makes these running
HELD: Final[frozenset[JobStatus]] = frozenset({"starting", "running", "lost"})  # a runner may hold their process:
# a stop asked for is forwarded to it

_REPORTED: frozenset[JobStatus] = frozenset(REPORTED_STATUSES)

TRANSITIONS: Final[Mapping[JobStatus, frozenset[JobStatus]]] = {
    "created": _REPORTED | {"queued", "starting"},  # started, or run by hand
    "queued": _REPORTED | {"starting"},  # launched; killed by a stop; or run by hand meanwhile
    "starting": _REPORTED | {"lost"},
    "running": _REPORTED | {"lost"},
    "lost": _REPORTED,  # back when it reports (a heartbeat: running), or ended
    "completed": frozenset(),
    "failed": frozenset(),
    "killed": frozenset(),
}


def may_move(old: JobStatus, new: JobStatus) -> bool:
    """True when a job in status `old` may change to `new`; staying in the same status always may (it changes
    nothing: a retried report)."""
    return new == old or new in TRANSITIONS[old]
