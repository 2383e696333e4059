"""Where progress points sent to a platform endpoint go inside this process, looked up by the endpoint's address.

A job running on a platform registers its batched metrics stream under the address of its
remote-monitor endpoint (the platform's root + the job's ``remote_url``).
``RemoteMonitor(root, path)`` looks its own address up and joins the stream it finds, instead of
posting point by point. The lookup is by address, like fsspec's instance cache, not "the current
job": two jobs in one process each keep their own, and a monitor for any other address posts to it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Protocol

from brevettiai.contract.jsontypes import JSONMapping
from brevettiai.contract.paths import URL_SCHEME


class MetricsSink(Protocol):
    """Takes a job's progress points (a job backend is one)."""

    def log_metrics(self, step: int, values: JSONMapping) -> None:
        """Record one progress point."""

    def flush_metrics(self) -> None:
        """Deliver or write the points recorded so far."""


_sinks: weakref.WeakValueDictionary[str, MetricsSink] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def endpoint_address(root: str | None, path: str | None) -> str | None:
    """`root` + `path` as one address (no trailing ``/`` on the root, no query); None without a path.

    A `path` that is a whole URL is its own address.
    """
    if not path:
        return None
    path = path.split("#", 1)[0].split("?", 1)[0]
    if URL_SCHEME.match(path):
        return path
    if not root:
        return None
    from brevettiai.platform._http import normalize_host

    return normalize_host(root) + "/" + path.lstrip("/")


def register_sink(sink: MetricsSink, roots: Iterable[str | None], path: str | None) -> None:
    """Points for `path` on any of `roots` (the names a platform goes by) go to `sink` while it lives."""
    addresses = {address for root in roots if (address := endpoint_address(root, path))}
    with _lock:
        for address in addresses:
            _sinks[address] = sink


def unregister_sink(sink: MetricsSink) -> None:
    """`sink` takes no more points (its job ended)."""
    with _lock:
        for address in [address for address, registered in _sinks.items() if registered is sink]:
            del _sinks[address]


def sink_for(root: str | None, path: str | None) -> MetricsSink | None:
    """The sink registered for `root` + `path` in this process, if any."""
    address = endpoint_address(root, path)
    if address is None:
        return None
    with _lock:
        return _sinks.get(address)
