"""The platform's storage scheme: ``brevettiai://<resource id>/<path>`` names a file of a dataset or job.

The SDK's fsspec filesystem is registered under `PROTOCOL`; the server writes `PREFIX` + id into a
dataset's ``bucket`` and a job's info.json.
"""

from __future__ import annotations

PROTOCOL = "brevettiai"
PREFIX = PROTOCOL + "://"


def resource_url(resource_id: str, path: str = "") -> str:
    """``brevettiai://<resource id>`` or ``brevettiai://<resource id>/<path>``."""
    return PREFIX + resource_id + ("/" + path.lstrip("/") if path else "")


def is_platform_url(url: str) -> bool:
    """True when `url` is in the platform's storage scheme."""
    return url.startswith(PREFIX)


def strip_scheme(url: str) -> str:
    """``<resource id>/<path>`` of a ``brevettiai://`` URL; any other text is returned unchanged."""
    return url[len(PREFIX):] if url.startswith(PREFIX) else url
