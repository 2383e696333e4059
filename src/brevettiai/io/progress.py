"""Progress bars for long copies: drawn only on a terminal and only when the copy is large."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LARGE_COPY_BYTES = 8 * 1024 * 1024

Advance = Callable[[int], object]


def no_progress(_n_bytes: int) -> None:
    """Accept a progress update and do nothing."""


def stderr_is_terminal() -> bool:
    """Return True when stderr is attached to a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # closed or detached stream
        return False


@contextmanager
def byte_progress(total_bytes: int, description: str) -> Iterator[Advance]:
    """Yield an ``advance(n_bytes)`` function; it draws a tqdm bar only for large copies on a TTY."""
    if total_bytes <= LARGE_COPY_BYTES or not stderr_is_terminal():
        yield no_progress
        return
    from tqdm import tqdm  # imported here so `import brevettiai.io` stays fast

    with tqdm(
        total=total_bytes,
        desc=description,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        file=sys.stderr,
    ) as bar:
        yield bar.update
