"""The original SDK's import path for the job API: ``from brevettiai.platform import Job``."""

from __future__ import annotations

from typing import Any

__all__ = ["Job"]


def __getattr__(name: str) -> Any:
    if name == "Job":
        from brevettiai.job import Job

        return Job
    raise AttributeError(f"module 'brevettiai.platform' has no attribute {name!r}")
