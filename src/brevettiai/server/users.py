"""Managing users and their personal access tokens, shared by the CLI, the REST API and the admin pages.

Every change that takes rights away (disable, a lower role, a new password, a revoked token) bumps
the revocation counter in the same transaction (`brevettiai.server.revocation`), so every replica
drops its cached tokens within a second; the next request of that user is looked up afresh.
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from brevettiai.errors import ServerError
from brevettiai.server import audit, passwords, revocation, roles, security
from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow
from brevettiai.server.db.session import Database

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,149}")
MAX_TOKEN_DAYS = 366
TOKEN_NAME_LENGTH = 100


class UserError(ServerError, ValueError):
    """A change that cannot be made; `status` is the HTTP answer it stands for (400, 404, 409)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class NewToken:
    """A created personal access token: its row, and the token itself (shown this once)."""

    row: db.AccessToken
    token: str


def check_username(name: str) -> str:
    """The username, or UserError saying what is accepted."""
    if not USERNAME.fullmatch(name or ""):
        raise UserError(f"username {name!r} is not valid: 1-150 letters, digits and . _ @ -, starting with a "
                        f"letter or digit")
    return name


def _check_password(password: str, username: str) -> None:
    try:
        passwords.check_password(password, username)
    except passwords.WeakPassword as exc:
        raise UserError(str(exc)) from None


def find_user(database: Database, name_or_id: str) -> db.User:
    """A user by username or id; UserError(404) if there is none."""
    with database.read() as session:
        user = session.execute(select(db.User).where((db.User.username == name_or_id) | (db.User.id == name_or_id))
                               ).scalars().first()
    if user is None:
        raise UserError(f"user {name_or_id!r} not found", 404)
    return user


def user_by_id(database: Database, user_id: str) -> db.User | None:
    """The user with this id, or None."""
    with database.read() as session:
        return session.get(db.User, user_id)


def list_users(database: Database) -> list[db.User]:
    """Every user, by name."""
    with database.read() as session:
        return list(session.execute(select(db.User).order_by(db.User.username)).scalars())


def add_user(database: Database, username: str, role: str, password: str, first_name: str = "",
             last_name: str = "", email: str = "") -> db.User:
    """A new local user; UserError for a bad name, role or password, 409 for a taken name."""
    check_username(username)
    _role(role)
    _check_password(password, username)
    user = db.User(id=str(uuid.uuid4()), username=username, password_hash=security.hash_password(password),
                   first_name=first_name, last_name=last_name, email=email, role=role, is_admin=role == roles.ADMIN,
                   disabled=False, created=utcnow())
    try:
        with database.write() as session:
            session.add(user)
    except IntegrityError:
        raise UserError(f"user {username!r} exists already", 409) from None
    audit.record(database, "user.add", username, detail=f"role {role}")
    return user


def _role(role: str) -> str:
    try:
        return roles.check_role(role)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _refuse_last_admin(session: object, user: db.User) -> None:
    """UserError(409) when `user` is the last enabled admin (nobody could manage users any more)."""
    others = session.execute(select(func.count()).select_from(db.User).where(  # type: ignore[attr-defined]
        db.User.role == roles.ADMIN, db.User.disabled.is_(False), db.User.id != user.id)).scalar_one()
    if others == 0:
        raise UserError(f"{user.username!r} is the last enabled admin: make another user admin first", 409)


def set_role(database: Database, name_or_id: str, role: str) -> db.User:
    """Give a user another role (effective at once on every replica)."""
    _role(role)
    found = find_user(database, name_or_id)
    with database.write() as session:
        user = session.get(db.User, found.id, with_for_update=True)
        assert user is not None
        if user.role == roles.ADMIN and role != roles.ADMIN and not user.disabled:
            _refuse_last_admin(session, user)
        before, user.role, user.is_admin = user.role, role, role == roles.ADMIN
        revocation.announce(session)
    audit.record(database, "user.set_role", user.username, detail=f"{before} -> {role}")
    return user


def set_disabled(database: Database, name_or_id: str, disabled: bool = True) -> db.User:
    """Disable (or enable again) a user: a disabled user's sessions and tokens stop working at once."""
    found = find_user(database, name_or_id)
    with database.write() as session:
        user = session.get(db.User, found.id, with_for_update=True)
        assert user is not None
        if disabled and user.role == roles.ADMIN and not user.disabled:
            _refuse_last_admin(session, user)
        user.disabled = disabled
        if disabled:
            session.execute(delete(db.UserToken).where(db.UserToken.user_id == user.id))
        revocation.announce(session)
    audit.record(database, "user.disable" if disabled else "user.enable", user.username)
    return user


def reset_password(database: Database, name_or_id: str, password: str) -> db.User:
    """Set a user's password (an admin's reset): the user's sessions end, its access tokens stay."""
    found = find_user(database, name_or_id)
    _check_password(password, found.username)
    with database.write() as session:
        user = session.get(db.User, found.id, with_for_update=True)
        assert user is not None
        user.password_hash = security.hash_password(password)
        session.execute(delete(db.UserToken).where(db.UserToken.user_id == user.id))
        revocation.announce(session)
    audit.record(database, "user.reset_password", user.username)
    return user


def change_own_password(database: Database, user_id: str, current: str, new: str, keep_token: str = "") -> None:
    """A user's own change: the current password must match; other sessions end (`keep_token`'s stays)."""
    user = find_user(database, user_id)
    if not security.verify_password(current, user.password_hash):
        audit.record(database, "user.change_password", user.username, audit.DENIED, "wrong current password")
        raise UserError("the current password is wrong", 400)
    _check_password(new, user.username)
    keep = security.token_hash(keep_token) if keep_token else ""
    with database.write() as session:
        row = session.get(db.User, user.id, with_for_update=True)
        assert row is not None
        row.password_hash = security.hash_password(new)
        session.execute(delete(db.UserToken).where(db.UserToken.user_id == user.id, db.UserToken.token_hash != keep))
        revocation.announce(session)
    audit.record(database, "user.change_password", user.username)


# Personal access tokens -------------------------------------------------------------------------------------

def parse_expiry(text: str) -> datetime.timedelta:
    """``90d``, ``12h``, ``30m`` or a number of days, up to `MAX_TOKEN_DAYS`; UserError naming the accepted forms."""
    match = re.fullmatch(r"\s*(\d+)\s*([dhm]?)\s*", text or "")
    if match is None or int(match.group(1)) == 0:
        raise UserError(f"expiry {text!r} is not valid: give a positive number of days, hours or minutes, "
                        f"e.g. 90d, 12h or 30m")
    amount, unit = int(match.group(1)), match.group(2) or "d"
    delta = {"d": datetime.timedelta(days=amount), "h": datetime.timedelta(hours=amount),
             "m": datetime.timedelta(minutes=amount)}[unit]
    if delta > datetime.timedelta(days=MAX_TOKEN_DAYS):
        raise UserError(f"expiry {text!r} is too long: at most {MAX_TOKEN_DAYS}d")
    return delta


def create_token(database: Database, user_id: str, name: str, expires_in: datetime.timedelta,
                 read_only: bool = False) -> NewToken:
    """A new personal access token of a user (it carries the user's role, or viewer if `read_only`)."""
    name = (name or "").strip()
    if not name or len(name) > TOKEN_NAME_LENGTH:
        raise UserError(f"token name {name!r} is not valid: 1-{TOKEN_NAME_LENGTH} characters")
    user = find_user(database, user_id)
    token = security.new_token(security.ACCESS_TOKEN_PREFIX)
    row = db.AccessToken(id=str(uuid.uuid4()), user_id=user.id, name=name, token_hash=security.token_hash(token),
                         role_ceiling=roles.VIEWER if read_only else None, created=utcnow(),
                         expires_at=utcnow() + expires_in)
    with database.write() as session:
        session.add(row)
    audit.record(database, "token.create", f"{user.username}/{name}", detail="read-only" if read_only else "")
    return NewToken(row=row, token=token)


def list_tokens(database: Database, user_id: str) -> list[db.AccessToken]:
    """A user's personal access tokens, newest first (revoked and expired ones too)."""
    with database.read() as session:
        return list(session.execute(select(db.AccessToken).where(db.AccessToken.user_id == user_id)
                                    .order_by(db.AccessToken.created.desc())).scalars())


def revoke_token(database: Database, user_id: str, token_id_or_name: str) -> db.AccessToken:
    """Revoke one of a user's tokens (by id, or by name among the unrevoked); at once on every replica."""
    with database.write() as session:
        row = session.execute(select(db.AccessToken).where(
            db.AccessToken.user_id == user_id,
            (db.AccessToken.id == token_id_or_name)
            | ((db.AccessToken.name == token_id_or_name) & db.AccessToken.revoked_at.is_(None)))
            .with_for_update()).scalars().first()
        if row is None:
            raise UserError(f"token {token_id_or_name!r} not found", 404)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            revocation.announce(session)
        owner = session.get(db.User, user_id)
    audit.record(database, "token.revoke", f"{owner.username if owner else user_id}/{row.name}")
    return row


def token_state(row: db.AccessToken) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at <= utcnow() else "active"
