"""The roles a user may have, from least to most: ``viewer`` reads, ``member`` also changes, ``admin`` also manages users."""

from __future__ import annotations

VIEWER, MEMBER, ADMIN = "viewer", "member", "admin"
ROLES = (VIEWER, MEMBER, ADMIN)  # in order: each may do what the ones before it may
PUBLIC = "public"  # what the access table says of a route anyone may call (log in, health, docs)


def rank(role: str) -> int:
    """A role's place in `ROLES` (-1 for anything else, e.g. an empty role)."""
    return ROLES.index(role) if role in ROLES else -1


def at_least(role: str, needed: str) -> bool:
    """True when `role` may do what `needed` may."""
    return needed == PUBLIC or rank(role) >= rank(needed) >= 0


def narrower(role: str, ceiling: str | None) -> str:
    """A role limited to `ceiling` (a read-only token of an admin acts as a viewer)."""
    if ceiling is None or rank(ceiling) >= rank(role):
        return role
    return ceiling


def check_role(role: str) -> str:
    """The role, or ValueError naming the accepted ones."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role
