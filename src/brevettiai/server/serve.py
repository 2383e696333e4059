"""Run the platform: bind the socket, start uvicorn, say when it is ready, stop gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable

import uvicorn

from brevettiai.server import zerocopy
from brevettiai.server.api.fastlane import JobFastLane
from brevettiai.server.app import create_app, prepare_database
from brevettiai.server.config import ConfigError, ServerConfig
from brevettiai.server.db.session import Database

log = logging.getLogger("brevettiai.server")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (port 0: the system picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio disables Nagle only on sockets that say so, and without that every
    # answer written in two pieces waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, calling back once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], object]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()


def serve(config: ServerConfig, on_ready: Callable[[ServerConfig], None],
          on_admin_password: Callable[[str], None] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; returns the process exit code.

    `config` is as loaded (unresolved): the port is bound first, so that port 0 and the derived
    public URL are known before the app starts. With ``workers`` > 1, that many processes share the
    socket (`brevettiai.server.workers`).
    """
    os.umask(0o077)  # everything the server creates is its own only: data files 0600, folders 0700
    sock = bind(config.host, config.port)
    try:
        resolved = config.resolved(port=sock.getsockname()[1])
        _private_sqlite(resolved)
        secret_key = prepare(resolved, on_admin_password)
        if resolved.workers > 1:
            from brevettiai.server.workers import serve_workers

            sock.listen(2048)
            return serve_workers(sock, resolved.workers, lambda s, ready: _serve_socket(s, resolved, ready, secret_key),
                                 on_ready=lambda: on_ready(resolved))
        return _serve_socket(sock, resolved, lambda: on_ready(resolved), secret_key)
    finally:
        sock.close()


def prepare(config: ServerConfig, on_admin_password: Callable[[str], None] | None = None) -> bytes:
    """Migrate the database, create the admin user on the first start, get the signing key (see
    `brevettiai.server.app.prepare_database`), before any request is served.

    Raises `ConfigError` naming ``--database-url`` when the database cannot be used.
    """
    from sqlalchemy.engine import make_url

    try:
        database = Database(config.database_url or "")
        try:
            return prepare_database(config, database, on_admin_password)
        finally:
            database.dispose()  # the app makes its own pool (a forked worker must not share connections)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        shown = make_url(config.database_url or "").render_as_string(hide_password=True)
        raise ConfigError(f"--database-url: cannot use the database {shown}: {reason}") from None


def _serve_socket(sock: socket.socket, config: ServerConfig, on_ready: Callable[[], object], secret_key: bytes) -> int:
    """One server process on a bound socket, until SIGTERM or SIGINT; its exit code."""
    app = create_app(config, secret_key=secret_key)
    server = _Server(uvicorn.Config(JobFastLane(zerocopy.enable(app), app), log_config=None, access_log=config.log_level == "debug", lifespan="on",
                                    timeout_graceful_shutdown=10, server_header=False, timeout_keep_alive=5,
                                    log_level=config.log_level),
                     on_ready=on_ready)
    server.run(sockets=[sock])
    return 0 if server.started else 3


def _private_sqlite(config: ServerConfig) -> None:
    """Make an SQLite database created by an older version (0644) readable by the server only."""
    url = config.database_url or ""
    if not url.startswith("sqlite:///"):
        return
    path = url[len("sqlite:///"):].split("?", 1)[0]
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            os.chmod(name, 0o600)


def configure_logging(level: str) -> None:
    """Log to stderr with times and logger names (uvicorn's loggers included)."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("brevettiai").setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def listen_url(config: ServerConfig) -> str:
    """The URL of the address the server listens on."""
    host = f"[{config.host}]" if ":" in config.host and not config.host.startswith("[") else config.host
    return f"http://{host}:{config.port}"
