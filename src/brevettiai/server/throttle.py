"""Login throttling: backoff after failed logins, per username and per client address, and a bound on
how many password hashes run at once.

Each failed login counts against the username and against the client's address. After a few free
failures each further one doubles the wait before that key may try again (answered 429 with
``Retry-After``, without hashing anything). The two keys have different caps, which is the choice
that keeps the real user in:

- an *address* that keeps failing waits up to `ADDRESS_CAP` (5 minutes) between attempts, whatever
  usernames it tries, so one client can only guess a few passwords an hour;
- a *username* waits at most `USERNAME_CAP` (30 s) however many failures it has. Because the
  flooding address is itself held back, its failures reach the username rarely, and the real user,
  logging in from another address, is locked out for at most 30 s after one of them.

A success resets the username's and the address's counts; counts are forgotten after `FORGET_AFTER`
without failures. Password checks (scrypt, 16 MiB each) run on `MAX_HASHES` threads of their own; when
`MAX_WAITING` more are queued, further logins get 429 instead of memory and a stall. Every 429 is
held for up to `HOLD_REFUSED` (1 s) before it is sent: holding costs the server nothing (a sleeping
coroutine), and a client that floods the login then sends one request per second per connection
instead of thousands, so the rest of the server stays responsive.
Addresses are the TCP peer's: behind a reverse proxy every client shares the proxy's address (the
per-username limit still holds).
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from brevettiai.server.errors import ApiError

T = TypeVar("T")

USERNAME_FREE, USERNAME_CAP = 5, 30.0
ADDRESS_FREE, ADDRESS_CAP = 10, 300.0
FORGET_AFTER = 900.0
MAX_HASHES = max(1, min(4, (os.cpu_count() or 2) // 2))  # leave cores for everything else
HOLD_REFUSED = 1.0  # seconds a refused login is held before its 429: a flooding client slows to its pace
MAX_WAITING = 32
MAX_KEYS = 100_000


class _LockedMeanwhile(Exception):
    """The username or address was locked while this login waited for a hashing thread."""


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Failed-login backoff per username and per address; concurrent password checks bounded."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_hashes: int = MAX_HASHES,
                 max_waiting: int = MAX_WAITING) -> None:
        self.clock = clock
        self.max_waiting = max_waiting
        # Password checks run on their own few threads: at most `max_hashes` at once, and scrypt's
        # 16 MiB buffers stay in those threads' malloc arenas instead of one arena per pool thread.
        self._hashes = ThreadPoolExecutor(max_hashes, thread_name_prefix="brevettiai-login")
        self._waiting = 0
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this username and address may try again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [entry.locked_until - now for key in _keys(username, address)
                     if (entry := self._failures.get(key)) is not None]
        return max([0.0, *waits])

    def failed(self, username: str, address: str) -> None:
        """Count a failed login against the username and the address."""
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._forget_old(now)
            for key in _keys(username, address):
                entry = self._failures.setdefault(key, _Failures())
                if now - entry.last > FORGET_AFTER:
                    entry.count = 0
                entry.count += 1
                entry.last = now
                free, cap = (USERNAME_FREE, USERNAME_CAP) if key[0] == "user" else (ADDRESS_FREE, ADDRESS_CAP)
                if entry.count > free:
                    entry.locked_until = now + min(cap, 2.0 ** (entry.count - free - 1))

    def succeeded(self, username: str, address: str) -> None:
        """A successful login clears the counts of its username and address."""
        with self._lock:
            for key in _keys(username, address):
                self._failures.pop(key, None)

    async def check(self, username: str, address: str, verify: Callable[[], T]) -> T:
        """`verify()` (a login that raises 401 on wrong credentials; run on the login threads) unless
        throttled (429)."""
        if self.retry_after(username, address) > 0:
            await self._refuse(username, address)
        if self._waiting >= self.max_waiting:
            await asyncio.sleep(HOLD_REFUSED)
            raise ApiError(429, "too many logins at once: try again in a second", {"Retry-After": "1"})

        def guarded() -> T:
            # Logins queued behind a burst of failures for the same user or address are refused
            # without hashing once those failures have locked it.
            if self.retry_after(username, address) > 0:
                raise _LockedMeanwhile
            return verify()

        self._waiting += 1
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._hashes, guarded)
        except _LockedMeanwhile:
            await self._refuse(username, address)
        except ApiError as exc:
            if exc.status == 401:
                self.failed(username, address)
            raise
        finally:
            self._waiting -= 1
        self.succeeded(username, address)
        return result

    async def _refuse(self, username: str, address: str) -> NoReturn:
        """The 429 of a locked username or address, after holding the request up to `HOLD_REFUSED`."""
        hold = min(self.retry_after(username, address), HOLD_REFUSED)
        await asyncio.sleep(hold)
        seconds = max(1, math.ceil(self.retry_after(username, address)))
        raise ApiError(429, f"too many failed logins for this user or from this address: try again in "
                            f"{seconds} s", {"Retry-After": str(seconds)})

    def _forget_old(self, now: float) -> None:
        for key in [k for k, entry in self._failures.items() if now - entry.last > FORGET_AFTER
                    and entry.locked_until <= now]:
            del self._failures[key]
        if len(self._failures) >= MAX_KEYS:  # still full (a flood of made-up names): keep the locked ones
            for key in [k for k, entry in self._failures.items() if entry.locked_until <= now]:
                del self._failures[key]


def _keys(username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("user", username.strip().lower()[:255]), ("address", address)


def client_address(scope_client: tuple[str, int] | None) -> str:
    """The address a request came from (the TCP peer)."""
    return scope_client[0] if scope_client else "unknown"
