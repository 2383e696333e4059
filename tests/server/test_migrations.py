"""Migration 0009 (integer series ids) taken back and forth with points stored, on SQLite and PostgreSQL:
downgrading gives back the 0008 layout with every point as it was (ids included), a server of that
layout could write on, and upgrading again gives the schema of a fresh database with the points readable
through a real server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from server_helpers import job_client
from test_server_metric_series import LOSS, _old_database

BEFORE, SERIES_IDS = "0008_runs_index", "0009_series_ids"
POINT_ROWS = "SELECT p.id, p.job_id, p.step, p.name, p.value, p.time FROM metric_points p ORDER BY p.id"


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    from brevettiai.server.db.migrate import downgrade, upgrade
    from brevettiai.server.db.session import Database

    database = Database(url)  # as the server connects: SQLite with foreign keys on
    (downgrade if down else upgrade)(database.engine, revision)
    database.dispose()


FIRST_RELEASED = "0002"  # the oldest schema a released server wrote (0001 had no shared state)


def test_a_database_of_the_first_release_keeps_every_record_through_every_migration_and_back(
        tmp_path: Path, platform_server_factory: Any) -> None:
    """SQLite alters a table by copying it, and with foreign keys on, dropping the old ``jobs`` table
    deleted every metric point, batch and chart of every job (migrations 0003, 0005, 0007 and 0010)."""
    from brevettiai.server.security import token_hash

    job_id, key = str(uuid.uuid4()), "bj_" + uuid.uuid4().hex
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'brevettiai.db'}"
    _migrate(url, FIRST_RELEASED)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO jobs (id, kind, name, status, created, settings, dataset_ids, tag_ids, stop_requested,"
            " key_hash) VALUES (:id, 'model', 'first release', 'completed', CURRENT_TIMESTAMP, '{}', '[]', '[]',"
            " false, :key_hash)"), {"id": job_id, "key_hash": token_hash(key)})
        connection.execute(sa.text("INSERT INTO metric_points (job_id, step, name, value, time) VALUES "
                                   "(:job, :step, 'loss', :value, :time)"),
                           [{"job": job_id, "step": step, "value": 1 / (step + 1), "time": float(step)}
                            for step in range(50)])
        connection.execute(sa.text("INSERT INTO metric_batches (job_id, batch_id, accepted, created) VALUES "
                                   "(:job, 'sent-then', 50, CURRENT_TIMESTAMP)"), {"job": job_id})
    engine.dispose()

    server = platform_server_factory(data_dir=data_dir)  # upgrades as it starts
    with server.client() as admin:
        loss = admin.get(f"/api/models/{job_id}/metrics").json()["series"]["loss"]
        assert [point[:2] for point in loss] == [[step, 1 / (step + 1)] for step in range(50)]
    server.stop()

    _migrate(url, FIRST_RELEASED, down=True)
    counts = _rows(url, "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM metric_points), "
                        "(SELECT count(*) FROM metric_batches)")
    assert counts == [(1, 50, 1)], "every record is still there after going back to the first release"


def _schema(url: str) -> dict[str, Any]:
    """Every table's columns (name, type, nullability), primary key, foreign keys, indexes and unique
    constraints, order-free: what a server of that revision relies on."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        schema: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            schema[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in inspector.get_columns(table)),
                "primary key": {key: inspector.get_pk_constraint(table)[key] for key in ("name", "constrained_columns")},
                "foreign keys": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"],
                                        tuple(fk["referred_columns"]), (fk.get("options") or {}).get("ondelete"))
                                       for fk in inspector.get_foreign_keys(table)),
                "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                                  for ix in inspector.get_indexes(table)),
                "unique": sorted((uq["name"], tuple(uq["column_names"]))
                                 for uq in inspector.get_unique_constraints(table)),
            }
        return schema
    finally:
        engine.dispose()


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(query))]
    finally:
        engine.dispose()


def _send(server: Any, job_id: str, key: str, batch_id: str, step: int, time: float) -> None:
    with job_client(server.url, key) as job:
        body = {"batchId": batch_id, "points": [{"step": step, "time": time, "values": {"acc": 1.0}}]}
        answer = job.post(f"/api/jobs/{job_id}/metrics", content=json.dumps(body),
                          headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json() == {"accepted": 1}, answer.text


def _loss_read_in_blocks(admin: Any, job_id: str) -> dict[str, Any]:
    return admin.get(f"/api/models/{job_id}/metrics", params={"names": "loss", "max_points": 100}).json()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_series_ids_downgrade_and_upgrade_again_keep_every_point(backend: str, tmp_path: Path, request: Any,
                                                                 platform_server_factory: Any) -> None:
    from brevettiai.server.db.session import Database

    job_id, other_id, key = str(uuid.uuid4()), str(uuid.uuid4()), "bj_" + uuid.uuid4().hex
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if backend == "postgresql":
        postgres = request.getfixturevalue("postgres")
        url, fresh = postgres.new_database(), postgres.new_database()
    else:
        url, fresh = f"sqlite:///{data_dir / 'brevettiai.db'}", f"sqlite:///{tmp_path / 'fresh.db'}"
    _old_database(url, job_id, other_id, key)  # at 0008: 30,004 points of two jobs in the old layout
    stored = _rows(url, POINT_ROWS)
    assert len(stored) == len(LOSS) + 4
    _migrate(fresh, BEFORE)
    old_schema = _schema(fresh)

    flags = ["--database-url", url] if backend == "postgresql" else []
    server = platform_server_factory(*flags, data_dir=data_dir)  # upgrades as it starts
    with server.client() as admin:
        assert _loss_read_in_blocks(admin, job_id)["counts"] == {"loss": 30_000}  # the blocks are summed up
    _send(server, job_id, key, "in-series-layout", 8, 5.0)
    server.stop()

    _migrate(url, BEFORE, down=True)
    assert _schema(url) == old_schema
    back = _rows(url, POINT_ROWS)  # ids, values, nulls and repeated steps as they were, and the point sent since
    assert back[:-1] == stored and back[-1][0] > stored[-1][0] and back[-1][1:] == (job_id, 8, "acc", 1.0, 5.0)

    # A server of the 0008 layout writes on: new rows get ids after the kept ones, a job's deletion takes its points.
    database = Database(url)  # as the server connects (SQLite enforces foreign keys only when asked)
    with database.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO metric_points (job_id, step, name, value, time) VALUES "
                                   "(:job, 30000, 'loss', 0.5, 9.0)"), {"job": job_id})
        connection.execute(sa.text("DELETE FROM jobs WHERE id = :job"), {"job": other_id})
    database.dispose()
    after_write = _rows(url, POINT_ROWS)
    assert after_write[-1][0] > back[-1][0] and after_write[-1][1:] == (job_id, 30000, "loss", 0.5, 9.0)
    assert not [row for row in after_write if row[1] == other_id]

    server.start()  # upgrades again
    with server.client() as admin:
        whole = admin.get(f"/api/models/{job_id}/metrics", params={"max_points": 100_000}).json()
        assert whole["series"]["loss"] == [[s, v, t] for s, v, t in LOSS] + [[30000, 0.5, 9.0]]
        assert whole["series"]["acc"] == [[3, 0.25, 4.0], [7, None, 2.0], [7, 0.75, 3.0], [8, 1.0, 5.0]]
        bucketed = _loss_read_in_blocks(admin, job_id)  # the blocks and the point written after them
        assert bucketed["counts"] == {"loss": 30_001} and bucketed["series"]["loss"][-1][:2] == [30000, 0.5]
        _send(server, job_id, key, "after-round-trip", 30001, 10.0)
        poll = admin.get(f"/api/models/{job_id}/metrics", params={"after": whole["cursor"]}).json()
        assert poll["series"] == {"acc": [[30001, 1.0, 10.0]]}
    server.stop()
    _migrate(fresh, "head")
    assert _schema(url) == _schema(fresh)


def test_a_migration_that_fails_on_sqlite_leaves_the_database_as_it_was(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from brevettiai.server.db import migrate

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _migrate(url, SERIES_IDS)

    def fails_at_the_end(connection: Any, before: Any) -> None:  # a fault after the DDL ran
        raise RuntimeError("injected failure")

    monkeypatch.setattr(migrate, "_refuse_new_broken_references", fails_at_the_end)
    with pytest.raises(RuntimeError, match="injected failure"):
        _migrate(url, "head")
    monkeypatch.undo()
    columns = [row[1] for row in _rows(url, "PRAGMA table_info(jobs)")]
    assert "claim_token" not in columns and _rows(url, "SELECT version_num FROM alembic_version") == [(SERIES_IDS,)]
    _migrate(url, "head")  # and it can be migrated once the cause is gone
    assert "claim_token" in [row[1] for row in _rows(url, "PRAGMA table_info(jobs)")]


def test_rows_broken_by_hand_before_do_not_stop_a_server_from_starting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _migrate(url, SERIES_IDS)
    engine = sa.create_engine(url)  # as the sqlite3 shell: foreign keys off
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO metric_batches (job_id, batch_id, accepted, created) VALUES "
                                   "('no-such-job', 'orphan', 1, CURRENT_TIMESTAMP)"))
    engine.dispose()
    _migrate(url, "head")
    _migrate(url, "head")  # nothing pending: starts as well
    assert _rows(url, "SELECT batch_id FROM metric_batches") == [("orphan",)]
