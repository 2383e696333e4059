"""Fixtures that run the real platform server (``brevettiai server``) as a separate process.

- `platform_server`: one server per test session (per xdist worker), shared by the tests.
- `fresh_platform_server`: a server with its own data dir for one test (restarts, first start).
- `platform_server_factory`: start servers with extra flags or environment, e.g.
  ``platform_server_factory("--heartbeat-timeout", "2")``; ``admin_password=None`` starts without
  ``BREVETTI_AI_ADMIN_PASSWORD`` and reads the generated password the server prints.

Each yields a `PlatformServer`: ``.url``, ``.admin_password``, ``.data_dir``, ``.process``,
``.admin_token()``, ``.client(token)``, ``.restart()``, ``.stop()``, ``.log()``. Every process
is killed at the end, whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

__all__ = ["PlatformServer", "admin_name", "fresh_platform_server", "platform_server", "platform_server_factory",
           "start_platform_server"]

ADMIN_PASSWORD = "admin-password-for-tests"
READY = "brevettiai platform listening on "
GENERATED = "Created user 'admin' with password: "


def admin_name(server: object) -> str:
    """The admin user's name on a test platform server."""
    return getattr(server, "admin_username", "admin")


class PlatformServer:
    """A `brevettiai server` process on 127.0.0.1 with its own data dir."""

    def __init__(self, data_dir: Path, args: Sequence[str] = (), env: dict[str, str] | None = None,
                 admin_password: str | None = ADMIN_PASSWORD) -> None:
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.admin_password = admin_password
        self.url = ""
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    def start(self, timeout: float = 180.0) -> PlatformServer:  # a loaded 2-core machine may take a minute and more
        """Start the server and wait for its ready line."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BREVETTI_AI_", "BREVETTIAI_"))}
        if self.admin_password is not None:
            env["BREVETTI_AI_ADMIN_PASSWORD"] = self.admin_password
        env.update(self.extra_env)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        command = [sys.executable, "-m", "brevettiai.cli", "server", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.data_dir), *self.args]
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log(offset)
            if READY in text:
                self.url = text.split(READY, 1)[1].split()[0]
                self.port = int(self.url.rsplit(":", 1)[1])
                if self.admin_password is None and GENERATED in text:  # a first start without the variable
                    self.admin_password = text.split(GENERATED, 1)[1].split()[0]
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the platform server exited with {self.process.returncode}:\n{text[-5000:]}")
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the platform server was not ready within {timeout} s:\n{self.log(offset)[-5000:]}")

    def log(self, offset: int = 0) -> str:
        """What the server printed (stdout and stderr) from byte `offset` on."""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(offset)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the server if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> PlatformServer:
        """Stop and start again on the same port and data dir."""
        self.stop()
        return self.start()

    def admin_token(self) -> str:
        """Log in as admin over HTTP; a new user token."""
        response = httpx.post(f"{self.url}/api/auth/token",
                              json={"username": "admin", "password": self.admin_password}, timeout=30)
        response.raise_for_status()
        return response.json()["accessToken"]

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        """An httpx client for the server, sending `token` (default: a new admin token)."""
        token = self.admin_token() if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Idle connections dropped before the server's keep-alive (5 s) closes them: a POST on a connection
        # being closed fails without an answer.
        kwargs.setdefault("limits", httpx.Limits(keepalive_expiry=2))
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


def start_platform_server(data_dir: Path, args: Sequence[str] = (), env: dict[str, str] | None = None,
                          admin_password: str | None = ADMIN_PASSWORD) -> PlatformServer:
    """A started server (the caller stops it); for fixtures of other scopes than these."""
    server = PlatformServer(data_dir, args, env, admin_password)
    try:
        return server.start()
    except BaseException:
        server.kill()
        raise


@pytest.fixture(scope="session")
def platform_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    """One platform server for the test session (per xdist worker)."""
    server = start_platform_server(tmp_path_factory.mktemp("platform") / "data")
    try:
        yield server
    finally:
        server.stop()
        server.kill()


@pytest.fixture
def platform_server_factory(tmp_path: Path) -> Iterator[object]:
    """Start platform servers with extra flags/environment for one test: ``factory(*args, env=None)``."""
    servers: list[PlatformServer] = []

    def start(*args: str, env: dict[str, str] | None = None, admin_password: str | None = ADMIN_PASSWORD,
              data_dir: Path | None = None) -> PlatformServer:
        server = start_platform_server(data_dir or tmp_path / f"server{len(servers)}", args, env, admin_password)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
            server.kill()


@pytest.fixture
def fresh_platform_server(platform_server_factory: object) -> PlatformServer:
    """A platform server with its own, new data dir, for one test."""
    return platform_server_factory()  # type: ignore[operator]
