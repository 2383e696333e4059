"""Where progress points sent to a platform endpoint go inside this process, looked up by the endpoint's address.

A job running on a platform registers its batched metrics stream under the address of its
remote-monitor endpoint (the platform's root + the job's ``remote_url``).
``RemoteMonitor(root, path)`` looks its own address up and joins the stream it finds, instead of
posting point by point. The lookup is by address, like fsspec's instance cache, not "the current
job": two jobs in one process each keep their own, and a monitor for any other address posts to it.
An address is compared in one spelling (`endpoint_address`), and when the platform's root was written
another way still (``localhost`` for ``127.0.0.1``, a proxy's name), the path alone finds the job: it
holds the job's id.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import urlsplit

from brevettiai.contract.jsontypes import JSONMapping
from brevettiai.contract.paths import URL_SCHEME


class MetricsSink(Protocol):
    """Takes a job's progress points (a job backend is one)."""

    def log_metrics(self, step: int, values: JSONMapping) -> None:
        """Record one progress point."""

    def flush_metrics(self) -> None:
        """Deliver or write the points recorded so far."""


_sinks: weakref.WeakValueDictionary[str, MetricsSink] = weakref.WeakValueDictionary()
_by_path: weakref.WeakValueDictionary[str, MetricsSink] = weakref.WeakValueDictionary()
_lock = threading.Lock()
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(root: str) -> str:
    """`root` in one spelling: scheme and host in lower case, no default port, no trailing ``/``."""
    from brevettiai.platform._http import normalize_host

    root = normalize_host(root)
    try:
        parts = urlsplit(root)
        port = parts.port
    except ValueError:  # not a URL one can take apart (a bad port or IPv6 address): compared as written
        return root
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host += f":{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def _plain_path(path: str) -> str:
    """`path` without query, fragment and trailing ``/``, with one leading ``/``."""
    return "/" + path.split("#", 1)[0].split("?", 1)[0].strip("/")


def endpoint_address(root: str | None, path: str | None) -> str | None:
    """`root` + `path` as one address, however either is spelled; None without a path (or a root).

    The scheme and host are lower case, a default port is left out, and the path has one leading
    ``/``, no trailing one and no query. A `path` that is a whole URL is its own address.
    """
    if not path:
        return None
    if URL_SCHEME.match(path):
        origin, _, rest = path.partition("://")[2].partition("/")
        return _origin(path.split("://", 1)[0] + "://" + origin) + _plain_path(rest)
    if not root:
        return None
    return _origin(root) + _plain_path(path)


def _path_of(path: str) -> str:
    """The path part of an endpoint (of a whole URL: its path)."""
    return _plain_path(path.split("://", 1)[1].partition("/")[2] if URL_SCHEME.match(path) else path)


def register_sink(sink: MetricsSink, roots: Iterable[str | None], path: str | None) -> None:
    """Points for `path` on any of `roots` (the names a platform goes by) go to `sink` while it lives.

    The path alone is kept too: a remote endpoint's path holds its job's id, so it names one job of
    this process whatever name of the platform a monitor was given.
    """
    if not path:
        return
    addresses = {address for root in roots if (address := endpoint_address(root, path))}
    with _lock:
        for address in addresses:
            _sinks[address] = sink
        _by_path[_path_of(path)] = sink


def unregister_sink(sink: MetricsSink) -> None:
    """`sink` takes no more points (its job ended)."""
    with _lock:
        for table in (_sinks, _by_path):
            for key in [key for key, registered in table.items() if registered is sink]:
                del table[key]


def sink_for(root: str | None, path: str | None) -> MetricsSink | None:
    """The sink registered for `root` + `path` in this process, else the one registered for `path`."""
    if not path:
        return None
    address = endpoint_address(root, path)
    with _lock:
        found = _sinks.get(address) if address else None
        return found if found is not None else _by_path.get(_path_of(path))
