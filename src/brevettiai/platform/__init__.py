"""The original SDK's import paths for the platform: ``from brevettiai.platform import Job, BrevettiAI``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brevettiai.job import Job
    from brevettiai.platform.samples import get_image_samples
    from brevettiai.platform.web_api import BrevettiAI, PlatformAPI

__all__ = ["BrevettiAI", "Job", "PlatformAPI", "get_image_samples"]

_LAZY = {
    "Job": "brevettiai.job",
    "BrevettiAI": "brevettiai.platform.web_api",
    "PlatformAPI": "brevettiai.platform.web_api",
    "get_image_samples": "brevettiai.platform.samples",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'brevettiai.platform' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
