"""The runs table through a real server process, on SQLite and on PostgreSQL: jobs report metrics and
output.json as the SDK does, then the models API is asked with filters, sorts and columns, and the
Python client with ``get_model(filter=...)``; bad filters answer 400 naming the field and a close name.
Also: migration 0006 fills the summaries of a database that had jobs and points before it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import created, job_client, model_type

from brevettiai.errors import PlatformValidationError
from brevettiai.platform.web_api import PlatformAPI

RUNS = [  # name, epochs, mode, tagged vials, final status, test accuracy, loss per step
    ("alpha", 3, "rgb", True, "completed", 0.91, [0.9, 0.5, 0.4]),
    ("bravo", 20, "gray", True, "completed", 0.85, [0.8, 0.3, 0.35]),
    ("charlie", 50, "rgb", True, "failed", 0.95, [0.7, 0.2]),
    ("delta", 80, "rgb", False, "completed", 0.99, [0.6, 0.1, 0.05, 0.07]),
    ("echo", 90, "gray", True, "completed", 0.70, [0.5]),
    ("foxtrot", 60, "rgb", True, "running", None, [0.4, 0.3]),
]


def _run(server: PlatformServer, admin: httpx.Client, type_id: str, tags: dict[str, str]) -> dict[str, str]:
    """Create the runs and let each report as the SDK does; their ids by name."""
    ids = {}
    for name, epochs, mode, vials, status, accuracy, losses in RUNS:
        tag_ids = [tags["vials"]] if vials else [tags["bottles"]]
        model = created(admin.post("/api/models", json={"name": name, "modelTypeId": type_id, "tagIds": tag_ids,
                                                        "settings": {"epochs": epochs, "data": {"mode": mode}}}))
        ids[name] = model["id"]
        with job_client(server.url, model["apiKey"]) as job:
            api = f"/api/jobs/{model['id']}"
            assert job.post(api + "/state", json={"status": "running"}).status_code == 200
            # Two batches, the second going back a step: the last value is the one at the highest step.
            points = [{"step": step, "values": {"loss": loss}} for step, loss in enumerate(losses)]
            for index, batch in enumerate((points[::2], points[1::2])):
                if batch:
                    answer = job.post(api + "/metrics", json={"batchId": f"b{index}", "points": batch})
                    assert answer.json() == {"accepted": len(batch)}
            if accuracy is not None:
                output = {"output": {"test_accuracy": accuracy, "summary": {"f1": accuracy - 0.1}, "verdict": "ok"}}
                assert job.put(f"/api/files/{model['id']}/artifacts/output.json",
                               content=json.dumps(output)).status_code == 201
            if status != "running":
                assert job.post(api + "/state", json={"status": status}).status_code == 200
    return ids


def _names(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["name"] for item in answer.json()["items"]]


def _scenario(server: PlatformServer) -> None:
    with server.client() as admin:
        tags = {name: created(admin.post("/api/tags", json={"name": name}))["id"] for name in ("vials", "bottles")}
        mt = model_type(admin)
        ids = _run(server, admin, mt["id"], tags)

        def listing(**params: Any) -> httpx.Response:
            return admin.get("/api/models", params=params)

        # The example (with this schema's key): 'charlie' failed, 'delta' is not tagged, 'echo' is below 0.8.
        example = 'settings.epochs > 10 and metrics.test_accuracy >= 0.8 and tag = "vials" and status = completed'
        assert _names(listing(filter=example)) == ["bravo"]
        accuracy = {name: acc for name, _, _, _, _, acc, _ in RUNS if acc is not None}
        by_accuracy = sorted(accuracy, key=accuracy.get, reverse=True)
        assert _names(listing(filter="metrics.test_accuracy >= 0", sort="metrics.test_accuracy desc")) == by_accuracy
        # Runs without the sort key come last in both directions.
        assert _names(listing(sort="metrics.test_accuracy asc")) == [*by_accuracy[::-1], "foxtrot"]
        assert _names(listing(sort="-settings.epochs")) == [r[0] for r in sorted(RUNS, key=lambda r: -r[1])]
        # Series: last (highest step, whichever batch brought it), min, count; a nested output; text outputs.
        assert _names(listing(filter="metrics.loss.last < 0.34", sort="name")) == ["charlie", "delta", "foxtrot"]
        assert _names(listing(filter="metrics.loss.min <= 0.3 and metrics.loss.count >= 3", sort="name")) == [
            "bravo", "delta"]
        assert _names(listing(filter="metrics.loss = 0.5")) == ["echo"]  # no output value: the last one
        assert _names(listing(filter="metrics.summary.f1 > 0.84", sort="name")) == ["charlie", "delta"]
        assert len(_names(listing(filter='metrics.verdict = "ok"'))) == 5
        # Text, sets, negation, parentheses, times, model type.
        assert _names(listing(filter="settings.data.mode = gray", sort="name")) == ["bravo", "echo"]
        assert _names(listing(filter="status in (failed, running)", sort="name")) == ["charlie", "foxtrot"]
        assert _names(listing(filter="not tag = vials")) == ["delta"]
        assert _names(listing(filter="(name contains LPH or name = echo) and status != failed", sort="name")) == [
            "alpha", "echo"]
        assert _names(listing(filter=f"id = {ids['delta']}")) == ["delta"]
        assert len(_names(listing(filter=f"created > 2000-01-01 and type = \"{mt['name']}\""))) == 6
        assert _names(listing(filter="completed < 2000-01-01")) == []
        # A comparison with a number never matches a text setting, nor a text a number.
        assert _names(listing(filter="settings.data.mode > 5")) == []
        assert _names(listing(filter='settings.epochs = "3"')) == []
        # Chosen columns: values per item, in the items' order; paging and the total.
        answer = listing(filter="tag = vials", sort="settings.epochs", columns="settings.epochs,metrics.loss.min,"
                         "metrics.test_accuracy,metrics.verdict,status", limit=2, offset=1)
        body = answer.json()
        assert body["total"] == 5 and [i["name"] for i in body["items"]] == ["bravo", "charlie"]
        assert body["columns"] == ["settings.epochs", "metrics.loss.min", "metrics.test_accuracy", "metrics.verdict",
                                   "status"]
        assert body["values"] == [
            {"settings.epochs": 20, "metrics.loss.min": 0.3, "metrics.test_accuracy": 0.85, "metrics.verdict": "ok",
             "status": "completed"},
            {"settings.epochs": 50, "metrics.loss.min": 0.2, "metrics.test_accuracy": 0.95, "metrics.verdict": "ok",
             "status": "failed"}]
        # The older parameters still narrow the list, together with a filter.
        assert _names(listing(status="completed,failed", filter="settings.epochs >= 50", sort="name")) == [
            "charlie", "delta", "echo"]
        assert _names(listing(q="ALP")) == ["alpha"]

        # Bad filters: 400 with where, what, and close names.
        for bad, expected in [
            ("settings.epoch > 1", "no model has the setting 'epoch'; did you mean settings.epochs?"),
            ("metrics.test_acc > 0.5", "did you mean metrics.test_accuracy?"),
            ("status = complete", "'complete' is not a status; did you mean completed?"),
            ("tag = vial", "there is no tag 'vial'; did you mean vials?"),
            ("settings.epochs >", "at character 18: expected a value"),
            ("settings.data > 1", "'settings.data' is a group of settings"),
            ("epochs > 1", "unknown field 'epochs'; did you mean settings.epochs?"),
            ("f1 > 1", "unknown field 'f1'; did you mean metrics.summary.f1?"),
            # A shortened or mistyped name finds the setting or metric, keeping a series part.
            ("accuracy > 0.5", "unknown field 'accuracy'; did you mean metrics.test_accuracy?"),
            ("data.mode = rgb", "unknown field 'data.mode'; did you mean settings.data.mode?"),
            ("loss.min < 1", "unknown field 'loss.min'; did you mean metrics.loss.min?"),
            ("metrics.los.min < 1", "no model has the metric 'los'; did you mean metrics.loss.min?"),
            ("metrics.loss.minn < 1", "no model has the metric 'loss.minn'; did you mean metrics.loss.min?"),
            ("metrics.loss.avg < 1", "'avg' is not a part of the series 'loss' (metrics.loss.last, metrics.loss.min"),
            ("settings.mode = rgb", "no model has the setting 'mode'; did you mean settings.data.mode?"),
        ]:
            answer = listing(filter=bad)
            assert answer.status_code == 400 and expected in answer.json()["detail"], (bad, answer.text)
        answer = listing(sort="metrics.nope desc")
        assert answer.status_code == 400 and "no model has the metric 'nope'" in answer.json()["detail"]
        answer = listing(sort="accuracy desc")
        assert answer.status_code == 400 and "did you mean metrics.test_accuracy?" in answer.json()["detail"]

        # Reports take the same filter.
        report = created(admin.post("/api/reports", json={"name": "check", "parentId": ids["delta"],
                                                          "settings": {"threshold": 0.5}}))
        assert _names(admin.get("/api/reports", params={"filter": "settings.threshold < 1"})) == ["check"]
        assert admin.get(f"/api/reports/{report['id']}").status_code == 200

        # The Python client.
        with PlatformAPI(host=server.url, token=server.admin_token()) as web:
            models = web.get_model(filter="settings.epochs > 10 and metrics.test_accuracy >= 0.8",
                                   sort="metrics.test_accuracy desc")
            assert [m.name for m in models] == ["delta", "charlie", "bravo"]
            assert web.get_model(ids["alpha"]).name == "alpha"
            assert [m.name for m in web.get_model(filter="tag = vials", status="running")] == ["foxtrot"]
            with pytest.raises(PlatformValidationError, match="did you mean settings.epochs"):
                web.get_model(filter="settings.epoc > 1")


def test_runs_table_on_sqlite(platform_server_factory: object) -> None:
    # foxtrot stays "running" without heartbeats: a slow machine must not turn it lost mid-test
    _scenario(platform_server_factory("--heartbeat-timeout", "3600"))  # type: ignore[operator]


def test_runs_table_on_postgresql(postgres: Any, platform_server_factory: object) -> None:
    server = platform_server_factory("--database-url", postgres.new_database(),  # type: ignore[operator]
                                     "--heartbeat-timeout", "3600")
    assert "PostgresqlImpl" in server.log()
    _scenario(server)


def _migrate_over_old_data(url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from brevettiai.server.db.migrate import alembic_config, upgrade
    from brevettiai.server.db.session import Database

    database = Database(url)
    config = alembic_config()
    with database.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection  # type: ignore[attr-defined]
        command.upgrade(config, "0004")  # type: ignore[arg-type]
    job = str(uuid.uuid4())
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO jobs (id, kind, name, status, created, settings, dataset_ids, tag_ids, stop_requested) "
            "VALUES (:id, 'model', 'old', 'completed', CURRENT_TIMESTAMP, :settings, '[]', '[]', false)"),
            {"id": job, "settings": json.dumps({"lr": 0.1, "net": {"depth": 50, "kind": "resnet", "pre": True}})})
        connection.execute(text("INSERT INTO metric_points (job_id, step, name, value, time) VALUES "
                                "(:id, 0, 'loss', 0.9, 0), (:id, 5, 'loss', 0.2, 1), (:id, 3, 'loss', 0.1, 2), "
                                "(:id, 5, 'loss', 0.3, 3), (:id, 0, 'acc', NULL, 0)"), {"id": job})
    upgrade(database.engine)
    with database.engine.connect() as connection:
        metrics = connection.execute(text("SELECT name, value, last, last_step, min, max, count FROM run_metrics "
                                          "ORDER BY name")).all()
        settings = connection.execute(text("SELECT key, number, text, flag FROM run_settings ORDER BY key")).all()
    database.dispose()
    assert [tuple(row) for row in metrics] == [("acc", None, None, 0, None, None, 1),
                                               ("loss", 0.3, 0.3, 5, 0.1, 0.9, 4)]
    assert [tuple(row) for row in settings] == [("lr", 0.1, None, None), ("net.depth", 50.0, None, None),
                                                ("net.kind", None, "resnet", None), ("net.pre", None, None, True)]


def test_migration_fills_the_summaries_of_existing_jobs_on_sqlite(tmp_path: Any) -> None:
    _migrate_over_old_data(f"sqlite:///{tmp_path}/old.db")


def test_migration_fills_the_summaries_of_existing_jobs_on_postgresql(postgres: Any) -> None:
    _migrate_over_old_data(postgres.new_database())
