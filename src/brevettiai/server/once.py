"""Secrets shown once on the page a creation redirects to (a new job key), kept in the database for a
few minutes so that any replica can show it, and only once.

The redirect carries a random reference; the row is found by the reference's SHA-256 and holds the
secret encrypted with a keystream derived from the reference, so the database alone never reveals it.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

from sqlalchemy import delete

from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow
from brevettiai.server.db.session import Database, affected_rows

TTL = datetime.timedelta(minutes=5)


def put_once(database: Database, job_id: str, value: str) -> str:
    """Keep `value` for the job (and purge expired ones); returns the reference to put in the redirect."""
    reference = secrets.token_urlsafe(24)
    now = utcnow()
    with database.write() as session:
        session.execute(delete(db.OnceValue).where(db.OnceValue.expires_at <= now))
        session.add(db.OnceValue(ref_hash=_hash(reference), job_id=job_id, sealed=_seal(reference, value.encode()).hex(),
                                 expires_at=now + TTL))
    return reference


def take_once(database: Database, reference: str | None, job_id: str) -> str | None:
    """The value kept under `reference` for this job, deleted so that no replica shows it again."""
    if not reference:
        return None
    digest = _hash(reference)
    with database.read() as session:
        row = session.get(db.OnceValue, digest)
        if row is None or row.job_id != job_id:
            return None
        sealed, expires = row.sealed, row.expires_at
    with database.write() as session:
        taken = affected_rows(session.execute(delete(db.OnceValue).where(db.OnceValue.ref_hash == digest)))
    if taken != 1 or expires <= utcnow():  # another request took it first, or it is too old
        return None
    return _seal(reference, bytes.fromhex(sealed)).decode()


def _hash(reference: str) -> str:
    return hashlib.sha256(b"brevettiai-once:" + reference.encode()).hexdigest()


def _seal(reference: str, data: bytes) -> bytes:
    """XOR with a SHA-256 keystream of the reference: encrypts and decrypts (each reference is used once)."""
    stream = b"".join(hashlib.sha256(f"brevettiai-once-key:{reference}:{block}".encode()).digest()
                      for block in range(len(data) // 32 + 1))
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))
