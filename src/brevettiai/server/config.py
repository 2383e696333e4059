"""The server's settings: each from its command-line flag, else its ``BREVETTI_AI_*`` variable, else a default."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from brevettiai.errors import ServerError


class ConfigError(ServerError, ValueError):
    """A setting has a value the server cannot use; the message names the flag and the variable."""


_DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
               "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_duration(text: str | float) -> float:
    """Seconds from ``90``, ``90s``, ``1.5m``, ``12h`` or ``1d``."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", str(text).lower())
        if match is None:
            raise ValueError(f"{text!r} is not a duration: give seconds (90) or a number with s, m, h or d (12h)")
        value = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if value <= 0:
        raise ValueError(f"{text!r}: a duration must be more than 0 seconds")
    return value


def parse_size(text: str | int) -> int:
    """Bytes from ``1048576``, ``1MiB``, ``10GB`` or ``512k``."""
    if isinstance(text, int):
        value = text
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", str(text).lower())
        if match is None or match.group(2) not in _SIZE_UNITS:
            raise ValueError(f"{text!r} is not a size: give bytes (1048576) or a number with KB, MB, GB, "
                             f"KiB, MiB or GiB (10GiB)")
        value = int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    if value <= 0:
        raise ValueError(f"{text!r}: a size must be more than 0 bytes")
    return value


def _whole_number(text: str | int, what: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise ValueError(f"{text!r} is not {what}") from None


def _port(text: str | int) -> int:
    value = _whole_number(text, "a port: give 0 (any free port) to 65535")
    if not 0 <= value <= 65535:
        raise ValueError(f"{text!r} is not a port: give 0 (any free port) to 65535")
    return value


def _runner(text: str) -> str:
    if text not in ("local", "dask"):
        raise ValueError(f"{text!r} is not a runner: give 'local' or 'dask'")
    return text


def _job_limit(text: str | int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of jobs: give 0 (no limit) or more") from None
    if value < 0:
        raise ValueError(f"{text!r} is not a number of jobs: give 0 (no limit) or more")
    return value


def _log_level(text: str) -> str:
    level = text.lower()
    if level not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError(f"{text!r} is not a log level: give debug, info, warning, error or critical")
    return level


def _text(text: str) -> str:
    return str(text)


def _job_user(text: str) -> str:
    import pwd

    name = str(text).strip()
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"{name!r} is not a user on this machine") from None
    if os.geteuid() != 0:
        raise ValueError(f"running jobs as {name!r} needs the server to run as root")
    return name


def _workers(text: str | int) -> int:
    value = _whole_number(text, "a number of worker processes: give 1 or more")
    if value < 1:
        raise ValueError(f"{text!r} is not a number of worker processes: give 1 or more")
    return value


def _secret(text: str) -> str:
    # The message never repeats the value: it is a secret.
    value = str(text)
    if len(value) < 16:
        raise ValueError(f"the secret key is {len(value)} characters long: give at least 16 random characters, "
                         f"e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return value


@dataclass(frozen=True)
class Setting:
    """How one setting is named on the command line and in the environment, and how it is read."""

    flag: str
    env: str
    parse: Callable[[Any], Any]
    help: str
    default: str = ""  # the default in words, for --help and docs/server.md ("" when there is none)


# The single list of settings: the CLI, the docs and `ServerConfig.load` all read it.
SETTINGS: dict[str, Setting] = {
    "host": Setting("--host", "BREVETTI_AI_SERVER_HOST", _text,
                    "Address to listen on (0.0.0.0 for every interface).", default="127.0.0.1"),
    "port": Setting("--port", "BREVETTI_AI_PORT", _port, "Port to listen on; 0 picks a free port.", default="8000"),
    "data_dir": Setting("--data-dir", "BREVETTI_AI_DATA_DIR", _text,
                        "Folder holding brevettiai.db and storage/ unless those are set.", default="./brevettiai-data"),
    "database_url": Setting("--database-url", "BREVETTI_AI_DATABASE_URL", _text,
                            "SQLAlchemy URL (sqlite:///..., postgresql+psycopg://user:pw@host/db).", default="sqlite:///<data-dir>/brevettiai.db"),
    "storage": Setting("--storage", "BREVETTI_AI_STORAGE", _text,
                       "Storage root: a folder or an fsspec URL (s3://bucket/prefix).", default="<data-dir>/storage"),
    "public_url": Setting("--public-url", "BREVETTI_AI_PUBLIC_URL", _text,
                          "URL jobs use to reach the server.", default="http://<host>:<port>"),
    "runner": Setting("--runner", "BREVETTI_AI_RUNNER", _runner, "How jobs are launched: local or dask.", default="local"),
    "dask_scheduler": Setting("--dask-scheduler", "BREVETTI_AI_DASK_SCHEDULER", _text,
                              "Scheduler address of the dask runner (tcp://host:8786)."),
    "stop_grace": Setting("--stop-grace", "BREVETTI_AI_STOP_GRACE", parse_duration,
                          "A stopped job still running this long after SIGTERM gets SIGKILL (30, 10s, 1m).", default="30"),
    "max_running_jobs": Setting("--max-running-jobs", "BREVETTI_AI_MAX_RUNNING_JOBS", _job_limit,
                                "At most this many jobs starting or running at once; the rest wait queued (0: no limit).", default="0"),
    "heartbeat_timeout": Setting("--heartbeat-timeout", "BREVETTI_AI_HEARTBEAT_TIMEOUT", parse_duration,
                                 "A running job silent this long becomes lost (60, 90s, 5m).", default="60"),
    "token_ttl": Setting("--token-ttl", "BREVETTI_AI_TOKEN_TTL", parse_duration,
                         "Lifetime of user tokens (12h, 3600).", default="12h"),
    "max_upload": Setting("--max-upload", "BREVETTI_AI_MAX_UPLOAD", parse_size,
                          "Largest file a PUT may store (10GiB, 500MB).", default="10GiB"),
    "job_user": Setting("--job-user", "BREVETTI_AI_JOB_USER", _job_user,
                        "Run local-runner jobs as this OS user (the server must run as root).", default="the server's user"),
    "workers": Setting("--workers", "BREVETTI_AI_WORKERS", _workers,
                       "Server processes on this machine, sharing the port (each its own connections).", default="1"),
    "secret_key": Setting("--secret-key", "BREVETTI_AI_SECRET_KEY", _secret,
                          "Key signing report links; the same on every replica (prefer the variable).", default="generated once"),
    "log_level": Setting("--log-level", "BREVETTI_AI_LOG_LEVEL", _log_level,
                         "debug, info, warning or error.", default="info"),
}


@dataclass(frozen=True)
class ServerConfig:
    """Every setting of a running server, with the defaults derived from the data dir and the port resolved."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "./brevettiai-data"
    database_url: str | None = None
    storage: str | None = None
    public_url: str | None = None
    runner: str = "local"
    dask_scheduler: str | None = None
    stop_grace: float = 30.0
    max_running_jobs: int = 0
    heartbeat_timeout: float = 60.0
    token_ttl: float = 12 * 3600.0
    max_upload: int = 10 * 1024**3
    job_user: str | None = None
    workers: int = 1
    secret_key: str | None = field(default=None, repr=False)
    log_level: str = "info"
    admin_password: str | None = field(default=None, repr=False)

    @classmethod
    def load(cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> ServerConfig:
        """Read every setting: a flag that is not None, else its environment variable, else the default."""
        flags = flags or {}
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, setting in SETTINGS.items():
            raw, source = flags.get(name), setting.flag
            if raw is None and environ.get(setting.env, "") != "":
                raw, source = environ[setting.env], setting.env
            if raw is None:
                continue
            try:
                values[name] = setting.parse(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{source}: {exc}") from None
        values["admin_password"] = environ.get("BREVETTI_AI_ADMIN_PASSWORD") or None
        return cls(**values)

    def resolved(self, port: int | None = None) -> ServerConfig:
        """This config with absolute paths, the listening port, and the defaults that depend on them.

        Call it once, with the port actually bound when `port` was 0: a derived public URL uses it.
        """
        port = self.port if port is None else port
        data_dir = os.path.abspath(os.path.expanduser(self.data_dir))
        database_url = self.database_url or "sqlite:///" + os.path.join(data_dir, "brevettiai.db")
        storage = self.storage or os.path.join(data_dir, "storage")
        if "://" not in storage:
            storage = os.path.abspath(os.path.expanduser(storage))
        public_url = (self.public_url or f"http://{_url_host(self.host)}:{port}").rstrip("/")
        if self.runner == "dask" and not self.dask_scheduler:
            raise ConfigError("--runner dask needs --dask-scheduler ADDRESS (or BREVETTI_AI_DASK_SCHEDULER)")
        return dataclasses.replace(self, port=port, data_dir=data_dir, database_url=database_url, storage=storage,
                                   public_url=public_url)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return (self.database_url or "").startswith("sqlite")


def _url_host(host: str) -> str:
    """The host to put in a URL that reaches a server listening on `host`."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host
