"""A run's id: the local time it started, to the microsecond (``2026-11-30T131500.123456``).

A job keeps its id across runs; each run (a start on the platform, an offline ``Job.init``) gets a
new run id, which names its folder under ``runs/`` offline and its claim on the platform.
"""

from __future__ import annotations

import datetime

RUN_ID_FORMAT = "%Y-%m-%dT%H%M%S.%f"


def new_run_id() -> str:
    """A fresh run id (sortable, usable as a file name)."""
    return datetime.datetime.now().strftime(RUN_ID_FORMAT)
