"""Small helpers shared by the platform server tests (records created over HTTP)."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import httpx

SCHEMA = {
    "fields": [
        {"type": "input", "inputType": "number", "model": "epochs", "label": "Epochs", "min": 1, "max": 100,
         "step": 1, "required": True, "default": 10},
        {"type": "label", "tag": "data", "label": "Data"},
        {"type": "input", "inputType": "number", "model": "data.size", "label": "Size", "min": 32, "step": 1,
         "required": False, "default": 224},
        {"type": "select", "model": "data.mode", "label": "Mode", "values": ["rgb", "gray"], "required": False},
        {"type": "checklist", "model": "data.classes", "label": "Classes", "values": ["ok", "defect", "other"],
         "required": False},
        {"type": "checkbox", "model": "augment", "label": "Augment", "required": False},
        {"type": "textArea", "model": "extra", "label": "Extra", "isJson": True, "required": False},
        {"type": "input", "inputType": "text", "model": "note", "label": "Note", "required": False,
         "nullable": True},
    ],
    "presets": {},
}


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def created(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a 201 answer (fails with the server's explanation otherwise)."""
    assert response.status_code == 201, response.text
    return response.json()


def model_type(client: httpx.Client, command: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    """A new model type (default: the test schema, a command that exits at once)."""
    body = {"name": unique("type"), "settingsSchema": SCHEMA, "defaults": {"epochs": 5},
            "command": command if command is not None else [sys.executable, "-c", "pass"], **fields}
    return created(client.post("/api/modeltypes", json=body))


def dataset(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A new dataset."""
    return created(client.post("/api/datasets", json={"name": unique("dataset"), **fields}))


def model(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A new model (no model type unless given)."""
    return created(client.post("/api/models", json={"name": unique("model"), **fields}))


def post_points(job: httpx.Client, job_id: str, points: list[dict[str, Any]]) -> None:
    """Store `points` with the job's client, in batches the server takes (at most 10,000 points each)."""
    for start in range(0, len(points), 10_000):
        chunk = points[start:start + 10_000]
        body = json.dumps({"batchId": uuid.uuid4().hex, "points": chunk})
        answer = job.post(f"/api/jobs/{job_id}/metrics", content=body, headers={"Content-Type": "application/json"})
        assert answer.json() == {"accepted": len(chunk)}, answer.text


def job_client(url: str, key: str) -> httpx.Client:
    """A client sending a job key."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def web_login(server: Any, password: str | None = None, username: str = "admin") -> httpx.Client:
    """A client holding a website session of a user (default admin) logged in through the login form."""
    client = httpx.Client(base_url=server.url, timeout=60)
    token = client.get("/login").cookies["brevettiai_login_csrf"]
    answer = client.post("/login", data={"username": username, "password": password or server.admin_password,
                                         "csrf_token": token, "next": "/models"})
    assert answer.status_code == 303, answer.text
    return client


def page_csrf(client: httpx.Client) -> str:
    """The CSRF token of a website session (from the meta tag every page carries)."""
    html = client.get("/models").text
    return html.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]


def add_user(admin: httpx.Client, role: str, password: str | None = None) -> tuple[str, str]:
    """A new user with `role` (added by an admin over HTTP); its name and password."""
    name = unique(role)
    password = password or f"pw-{uuid.uuid4().hex}"
    created(admin.post("/api/users", json={"username": name, "role": role, "password": password}))
    return name, password


def user_token(url: str, username: str, password: str) -> str:
    """A user token for a username and password (logging in over HTTP)."""
    answer = httpx.post(f"{url}/api/auth/token", json={"username": username, "password": password}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["accessToken"]


def insert_points(connection: Any, rows: list[dict[str, Any]]) -> None:
    """Insert point rows ``{job_id, name, step, value, time}`` straight into the database (as older
    servers or other tools stored them: no blocks), creating their series."""
    from sqlalchemy import select

    from brevettiai.server.db import models as db

    series, points = db.MetricSeries.__table__, db.MetricPoint.__table__
    ids: dict[tuple[str, str], int] = {}
    for key in dict.fromkeys((row["job_id"], row["name"]) for row in rows):
        found = connection.execute(select(series.c.id).where(series.c.job_id == key[0], series.c.name == key[1])).scalar()
        if found is None:
            found = connection.execute(series.insert().values(job_id=key[0], name=key[1])).inserted_primary_key[0]
        ids[key] = found
    connection.execute(points.insert(), [{"series_id": ids[(row["job_id"], row["name"])], "step": row["step"],
                                          "value": row["value"], "time": row["time"]} for row in rows])


def job_points(job_id: str) -> Any:
    """A FROM clause of the job's point rows with their series' ``job_id`` and ``name`` columns."""
    from sqlalchemy import select

    from brevettiai.server.db import models as db

    series, points = db.MetricSeries.__table__, db.MetricPoint.__table__
    return (select(points.c.id, points.c.step, points.c.value, points.c.time, series.c.job_id, series.c.name)
            .join_from(points, series, points.c.series_id == series.c.id).where(series.c.job_id == job_id)
            .subquery("job_points"))
