"""Two platform servers in one process share no state: each has its own dispatcher wake-up and its own kept
metrics answers (both live on its `ServerContext`, not in a module)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import insert_points

from brevettiai.server import dispatch
from brevettiai.server.app import start_context, stop_context
from brevettiai.server.config import ServerConfig
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.metric_reads import DEFAULT_MAX_POINTS, ReadQuery


@pytest.fixture
def two_contexts(tmp_path: Path) -> Iterator[tuple[ServerContext, ServerContext]]:
    """The contexts of two servers in this process, each on its own data dir (SQLite and a local folder)."""
    contexts = [start_context(ServerConfig.load({"data_dir": str(tmp_path / name)}, {}).resolved(port=1),
                              on_admin_password=lambda _: None) for name in ("a", "b")]
    try:
        yield contexts[0], contexts[1]
    finally:
        for ctx in contexts:
            stop_context(ctx)


def test_waking_one_servers_dispatcher_does_not_wake_the_others(two_contexts: tuple[ServerContext, ServerContext]) -> None:
    first, second = two_contexts
    woken = threading.Event()

    def second_dispatcher() -> None:
        dispatch.wait(second, timeout=60)
        woken.set()

    thread = threading.Thread(target=second_dispatcher, daemon=True)
    thread.start()
    dispatch.wake(first)
    assert first.dispatch_wake.is_set() and not second.dispatch_wake.is_set()
    assert not woken.is_set()
    dispatch.wake(second)
    assert woken.wait(30), "the second server's dispatcher was not woken by its own wake-up"
    thread.join(30)


def _read(ctx: ServerContext, job_id: str) -> dict[str, object]:
    query = ReadQuery(names=None, since=None, after=None, start_step=None, end_step=None,
                      max_points=DEFAULT_MAX_POINTS, ctx=ctx)
    return query.read(ctx.db, job_id)


def test_each_server_keeps_its_own_metrics_answers(two_contexts: tuple[ServerContext, ServerContext]) -> None:
    """The same job id with the same number of points on two databases: the kept answer's key is the same, so a
    cache shared between the servers would answer the second from the first's points."""
    job_id = "00000000-0000-0000-0000-00000000c0de"
    for ctx, value in zip(two_contexts, (1.0, 2.0), strict=True):
        with ctx.db.write() as session:
            session.add(db.Job(id=job_id, kind="model", name=f"run {value}"))
        with ctx.db.engine.begin() as connection:
            insert_points(connection, [{"job_id": job_id, "name": "loss", "step": step, "value": value,
                                        "time": 1e9 + step} for step in range(10)])
    first, second = two_contexts
    answer = _read(first, job_id)
    assert _read(first, job_id) is answer  # kept by the first server
    assert {row[1] for row in answer["series"]["loss"]} == {1.0}  # type: ignore[index]
    other = _read(second, job_id)
    assert {row[1] for row in other["series"]["loss"]} == {2.0}  # type: ignore[index]
    assert _read(second, job_id) is other
