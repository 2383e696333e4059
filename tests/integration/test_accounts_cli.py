"""``brevettiai user ...`` on a running server's database, ``brevettiai token ...`` against it, and tokens in the
SDK and ``upload-data`` (BREVETTI_AI_TOKEN)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from services import wait_for

from brevettiai.platform.web_api import PlatformAPI

pytestmark = pytest.mark.usefixtures("home")
ROOT = Path(__file__).resolve().parents[2]


def brevettiai(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BREVETTI_AI_", "BREVETTIAI_"))}
    return subprocess.run([sys.executable, "-m", "brevettiai.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=180, cwd=ROOT, env={**clean, **(env or {})})


def _token(server: Any, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/auth/token", json={"username": name, "password": password}, timeout=60)


def _status(server: Any, token: str, method: str = "GET", path: str = "/api/models", **kwargs: Any) -> int:
    return httpx.request(method, f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60,
                         **kwargs).status_code


def test_user_commands_change_a_running_server_within_a_second(platform_server: Any) -> None:
    data = ["--data-dir", str(platform_server.data_dir)]
    name, password = f"cli-{uuid.uuid4().hex[:6]}", f"pw-{uuid.uuid4().hex}"
    added = brevettiai("user", "add", name, "--role", "viewer", "--password-stdin", *data, stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added user {name} (viewer)" and password not in added.stdout + added.stderr
    login = _token(platform_server, name, password)
    assert login.status_code == 200 and login.json()["user"]["role"] == "viewer"
    session = login.json()["accessToken"]
    assert _status(platform_server, session, "POST", "/api/tags", json={"name": "t"}) == 403

    generated = brevettiai("user", "add", f"{name}-2", "--generate-password", *data)
    assert generated.returncode == 0, generated.stderr
    shown = generated.stdout.split(f"Password of {name}-2: ", 1)[1].split()[0]
    assert _token(platform_server, f"{name}-2", shown).status_code == 200

    listed = brevettiai("user", "list", *data)
    assert listed.returncode == 0
    rows = {line.split()[0]: line.split()[1:3] for line in listed.stdout.splitlines()[1:]}
    assert rows[name] == ["viewer", "enabled"] and rows[f"{name}-2"] == ["member", "enabled"]
    assert rows["admin"] == ["admin", "enabled"]

    assert brevettiai("user", "set-role", name, "member", *data).stdout.strip() == f"{name} is member"
    wait_for(lambda: _status(platform_server, session, "POST", "/api/tags", json={"name": "t"}) == 201, timeout=1.5,
             every=0.05, what="the new role reaching the server")

    reset = brevettiai("user", "reset-password", name, "--password-stdin", *data, stdin="another-long-secret\n")
    assert reset.returncode == 0, reset.stderr
    wait_for(lambda: _status(platform_server, session) == 401, timeout=1.5, every=0.05, what="the reset ending sessions")
    session = _token(platform_server, name, "another-long-secret").json()["accessToken"]
    pat = httpx.post(f"{platform_server.url}/api/tokens", headers={"Authorization": f"Bearer {session}"},
                     json={"name": "ci", "expires": "1d"}, timeout=60).json()["token"]
    assert _status(platform_server, pat) == 200

    assert brevettiai("user", "disable", name, *data).returncode == 0
    wait_for(lambda: _status(platform_server, session) == 401 and _status(platform_server, pat) == 401, timeout=1.5,
             every=0.05, what="the disabled user's session and token refused")
    assert _token(platform_server, name, "another-long-secret").status_code == 403

    with platform_server.client() as admin:
        events = admin.get("/api/audit", params={"limit": "1000"}).json()["events"]
    cli = {(e["action"], e["target"]) for e in events if e["actor"].startswith("cli:")}
    assert {("user.add", name), ("user.set_role", name), ("user.reset_password", name), ("user.disable", name)} <= cli


@pytest.mark.parametrize(("args", "stdin", "code", "message"), [
    (["user", "add", "weak-one", "--password-stdin"], "x7y8z9\n", 2, "too short: at least 10 characters"),
    (["user", "add", "weak-two", "--password-stdin"], "qwertyuiop\n", 2, "commonest passwords"),
    (["user", "add", "bad name", "--generate-password"], "", 2, "username 'bad name' is not valid"),
    (["user", "add", "x", "--role", "owner", "--generate-password"], "", 2, "--role 'owner' is not one of"),
    (["user", "add", "admin", "--generate-password"], "", 1, "user 'admin' exists already"),
    (["user", "disable", "nobody-at-all"], "", 1, "user 'nobody-at-all' not found"),
    (["user", "set-role", "admin", "viewer"], "", 1, "last enabled admin"),
])
def test_user_commands_refuse_with_one_line(platform_server: Any, args: list[str], stdin: str, code: int,
                                            message: str) -> None:
    result = brevettiai(*args, "--data-dir", str(platform_server.data_dir), stdin=stdin)
    assert result.returncode == code, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {result.stderr.strip()[7:]}"]
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not stdin.strip() or stdin.strip() not in result.stderr


def test_token_commands_and_the_sdk_and_upload_data_take_a_token(platform_server: Any, tmp_path: Path) -> None:
    name, password = f"tok-{uuid.uuid4().hex[:6]}", f"pw-{uuid.uuid4().hex}"
    with platform_server.client() as admin:
        assert admin.post("/api/users", json={"username": name, "role": "member", "password": password}).status_code == 201
    login = {"BREVETTI_AI_HOST": platform_server.url, "BREVETTI_AI_USER": name, "BREVETTI_AI_PW": password}
    created = brevettiai("token", "create", "--name", "ci", "--expires", "30d", env=login)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("bp_") and "shown only this once" in created.stderr and token not in created.stderr
    read_only = brevettiai("token", "create", "--name", "reader", "--read-only", env=login).stdout.strip()

    # The SDK with BREVETTI_AI_TOKEN: no username, no password, nothing saved.
    env_token = {"BREVETTI_AI_HOST": platform_server.url, "BREVETTI_AI_TOKEN": token}
    os.environ.update(env_token)
    try:
        with PlatformAPI() as web:
            assert web.user.username == name
            assert web.client.get("/api/auth/me").json()["role"] == "member"
    finally:
        for key in env_token:
            os.environ.pop(key)

    folder = tmp_path / "images"
    (folder / "ok").mkdir(parents=True)
    (folder / "ok" / "a.png").write_bytes(b"a" * 10)
    dataset = f"tok-{uuid.uuid4().hex[:6]}"
    upload = brevettiai("upload-data", str(folder), "--dataset_name", dataset, "--no-progress", env=env_token)
    assert upload.returncode == 0, upload.stderr
    assert "1 uploaded" in upload.stdout and token not in upload.stdout + upload.stderr
    refused = brevettiai("upload-data", str(folder), "--dataset_name", f"{dataset}-2", "--no-progress",
                         "--host", platform_server.url, "--token", read_only)
    assert refused.returncode != 0 and "member role" in refused.stderr and read_only not in refused.stderr

    listed = brevettiai("token", "list", env=env_token)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "active" in rows["ci"] and "never" not in rows["ci"] and "read-only" in rows["reader"]
    assert token not in listed.stdout

    revoked = brevettiai("token", "revoke", "ci", env=login)
    assert revoked.returncode == 0, revoked.stderr
    assert _status(platform_server, token) == 401
    again = brevettiai("token", "list", env=env_token)
    assert again.returncode == 1 and "revoked" in again.stderr and "Traceback" not in again.stderr
