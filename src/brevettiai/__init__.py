"""brevettiai: the Brevetti AI Job API — typed job settings, storage, lifecycle, progress and reports.

The public names are loaded on first use so that ``import brevettiai`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from brevettiai._version import __version__

if TYPE_CHECKING:
    from brevettiai.job import Job
    from brevettiai.settings import JobSettings

__all__ = ["Job", "JobSettings", "__version__"]

_LAZY = {"Job": "brevettiai.job", "JobSettings": "brevettiai.settings.job_settings"}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'brevettiai' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
