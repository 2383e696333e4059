"""The platform's tables (SQLAlchemy 2 typed ORM); portable between SQLite and PostgreSQL.

Times are naive UTC datetimes. Lists of ids (a job's datasets and tags) are JSON columns: they are
read and written whole, never queried into.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from brevettiai.contract.status import JobStatus

# SQLite only auto-increments an INTEGER PRIMARY KEY, so big ids are plain integers there.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime.datetime:
    """The current time as a naive UTC datetime (what every DateTime column holds)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Base class of every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[Any]: JSON, datetime.datetime: DateTime()}


class User(Base):
    """A person who uses the platform, with a role (`brevettiai.server.roles`).

    Users are disabled, never deleted, so the ids in ``created_by`` and the audit log keep their name.
    A user signing in through an identity provider later is found by (`oidc_issuer`, `oidc_subject`)
    and has an empty `password_hash` (no password opens it).
    """

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_oidc", "oidc_issuer", "oidc_subject", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)  # role == "admin", kept for older readers
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    role: Mapped[str] = mapped_column(String(16), default="member")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    oidc_issuer: Mapped[str | None] = mapped_column(String(255))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))


class UserToken(Base):
    """A login: the SHA-256 of a ``bu_`` token, whose user it is and when it expires."""

    __tablename__ = "user_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime.datetime] = mapped_column(index=True)


class AccessToken(Base):
    """A personal access token (``bp_``): named, for scripts; carries its user's role, or less (`role_ceiling`)."""

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role_ceiling: Mapped[str | None] = mapped_column(String(16))  # "viewer": a read-only token
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime.datetime] = mapped_column()
    last_used: Mapped[datetime.datetime | None] = mapped_column()
    revoked_at: Mapped[datetime.datetime | None] = mapped_column()


class AuditEvent(Base):
    """Who did what, when, from where, and how it ended (`brevettiai.server.audit`)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[str | None] = mapped_column(String(36), index=True)  # a user id; none for unknown callers
    actor: Mapped[str] = mapped_column(String(255), default="")  # a username (the one tried, for a failed sign-in)
    address: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[str] = mapped_column(String(255), default="")


class Dataset(Base):
    """A named storage space of input files (``<storage>/<id>/...``)."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    reference: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    tag_ids: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[str | None] = mapped_column(String(36))  # a user id (users are never deleted)


class Tag(Base):
    """A node of the tag tree; deleting a tag deletes its subtree."""

    __tablename__ = "tags"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class ModelType(Base):
    """What a job runs: its settings form, command, working dir and default settings."""

    __tablename__ = "model_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="model")
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    short_description: Mapped[str] = mapped_column(Text, default="")
    settings_schema: Mapped[dict[str, Any]] = mapped_column(default=dict)
    command: Mapped[list[Any] | None] = mapped_column(JSON)
    working_dir: Mapped[str | None] = mapped_column(String(1024))
    defaults: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str | None] = mapped_column(String(36))  # a user id


class Job(Base):
    """A model or a report (``kind``): its input configuration, lifecycle and key."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_kind_created", "kind", "created"),
                      Index("ix_jobs_kind_id", "kind", "id"))  # the runs table's counts: no row reads

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[JobStatus] = mapped_column(String(16), default="created", index=True)  # typed: no schema change
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    started: Mapped[datetime.datetime | None] = mapped_column()
    completed: Mapped[datetime.datetime | None] = mapped_column()
    last_heartbeat: Mapped[datetime.datetime | None] = mapped_column()
    model_type_id: Mapped[str | None] = mapped_column(ForeignKey("model_types.id", ondelete="SET NULL"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dataset_ids: Mapped[list[str]] = mapped_column(default=list)
    tag_ids: Mapped[list[str]] = mapped_column(default=list)
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    run_id: Mapped[str | None] = mapped_column(String(64))
    model_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    runner_ref: Mapped[str | None] = mapped_column(String(255))  # the runner's handle (pid, dask key)
    # The key the dispatcher gave the launched process (the caller of start keeps the other one).
    run_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    claimed_at: Mapped[datetime.datetime | None] = mapped_column()  # when the run's runner task claimed it
    # The claiming task attempt's own random token: its repeated claim (an answer lost) is its own, not a re-run.
    claim_token: Mapped[str | None] = mapped_column(String(64))
    stop_requested_at: Mapped[datetime.datetime | None] = mapped_column()
    notes: Mapped[str | None] = mapped_column(Text)  # the user's Markdown about the run, shown rendered safely
    created_by: Mapped[str | None] = mapped_column(String(36))  # a user id


class MetricSeries(Base):
    """One progress metric of a job, by name: its points refer to it by this integer id, so a point
    row and its index entries hold 8 bytes instead of the job id and the name."""

    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("job_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))


class MetricPoint(Base):
    """One value of one progress metric (`MetricSeries`) of a job at a step."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_series_step", "series_id", "step"),
                      Index("ix_metric_points_series_id", "series_id", "id"))  # polls: the rows after a cursor

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("metric_series.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Double)
    time: Mapped[float] = mapped_column(Double)


class MetricBlock(Base):
    """What the points of one series in one block of steps sum up to, for reads of long series.

    Block ``b`` holds steps ``b * BLOCK_STEPS`` to ``(b + 1) * BLOCK_STEPS - 1`` of the points with row
    ids up to the job's `MetricRollup.last_id`; filled by `brevettiai.server.metric_blocks`.
    """

    __tablename__ = "metric_blocks"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger)
    min_step: Mapped[int] = mapped_column(BigInteger)
    max_step: Mapped[int] = mapped_column(BigInteger)
    min_value: Mapped[float | None] = mapped_column(Double)  # finite values only; null: none was finite
    max_value: Mapped[float | None] = mapped_column(Double)
    min_time: Mapped[float] = mapped_column(Double)
    max_time: Mapped[float] = mapped_column(Double)


class MetricRollup(Base):
    """How far a job's points are summed up in its `MetricBlock` rows; locked by each transaction that
    adds points to the job, so they take turns (`metric_blocks.add_points`)."""

    __tablename__ = "metric_rollups"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)  # every point row up to this id is in the blocks
    # Written by servers before blocks were summed up in the batch's transaction (their roller thread
    # waited on PostgreSQL for transactions that could still commit lower ids); no longer read.
    seen_id: Mapped[int] = mapped_column(BigInteger)
    seen_xid: Mapped[int] = mapped_column(BigInteger)


class MetricBatch(Base):
    """A metrics batch id already stored for a job, so a retried batch is not stored twice."""

    __tablename__ = "metric_batches"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class Chart(Base):
    """A Vega-Lite chart a job published, by name."""

    __tablename__ = "charts"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column()
    updated: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class FileRecord(Base):
    """The md5 of a stored file, valid while its size and mtime are unchanged (ETags without re-reading)."""

    __tablename__ = "files"

    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    mtime: Mapped[float] = mapped_column(Double)


class ServerState(Base):
    """Values every replica of the server shares: a generated signing secret, the token revocation counter."""

    __tablename__ = "server_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str | None] = mapped_column(Text)
    number: Mapped[int] = mapped_column(BigInteger, default=0)


class OnceValue(Base):
    """A secret shown once on the page a creation redirects to: found by the SHA-256 of its reference,
    stored encrypted with that reference (which only the redirect holds), deleted when taken or expired."""

    __tablename__ = "once_values"

    ref_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(36))
    sealed: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime.datetime] = mapped_column(index=True)


class RunMetric(Base):
    """What the runs table filters and sorts on for one metric of a job: its output value (from
    output.json's ``output``) and the summary of its progress series (last, min, max, count).

    ``value`` is the metric as the runs table shows it: the output value when the job reported one,
    else the last value of the series. Maintained by `brevettiai.server.run_summary`.
    """

    __tablename__ = "run_metrics"
    # With the job id: a filter's ``job_id IN (SELECT job_id ... WHERE name = ? AND value > ?)`` reads only the index.
    __table_args__ = (Index("ix_run_metrics_name_value_job", "name", "value", "job_id"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)
    text: Mapped[str | None] = mapped_column(Text)  # an output that is text, not a number
    output: Mapped[float | None] = mapped_column(Double)
    has_output: Mapped[bool] = mapped_column(Boolean, default=False)
    last: Mapped[float | None] = mapped_column(Double)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    min: Mapped[float | None] = mapped_column(Double)
    max: Mapped[float | None] = mapped_column(Double)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class RunSetting(Base):
    """One leaf of a job's settings by dotted key, typed, so the runs table filters and sorts on settings
    through an index instead of parsing every job's JSON. Written with the job (`brevettiai.server.run_summary`).
    """

    __tablename__ = "run_settings"
    __table_args__ = (Index("ix_run_settings_key_number_job", "key", "number", "job_id"),
                      Index("ix_run_settings_key_text_job", "key", "text", "job_id"))

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    number: Mapped[float | None] = mapped_column(Double)  # a number (not a boolean)
    text: Mapped[str | None] = mapped_column(String(255))  # a text (its first 255 characters), a list as JSON
    flag: Mapped[bool | None] = mapped_column(Boolean)  # true or false


class RunOutputBackfill(Base):
    """A job whose output.json has not been read into `RunMetric` yet (jobs from before the runs table):
    filled by migration 0008, emptied by `brevettiai.server.run_backfill` after the server starts."""

    __tablename__ = "run_output_backfill"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)


class UserPref(Base):
    """A page setting a person chose (e.g. the runs table's columns), by user name and setting name."""

    __tablename__ = "user_prefs"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column()
    updated: Mapped[datetime.datetime] = mapped_column(default=utcnow)
