"""The one HTTP client every SDK call to the platform goes through.

It sets the bearer token header (secrets never go in URLs), applies timeouts, retries with
exponential backoff on connection errors and 5xx answers, and turns error answers into the
`brevettiai.errors.Platform*Error` classes with the server's own explanation.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypedDict, Unpack

import httpx

from brevettiai.contract.jsontypes import JSONLike
from brevettiai.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformNotFoundError,
    PlatformUnavailableError,
    PlatformValidationError,
)

log = logging.getLogger("brevettiai.platform.http")
KEEPALIVE_SECONDS = 2.0  # below the server's keep-alive timeout (5 s: timeout_keep_alive in server/serve.py)

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRY_STATUS = frozenset({500, 502, 503, 504})

QueryValue = str | int | float | bool | None
RequestContent = str | bytes | Iterable[bytes]


class RequestOptions(TypedDict, total=False):
    """The keyword arguments of `PlatformClient.request` (and of get/post/put/delete)."""

    json: JSONLike
    content: RequestContent | None
    data: Mapping[str, object] | None
    params: Mapping[str, QueryValue] | None
    headers: Mapping[str, str] | None
    expected: Iterable[int]
    idempotent: bool | None
    timeout: float | None
    retries: int | None


class OpenStreamOptions(TypedDict, total=False):
    """The keyword arguments of `PlatformClient.open_stream`."""

    params: Mapping[str, QueryValue] | None
    headers: Mapping[str, str] | None
    timeout: float | None


class StreamOptions(OpenStreamOptions, total=False):
    """The keyword arguments of `PlatformClient.stream`."""

    follow_redirects: bool


def normalize_host(host: str) -> str:
    """The base URL of a platform: scheme added when missing, no trailing slash."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = "http://" + host
    return host


class PlatformClient:
    """HTTP access to one platform with one token (a job key or a user token)."""

    def __init__(self, host: str, token: str | None = None, *, timeout: float = 30.0, retries: int = 5,
                 backoff: float = 0.25, max_backoff: float = 8.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.host = normalize_host(host)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._token = token
        # Idle connections are dropped before the server's keep-alive (5 s) closes them: a POST sent on a
        # connection the server is closing fails without an answer and cannot always be sent again.
        self._client = httpx.Client(base_url=self.host, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                    headers=self._auth_headers(token), transport=transport,
                                    limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS))

    @staticmethod
    def _auth_headers(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def set_token(self, token: str | None) -> None:
        """Use another token for the following requests."""
        self._token = token
        self._client.headers.pop("Authorization", None)
        self._client.headers.update(self._auth_headers(token))

    @property
    def token(self) -> str | None:
        """The token requests are sent with."""
        return self._token

    def __repr__(self) -> str:
        return f"PlatformClient(host={self.host!r}, token={'***' if self._token else None})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def request(self, method: str, path: str, *, json: JSONLike = None, content: RequestContent | None = None,
                data: Mapping[str, object] | None = None, params: Mapping[str, QueryValue] | None = None, headers: Mapping[str, str] | None = None,
                expected: Iterable[int] = (), idempotent: bool | None = None, timeout: float | None = None,
                retries: int | None = None) -> httpx.Response:
        """Send a request; retry when safe; raise a Platform*Error for error answers not in `expected`."""
        method = method.upper()
        retry_all = method in _IDEMPOTENT if idempotent is None else idempotent
        attempts = 1 + (self.retries if retries is None else retries)
        last_error: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.retry_delay(attempt))
            try:
                response = self._client.request(method, path, json=json, content=content, data=data, params=params,
                                                headers=headers,
                                                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout)
            except httpx.TransportError as exc:
                last_error = exc
                # A request that never reached the server can always be sent again.
                if retry_all or isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                    log.debug("%s %s failed (%s); attempt %d of %d", method, path, type(exc).__name__,
                              attempt + 1, attempts)
                    continue
                break
            if response.status_code in _RETRY_STATUS and retry_all and attempt + 1 < attempts:
                log.debug("%s %s answered %d; retrying", method, path, response.status_code)
                continue
            if response.status_code >= 400 and response.status_code not in set(expected):
                raise self._error(method, path, response)
            return response
        raise PlatformUnavailableError(
            f"the platform at {self.host} did not answer {method} {path} after {attempts} attempts: "
            f"{type(last_error).__name__}: {last_error}") from last_error

    def retry_delay(self, attempt: int) -> float:
        """How long to wait before retry number `attempt` (exponential with jitter)."""
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)

    def _error(self, method: str, path: str, response: httpx.Response) -> PlatformError:
        try:
            detail = response.json().get("detail")
        except Exception:
            detail = _foreign_answer(response, self.host)
        status = response.status_code
        message = f"{method} {path} on {self.host}: {status} {_detail_text(detail)}"
        if status in (401, 403):
            return PlatformAuthError(message, status, detail)
        if status == 404:
            return PlatformNotFoundError(message, status, detail)
        if status in (400, 409, 413, 422):
            return PlatformValidationError(message, status, detail)
        if status >= 500:
            return PlatformUnavailableError(message, status, detail)
        return PlatformError(message, status, detail)

    def get(self, path: str, **kwargs: Unpack[RequestOptions]) -> httpx.Response:
        """GET, retried on failure."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Unpack[RequestOptions]) -> httpx.Response:
        """POST (retried only when it never reached the server, unless `idempotent=True`)."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Unpack[RequestOptions]) -> httpx.Response:
        """PUT, retried on failure."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Unpack[RequestOptions]) -> httpx.Response:
        """DELETE, retried on failure."""
        return self.request("DELETE", path, **kwargs)

    def stream(self, method: str, path: str,
               **kwargs: Unpack[StreamOptions]) -> AbstractContextManager[httpx.Response]:
        """A streamed response as a context manager (no retries: the caller reads it as it comes)."""
        return self._client.stream(method, path, **kwargs)

    def open_stream(self, method: str, path: str, **kwargs: Unpack[OpenStreamOptions]) -> httpx.Response:
        """A streamed response the caller reads and then closes (no retries, no error check)."""
        return self._client.send(self._client.build_request(method, path, **kwargs), stream=True)

    def check(self, method: str, path: str, response: httpx.Response) -> None:
        """Raise the Platform*Error for an error answer from `stream`."""
        if response.status_code >= 400:
            response.read()
            raise self._error(method, path, response)


def _foreign_answer(response: httpx.Response, host: str) -> str:
    """One line for an answer the platform would not give (an HTML error page of a proxy or another server)."""
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    title = re.search(r"<title>(.*?)</title>", response.text, re.IGNORECASE | re.DOTALL)
    excerpt = " ".join((title.group(1) if title else response.text).split())[:120]
    return f"not a brevettiai platform's answer ({kind}{': ' + excerpt if excerpt else ''}); is {host} the platform's URL?"


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", item)))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail) if detail is not None else ""
