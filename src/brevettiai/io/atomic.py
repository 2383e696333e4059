"""Atomic local writes: readers see the old file or the whole new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from typing import BinaryIO


def atomic_write(path: str | os.PathLike[str], fill: Callable[[BinaryIO], object], mode: int = 0o666) -> None:
    """Write local ``path`` via ``fill(handle)`` into a temporary sibling, then rename it into place.

    `mode` is the new file's permission bits (before the umask); 0o600 keeps secrets to this user
    from the first byte on.
    """
    # No fsync: the rename already guarantees readers see the old or the new file, never half of
    # one; paying for durability on every cached or copied file would slow tree copies a lot.
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.part")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise
