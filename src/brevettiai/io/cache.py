"""A validated local read cache for remote files.

A cached copy of ``<protocol>://<key>`` lives at ``<root>/<protocol>/<key>``; next to the tree, at
``<root>/.meta/<protocol>/<key>.json``, a sidecar records which remote version the copy holds (its
ETag, else its mtime and size) and which local file it wrote. A lookup only answers when both still
match, so a copy is never served after the remote file changed, whoever changed it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import BinaryIO, cast

from brevettiai.contract.jsontypes import JSONValue
from brevettiai.errors import StoragePathError
from brevettiai.io.atomic import atomic_write
from brevettiai.io.path import PathArg, local_path, safe_join

logger = logging.getLogger(__name__)

Signature = dict[str, JSONValue]  # {"etag": ...} or {"mtime": ..., "size": ...}

_META_DIR = ".meta"  # schemes start with a letter, so this never clashes with a protocol folder
_ETAG_KEYS = ("ETag", "etag", "e_tag")
_MTIME_KEYS = ("mtime", "LastModified", "last_modified", "modified", "updated", "created")


def remote_signature(info: Mapping[str, object]) -> Signature | None:
    """Return what identifies this version of a remote file (ETag, else mtime and size), or None."""
    for key in _ETAG_KEYS:
        if info.get(key):
            return {"etag": str(info[key])}
    for key in _MTIME_KEYS:
        if info.get(key) is not None:
            return {"mtime": str(info[key]), "size": cast(JSONValue, info.get("size"))}
    return None


class ReadCache:
    """Local copies of remote files, each checked against the remote's signature before use."""

    def __init__(self, root: PathArg) -> None:
        local = local_path(root)
        if local is None or not os.path.isdir(local):
            raise StoragePathError(
                f"cache root {os.fspath(root)!r} is not an existing local folder; "
                "accepted: the path of an existing local directory, or None to disable the cache"
            )
        self.root = os.path.abspath(local)

    def entry_path(self, protocol: str, key: str) -> str:
        """Return where the cached copy of ``protocol://key`` lives."""
        return safe_join(self.root, protocol, *_key_parts(key))

    def _sidecar_path(self, protocol: str, key: str) -> str:
        return safe_join(self.root, _META_DIR, protocol, *_key_parts(key)) + ".json"

    def lookup(self, protocol: str, key: str, signature: Signature | None) -> str | None:
        """Return the cached copy's path when it holds the version ``signature`` names, else None."""
        if signature is None:
            return None  # nothing to validate against: never trust the copy
        data_path = self.entry_path(protocol, key)
        try:
            with open(self._sidecar_path(protocol, key), encoding="utf-8") as handle:
                recorded = json.load(handle)
            stat = os.stat(data_path)
        except (OSError, ValueError):
            return None
        if recorded.get("signature") != signature or recorded.get("local") != _local_identity(stat):
            return None
        return data_path

    def store(
        self, protocol: str, key: str, signature: Signature | None, fill: Callable[[BinaryIO], None]
    ) -> str:
        """Write a new copy through ``fill(handle)``, record ``signature`` and return the copy's path."""
        data_path = self.entry_path(protocol, key)
        atomic_write(data_path, fill)
        # The sidecar names the exact local file (inode, size, mtime) it describes: if another
        # process replaces the copy between our two renames, the pair no longer matches and the
        # next lookup re-fetches instead of trusting a copy of some other version.
        record = {"signature": signature, "local": _local_identity(os.stat(data_path))}
        payload = json.dumps(record).encode("utf-8")
        atomic_write(self._sidecar_path(protocol, key), lambda handle: handle.write(payload))
        logger.debug("cached %s://%s at %s", protocol, key, data_path)
        return data_path

    def drop(self, protocol: str, key: str) -> None:
        """Forget the cached copy of ``protocol://key``, or of everything below it."""
        try:
            data_path = self.entry_path(protocol, key)
            sidecar = self._sidecar_path(protocol, key)
        except StoragePathError:
            return  # such a key is never cached
        for path in (data_path, sidecar, sidecar[: -len(".json")]):
            if os.path.isdir(path) and not os.path.islink(path):
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass


def _key_parts(key: str) -> list[str]:
    """Split a filesystem key into the path segments of its cache entry."""
    parts = [part for part in key.split("/") if part]
    if not parts:
        raise StoragePathError(f"cannot cache {key!r}; accepted: the key of a file")
    return parts


def _local_identity(stat: os.stat_result) -> list[int]:
    """Return what tells one local file apart from a later replacement of it."""
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]
