"""Password policy for local users: long enough, and not one of the commonest passwords."""

from __future__ import annotations

import functools
from pathlib import Path

from brevettiai.errors import ServerError

MIN_LENGTH = 10
MAX_LENGTH = 256  # scrypt hashes anything, but a login body stays small
COMMON_FILE = Path(__file__).parent / "data" / "common_passwords.txt"


class WeakPassword(ServerError, ValueError):
    """A password the policy refuses; the message says why (never the password itself)."""


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of the commonest passwords, lower-cased."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password(password: str, username: str = "") -> None:
    """WeakPassword when the policy refuses `password` for `username`."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password is too short: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password is too long: at most {MAX_LENGTH} characters")
    lowered = password.strip().lower()
    if lowered in common_passwords():
        raise WeakPassword("the password is one of the commonest passwords: choose another")
    if len(set(lowered)) < 4:
        raise WeakPassword("the password repeats too few characters: choose another")
    if username and username.strip().lower() in lowered:
        raise WeakPassword("the password contains the username: choose another")
