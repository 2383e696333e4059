"""A request body handed to a worker thread while the event loop keeps receiving it.

An upload endpoint that awaited each disk write would leave the socket unread meanwhile: receiving,
hashing and writing would take turns. `consume_body` runs the writing side (`consume`, in a thread
of a pool of its own) on a `BodyReader` that the event loop fills as bytes arrive, at most `ahead` bytes in
advance, so the three overlap and memory stays bounded whatever the body's size.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

AHEAD = 8 << 20  # bytes received but not yet consumed, at most (per request)
CONSUMER_THREADS = 64  # uploads written at once; more wait (their bodies stop at AHEAD bytes meanwhile)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _consumers() -> ThreadPoolExecutor:
    """The threads that write request bodies: their own pool, so that long uploads never hold the
    threads every other endpoint runs in."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(CONSUMER_THREADS, thread_name_prefix="body")
        return _pool


async def in_body_thread(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a thread of the body writers' pool (with the caller's context variables):
    for a body received whole, a lighter trip than the shared pool's `run_in_threadpool`."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_consumers(), context.run, work, *args)


class BodyFailed(Exception):
    """The body could not be received whole (the client went away); the consumer stops here."""


class BodyReader:
    """The body as the consumer thread sees it: `next_chunk` (b"" at the end) and `read(n)`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ahead: int = AHEAD) -> None:
        self._loop, self._ahead = loop, ahead
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._cond = threading.Condition()
        self._ended = False
        self._error: BaseException | None = None
        self._gone = False  # the consumer stopped: the producer stops feeding
        self._producer_waits = False
        self._space = asyncio.Event()
        self._rest = memoryview(b"")

    # The event loop's side -----------------------------------------------------------------------

    async def feed(self, chunk: bytes) -> bool:
        """Queue a chunk, waiting while `ahead` bytes are queued; False once the consumer has stopped."""
        while True:
            with self._cond:
                if self._gone:
                    return False
                if self._buffered < self._ahead:
                    self._chunks.append(chunk)
                    self._buffered += len(chunk)
                    self._cond.notify()
                    return True
                self._producer_waits = True
                self._space.clear()
            await self._space.wait()

    def end(self, error: BaseException | None = None) -> None:
        """No more chunks: the body is complete, or (with `error`) it never will be."""
        with self._cond:
            self._ended, self._error = True, error
            self._cond.notify()

    # The consumer's side ------------------------------------------------------------------------

    def next_chunk(self) -> bytes:
        """The next piece of the body as it arrived; b"" at its end. Raises BodyFailed if it broke off."""
        if self._rest:
            rest, self._rest = bytes(self._rest), memoryview(b"")
            return rest
        with self._cond:
            while not self._chunks and not self._ended:
                self._cond.wait()
            if not self._chunks:
                if self._error is not None:
                    raise BodyFailed(str(self._error) or type(self._error).__name__)
                return b""
            chunk = self._chunks.popleft()
            self._buffered -= len(chunk)
            if self._producer_waits and self._buffered < self._ahead:
                self._producer_waits = False
                self._loop.call_soon_threadsafe(self._space.set)
        return chunk

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all that is left when negative); fewer only at the end."""
        parts, have = [], 0
        while size < 0 or have < size:
            chunk = self.next_chunk()
            if not chunk:
                break
            if size >= 0 and have + len(chunk) > size:
                cut = size - have
                self._rest = memoryview(chunk)[cut:]
                chunk = chunk[:cut]
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def stop(self) -> None:
        """The consumer is done (or failed): the producer stops feeding and drops what is queued."""
        with self._cond:
            self._gone = True
            self._chunks.clear()
            self._buffered = 0
        self._loop.call_soon_threadsafe(self._space.set)


async def consume_body(chunks: AsyncIterator[bytes], consume: Callable[[BodyReader], T], ahead: int = AHEAD) -> T:
    """Run `consume(reader)` in a worker thread while this task feeds it the body's chunks; its result.

    An error of the consumer (a refused file, a full disk) is raised here once the thread has ended;
    so is a broken body (after the consumer saw `BodyFailed` and cleaned up).
    """
    reader = BodyReader(asyncio.get_running_loop(), ahead)

    def run() -> T:
        try:
            return consume(reader)
        finally:
            reader.stop()

    worker = asyncio.get_running_loop().run_in_executor(_consumers(), run)
    try:
        async for chunk in chunks:
            if chunk and not await reader.feed(chunk):
                break
        reader.end()
    except BaseException as exc:
        reader.end(exc)
        await asyncio.wait([worker])  # the consumer sees BodyFailed and drops its partial file
        raise
    return await worker
