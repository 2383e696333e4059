"""Metrics reads of a long job, on SQLite and PostgreSQL, through the real server process.

200,000 points of one series go in through the metrics API in large batches; reads come back
bounded (min/max buckets that keep every bucket's extremes, a spike included), a step range comes back
point for point, a poll after the cursor finds only the new points, and stored NaN/±Infinity (older
data) read back as null. EXPLAIN shows that polls and bucketed reads go through the indexes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from platform_fixture import PlatformServer
from server_helpers import insert_points, job_client, job_points, model, post_points
from services import wait_for
from sqlalchemy.orm import Session

from brevettiai.server import metric_blocks, metric_reads

STEPS = 200_000
SPIKE_STEP, SPIKE = 123_457, 1000.0


def _value(step: int) -> float:
    """A wavy, decreasing curve: every bucket has a distinct minimum and maximum."""
    return 1.0 / (1 + step / 1000) + 0.1 * math.sin(step / 7.0) + (SPIKE if step == SPIKE_STEP else 0.0)


class Backend:
    """A server on one database, and a SQLAlchemy URL to look into that database directly."""

    def __init__(self, server: PlatformServer, url: str) -> None:
        self.server, self.url = server, url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, platform_server_factory: Any) -> Iterator[Backend]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
        yield Backend(platform_server_factory("--database-url", url), url)
    else:
        server = platform_server_factory()
        yield Backend(server, "sqlite:///" + str(server.data_dir / "brevettiai.db"))


def _long_job(server: PlatformServer, admin: httpx.Client) -> tuple[str, str]:
    m = model(admin)
    with job_client(server.url, m["apiKey"]) as job:
        for start in range(0, STEPS, 50_000):
            post_points(job, m["id"], [{"step": s, "time": 1e9 + s, "values": {"loss": _value(s)}}
                                 for s in range(start, start + 50_000)])
        post_points(job, m["id"], [{"step": s, "time": 2e9 + s, "values": {"acc": s / 100}} for s in range(100)])
    return m["id"], m["apiKey"]


def _read(admin: httpx.Client, job_id: str, **params: Any) -> dict[str, Any]:
    answer = admin.get(f"/api/models/{job_id}/metrics", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_long_series_read_bounded_zoomed_and_polled(backend: Backend) -> None:
    with backend.server.client() as admin:
        job_id, key = _long_job(backend.server, admin)
        # Until the points are summed up in blocks (PostgreSQL: once their ids settled), reads bucket
        # the points themselves; afterwards from the blocks: both give the same answer.
        by_points = _read(admin, job_id, names="loss", max_points=1566, since=0)  # since: always by points
        _wait_summed_up(backend.url, job_id)
        assert _read(admin, job_id, names="loss", max_points=1566) == by_points
        assert by_points["bucketSteps"] == {"loss": 256}  # a multiple of the 64-step blocks: the same buckets
        whole = _read(admin, job_id)

        # A short series comes back point for point, as it always did.
        assert whole["series"]["acc"] == [[s, s / 100, 2e9 + s] for s in range(100)]
        assert whole["counts"]["acc"] == 100 and whole["bucketSteps"]["acc"] == 1

        # The long one: at most 2,000 rows, each bucket answering with exactly its lowest and highest value.
        loss, width = whole["series"]["loss"], whole["bucketSteps"]["loss"]
        assert len(loss) <= 2000 and whole["counts"]["loss"] == STEPS and width > 1
        _check_buckets(loss, width, 0, STEPS - 1)
        top = max(loss, key=lambda row: row[1])  # the one-step spike survives, in its own bucket
        assert top[1] == _value(SPIKE_STEP) and top[0] // width == SPIKE_STEP // width

        # Zoom: a step range comes back point for point.
        zoom = _read(admin, job_id, names="loss", start_step=SPIKE_STEP - 50, end_step=SPIKE_STEP + 50)
        assert zoom["series"] == {"loss": [[s, _value(s), 1e9 + s] for s in range(SPIKE_STEP - 50, SPIKE_STEP + 51)]}
        assert zoom["bucketSteps"] == {"loss": 1} and zoom["counts"] == {"loss": 101}
        exact = _read(admin, job_id, names="loss", start_step=100_010, end_step=102_009)  # 2,000 points, 33 blocks
        assert exact["bucketSteps"] == {"loss": 1} and [row[0] for row in exact["series"]["loss"]] == list(
            range(100_010, 102_010))
        wide = _read(admin, job_id, names="loss", start_step=1000, end_step=50_999, max_points=100_000)
        assert [row[0] for row in wide["series"]["loss"]] == list(range(1000, 51_000))
        # A long range with ends inside blocks: still each bucket's extremes, within the range.
        part = _read(admin, job_id, names="loss", start_step=1001, end_step=150_999, max_points=1000)
        assert part["counts"] == {"loss": 149_999} and len(part["series"]["loss"]) <= 1000
        _check_buckets(part["series"]["loss"], part["bucketSteps"]["loss"], 1001, 150_999)
        assert admin.get(f"/api/models/{job_id}/metrics", params={"start_step": 5, "end_step": 4}).status_code == 422
        assert admin.get(f"/api/models/{job_id}/metrics", params={"max_points": 10**6}).status_code == 422

        # Polls: nothing new, then exactly the new points.
        cursor = whole["cursor"]
        assert _read(admin, job_id, after=cursor) == {"series": {}, "counts": {}, "bucketSteps": {}, "cursor": cursor}
        with job_client(backend.server.url, key) as job:
            post_points(job, job_id, [{"step": STEPS + i, "time": 3e9, "values": {"loss": 0.5, "lr": 0.1}} for i in range(3)])
        new = _read(admin, job_id, after=cursor)
        assert new["series"] == {"loss": [[STEPS + i, 0.5, 3e9] for i in range(3)],
                                 "lr": [[STEPS + i, 0.1, 3e9] for i in range(3)]}
        assert new["cursor"] > cursor and _read(admin, job_id, after=new["cursor"])["series"] == {}
        assert _read(admin, job_id, names="loss")["counts"] == {"loss": STEPS + 3}


def test_several_long_series_of_a_job_read_from_blocks_as_from_their_points(backend: Backend) -> None:
    """The series of one job read from the blocks together (two bucket widths: 256 and 128 steps) answer
    exactly as their full-resolution points do, each with its own spike."""
    lengths = {"a": 64_000, "b": 64_000, "c": 32_000}

    def value(name: str, step: int) -> float:
        return _value(step) * (1 + ord(name) % 3) + (50.0 if step == lengths[name] // 3 else 0.0)

    with backend.server.client() as admin:
        m = model(admin)
        with job_client(backend.server.url, m["apiKey"]) as job:
            post_points(job, m["id"], [{"step": s, "time": 1e9 + s,
                                  "values": {name: value(name, s) for name, length in lengths.items() if s < length}}
                                 for s in range(64_000)])
        by_points = _read(admin, m["id"], max_points=502, since=0)  # since: always the points themselves
        _wait_summed_up(backend.url, m["id"])
        by_blocks = _read(admin, m["id"], max_points=502)
    assert by_points["bucketSteps"] == {"a": 256, "b": 256, "c": 128}
    assert by_blocks == by_points
    for name, length in lengths.items():
        assert by_blocks["counts"][name] == length
        assert max(row[1] for row in by_blocks["series"][name]) == value(name, length // 3)


def _wait_summed_up(url: str, job_id: str) -> None:
    engine = sa.create_engine(url)
    points = job_points(job_id)
    newest = sa.select(sa.func.max(points.c.id))
    mark = sa.select(sa.text("last_id FROM metric_rollups")).where(sa.text("job_id = :job")).params(job=job_id)
    try:
        with engine.connect() as connection:
            wait_for(lambda: connection.execute(mark).scalar() == connection.execute(newest).scalar()
                     or connection.rollback(), 30, what="the points summed up in blocks")
    finally:
        engine.dispose()


def _check_buckets(rows: list[list[Any]], width: int, first: int, last: int) -> None:
    """Each bucket of `width` steps (from step 0) answered with exactly its lowest and highest value."""
    answered: dict[int, list[float]] = {}
    for step, value, _ in rows:
        assert first <= step <= last
        answered.setdefault(step // width, []).append(value)
    assert sorted(answered) == list(range(first // width, last // width + 1))
    for bucket, values in answered.items():
        expected = [_value(s) for s in range(max(first, bucket * width), min(last + 1, (bucket + 1) * width))]
        assert sorted(values) == [min(expected), max(expected)], bucket


def test_stored_nan_and_infinity_read_as_null(backend: Backend) -> None:
    with backend.server.client() as admin:
        job_id = model(admin)["id"]
        # Rows as older versions (or other tools) stored them; the API itself never stores these.
        engine = sa.create_engine(backend.url)
        rows = [{"job_id": job_id, "step": s, "name": "loss", "value": v, "time": float(s)}
                for s, v in enumerate([1.0, math.inf, -math.inf, math.nan, 2.0])]
        rows += [{"job_id": job_id, "step": s, "name": "long", "value": math.inf if s % 7 == 0 else float(s),
                  "time": float(s)} for s in range(3000)]
        with engine.begin() as connection:
            insert_points(connection, rows)
        engine.dispose()
        whole = _read(admin, job_id)
        assert whole["series"]["loss"] == [[0, 1.0, 0.0], [1, None, 1.0], [2, None, 2.0], [3, None, 3.0],
                                           [4, 2.0, 4.0]]
        long, width = whole["series"]["long"], whole["bucketSteps"]["long"]
        assert len(long) <= 2000 and 1 < width < 64 and whole["counts"]["long"] == 3000
        assert all(value is None or math.isfinite(value) for _, value, _ in long)
        assert max(value for _, value, _ in long) == 2999.0  # the buckets' extremes skip the infinite values


def test_polls_and_bucketed_reads_use_the_indexes(backend: Backend) -> None:
    with backend.server.client() as admin:
        job_id = model(admin)["id"]
        other = model(admin)["id"]
        engine = sa.create_engine(backend.url)
        # This job's points are a small, older part of the table, as on a server with many jobs: a
        # scan of the table (or of the primary key from the newest row back) would read the others too.
        with engine.begin() as connection:
            for job, steps in ((job_id, 5000), (other, 100_000)):
                insert_points(connection, [{"job_id": job, "step": s, "name": name, "value": 1.0, "time": float(s)}
                                           for s in range(steps) for name in ("loss", "acc")])
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("ANALYZE metric_points"))
        cursor = _read(admin, job_id)["cursor"]
        with Session(engine) as session:  # reads look up the job's series ids first
            poll = metric_reads.Filters(job_id, after=cursor - 10).resolved(session)
            whole = metric_reads.Filters(job_id).resolved(session)
            by_time = metric_reads.Filters(job_id, since=1e9).resolved(session)
        statements = {
            "cursor": metric_reads.cursor_statement(job_id),
            "poll sizes": metric_reads.tail_statement(poll, cursor),
            "poll rows": metric_reads.rows_statement(poll, cursor, "loss"),
            "poll buckets": metric_reads.bucket_statement(poll, cursor, "loss", 20),
            "by time": metric_reads.tail_statement(by_time, cursor),
            "summing up": metric_blocks.fold_statement(job_id, cursor - 1000, cursor),
            "names": metric_reads.names_statement(job_id),
            "first step": metric_reads.edge_statement(whole, cursor, "loss"),
            "count": metric_reads.count_statement(whole, cursor, "loss", 2001),
            "rows": metric_reads.rows_statement(whole, cursor, "loss"),
            "buckets": metric_reads.bucket_statement(whole, cursor, "loss", 20),
            "block sizes": metric_reads.block_sizes_statement(whole),
            "block buckets": metric_reads.block_bucket_statement(whole.but(start_step=640, end_step=4000), ["loss", "acc"], 128),
        }
        plans = {name: _plan(engine, statement) for name, statement in statements.items()}
        engine.dispose()
    for name, plan in plans.items():
        print(name, plan, sep="\n")
    for name in ("cursor", "poll rows", "poll buckets"):
        assert "ix_metric_points_series_id " in plans[name], (name, plans[name])
    # Rows by id (PostgreSQL may walk the primary key over an id range that holds only this job's rows).
    for name in ("poll sizes", "by time", "summing up"):
        assert "ix_metric_points_series_id " in plans[name] or "pk_metric_points" in plans[name], (name, plans[name])
    assert "ix_metric_points_series_step" in plans["first step"], plans["first step"]
    for name in ("count", "rows", "buckets"):  # every row of the series: either of its indexes
        assert "ix_metric_points_series_" in plans[name], (name, plans[name])
    for name in ("cursor", "names", "summing up"):  # the job's series by its id
        assert "uq_metric_series_job_id" in plans[name] or "sqlite_autoindex_metric_series" in plans[name], (
            name, plans[name])
    for name in ("block sizes", "block buckets"):
        assert "pk_metric_blocks" in plans[name] or "sqlite_autoindex_metric_blocks" in plans[name], (name, plans[name])
    assert "SCAN metric_points" not in json.dumps(plans) and "SCAN metric_series" not in json.dumps(plans)
    assert "Seq Scan" not in json.dumps(plans)


def _plan(engine: sa.Engine, statement: Any) -> str:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        return "\n".join(" ".join(str(c) for c in row) for row in connection.exec_driver_sql(prefix + sql))


def test_reads_while_points_arrive_count_each_point_once(backend: Backend) -> None:
    """Blocks are summed up while reads run: every answer counts exactly the points up to its cursor."""
    with backend.server.client() as admin:
        m = model(admin)
        with job_client(backend.server.url, m["apiKey"]) as job:
            post_points(job, m["id"], [{"step": s, "time": 1.0, "values": {"loss": 1.0, "acc": 0.5}} for s in range(80_000)])
            _wait_summed_up(backend.url, m["id"])  # from here on reads sum blocks (buckets of 64-step multiples)

            def write() -> None:
                for first in range(80_000, 140_000, 3000):
                    post_points(job, m["id"], [{"step": s, "time": 1.0, "values": {"loss": 1.0, "acc": 0.5}}
                                         for s in range(first, first + 3000)])

            writer = ThreadPoolExecutor(1)
            written = writer.submit(write)
            engine = sa.create_engine(backend.url)
            points = job_points(m["id"])
            answers = 0
            try:
                while not written.done() or answers < 3:
                    answer = _read(admin, m["id"])
                    with engine.connect() as connection:
                        stored = dict(connection.execute(
                            sa.select(points.c.name, sa.func.count()).where(points.c.id <= answer["cursor"])
                            .group_by(points.c.name)).all())
                    assert answer["counts"] == stored and answer["bucketSteps"]["loss"] % 64 == 0
                    answers += 1
            finally:
                writer.shutdown(wait=True)
                engine.dispose()
            written.result()  # a failed write in the writer thread fails this test


def test_negative_steps_fall_in_the_right_buckets(backend: Backend) -> None:
    """Buckets and blocks start at multiples of their width, below step 0 too."""
    with backend.server.client() as admin:
        m = model(admin)
        with job_client(backend.server.url, m["apiKey"]) as job:
            post_points(job, m["id"], [{"step": s, "time": 1.0, "values": {"loss": float(s)}} for s in range(-300, 300)])
        by_points = _read(admin, m["id"], max_points=4, since=0)
        _wait_summed_up(backend.url, m["id"])
        by_blocks = _read(admin, m["id"], max_points=4)
    # max_points=4: one bucket's width of steps, so the buckets at -600 (or -640) and 0 hold the points.
    assert by_points["bucketSteps"] == {"loss": 600} and by_blocks["bucketSteps"] == {"loss": 640}  # 64 * 10
    for answer in (by_points, by_blocks):
        assert answer["counts"] == {"loss": 600}
        assert [row[:2] for row in answer["series"]["loss"]] == [[-300, -300.0], [-1, -1.0], [0, 0.0], [299, 299.0]]


def test_postgresql_replicas_storing_one_job_at_once_keep_its_blocks_exact(postgres: Any,
                                                                          platform_server_factory: Any) -> None:
    """Two servers on one database store batches of one job at the same moment: every point is in the
    blocks exactly once (each transaction sums up its own points; they take turns per job)."""
    url = postgres.new_database()
    servers = [platform_server_factory("--database-url", url) for _ in range(2)]
    with servers[0].client() as admin:
        m = model(admin)

        def store(index: int) -> None:
            with job_client(servers[index % 2].url, m["apiKey"]) as job:
                start = index * 500
                post_points(job, m["id"], [{"step": s, "time": 1.0, "values": {"loss": float(s)}}
                                     for s in range(start, start + 500)])

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(store, range(16)))
        answer = _read(admin, m["id"], names="loss", max_points=100)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored, in_blocks = connection.execute(sa.text(
            "SELECT (SELECT count(*) FROM metric_points p JOIN metric_series s ON s.id = p.series_id"
            " WHERE s.job_id = :job),"
            " (SELECT sum(count) FROM metric_blocks WHERE job_id = :job)"), {"job": m["id"]}).one()
    engine.dispose()
    assert stored == in_blocks == 8000
    assert answer["counts"] == {"loss": 8000} and answer["bucketSteps"]["loss"] > 1
    values = [row[1] for row in answer["series"]["loss"]]
    assert min(values) == 0.0 and max(values) == 7999.0


def test_points_stored_without_blocks_are_summed_up_by_the_next_batch(platform_server_factory: Any) -> None:
    """Points an older server stored (no blocks, mark behind) count once, with the new batches' points."""
    server = platform_server_factory()
    url = "sqlite:///" + str(server.data_dir / "brevettiai.db")
    with server.client() as admin:
        m = model(admin)
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            insert_points(connection, [{"job_id": m["id"], "step": s, "name": "loss", "value": float(s), "time": 1.0}
                                       for s in range(3000)])
        engine.dispose()
        with job_client(server.url, m["apiKey"]) as job:
            post_points(job, m["id"], [{"step": s, "time": 2.0, "values": {"loss": -1.0}} for s in range(3000, 6000)])
        answer = _read(admin, m["id"], names="loss", max_points=100)
        assert answer["counts"] == {"loss": 6000} and answer["bucketSteps"]["loss"] % 64 == 0
        values = [row[1] for row in answer["series"]["loss"]]
        assert min(values) == -1.0 and max(values) == 2999.0
        _wait_summed_up(url, m["id"])  # the mark is at the newest point: nothing is left to read as points
