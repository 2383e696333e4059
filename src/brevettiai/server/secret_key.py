"""The key the server signs report links with: the same in every replica of one platform.

From ``--secret-key`` / ``BREVETTI_AI_SECRET_KEY`` when set. Otherwise generated once: into the data
dir (``ui-secret.key``, mode 0600) for the embedded SQLite default, or into the shared database for
any other database, so that every replica finds the same key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from brevettiai.server.config import ServerConfig
from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database

log = logging.getLogger("brevettiai.server")

KEY_FILE = "ui-secret.key"
STATE_NAME = "secret_key"


def server_secret_key(config: ServerConfig, database: Database) -> bytes:
    """The signing key of this platform (see the module's description for where it comes from)."""
    if config.secret_key:
        return config.secret_key.encode()
    if database.is_sqlite:
        return _from_data_dir(Path(config.data_dir) / KEY_FILE)
    log.warning("No BREVETTI_AI_SECRET_KEY set: the servers share a key generated into the database. Set "
                "BREVETTI_AI_SECRET_KEY (the same on every replica) to keep it out of the database.")
    return _from_database(database)


def _from_data_dir(path: Path) -> bytes:
    """The key in the data dir; the first process to get here stores one whole, the others read it."""
    value = _read_key(path)
    if value is not None:
        return value
    value = secrets.token_bytes(32)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(value)
        try:  # a link never replaces: a key another worker stored meanwhile wins, and nobody reads half a key
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links here (FAT, some FUSE and SMB mounts): create the key file exclusively
            _create_exclusively(path, value)
        if _await_key(path) is None:  # a short file left by an older version, or by a writer that died
            os.replace(temp, path)
    except OSError as exc:  # a read-only data dir: report links then last as long as the process
        log.warning("Could not store the report signing key in %s: %s", path, exc)
        return value
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    return _read_key(path) or value


def _create_exclusively(path: Path, value: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker's key, maybe still being written: `_await_key` reads it
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)


def _await_key(path: Path, seconds: float = 1.0) -> bytes | None:
    """The stored key, given a worker that created the file a moment ago the time to write it."""
    deadline = time.monotonic() + seconds
    while (value := _read_key(path)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return value


def _read_key(path: Path) -> bytes | None:
    try:
        value = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return value if len(value) >= 32 else None


def _from_database(database: Database) -> bytes:
    """The key in ``server_state``; the first replica to get here stores one, the others read it."""
    stored = _stored(database)
    if stored is None:
        try:
            with database.write() as session:
                session.add(db.ServerState(name=STATE_NAME, text=secrets.token_hex(32), number=0))
        except IntegrityError:  # another replica stored its key first: use that one
            pass
        stored = _stored(database)
    assert stored is not None
    return bytes.fromhex(stored)


def _stored(database: Database) -> str | None:
    with database.read() as session:
        row = session.get(db.ServerState, STATE_NAME)
        return row.text if row is not None else None
