"""Jobs from before the runs table: a real server's database is taken back to migration 0005 (no
run_metrics, no run_settings), as a platform that ran an older version has it, with the jobs' output.json
files in storage; after the server starts again its runs table filters, sorts and shows their output
metrics, read from storage in the background. A second start has nothing left to do."""

from __future__ import annotations

import json
from typing import Any

import httpx
from platform_fixture import PlatformServer
from server_helpers import job_client, model
from services import wait_for

OLD_RUNS = [("old-good", 70, 0.93), ("old-poor", 80, 0.41), ("old-silent", 90, None)]  # name, epochs, accuracy
FILTER = "settings.training.epochs > 50 and metrics.test_accuracy >= 0.8"
COLUMNS = "settings.training.epochs,metrics.test_accuracy,metrics.eval.f1"


def _downgrade(url: str, revision: str) -> None:
    from alembic import command

    from brevettiai.server.db.migrate import alembic_config
    from brevettiai.server.db.session import Database

    database = Database(url)
    config = alembic_config()
    with database.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection  # type: ignore[attr-defined]
        command.downgrade(config, revision)  # type: ignore[arg-type]
    database.dispose()


def _old_runs(server: PlatformServer) -> None:
    """The runs, each reporting as the SDK does: output.json written, then its final state."""
    with server.client() as admin:
        for name, epochs, accuracy in OLD_RUNS:
            job = model(admin, name=name, settings={"training": {"epochs": epochs}})
            with job_client(server.url, job["apiKey"]) as client:
                api = f"/api/jobs/{job['id']}"
                assert client.post(api + "/state", json={"status": "running"}).status_code == 200
                if accuracy is not None:
                    output = {"output": {"test_accuracy": accuracy, "eval": {"f1": accuracy - 0.1}}}
                    assert client.put(f"/api/files/{job['id']}/artifacts/output.json",
                                      content=json.dumps(output)).status_code == 201
                assert client.post(api + "/state", json={"status": "completed"}).status_code == 200


def _listing(admin: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = admin.get("/api/models", params={"columns": COLUMNS, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _scenario(server: PlatformServer, database_url: str) -> None:
    _old_runs(server)
    server.stop()
    _downgrade(database_url, "0005")  # the schema before the runs table: its tables are gone

    offset = len(server.log())
    server.start()
    with server.client() as admin:
        found = wait_for(lambda: (page := _listing(admin, filter=FILTER))["total"] and page, 60,
                         what=f"the old run in the filtered runs table\n{server.log(offset)[-3000:]}")
        assert [item["name"] for item in found["items"]] == ["old-good"]
        assert found["values"] == [{"settings.training.epochs": 70, "metrics.test_accuracy": 0.93,
                                    "metrics.eval.f1": 0.93 - 0.1}]
        wait_for(lambda: "Runs table backfill: 3 jobs read, 2 had output metrics" in server.log(offset), 60,
                 what=f"the backfill's closing log line\n{server.log(offset)[-3000:]}")
        ranked = _listing(admin, sort="metrics.test_accuracy desc")
        assert [item["name"] for item in ranked["items"]] == ["old-good", "old-poor", "old-silent"]
        assert [values["metrics.test_accuracy"] for values in ranked["values"]] == [0.93, 0.41, None]

    offset = len(server.log())
    server.restart()  # the queue is empty: nothing read again
    with server.client() as admin:
        assert [item["name"] for item in _listing(admin, filter=FILTER)["items"]] == ["old-good"]
    assert "Runs table backfill" not in server.log(offset) and "before the runs table" not in server.log(offset)


def test_outputs_of_jobs_from_before_the_runs_table_are_read_at_start_on_sqlite(
        platform_server_factory: Any) -> None:
    server = platform_server_factory("--heartbeat-timeout", "3600")
    _scenario(server, f"sqlite:///{server.data_dir / 'brevettiai.db'}")


def test_outputs_of_jobs_from_before_the_runs_table_are_read_at_start_on_postgresql(
        postgres: Any, platform_server_factory: Any) -> None:
    url = postgres.new_database()
    _scenario(platform_server_factory("--database-url", url, "--heartbeat-timeout", "3600"), url)
