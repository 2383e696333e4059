"""Who is asking: user tokens (``bu_``), personal access tokens (``bp_``) and job keys (``bj_``), logins,
and the access rules for resources (the roles per route are in `brevettiai.server.access`)."""

from __future__ import annotations

import datetime
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, delete, literal, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError

from brevettiai.contract.status import TERMINAL
from brevettiai.server import audit, revocation, roles, security
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow
from brevettiai.server.db.session import Database, affected_rows
from brevettiai.server.errors import ApiError

log = logging.getLogger("brevettiai.server.auth")

ADMIN = "admin"
LAST_USED_EVERY = datetime.timedelta(minutes=1)  # how stale an access token's "last used" may get
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

bearer = HTTPBearer(auto_error=False, description="A user token (bu_...) or a job key (bj_...)")


@dataclass(frozen=True)
class Principal:
    """The caller: a user (with the role this token gives), or a job with the resources its key may read."""

    user_id: str | None = None
    role: str = ""  # a user's role, narrowed by its token's ceiling (`brevettiai.server.roles`)
    username: str = ""
    job_id: str | None = None
    readable: frozenset[str] = field(default_factory=frozenset)  # datasets given to the job, a report's model
    token: str = field(default="", repr=False)
    ended: bool = False  # a job key whose run is completed, failed or killed: it may still read (see require_live_job)

    @property
    def is_user(self) -> bool:
        """True for a user token."""
        return self.user_id is not None


class TokenCache:
    """Recently seen tokens, so most requests need no database lookup to authenticate; and which
    resources (jobs, datasets) exist, so most file requests need none to find theirs.

    `forget`, `forget_job` and `forget_resource` (logout, key rotation, deletion) drop entries here at
    once and mark the revocation for the other replicas (`brevettiai.server.revocation` announces it
    and empties every replica's cache when the shared count changes). Entries also age out after
    `ttl` seconds, which bounds how long a change made behind the servers' backs goes unnoticed.
    """

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self.generation = 0  # the revocation count this cache's entries are valid for
        self._entries: dict[str, tuple[Principal, float, datetime.datetime | None]] = {}
        self._resources: dict[str, tuple[str, float]] = {}  # resource id -> its kind, valid until
        self._lock = threading.Lock()
        self._unannounced = False

    def resource(self, rid: str) -> str | None:
        """The cached kind of an existing resource ("job" or "dataset"); None when not known."""
        entry = self._resources.get(rid)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put_resource(self, rid: str, kind: str, generation: int) -> None:
        """Remember that a resource exists, unless it was looked up before a revocation seen since."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._resources) >= self.size:
                self._resources.clear()
            self._resources[rid] = (kind, time.monotonic() + self.ttl)

    def forget_resource(self, rid: str) -> None:
        """Drop a deleted resource here, and have the other replicas drop theirs."""
        with self._lock:
            self._resources.pop(rid, None)
            self._unannounced = True

    def get(self, digest: str) -> Principal | None:
        """The cached principal of a token hash; 401 if it is a user token that has expired."""
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        if entry[2] is not None and entry[2] <= utcnow():
            raise ApiError(401, "the token has expired: log in again", _CHALLENGE)
        return entry[0]

    def put(self, digest: str, caller: Principal, expires: datetime.datetime | None,
            generation: int | None = None) -> None:
        """Remember a token's principal, unless it was looked up before a revocation seen since (`generation`)."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[digest] = (caller, time.monotonic() + self.ttl, expires)

    def forget(self, digest: str, announced: bool = False) -> None:
        """Drop one token (`announced`: the caller has told the other replicas already)."""
        with self._lock:
            self._entries.pop(digest, None)
            self._unannounced = self._unannounced or not announced

    def forget_job(self, job_id: str) -> None:
        """Drop every key of a job (its key was replaced, or the job deleted)."""
        with self._lock:
            for digest in [d for d, (p, _, _) in self._entries.items() if p.job_id == job_id]:
                del self._entries[digest]
            self._resources.pop(job_id, None)
            self._unannounced = True

    def take_unannounced(self) -> bool:
        """True once after revocations the other replicas have not been told about."""
        with self._lock:
            pending, self._unannounced = self._unannounced, False
        return pending

    def seen_generation(self, generation: int) -> None:
        """The shared revocation count: when it changed, every cached entry may be stale."""
        with self._lock:
            if generation != self.generation:
                self._entries.clear()
                self._resources.clear()
                self.generation = generation


def authenticate(database: Database, token: str | None, cache: TokenCache | None = None) -> Principal:
    """The principal a bearer token stands for; 401 for a missing, unknown or expired one."""
    if not token:
        raise ApiError(401, "not authenticated: send 'Authorization: Bearer <token>'", _CHALLENGE)
    digest = security.token_hash(token)
    cached = cache.get(digest) if cache is not None else None
    if cached is not None:
        return cached
    generation = cache.generation if cache is not None else 0
    caller, expires = _lookup(database, token, digest)
    if cache is not None:
        cache.put(digest, caller, expires, generation)
    return caller


def _lookup(database: Database, token: str, digest: str) -> tuple[Principal, datetime.datetime | None]:
    with database.read() as session:
        if token.startswith(security.JOB_KEY_PREFIX):
            row = session.execute(select(db.Job.id, db.Job.dataset_ids, db.Job.parent_id, db.Job.status)
                                  .where(or_(db.Job.key_hash == digest, db.Job.run_key_hash == digest))  # creation or run key
                                  ).first()
            if row is not None:
                readable = set(row.dataset_ids or [])
                if row.parent_id:
                    readable.add(row.parent_id)
                return Principal(job_id=row.id, readable=frozenset(readable), token=token,
                                 ended=row.status in ENDED), None
        elif token.startswith(security.USER_TOKEN_PREFIX):
            found = session.execute(select(db.UserToken, db.User).join(db.User, db.User.id == db.UserToken.user_id)
                                    .where(db.UserToken.token_hash == digest)).first()
            if found is not None:
                login, user = found
                if login.expires_at <= utcnow():
                    raise ApiError(401, "the token has expired: log in again", _CHALLENGE)
                _refuse_disabled(user)
                return Principal(user_id=user.id, role=user.role, username=user.username, token=token), login.expires_at
        elif token.startswith(security.ACCESS_TOKEN_PREFIX):
            personal = session.execute(select(db.AccessToken, db.User)
                                       .join(db.User, db.User.id == db.AccessToken.user_id)
                                       .where(db.AccessToken.token_hash == digest)).first()
            if personal is not None:
                pat, user = personal
                if pat.revoked_at is not None:
                    raise ApiError(401, f"the access token {pat.name!r} was revoked", _CHALLENGE)
                if pat.expires_at <= utcnow():
                    raise ApiError(401, f"the access token {pat.name!r} has expired: create a new one", _CHALLENGE)
                _refuse_disabled(user)
                if pat.last_used is None or pat.last_used < utcnow() - LAST_USED_EVERY:
                    _note_use(database, pat.id)
                return Principal(user_id=user.id, role=roles.narrower(user.role, pat.role_ceiling),
                                 username=user.username, token=token), pat.expires_at
    raise ApiError(401, "invalid token", _CHALLENGE)


def _refuse_disabled(user: db.User) -> None:
    if user.disabled:
        raise ApiError(401, f"user {user.username!r} is disabled", _CHALLENGE)


def _note_use(database: Database, token_id: str) -> None:
    """Record when an access token was last used (at most once a `LAST_USED_EVERY` per replica's cache)."""
    try:
        with database.write() as session:
            row = session.get(db.AccessToken, token_id)
            if row is not None:
                row.last_used = utcnow()
    except Exception as exc:  # a busy database: the use is still allowed
        log.warning("Could not record the use of an access token: %s", exc)


def apply_revocations(ctx: ServerContext) -> None:
    """After a change that revoked rights here: drop this replica's cached tokens now, not at the next poll."""
    ctx.tokens.seen_generation(revocation.read_counter(ctx.db))


async def caller_of(ctx: ServerContext, token: str | None) -> Principal:
    """The caller a token stands for: from the cache without leaving the event loop, else looked up."""
    if token:
        cached = ctx.tokens.get(security.token_hash(token))
        if cached is not None:
            return cached
    return await run_in_threadpool(authenticate, ctx.db, token, ctx.tokens)


async def request_caller(request: Request) -> Principal:
    """The caller of a request, from its ``Authorization: Bearer`` header (for endpoints outside FastAPI's
    dependency machinery)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return await caller_of(request.app.state.context, token.strip() if scheme.lower() == "bearer" else None)


async def principal(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                    ctx: ServerContext = Depends(get_context)) -> Principal:
    """FastAPI dependency: the authenticated caller."""
    return await caller_of(ctx, credentials.credentials if credentials else None)


async def job_request(request: Request, job_id: str, write: bool = False) -> tuple[ServerContext, Principal]:
    """`require_job` without FastAPI's dependency machinery, for the endpoints a job calls most often
    (`write`: also `require_live_job`)."""
    ctx: ServerContext = request.app.state.context
    caller = await job_caller(ctx, job_id, request.headers.get("authorization", ""), request.method,
                              request.url.path, write)
    return ctx, caller


async def job_caller(ctx: ServerContext, job_id: str, authorization: str, method: str, path: str,
                     write: bool = False) -> Principal:
    """`job_request` from the parts of a request: its ``Authorization`` header, method and path."""
    scheme, _, token = authorization.partition(" ")
    caller = await require_job(job_id, await caller_of(ctx, token.strip() if scheme.lower() == "bearer" else None))
    if caller.is_user:  # these endpoints skip the routing that checks the access table
        from brevettiai.server import access

        access.require(caller, access.required(method, path.replace(job_id, "{job_id}", 1)))
    if write:
        refuse_ended(caller)
    return caller


async def require_user(caller: Principal = Depends(principal)) -> Principal:
    """FastAPI dependency: a user token (job keys may not use the web API)."""
    if not caller.is_user:
        raise ApiError(403, "a job key may only use its job's endpoints and files; this needs a user token")
    return caller


async def require_job(job_id: str, caller: Principal = Depends(principal)) -> Principal:
    """FastAPI dependency for ``/api/jobs/{job_id}/...``: a user, or the key of that very job (else 404)."""
    if not caller.is_user and caller.job_id != job_id:
        raise ApiError(404, f"job '{job_id}' not found")
    return caller


# Keys end with their job ------------------------------------------------------------------------------------
# A job key keeps authorising reads of what its job may read, but writes only while its run has not ended.
# `Principal.ended` comes from the key's lookup; the state endpoint drops the job's cached keys when it
# records a final state, so the change is immediate on this server (within the cache's ttl on others).

ENDED = TERMINAL  # a key whose run is in a final status only reads


def refuse_ended(caller: Principal) -> None:
    """403 when the caller is the key of a job whose run has ended."""
    if caller.ended:
        raise ApiError(403, f"job '{caller.job_id}' has ended: its key may still read but no longer write; "
                            f"a new run gets a new key")


async def require_live_job(job_id: str, caller: Principal = Depends(principal)) -> Principal:
    """FastAPI dependency for a job's writes: `require_job`, and a job key's run has not ended."""
    caller = await require_job(job_id, caller)
    refuse_ended(caller)
    return caller


# A runner task (a Dask wrapper) stores the job's output in logs/ after the job itself has reported its end.
RUNNER_LOG_FOLDER = "logs/"


# Which table holds a resource id ("job" or "dataset"): checked on every file request.
_RESOURCE_KIND = union_all(select(literal("job")).where(db.Job.id == bindparam("rid")),
                           select(literal("dataset")).where(db.Dataset.id == bindparam("rid"))).limit(1)


def resource_kind(database: Database, caller: Principal, rid: str, write: bool, path: str = "",
                  cache: TokenCache | None = None) -> str:
    """"job" or "dataset" when the caller may read (or `write` `path` of) resource `rid`; else 404 or 403.

    A key whose run has ended writes nothing more, but for its own log (`RUNNER_LOG_FOLDER`).
    `cache`: the server's cache of existing resources (deleting one drops it there, on every replica)."""
    if not caller.is_user and rid != caller.job_id and rid not in caller.readable:
        raise ApiError(404, f"resource '{rid}' not found")
    kind = cache.resource(rid) if cache is not None else None
    if kind is None:
        generation = cache.generation if cache is not None else 0
        with database.engine.connect() as connection:  # one Core statement: no ORM session, no row objects
            kind = connection.execute(_RESOURCE_KIND, {"rid": rid}).scalar()
        if kind is None:
            raise ApiError(404, f"resource '{rid}' not found")
        if cache is not None:
            cache.put_resource(rid, kind, generation)
    if write and not caller.is_user and rid != caller.job_id:
        raise ApiError(403, f"resource '{rid}' is given to this job read-only")
    if write and not (rid == caller.job_id and path.startswith(RUNNER_LOG_FOLDER)):
        refuse_ended(caller)
    return kind


def login(database: Database, username: str, password: str, ttl: float,
          address: str = "") -> tuple[str, datetime.datetime, db.User]:
    """A new user token for valid credentials (401 otherwise; 403 for a disabled user), its expiry and
    the user. Each attempt goes into the audit log, from `address`."""
    with database.read() as session:
        user = session.execute(select(db.User).where(db.User.username == username)).scalar_one_or_none()
    actor = audit.Actor(user.id if user else None, username, address)
    if not security.verify_password(password, user.password_hash if user else None) or user is None:
        audit.record(database, "sign_in", username, audit.FAILED, "wrong username or password", actor)
        raise ApiError(401, "wrong username or password", _CHALLENGE)
    if user.disabled:
        audit.record(database, "sign_in", username, audit.DENIED, "user disabled", actor)
        raise ApiError(403, f"user {username!r} is disabled: ask an admin")
    token = security.new_token(security.USER_TOKEN_PREFIX)
    expires = utcnow() + datetime.timedelta(seconds=ttl)
    with database.write() as session:
        session.add(db.UserToken(token_hash=security.token_hash(token), user_id=user.id, expires_at=expires))
    audit.record(database, "sign_in", username, actor=actor)
    log.info("User %s logged in", username)
    return token, expires, user


def logout(database: Database, token: str, cache: TokenCache) -> None:
    """Revoke a user token (or the personal access token a script logs out with)."""
    digest = security.token_hash(token)
    with database.write() as session:
        session.execute(delete(db.UserToken).where(db.UserToken.token_hash == digest))
        session.execute(update(db.AccessToken).where(db.AccessToken.token_hash == digest,
                                                     db.AccessToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
        revocation.announce(session)
    cache.forget(digest, announced=True)


def purge_expired_tokens(database: Database) -> int:
    """Delete expired user tokens; returns how many."""
    with database.write() as session:
        result = session.execute(delete(db.UserToken).where(db.UserToken.expires_at <= utcnow()))
    return affected_rows(result)


def ensure_admin(database: Database, password: str | None) -> str | None:
    """Create the ``admin`` user if there is none; returns the generated password when none was given.

    Servers starting together may race here: the one whose insert loses to another's returns None.
    """
    with database.read() as session:
        if session.execute(select(db.User.id).where(db.User.username == ADMIN)).first() is not None:
            return None
    secret = password or security.new_password()
    generated = None if password else secret
    try:
        with database.write() as session:
            session.add(db.User(id=str(uuid.uuid4()), username=ADMIN,
                                password_hash=security.hash_password(secret), first_name="Admin",
                                is_admin=True, role=roles.ADMIN))
    except IntegrityError:
        return None
    log.info("Created the %r user", ADMIN)
    return generated
