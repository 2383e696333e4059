"""Storage access for local paths and fsspec URLs.

`io_tools` is the default `IoTools` instance; `path` holds the URL-aware path helpers. Importing
this package is cheap: `IoTools` is loaded on first use, and fsspec, s3fs and tqdm only when a
remote path or a progress bar is first needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from brevettiai.io import path

if TYPE_CHECKING:
    from brevettiai.io.tools import IoTools

    io_tools: IoTools

__all__ = ["IoTools", "io_tools", "path"]


def __getattr__(name: str) -> object:
    if name == "IoTools":
        from brevettiai.io.tools import IoTools

        globals()["IoTools"] = IoTools
        return IoTools
    if name == "io_tools":
        from brevettiai.io.tools import IoTools

        globals()["io_tools"] = value = IoTools()
        return value
    raise AttributeError(f"module 'brevettiai.io' has no attribute {name!r}")
