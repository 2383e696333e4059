"""Storage access for local paths and fsspec URLs.

`io_tools` is the default `IoTools` instance; `path` holds the URL-aware path helpers. Importing
this package is cheap: fsspec, s3fs and tqdm are imported only when a remote path or a progress bar
is first needed.
"""

from brevettiai.io import path
from brevettiai.io.tools import IoTools

io_tools = IoTools()

__all__ = ["IoTools", "io_tools", "path"]
