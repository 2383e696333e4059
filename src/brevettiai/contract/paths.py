"""The rules a relative storage path must follow, on both halves: the SDK joining artifact and cache
paths below a root, and the server taking a path inside a resource from a client.

One rule set, the strict one: no NUL, no URL, nothing absolute (``/``, ``\\``, a drive letter), no
``..`` segment, no backslash (``/`` separates folders), valid UTF-8, names of at most 255 bytes, at
most 64 levels and 1024 bytes in all (S3's key limit).
"""

from __future__ import annotations

import re

from brevettiai.errors import StoragePathError

MAX_NAME_BYTES = 255  # the limit of every common filesystem (NAME_MAX)
MAX_PATH_BYTES = 1024  # S3's key limit; far beyond any sane dataset layout
MAX_PATH_DEPTH = 64
ACCEPTED = ("a relative path with '/' between names, without '..' segments, NUL, backslashes, "
            "a leading '/', a drive letter or 'scheme://'")

# A URL's ``scheme://`` prefix, group 1 the scheme: a letter, then letters, digits, "+", "-" or "."
# (RFC 3986). Requiring "://" keeps Windows drive paths ("C:\\data") local. Every module that tells a
# URL from a path uses this one.
URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_DRIVE = re.compile(r"^[A-Za-z]:")


class PathRuleError(StoragePathError):
    """A relative path breaks a path rule; `too_long` when the rule broken is a length or depth limit."""

    def __init__(self, reason: str, too_long: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_long = too_long


def path_parts(path: str, *, allow_empty: bool = True) -> list[str]:
    """The names of a relative path (empty and ``.`` segments dropped); `PathRuleError` saying why it is refused."""
    shown = repr(path[:200])
    if "\x00" in path:
        raise PathRuleError("the path contains a NUL character")
    if URL_SCHEME.match(path):
        raise PathRuleError(f"the path {shown} is a URL")
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        raise PathRuleError(f"the path {shown} is absolute; give it relative to its root")
    # Backslashes count as separators here so "a\\..\\b" is named for its '..'.
    if ".." in re.split(r"[/\\]", path):
        raise PathRuleError(f"the path {shown} contains a '..' segment")
    if "\\" in path:
        raise PathRuleError(f"the path {shown} contains a backslash; use '/' between folders")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts and not allow_empty:
        raise PathRuleError("a file path is needed, not an empty one")
    if len(parts) > MAX_PATH_DEPTH:
        raise PathRuleError(f"the path is {len(parts)} folders deep; at most {MAX_PATH_DEPTH} levels are allowed",
                            too_long=True)
    try:
        sizes = [len(part.encode("utf-8")) for part in parts]
    except UnicodeEncodeError:
        raise PathRuleError("the path is not valid UTF-8 (it holds a lone surrogate)") from None
    for part, size in zip(parts, sizes, strict=True):
        if size > MAX_NAME_BYTES:
            raise PathRuleError(f"the name {part[:40]!r}... is {size} bytes long; a file or folder name may have "
                                f"at most {MAX_NAME_BYTES} bytes (UTF-8)")
    total = sum(sizes) + len(parts) - 1
    if total > MAX_PATH_BYTES:
        raise PathRuleError(f"the path is {total} bytes long; at most {MAX_PATH_BYTES} bytes are allowed",
                            too_long=True)
    return parts


def clean_relative_path(path: str, *, allow_empty: bool = True) -> str:
    """The normalised form of a relative path (``a//b/./c/`` -> ``a/b/c``); `PathRuleError` if it breaks a rule."""
    return "/".join(path_parts(path, allow_empty=allow_empty))


def resource_id_problem(rid: str) -> str | None:
    """Why `rid` is not a resource id (one safe path segment, not hidden), or None."""
    if rid in ("", ".", "..") or "/" in rid or "\\" in rid or "\x00" in rid or rid.startswith("."):
        return f"{rid[:100]!r} is not a resource id"
    if len(rid.encode("utf-8", "replace")) > MAX_NAME_BYTES:
        return f"a resource id has at most {MAX_NAME_BYTES} bytes"
    return None
