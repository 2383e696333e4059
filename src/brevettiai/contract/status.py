"""A job's statuses: the words both halves use, which ones are final, and what a job may report.

```
created --start--> queued --dispatcher--> starting --job reports--> running --> completed | failed | killed
   |                  |                      |                        |
   |                  '--stop--> killed      '--- no heartbeat / worker lost ---> lost
   '-- job run by hand --> running
```

`completed`, `failed` and `killed` are final. `lost` is not: a job that reports again is back to what
it reports. Offline, a job's status.json holds the SDK's part of this: created, running and the finals.
"""

from __future__ import annotations

from typing import Literal, get_args

JobStatus = Literal["created", "queued", "starting", "running", "completed", "failed", "killed", "lost"]
ReportedStatus = Literal["running", "completed", "failed", "killed"]  # what a job itself may send
OfflineStatus = Literal["created", "running", "completed", "failed", "killed"]  # what status.json holds

JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
REPORTED_STATUSES: tuple[str, ...] = get_args(ReportedStatus)
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "killed"})
ACTIVE: frozenset[str] = frozenset({"queued", "starting", "running", "lost"})  # a stop has something to stop
