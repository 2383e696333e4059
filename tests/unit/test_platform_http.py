"""The platform client's retries and error answers, against `httpx.MockTransport` (no server needed).

Each test counts what really reached the transport, so a client that retried too often, too rarely
or sent the key in the URL fails here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from brevettiai.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformNotFoundError,
    PlatformUnavailableError,
    PlatformValidationError,
)
from brevettiai.platform._http import PlatformClient
from brevettiai.platform.filesystem import PlatformFileSystem, put_presigned

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """A transport that answers each request with the next step: a response, or an exception to raise."""

    def __init__(self, *steps: int | type[Exception] | httpx.Response) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/transfer/"):
            return httpx.Response(404, json={"detail": "no direct transfer on this platform"})
        self.requests.append(request)
        self.bodies.append(request.read())
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, type):
            raise step("scripted failure", request=request)
        if isinstance(step, httpx.Response):
            return step
        return httpx.Response(step, json={"detail": f"scripted {step}"} if step >= 400 else {"ok": True})


def client(script: Script, retries: int = 3) -> PlatformClient:
    return PlatformClient("platform.test", "job-key-123", retries=retries, backoff=0.0,
                          transport=httpx.MockTransport(script))


def test_a_get_is_retried_on_5xx_and_connection_errors_until_it_succeeds() -> None:
    script = Script(503, httpx.ConnectError, 502, 200)
    answer = client(script).get("/api/jobs/j")
    assert answer.json() == {"ok": True}
    assert len(script.requests) == 4


def test_a_get_that_keeps_failing_gives_up_after_its_retries_with_the_servers_reason() -> None:
    script = Script(503)
    with pytest.raises(PlatformUnavailableError) as caught:
        client(script, retries=2).get("/api/jobs/j")
    assert len(script.requests) == 3
    assert caught.value.status == 503 and "scripted 503" in str(caught.value)


def test_an_unreachable_platform_is_named_after_all_attempts() -> None:
    script = Script(httpx.ConnectError)
    with pytest.raises(PlatformUnavailableError) as caught:
        client(script, retries=2).get("/api/x")
    assert len(script.requests) == 3
    assert "after 3 attempts" in str(caught.value) and "ConnectError" in str(caught.value)


def test_a_post_is_not_repeated_after_the_server_may_have_acted_on_it() -> None:
    answered = Script(503)
    with pytest.raises(PlatformUnavailableError):
        client(answered).post("/api/models", json={"name": "m"})
    assert len(answered.requests) == 1
    timed_out = Script(httpx.ReadTimeout, 200)
    with pytest.raises(PlatformUnavailableError):
        client(timed_out).post("/api/models", json={"name": "m"})
    assert len(timed_out.requests) == 1


def test_a_post_that_never_reached_the_server_is_sent_again() -> None:
    script = Script(httpx.ConnectError, 200)
    assert client(script).post("/api/models", json={"name": "m"}).status_code == 200
    assert len(script.requests) == 2
    assert script.bodies[0] == script.bodies[1] == b'{"name":"m"}'


def test_an_idempotent_post_is_retried_on_5xx() -> None:
    script = Script(500, 200)
    assert client(script).post("/api/jobs/j/metrics", json=[], idempotent=True).status_code == 200
    assert len(script.requests) == 2


@pytest.mark.parametrize(("status", "error"), [(401, PlatformAuthError), (403, PlatformAuthError),
                                               (404, PlatformNotFoundError), (422, PlatformValidationError),
                                               (409, PlatformValidationError), (418, PlatformError)])
def test_client_errors_are_not_retried_and_keep_the_status(status: int, error: type[PlatformError]) -> None:
    script = Script(status)
    with pytest.raises(error) as caught:
        client(script).get("/api/x")
    assert len(script.requests) == 1
    assert caught.value.status == status and f"scripted {status}" in str(caught.value)


def test_validation_details_name_the_field() -> None:
    detail = [{"loc": ["body", "settings", "lr"], "msg": "must be > 0", "type": "value_error"}]
    script = Script(httpx.Response(422, json={"detail": detail}))
    with pytest.raises(PlatformValidationError) as caught:
        client(script).post("/api/models", json={})
    assert "settings.lr: must be > 0" in str(caught.value)
    assert caught.value.detail == detail


def test_the_key_travels_in_a_header_never_in_the_url() -> None:
    script = Script(200)
    platform = client(script)
    platform.get("/api/jobs/j", params={"a": "1"})
    request = script.requests[0]
    assert request.headers["authorization"] == "Bearer job-key-123"
    assert "job-key-123" not in str(request.url)
    assert "job-key-123" not in repr(platform)


# -- the brevettiai:// filesystem's uploads -----------------------------------------------------


def test_an_upload_through_the_server_is_sent_again_whole_after_failures(tmp_path: Path) -> None:
    payload = os.urandom(3 * (1 << 20) + 17)  # several chunks: each retry needs a fresh stream
    local = tmp_path / "data.bin"
    local.write_bytes(payload)
    script = Script(503, httpx.ConnectError, 204)
    fs = PlatformFileSystem(client=client(script), skip_instance_cache=True)
    fs.put_file(str(local), "brevettiai://ds1/folder/data.bin")
    puts = [r for r in script.requests if r.method == "PUT"]
    assert len(puts) == 3
    assert all(r.url.path == "/api/files/ds1/folder/data.bin" for r in puts)
    assert script.bodies[-1] == payload  # the last attempt carried the whole file


def test_an_upload_that_keeps_failing_raises_after_the_clients_retries(tmp_path: Path) -> None:
    local = tmp_path / "a.txt"
    local.write_bytes(b"abc")
    script = Script(503)
    fs = PlatformFileSystem(client=client(script, retries=2), skip_instance_cache=True)
    with pytest.raises(PlatformUnavailableError):
        fs.put_file(str(local), "brevettiai://ds1/a.txt")
    assert len(script.requests) == 3


def test_a_rejected_upload_is_not_retried(tmp_path: Path) -> None:
    local = tmp_path / "a.txt"
    local.write_bytes(b"abc")
    script = Script(403)
    fs = PlatformFileSystem(client=client(script), skip_instance_cache=True)
    with pytest.raises(PlatformAuthError):
        fs.put_file(str(local), "brevettiai://ds1/a.txt")
    assert len(script.requests) == 1


@pytest.mark.parametrize("size", [1000, 3 * (1 << 20) + 5])  # the larger one hashed in a thread while sent
def test_a_presigned_put_is_retried_on_5xx_and_checked_against_the_etag(tmp_path: Path, size: int) -> None:
    local = tmp_path / "img.png"
    content = os.urandom(size)
    local.write_bytes(content)
    md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
    script = Script(500, httpx.Response(200, headers={"ETag": f'"{md5}"'}))
    with httpx.Client(transport=httpx.MockTransport(script)) as http:
        assert put_presigned(http, "https://s3.test/b/k?X-Amz-Signature=s", str(local)) == md5
    assert len(script.requests) == 2 and script.bodies[-1] == content

    wrong = Script(httpx.Response(200, headers={"ETag": '"0123456789abcdef0123456789abcdef"'}))
    with httpx.Client(transport=httpx.MockTransport(wrong)) as http, pytest.raises(PlatformValidationError):
        put_presigned(http, "https://s3.test/b/k", str(local))
