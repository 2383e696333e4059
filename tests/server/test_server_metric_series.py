"""Migration 0009 (integer series ids): points stored by an older server stay, readable through the API."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from server_helpers import job_client

from brevettiai.server.security import token_hash

LOSS = [(s, 1.0 / (1 + s), 1000.0 + s) for s in range(30_000)]  # more than a read leaves as points


def _old_database(url: str, job_id: str, other_id: str, key: str) -> None:
    """A database at 0008 with points in the old layout, as a server of that version stored them."""
    from alembic import command

    from brevettiai.server.db.migrate import alembic_config
    from brevettiai.server.db.session import Database

    database = Database(url)
    config = alembic_config()
    with database.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection  # type: ignore[attr-defined]
        command.upgrade(config, "0008_runs_index")  # type: ignore[arg-type]
    with database.engine.begin() as connection:
        for job, key_hash in ((job_id, token_hash(key)), (other_id, None)):
            connection.execute(sa.text(
                "INSERT INTO jobs (id, kind, name, status, created, settings, dataset_ids, tag_ids, stop_requested,"
                " key_hash) VALUES (:id, 'model', 'old', 'running', CURRENT_TIMESTAMP, '{}', '[]', '[]', false,"
                " :key_hash)"), {"id": job, "key_hash": key_hash})
        insert = sa.text("INSERT INTO metric_points (job_id, step, name, value, time) VALUES (:job, :step, :name,"
                         " :value, :time)")
        connection.execute(insert, [{"job": job_id, "step": s, "name": "loss", "value": v, "time": t}
                                    for s, v, t in LOSS])
        # interleaved with another job's rows; a repeated step and a null value, as stored
        connection.execute(insert, [{"job": other_id, "step": 0, "name": "acc", "value": 0.5, "time": 1.0},
                                    {"job": job_id, "step": 7, "name": "acc", "value": None, "time": 2.0},
                                    {"job": job_id, "step": 7, "name": "acc", "value": 0.75, "time": 3.0},
                                    {"job": job_id, "step": 3, "name": "acc", "value": 0.25, "time": 4.0}])
        connection.execute(sa.text("INSERT INTO metric_batches (job_id, batch_id, accepted, created) VALUES "
                                   "(:job, 'sent-before', 4, CURRENT_TIMESTAMP)"), {"job": job_id})
    database.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_points_stored_before_series_ids_stay_readable(backend: str, tmp_path: Path, request: Any,
                                                       platform_server_factory: Any) -> None:
    job_id, other_id, key = str(uuid.uuid4()), str(uuid.uuid4()), "bj_" + uuid.uuid4().hex
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = (request.getfixturevalue("postgres").new_database() if backend == "postgresql"
           else f"sqlite:///{data_dir / 'brevettiai.db'}")
    _old_database(url, job_id, other_id, key)
    server = platform_server_factory(*(["--database-url", url] if backend == "postgresql" else []),
                                     data_dir=data_dir)  # migrates to the newest schema as it starts
    with server.client() as admin:
        whole = admin.get(f"/api/models/{job_id}/metrics", params={"max_points": 100_000}).json()
        assert whole["series"]["loss"] == [[s, v, t] for s, v, t in LOSS]
        assert whole["series"]["acc"] == [[3, 0.25, 4.0], [7, None, 2.0], [7, 0.75, 3.0]]
        assert whole["counts"] == {"loss": 30_000, "acc": 3}
        bucketed = admin.get(f"/api/models/{job_id}/metrics", params={"names": "loss", "max_points": 100}).json()
        assert bucketed["counts"] == {"loss": 30_000} and bucketed["bucketSteps"]["loss"] % 64 == 0
        values = [row[1] for row in bucketed["series"]["loss"]]
        assert math.isclose(min(values), LOSS[-1][1]) and max(values) == 1.0
        other = admin.get(f"/api/models/{other_id}/metrics").json()
        assert other["series"] == {"acc": [[0, 0.5, 1.0]]}

        with job_client(server.url, key) as job:
            def send(batch_id: str, steps: list[int]) -> Any:
                body = {"batchId": batch_id, "points": [{"step": s, "time": 5.0, "values": {"acc": 1.0}} for s in steps]}
                answer = job.post(f"/api/jobs/{job_id}/metrics", content=json.dumps(body),
                                  headers={"Content-Type": "application/json"})
                assert answer.status_code == 200, answer.text
                return answer.json()

            assert send("sent-before", [8, 9]) == {"accepted": 4}  # a batch the old server stored: not again
            assert send("new", [8, 9]) == {"accepted": 2}
        poll = admin.get(f"/api/models/{job_id}/metrics", params={"after": whole["cursor"]}).json()
        assert poll["series"] == {"acc": [[8, 1.0, 5.0], [9, 1.0, 5.0]]}

        assert admin.delete(f"/api/models/{other_id}").status_code == 204
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        left = connection.execute(sa.text("SELECT count(*) FROM metric_series WHERE job_id = :job"),
                                  {"job": other_id}).scalar()
        points = connection.execute(sa.text("SELECT count(*) FROM metric_points")).scalar()
    engine.dispose()
    assert left == 0 and points == 30_000 + 3 + 2  # the deleted job's series and points went with it
