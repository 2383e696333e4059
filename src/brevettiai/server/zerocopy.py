"""File bodies sent with ``sendfile``: the kernel copies page cache to socket, the server never sees the bytes.

uvicorn offers no ASGI extension for it, so `enable` wraps the application at the server's edge and
offers the ASGI *zero copy send* extension (``http.response.zerocopysend``: a file, an offset and a
count) on connections served by uvicorn's httptools protocol, whose transport is a plain TCP socket.
A `FileBody` response uses it when offered and otherwise reads the file in large pieces in a thread,
as a streamed response would. Status, headers (``Content-Length``, ``Content-Range``, ``ETag``) and
Range handling stay with the endpoint; only the body's route changes.

While a body is sent this way, the event loop writes nothing to that connection (the headers are
flushed first; HTTP/1.1 sends one response at a time), so writing to the socket from a worker
thread is safe. A client that goes away or stops reading for `STALL_SECONDS` gets its connection
closed, as uvicorn would.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import select
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brevettiai.server.errors import ApiError, error_response

log = logging.getLogger("brevettiai.server.zerocopy")

EXTENSION = "http.response.zerocopysend"
PIECE = 8 << 20  # bytes per read when the extension is not offered
STALL_SECONDS = 120.0  # a client that reads nothing this long is cut off
SENDER_THREADS = 64  # bodies sent at once; a slow client holds one for its whole download

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _senders() -> ThreadPoolExecutor:
    """Threads that open, read and send files: a pool of their own, so slow clients hold no other work."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="sendfile")
        return _pool


def _uvicorn_cycle(send: Send) -> Any | None:
    """uvicorn's request-response cycle behind `send`, when it is the httptools one on a socket."""
    cycle = getattr(send, "__self__", None)
    if type(cycle).__module__ != "uvicorn.protocols.http.httptools_impl":
        return None
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(cycle, "expected_content_length"):
        return None
    if transport.get_extra_info("socket") is None or transport.get_extra_info("ssl_object") is not None:
        return None  # no socket, or TLS: the bytes must pass through the transport
    return cycle


def _sendfile_all(sock_fd: int, file_fd: int, offset: int, count: int) -> int:
    """Send `count` bytes of the file from `offset` to the (non-blocking) socket; the bytes sent."""
    poller = select.poll()
    poller.register(sock_fd, select.POLLOUT)
    sent = 0
    while sent < count:
        try:
            n = os.sendfile(sock_fd, file_fd, offset + sent, count - sent)
        except BlockingIOError:
            if not poller.poll(STALL_SECONDS * 1000):
                raise TimeoutError(errno.ETIMEDOUT, "the client read nothing for a long time") from None
            continue
        if n == 0:  # the file is shorter than when it was measured
            break
        sent += n
    return sent


def _sendfile_owned(sock_fd: int, file_fd: int, offset: int, count: int) -> int:
    """`_sendfile_all` on descriptors this thread owns, closed when it is done (even if the request is gone)."""
    try:
        return _sendfile_all(sock_fd, file_fd, offset, count)
    finally:
        os.close(file_fd)
        os.close(sock_fd)


def enable(app: ASGIApp) -> ASGIApp:
    """`app`, offered the zero copy send extension wherever the server connection allows it."""

    async def with_zero_copy(scope: Scope, receive: Receive, send: Send) -> None:
        cycle = _uvicorn_cycle(send) if scope["type"] == "http" else None
        if cycle is None:
            await app(scope, receive, send)
            return
        scope["extensions"] = {**(scope.get("extensions") or {}), EXTENSION: {}}

        async def send_or_sendfile(message: Message) -> None:
            if message["type"] != EXTENSION:
                await send(message)
                return
            await _zero_copy(cycle, send, message)

        await app(scope, receive, send_or_sendfile)

    return with_zero_copy


async def _zero_copy(cycle: Any, send: Send, message: Message) -> None:
    """Send a zerocopysend message's file range straight to the socket, then finish the body."""
    more_body = bool(message.get("more_body", False))
    handle = message["file"]
    offset = int(message.get("offset") or 0)
    count = message.get("count")
    count = os.fstat(handle.fileno()).st_size - offset if count is None else int(count)
    if cycle.disconnected:
        return
    transport = cycle.transport
    if cycle.chunked_encoding or transport.get_write_buffer_size() or count > cycle.expected_content_length:
        await _send_read(handle, offset, count, send, more_body)  # not a plain socket moment: the safe way
        return
    loop = asyncio.get_running_loop()
    # The sending thread gets descriptors of its own: when the client goes away, uvicorn closes the
    # connection's socket and the endpoint its file, and the kernel may hand those numbers to the next
    # connection or file at once; a thread still writing to the old numbers would send this file's bytes
    # to another client (or another file's bytes to this one). Duplicates keep both open until it ends.
    sock_fd = os.dup(transport.get_extra_info("socket").fileno())
    try:
        file_fd = os.dup(handle.fileno())
    except OSError:
        os.close(sock_fd)
        raise
    try:
        sent = await loop.run_in_executor(_senders(), _sendfile_owned, sock_fd, file_fd, offset, count)
    except OSError as exc:  # gone, reset or stalled: the connection is over
        log.debug("sendfile to %s stopped: %s", transport.get_extra_info("peername"), exc)
        transport.abort()
        return
    if sent < count:  # Content-Length promised more than the file holds now
        transport.abort()
        return
    cycle.expected_content_length -= sent
    await send({"type": "http.response.body", "body": b"", "more_body": more_body})


async def _send_read(handle: Any, offset: int, count: int, send: Send, more_body: bool = False) -> None:
    """The file range read in large pieces in a thread and sent as body messages."""
    loop = asyncio.get_running_loop()
    fd = handle.fileno()
    done = 0
    while done < count:
        piece = await loop.run_in_executor(_senders(), os.pread, fd, min(PIECE, count - done), offset + done)
        if not piece:
            break
        done += len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": more_body})


class FileBody(Response):
    """A response whose body is `count` bytes of a local file from `offset` (status and headers as given).

    The file is opened by `opener` when the body is sent (and closed after); with the zero copy
    extension the kernel sends it, else it is read in large pieces.
    """

    def __init__(self, opener: Callable[[], Any], offset: int, count: int, status_code: int = 200,
                 headers: dict[str, str] | None = None, media_type: str | None = None) -> None:
        self.opener, self.offset, self.count = opener, offset, count
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.body = b""
        self.init_headers(headers)
        self.headers["content-length"] = str(count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            handle = await asyncio.get_running_loop().run_in_executor(_senders(), self.opener)
        except (FileNotFoundError, NotADirectoryError):  # deleted since the endpoint looked
            await error_response(ApiError(404, "the file was deleted meanwhile"))(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if scope.get("method") == "HEAD" or self.count == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif EXTENSION in (scope.get("extensions") or {}):
                await send({"type": EXTENSION, "file": handle, "offset": self.offset, "count": self.count,
                            "more_body": False})
            else:
                await _send_read(handle, self.offset, self.count, send)
        finally:
            handle.close()
