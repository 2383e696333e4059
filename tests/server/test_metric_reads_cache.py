"""Kept answers of metrics reads (`ServerContext.metric_answers`) are never stale: two real server processes on
one database (SQLite and PostgreSQL); one answers reads (and keeps them), the other stores new points, a
spike at an old step included, and the first one's next answers count them. Plus the cache's bound."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import job_client, model, post_points

from brevettiai.server.answer_cache import ENTRY_ROWS, ROW_BYTES, AnswerCache

STEPS = 20_000


@pytest.fixture(params=["sqlite", "postgresql"])
def two_servers(request: pytest.FixtureRequest, platform_server_factory: Any) -> Iterator[list[PlatformServer]]:
    """Two server processes on one database."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
        first = platform_server_factory("--database-url", url)
    else:
        first = platform_server_factory()
        url = "sqlite:///" + str(first.data_dir / "brevettiai.db")
    yield [first, platform_server_factory("--database-url", url)]


def _values(answer: dict[str, Any], name: str) -> list[float]:
    return [row[1] for row in answer["series"][name]]


def test_kept_answers_follow_points_stored_through_another_server(two_servers: list[PlatformServer]) -> None:
    reader, writer = two_servers
    with reader.client() as admin, writer.client() as other:
        m = model(admin)
        others = model(admin)
        with job_client(writer.url, m["apiKey"]) as job:
            post_points(job, m["id"], [{"step": s, "time": 1e9 + s, "values": {"loss": 1.0 / (1 + s)}} for s in range(STEPS)])
        with job_client(writer.url, others["apiKey"]) as job:
            post_points(job, others["id"], [{"step": s, "time": 1e9 + s, "values": {"loss": 5.0}} for s in range(STEPS)])

        def compare(**params: Any) -> dict[str, Any]:
            answer = admin.get("/api/compare", params={"ids": f"{m['id']},{others['id']}", **params})
            assert answer.status_code == 200, answer.text
            return answer.json()

        def metrics(client: httpx.Client, **params: Any) -> dict[str, Any]:
            answer = client.get(f"/api/models/{m['id']}/metrics", params=params)
            assert answer.status_code == 200, answer.text
            return answer.json()

        first = compare()
        assert first == compare()  # asked again: the same answer
        assert first["counts"][m["id"]] == {"loss": STEPS}
        assert max(row[1] for row in first["series"][m["id"]]["loss"]) == 1.0
        zoomed = metrics(admin, start_step=100, end_step=5099, max_points=500)
        assert zoomed["counts"] == {"loss": 5000} and max(_values(zoomed, "loss")) == pytest.approx(1 / 101)

        # The other server stores a spike at an old step (inside every range read above) and a new step.
        with job_client(writer.url, m["apiKey"]) as job:
            post_points(job, m["id"], [{"step": 3000, "time": 2e9, "values": {"loss": 50.0}},
                                 {"step": STEPS, "time": 2e9, "values": {"loss": -1.0}}])
        later = compare()
        assert later["counts"][m["id"]] == {"loss": STEPS + 2}
        assert later["cursors"][m["id"]] > first["cursors"][m["id"]]
        rows = later["series"][m["id"]]["loss"]
        assert max(row[1] for row in rows) == 50.0 and min(row[1] for row in rows) == -1.0
        assert later["series"][others["id"]] == first["series"][others["id"]]  # that run is unchanged
        zoomed_later = metrics(admin, start_step=100, end_step=5099, max_points=500)
        assert zoomed_later["counts"] == {"loss": 5001} and max(_values(zoomed_later, "loss")) == 50.0
        # Both servers answer alike.
        assert metrics(other, start_step=100, end_step=5099, max_points=500) == zoomed_later
        assert metrics(admin) == metrics(other)


def test_answer_cache_keeps_the_latest_answers_within_its_rows() -> None:
    cache = AnswerCache(max_rows=80)  # an answer of 10 rows weighs 10 + ENTRY_ROWS = 18: four fit

    def answer(rows: int) -> dict[str, Any]:
        return {"series": {"loss": [[step, 1.0, 2.0] for step in range(rows)], "acc": [[0, 1.0, 2.0]]}}

    first, second, third = answer(9), answer(9), answer(9)  # 10 rows each
    for key, kept in (("a",), first), (("b",), second), (("x",), answer(9)):
        cache.put(key, kept)
    assert cache.get(("a",)) is first  # now the most recently used
    cache.put(("c",), third)
    cache.put(("d",), answer(9))  # a fifth: the least recently used one ("b") goes
    assert cache.get(("b",)) is None
    assert cache.get(("a",)) is first and cache.get(("c",)) is third and cache.get(("x",)) is not None
    cache.put(("e",), answer(20))  # more than a quarter of the bound: not kept, nothing dropped
    assert cache.get(("e",)) is None and cache.get(("a",)) is first
    cache.clear()
    assert cache.get(("a",)) is None


def test_empty_answers_to_long_keys_do_not_grow_the_cache_without_bound() -> None:
    """Reads of names no job has answer nothing, but each entry and its key take memory: they count."""
    cache = AnswerCache(max_rows=1_000)
    names = tuple(f"no-such-metric-{n}" for n in range(400))  # a key of ~8 kB
    for start in range(5_000):
        cache.put(("job", names, start, None, 500, 1, 1), {"series": {}})
    kept = sum(cache.get(("job", names, start, None, 500, 1, 1)) is not None for start in range(5_000))
    assert 0 < kept <= 1_000 // (ENTRY_ROWS + len(repr(("job", names, 0, None, 500, 1, 1))) // ROW_BYTES) + 1
    assert cache.get(("job", names, 4_999, None, 500, 1, 1)) == {"series": {}}  # the latest is kept
