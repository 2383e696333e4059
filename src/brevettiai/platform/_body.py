"""A streamed response body read into buffers the caller owns, straight from the socket when it can be.

httpx receives a body in 64 KiB pieces, each copied through h11's buffer into a new bytes object; for a
file of hundreds of MB that costs more CPU than the transfer itself (a client on the same machine as
the server is bound by it). Once h11 has handed over the first piece of a plain HTTP/1.1 body of known
length, its buffer is empty and the rest of the body is exactly the next bytes on the socket, so
`BodyReader` receives them with ``recv_into`` into the caller's buffer: one copy, as curl does. The
connection is then closed rather than reused (h11 never saw the body end), so only bodies of
`DIRECT_BODY_MIN` and more are read this way. Anything else (an encoded or chunked body, HTTP/2, a
TLS-in-TLS proxy tunnel, a test transport) is read through httpx as before.
"""

from __future__ import annotations

import io
import socket
import ssl
from collections.abc import Callable, Iterator

import httpx

DIRECT_BODY_MIN = 4 << 20


class BodyReader:
    """The body of a streamed httpx response, read into buffers the caller owns (the caller closes the response)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._length = _content_length(response)
        self._received = 0
        self._pending = memoryview(b"")
        self._socket = _body_socket(response, self._length)
        self._pieces: Iterator[bytes] | None = None

    @property
    def length(self) -> int | None:
        """The body's length when the response declares it (a Range answer: the range's)."""
        return self._length

    def readinto(self, view: memoryview) -> int:
        """Fill `view` with the next bytes of the body; fewer only at its end (0: the body is over)."""
        filled = self._take_pending(view)
        if filled < len(view) and self._pieces is None:
            if self._socket is not None:
                # One piece through httpx: it empties h11's buffer, so what follows on the socket is body.
                # The iterator is kept: dropping it would make httpcore close the connection at once.
                self._pieces = self._response.iter_raw()
                first = next(self._pieces, b"")
                self._received += len(first)
                self._pending = memoryview(first)
                filled += self._take_pending(view[filled:])
            else:
                self._pieces = self._response.iter_bytes()  # no chunk_size: httpx re-chunking costs half the speed
        while filled < len(view):
            got = self._receive_into(view[filled:]) if self._socket is not None else self._next_piece(view[filled:])
            if not got:
                break
            filled += got
        return filled

    def _take_pending(self, view: memoryview) -> int:
        count = min(len(view), len(self._pending))
        if count:
            view[:count] = self._pending[:count]
            self._pending = self._pending[count:]
        return count

    def _next_piece(self, view: memoryview) -> int:
        assert self._pieces is not None
        piece = next(self._pieces, b"")
        self._pending = memoryview(piece)
        return self._take_pending(view)

    def _receive_into(self, view: memoryview) -> int:
        assert self._socket is not None and self._length is not None
        wanted = min(len(view), self._length - self._received)
        if wanted <= 0:
            return 0
        try:
            got = self._socket.recv_into(view, wanted)
        except TimeoutError as exc:  # the socket keeps the read timeout httpx set for this response
            raise httpx.ReadTimeout(f"no part of the body arrived within the read timeout: {exc}",
                                    request=self._response.request) from exc
        except OSError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=self._response.request) from exc
        if got == 0:
            raise httpx.RemoteProtocolError(
                f"peer closed connection without sending complete message body: received {self._received} "
                f"bytes, expected {self._length}", request=self._response.request)
        self._received += got
        return got

    def read_all(self) -> bytes:
        """The rest of the body as one bytes object, received into it in place when its length is known."""
        if self._socket is None:  # through httpx (it may decode the body: its length is not the header's)
            parts = [bytes(self._pending)]
            self._pending = memoryview(b"")
            parts.extend(self._pieces if self._pieces is not None else self._response.iter_bytes())
            return b"".join(parts)
        assert self._length is not None  # a body read from the socket declared its length
        return filled_bytes(self._length - self._received + len(self._pending), self.readinto)


def filled_bytes(size: int, fill: Callable[[memoryview], int]) -> bytes:
    """A bytes object of up to `size` bytes written in place by `fill(view)` (which returns how many it wrote).

    A `BytesIO` made from a fresh zero bytes object owns it alone, so `getbuffer` writes into it and
    `getvalue` hands back that very object: no copy of the data (CPython; elsewhere at worst one copy).
    """
    holder = io.BytesIO(bytes(size))
    with holder.getbuffer() as view:
        written = fill(view)
    if written < size:
        holder.truncate(written)
    return holder.getvalue()


def _content_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _body_socket(response: httpx.Response, length: int | None) -> socket.socket | None:
    """The socket the rest of a large plain HTTP/1.1 body arrives on, or None to read it through httpx."""
    if length is None or length < DIRECT_BODY_MIN or response.http_version != "HTTP/1.1":
        return None
    if response.headers.get("content-encoding", "identity") != "identity" or "transfer-encoding" in response.headers:
        return None
    stream = response.extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    if get_extra_info is None:
        return None
    sock = get_extra_info("socket")
    if not isinstance(sock, socket.socket):
        return None
    tls = get_extra_info("ssl_object")
    if isinstance(sock, ssl.SSLSocket):
        # the socket must be the TLS connection itself, not the outer one of a TLS-in-TLS proxy tunnel
        return sock if tls is not None and tls is getattr(sock, "_sslobj", None) else None
    return sock if tls is None else None

