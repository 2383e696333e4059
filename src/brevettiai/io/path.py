"""URL-aware path helpers: one set of functions for local paths and ``scheme://`` URLs.

Local paths follow `os.path`; URLs (``s3://bucket/key``, ``memory://x``) always use ``/``.
Nothing here touches a filesystem.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys

from brevettiai.contract.paths import ACCEPTED, URL_SCHEME, PathRuleError, path_parts
from brevettiai.errors import StoragePathError

PathArg = str | os.PathLike[str]

_LOCAL_PROTOCOLS = frozenset({"file", "local"})


def is_url(path: PathArg) -> bool:
    """Return True when the path starts with a ``scheme://`` prefix."""
    return URL_SCHEME.match(os.fspath(path)) is not None


def split_protocol(path: PathArg) -> tuple[str | None, str]:
    """Split ``scheme://rest`` into ``(scheme, rest)``; a plain path gives ``(None, path)``."""
    text = os.fspath(path)
    match = URL_SCHEME.match(text)
    if match is None:
        return None, text
    return match.group(1), text[match.end() :]


def local_path(path: PathArg) -> str | None:
    """Return the local filesystem path for a plain path or ``file://`` URL, else None."""
    protocol, rest = split_protocol(path)
    if protocol is None:
        return rest
    if protocol.lower() not in _LOCAL_PROTOCOLS:
        return None
    # file:///C:/data -> C:/data on Windows; file:///tmp/x -> /tmp/x elsewhere.
    if sys.platform == "win32" and re.match(r"^/[A-Za-z]:", rest):
        return rest[1:]
    return rest


def join(*parts: PathArg) -> str:
    """Join path parts with ``/`` when the result is a URL, else with `os.path.join`."""
    if not parts:
        raise TypeError("join() needs at least one path part")
    texts = [os.fspath(part) for part in parts]
    last_url = max((i for i, text in enumerate(texts) if is_url(text)), default=None)
    if last_url is None:
        return os.path.join(*texts)
    # Like os.path.join, a later URL starts over; unlike it, a leading "/" in a later part
    # does not reset the URL (object keys are always relative to the bucket).
    result = texts[last_url]
    for text in texts[last_url + 1 :]:
        if not text:
            continue
        separator = "" if result.endswith("/") else "/"
        result += separator + text.lstrip("/")
    return result


def relpath(path: PathArg, start: PathArg) -> str:
    """Return ``path`` relative to ``start``; both must be local paths or URLs of one scheme."""
    protocol, rest = split_protocol(path)
    start_protocol, start_rest = split_protocol(start)
    if protocol is None and start_protocol is None:
        return os.path.relpath(rest, start_rest)
    if protocol != start_protocol:
        raise StoragePathError(
            f"relpath: path {os.fspath(path)!r} and start {os.fspath(start)!r} have different schemes; "
            "accepted: two local paths or two URLs with the same scheme"
        )
    return posixpath.relpath("/" + rest.lstrip("/"), "/" + start_rest.lstrip("/"))


def dirname(path: PathArg) -> str:
    """Return the parent of a local path or URL (``s3://b/a/x`` -> ``s3://b/a``)."""
    protocol, rest = split_protocol(path)
    if protocol is None:
        return os.path.dirname(rest)
    return f"{protocol}://{posixpath.dirname(rest)}"


def basename(path: PathArg) -> str:
    """Return the last component of a local path or URL."""
    protocol, rest = split_protocol(path)
    if protocol is None:
        return os.path.basename(rest)
    return posixpath.basename(rest)


def safe_join(root: PathArg, *parts: PathArg) -> str:
    """Join relative parts below ``root``; each part must follow the path rules of `brevettiai.contract.paths`
    (no ``..``, nothing absolute, no URL, no NUL or backslash, length limits)."""
    for index, part in enumerate(parts):
        text = os.fspath(part)
        try:
            path_parts(text)
        except PathRuleError as exc:
            raise StoragePathError(
                f"path part {index + 1} {text!r} (below {os.fspath(root)!r}) is refused: {exc.reason}; "
                f"accepted: {ACCEPTED}"
            ) from None
    return join(root, *parts)
