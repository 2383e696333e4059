"""Secrets: scrypt password hashes, and random tokens stored only as SHA-256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from brevettiai.contract.records import NO_API_KEY as NO_API_KEY  # the contract's, for the server's modules

USER_TOKEN_PREFIX = "bu_"
JOB_KEY_PREFIX = "bj_"
ACCESS_TOKEN_PREFIX = "bp_"  # a personal access token (named, long-lived, revocable)

# scrypt cost: ~50 ms and 16 MiB per hash on a laptop; stored with each hash so it can be raised later.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` of a password with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches a hash made by `hash_password` (constant time)."""
    if not stored:
        # Spend the same time as a real check, so a missing user does not answer faster.
        hash_password(password)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                            maxmem=64 * 1024 * 1024, dklen=len(expected))
    return hmac.compare_digest(actual, expected)


def new_token(prefix: str) -> str:
    """A new random token with its kind's prefix (``bu_`` user token, ``bp_`` access token, ``bj_`` job key)."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    """A random password for the first admin user."""
    return secrets.token_urlsafe(18)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
