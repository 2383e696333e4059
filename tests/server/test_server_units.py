"""Pieces of the server tested without a server: settings validation, config, paths, ranges, secrets, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the server extra is not installed")

from brevettiai.contract.forms import deep_merge, validate_settings  # noqa: E402
from brevettiai.errors import StoragePathError  # noqa: E402
from brevettiai.io.path import safe_join  # noqa: E402
from brevettiai.server import security  # noqa: E402
from brevettiai.server.config import SETTINGS, ConfigError, ServerConfig, parse_duration, parse_size  # noqa: E402
from brevettiai.server.errors import ApiError  # noqa: E402
from brevettiai.server.files import parse_range  # noqa: E402
from brevettiai.server.runners import job_environment  # noqa: E402
from brevettiai.server.storage import PathRejected, clean_path, clean_resource_id  # noqa: E402

NUMBER = {"type": "input", "inputType": "number", "model": "a.b", "min": 0, "max": 10, "step": 1, "required": True}


def _messages(fields: list[dict], settings: dict) -> dict[str, str]:
    return {e["loc"][1]: e["msg"] for e in validate_settings({"fields": fields, "presets": {}}, settings)}


@pytest.mark.parametrize(("value", "ok"), [(3, True), (3.0, True), ("4", True), (0, True), (10, True), (11, False),
                                           (-1, False), (2.5, False), ("x", False), (True, True), (None, False)])
def test_number_fields(value: object, ok: bool) -> None:
    assert (_messages([NUMBER], {"a": {"b": value}}) == {}) is ok


def test_number_rules_and_messages_name_the_rule() -> None:
    half = {"type": "input", "inputType": "number", "model": "x", "min": 1, "multipleOf": 0.5, "step": "any"}
    assert _messages([half], {"x": 2.5}) == {}
    assert _messages([half], {"x": 2.2})["x"] == "must be a multiple of 0.5; got 2.2"
    assert _messages([NUMBER], {"a": {"b": 11}})["a.b"] == "must be <= 10; got 11"
    assert _messages([NUMBER], {"a": {"b": 2.5}})["a.b"] == "must be an integer; got 2.5"
    positive = {"type": "input", "inputType": "number", "model": "r", "min": 0, "exclusiveMin": True, "step": "any"}
    assert _messages([positive], {"r": 0}) == {"r": "must be > 0; got 0"}
    assert _messages([NUMBER], {}) == {"a.b": "is required"}
    anything = {"type": "input", "inputType": "number", "model": "y", "step": "any"}
    assert _messages([anything], {"y": 1e9}) == {}


def test_choices_booleans_text_and_json() -> None:
    fields = [{"type": "select", "model": "s", "values": ["a", {"id": "b", "name": "B"}]},
              {"type": "checklist", "model": "c", "values": ["x", "y"]},
              {"type": "checkbox", "model": "f"},
              {"type": "input", "inputType": "text", "model": "t"},
              {"type": "textArea", "model": "j", "isJson": True},
              {"type": "input", "inputType": "text", "model": "n", "nullable": True, "required": True},
              {"type": "label", "tag": "group"}]
    good = {"s": "b", "c": ["x"], "f": "false", "t": "", "j": '{"k": [1]}', "n": None, "unknown": {"any": 1}}
    assert _messages(fields, good) == {}
    bad = _messages(fields, {"s": "z", "c": ["x", "q"], "f": "maybe", "t": 3, "j": "{", "n": None})
    assert set(bad) == {"s", "c", "f", "t", "j"}
    assert "['a', 'b']" in bad["s"] and "['q']" in bad["c"] and "JSON" in bad["j"]
    assert _messages(fields, {"j": [1, 2], "c": '["y"]', "n": None}) == {}


def test_deep_merge() -> None:
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 3}, "e": 4}) == {"a": {"b": 3, "c": 2}, "d": 1, "e": 4}


@pytest.mark.parametrize("bad", ["../x", "a/../../b", "/etc/passwd", "a\\b", "a\x00b", "C:/x", ".."])
def test_unsafe_paths_are_rejected(bad: str) -> None:
    with pytest.raises(PathRejected):
        clean_path(bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "é", ".", "..", "/", "\\", "\x00", "C:", "s3://", " "]), max_size=8).map("".join))
def test_sdk_and_server_refuse_the_same_paths(path: str) -> None:
    """One rule set (brevettiai.contract.paths): a path the server refuses, the SDK refuses too, and back."""
    try:
        clean_path(path)
        server_ok = True
    except PathRejected:
        server_ok = False
    try:
        safe_join("root", path)
        sdk_ok = True
    except StoragePathError:
        sdk_ok = False
    assert server_ok == sdk_ok, path


def test_paths_are_normalised() -> None:
    assert clean_path("a//b/./c/") == "a/b/c"
    assert clean_path("") == ""
    with pytest.raises(PathRejected):
        clean_path("", allow_empty=False)
    for rid in ("..", ".uploads", "a/b", ""):
        with pytest.raises(PathRejected):
            clean_resource_id(rid)


def test_ranges() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=-20", 10) == (0, 9)
    assert parse_range("bytes=3-", 10) == (3, 9)
    assert parse_range("bytes=5-2", 10) is None
    assert parse_range("items=1-2", 10) is None
    for header in ("bytes=10-", "bytes=-0"):
        with pytest.raises(ApiError) as raised:
            parse_range(header, 10)
        assert raised.value.status == 416


def test_config_precedence_and_defaults(tmp_path) -> None:
    env = {"BREVETTI_AI_PORT": "9000", "BREVETTI_AI_SERVER_HOST": "0.0.0.0", "BREVETTI_AI_TOKEN_TTL": "30m",
           "BREVETTI_AI_DATA_DIR": str(tmp_path), "BREVETTI_AI_ADMIN_PASSWORD": "pw"}
    config = ServerConfig.load({"port": 0, "max_upload": "2MiB"}, environ=env).resolved(port=1234)
    assert (config.port, config.host, config.token_ttl, config.max_upload) == (1234, "0.0.0.0", 1800.0, 2 * 1024**2)
    assert config.public_url == "http://127.0.0.1:1234"
    assert config.database_url == f"sqlite:///{tmp_path}/brevettiai.db" and config.storage == f"{tmp_path}/storage"
    assert config.admin_password == "pw" and "pw" not in repr(config)
    defaults = ServerConfig.load({}, environ={}).resolved()
    assert (defaults.port, defaults.heartbeat_timeout, defaults.max_upload) == (8000, 60.0, 10 * 1024**3)
    assert ServerConfig.load({"storage": "s3://bucket/x"}, environ={}).resolved().storage == "s3://bucket/x"
    with pytest.raises(ConfigError, match="BREVETTI_AI_RUNNER"):
        ServerConfig.load({}, environ={"BREVETTI_AI_RUNNER": "k8s"})
    with pytest.raises(ConfigError, match="--dask-scheduler"):
        ServerConfig.load({"runner": "dask"}, environ={}).resolved()
    assert (defaults.stop_grace, defaults.max_running_jobs) == (30.0, 0)
    tuned = ServerConfig.load({"stop_grace": "2s"}, environ={"BREVETTI_AI_MAX_RUNNING_JOBS": "4"})
    assert (tuned.stop_grace, tuned.max_running_jobs) == (2.0, 4)
    with pytest.raises(ConfigError, match="--stop-grace: '0'"):
        ServerConfig.load({"stop_grace": "0"}, environ={})
    with pytest.raises(ConfigError, match="BREVETTI_AI_MAX_RUNNING_JOBS: 'many' is not a number of jobs"):
        ServerConfig.load({}, environ={"BREVETTI_AI_MAX_RUNNING_JOBS": "many"})
    assert all(s.env.startswith("BREVETTI_AI_") for s in SETTINGS.values())


def test_durations_and_sizes() -> None:
    assert parse_duration("12h") == 43200 and parse_duration("1.5m") == 90 and parse_duration(2) == 2
    assert parse_size("10GiB") == 10 * 1024**3 and parse_size("1MB") == 10**6 and parse_size("512") == 512
    for bad in ("soon", "-1", "0"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError):
        parse_size("lots")


def test_passwords_and_tokens() -> None:
    stored = security.hash_password("secret")
    assert stored.startswith("scrypt$") and "secret" not in stored
    assert security.verify_password("secret", stored) and not security.verify_password("other", stored)
    assert security.hash_password("secret") != stored  # salted
    assert not security.verify_password("x", None) and not security.verify_password("x", "garbage")
    token = security.new_token(security.JOB_KEY_PREFIX)
    assert token.startswith("bj_") and len(security.token_hash(token)) == 64


def test_jobs_do_not_inherit_server_secrets() -> None:
    secrets = {"BREVETTI_AI_ADMIN_PASSWORD": "pw", "BREVETTI_AI_DATABASE_URL": "x", "BREVETTI_AI_JOB_DIR": "/elsewhere",
               "BREVETTI_AI_USER": "u", "BREVETTI_AI_PW": "p", "BREVETTI_AI_SECRET_KEY": "s", "AWS_SECRET_ACCESS_KEY": "a",
               "AWS_ACCESS_KEY_ID": "a", "FSSPEC_S3_KEY": "f", "PGPASSWORD": "pg", "DATABASE_URL": "db"}
    env = job_environment({"PATH": "/bin", "LC_ALL": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "0", "BREVETTI_AI_CACHE": "/cache",
                           **secrets}, {"BREVETTI_AI_API_KEY": "bj_key"})
    assert env == {"PATH": "/bin", "LC_ALL": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "0", "BREVETTI_AI_CACHE": "/cache",
                   "PYTHONUNBUFFERED": "1", "BREVETTI_AI_API_KEY": "bj_key"}


def test_migrations_create_exactly_the_models(tmp_path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from brevettiai.server.db.migrate import upgrade
    from brevettiai.server.db.models import Base
    from brevettiai.server.db.session import Database

    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(database.engine)
    upgrade(database.engine)  # a second start changes nothing
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata) == []
    database.dispose()


def test_server_errors_are_brevetti_errors() -> None:
    """One error root: a caller catching BrevettiError sees the server's refusals too (and their old bases)."""
    from brevettiai.errors import BrevettiError, ServerError
    from brevettiai.server.storage import StorageUnavailable
    from brevettiai.server.wire_checks import WireError, parse_json

    caught: list[BaseException] = []
    for fail, old_base in [(lambda: clean_path("../x"), ValueError), (lambda: parse_json(b"[NaN]"), ValueError),
                           (lambda: ServerConfig.load({"port": "x"}), ValueError)]:
        with pytest.raises(BrevettiError) as info:
            fail()
        assert isinstance(info.value, ServerError | old_base)
        caught.append(info.value)
    assert [type(e) for e in caught] == [PathRejected, WireError, ConfigError]
    assert issubclass(ApiError, ServerError) and issubclass(StorageUnavailable, RuntimeError | ServerError)


def _metrics_writer(tmp_path: Path, job_id: str) -> tuple[Any, Any]:
    """A fresh SQLite database holding one model `job_id`, and a metrics writer on it."""
    from brevettiai.server.db import models as db
    from brevettiai.server.db.migrate import upgrade
    from brevettiai.server.db.session import Database
    from brevettiai.server.metrics import MetricsWriter

    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(database.engine)
    with database.write() as session:
        session.add(db.Job(id=job_id, kind="model", name=job_id))
    return database, MetricsWriter(database)


def test_a_metrics_group_with_a_deleted_job_stores_the_others_and_answers_404_for_it(tmp_path) -> None:
    import asyncio

    from sqlalchemy import func, select

    from brevettiai.server.db import models as db
    from brevettiai.server.metrics import parse_columns

    database, writer = _metrics_writer(tmp_path, "live")

    async def both() -> list:
        _, columns = parse_columns(b'{"batchId": "b", "steps": [1, 2], "series": {"loss": [0.5, 0.25]}}')
        points = [{"step": 1, "values": {"loss": 1.0}}]
        return await asyncio.gather(writer.submit("live", "b", columns), writer.submit("gone", "b", points),
                                    return_exceptions=True)

    # in a thread of its own: a browser test earlier in the same process may leave an event loop running here
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        stored, missing = pool.submit(asyncio.run, both()).result()
    writer.close()
    assert stored == 2
    assert isinstance(missing, ApiError) and missing.status == 404
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(db.MetricPoint)) == 2
    database.dispose()


def test_a_metrics_batch_id_sent_again_at_once_or_later_is_answered_its_first_count_and_stored_once(tmp_path) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from brevettiai.server.db import models as db

    database, writer = _metrics_writer(tmp_path, "job")

    def points(count: int) -> list:
        return [{"step": step, "values": {"loss": 1.0}} for step in range(count)]

    async def send(batches: list[tuple[str, int]]) -> list:
        return await asyncio.gather(*(writer.submit("job", batch_id, points(count)) for batch_id, count in batches))

    with ThreadPoolExecutor(1) as pool:  # a loop of its own (see the test above)
        first = pool.submit(asyncio.run, send([("a", 3), ("b", 2), ("a", 5)])).result()
        again = pool.submit(asyncio.run, send([("b", 7), ("c", 1), ("a", 9)])).result()
    writer.close()
    assert first == [3, 2, 3] and again == [2, 1, 3]
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(db.MetricPoint)) == 6
        assert dict(session.execute(select(db.MetricBatch.batch_id, db.MetricBatch.accepted)).all()) == {
            "a": 3, "b": 2, "c": 1}
    database.dispose()


def test_the_form_page_stores_typed_text_as_the_value_only_when_the_platform_can_store_it() -> None:
    """Typed text becomes the JSON value it spells; text JSON cannot hold (NaN, 1e400) or the server would
    not store (beyond 64 bits) stays text, which the job then reads as it would on its command line."""
    from starlette.datastructures import FormData

    from brevettiai.server.ui.forms import read_form

    number = {"type": "input", "inputType": "number", "step": "any"}
    schema = {"fields": [{**number, "model": "lr"}, {**number, "model": "n"}, {**number, "model": "big"},
                         {**number, "model": "opt.nan", "nullable": True}, {**number, "model": "opt.empty", "nullable": True},
                         {"type": "textArea", "isJson": True, "jsonType": "array", "model": "names"},
                         {"type": "checklist", "model": "picks", "values": [1, "a"]}]}
    typed = FormData([("settings.lr", "1e400"), ("settings.n", " 5 "), ("settings.big", "9" * 25),
                      ("settings.opt.nan", "NaN"), ("settings.opt.empty", ""), ("settings.names", '["a", Infinity]'),
                      ("settings.picks", "1"), ("settings.picks", '"a"')])
    settings, raw = read_form(typed, schema)
    assert settings == {"lr": "1e400", "n": 5, "big": "9" * 25, "opt": {"nan": "NaN", "empty": None},
                        "names": '["a", Infinity]', "picks": [1, "a"]}
    assert raw["n"] == " 5 " and raw["picks"] == {"1", '"a"'}
