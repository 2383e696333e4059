"""Several server processes on one database: what one replica does, every other one sees.

Real `brevettiai server` processes on 127.0.0.1, on one PostgreSQL database (the `postgres` fixture)
or, for ``--workers``, on the default SQLite database.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from platform_fixture import GENERATED, PlatformServer
from server_helpers import add_user, created, dataset, job_client, model, model_type, unique, user_token
from services import Postgres, wait_for

SECRET = "a-secret-key-for-the-replica-tests"


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[object]:
    """Start servers all at the same moment: ``replicas(count, *flags, env=..., admin_password=...)``."""
    servers: list[PlatformServer] = []

    def start(count: int, *args: str, env: dict[str, str] | None = None,
              admin_password: str | None = "admin-password-for-tests") -> list[PlatformServer]:
        group = [PlatformServer(tmp_path / f"replica{len(servers) + i}", args, env, admin_password)
                 for i in range(count)]
        servers.extend(group)
        barrier = threading.Barrier(count)
        errors: list[BaseException] = []

        def run(server: PlatformServer) -> None:
            barrier.wait()
            try:
                server.start()
            except BaseException as exc:  # noqa: BLE001 - reported below with the server's output
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(server,)) for server in group]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            pytest.fail(f"{len(errors)} of {count} servers did not start: {errors[0]}")
        return group

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
            server.kill()


def web_login(server: PlatformServer, password: str) -> httpx.Client:
    """A browser-like client logged in through the login form of `server`."""
    client = httpx.Client(base_url=server.url, timeout=60)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"username": "admin", "password": password, "csrf_token": csrf,
                                           "next": "/models"})
    assert response.status_code == 303 and "brevettiai_session" in client.cookies, response.text
    return client


def on(client: httpx.Client, server: PlatformServer) -> httpx.Client:
    """The same browser (its cookies) talking to another replica."""
    return httpx.Client(base_url=server.url, cookies=client.cookies, timeout=60)


def page_csrf(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def test_replicas_started_together_on_an_empty_database_all_come_up(postgres: Postgres, replicas: object) -> None:
    for _ in range(2):
        url = postgres.new_database()
        group = replicas(3, "--database-url", url, env={"BREVETTI_AI_SECRET_KEY": SECRET},  # type: ignore[operator]
                         admin_password=None)
        generated = [server.admin_password for server in group if server.admin_password]
        assert len(generated) == 1, "exactly one server creates the admin user and shows its password"
        for server in group:
            assert sum(server.log().count(GENERATED) for server in group) == 1
            server.admin_password = generated[0]
            with server.client() as admin:
                assert admin.get("/api/auth/me").status_code == 200
            assert server.process is not None and server.process.poll() is None
        with group[0].client() as admin:
            assert admin.get("/api/models").status_code == 200


def _migrate_at(barrier: object, url: str) -> None:
    from brevettiai.server.db.migrate import upgrade
    from brevettiai.server.db.session import Database

    database = Database(url)
    barrier.wait()  # type: ignore[attr-defined]
    upgrade(database.engine)
    database.dispose()


def test_migrations_started_at_the_same_moment_run_once(postgres: Postgres) -> None:
    # Server processes rarely reach the migration in the very same millisecond; these processes do.
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for _ in range(3):
        url = postgres.new_database()
        barrier = context.Barrier(3)
        processes = [context.Process(target=_migrate_at, args=(barrier, url)) for _ in range(3)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
        assert [process.exitcode for process in processes] == [0] * 3


def test_migrate_command_brings_a_database_to_the_newest_revision(postgres: Postgres, tmp_path: Path) -> None:
    import subprocess
    import sys

    url = postgres.new_database()
    command = [sys.executable, "-m", "brevettiai.cli", "migrate", "--database-url", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"database schema at revision \d{4}\w*\n", result.stdout)
    bad = subprocess.run([sys.executable, "-m", "brevettiai.cli", "migrate", "--database-url",
                          "postgresql+psycopg://someone:hunter22@127.0.0.1:1/nothing"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith("error: --database-url: cannot migrate")
    assert "hunter22" not in bad.stderr and "Traceback" not in bad.stderr


def test_report_links_sessions_and_one_time_keys_work_on_every_replica(postgres: Postgres, replicas: object,
                                                                      tmp_path: Path) -> None:
    a, b = replicas(2, "--database-url", postgres.new_database(),  # type: ignore[operator]
                    "--storage", str(tmp_path / "shared-storage"))
    # No BREVETTI_AI_SECRET_KEY: the replicas share one key generated into the database.
    assert "BREVETTI_AI_SECRET_KEY" in a.log() and "BREVETTI_AI_SECRET_KEY" in b.log()
    browser_a = web_login(a, a.admin_password)
    browser_b = on(browser_a, b)
    # The session made on A is a session on B, and a form posted to B with the CSRF token of A's page works.
    page = browser_b.get("/models")
    assert page.status_code == 200 and "Log in" not in page.text
    name = unique("dataset")
    response = browser_b.post("/datasets/new", data={"name": name, "csrf_token": page_csrf(
        browser_a.get("/models").text)})
    assert response.status_code == 303, response.text
    with b.client() as admin:
        assert [d["name"] for d in admin.get("/api/datasets").json()].count(name) == 1

    # A report link signed by A opens on B.
    with a.client() as admin:
        job = model(admin)
        assert admin.put(f"/api/files/{job['id']}/artifacts/report.html", content=b"<p>hello</p>").status_code == 201
    base = re.search(r'data-artifacts-base="(/reports/[^"]+)"', browser_a.get(f"/models/{job['id']}").text).group(1)
    report = httpx.get(b.url + base + "report.html", timeout=60)
    assert report.status_code == 200 and report.text == "<p>hello</p>"
    assert httpx.get(b.url + base.replace("-", "-0", 1) + "report.html", timeout=60).status_code == 403

    # The key of a model created in A's form shows once, on whichever replica opens the page.
    with a.client() as admin:
        empty_type = created(admin.post("/api/modeltypes", json={"name": unique("type"),
                                                                "settingsSchema": {"fields": []}}))
    form_page = browser_a.get(f"/zoo/{empty_type['id']}")
    response = browser_a.post(f"/zoo/{empty_type['id']}", data={"name": unique("model"), "action": "create",
                                                               "csrf_token": page_csrf(form_page.text)})
    assert response.status_code == 303 and "?created=" in response.headers["location"], response.text
    first = browser_b.get(response.headers["location"])
    key = re.search(r'id="job-key"[^>]*value="(bj_[^"]+)"', first.text)
    assert first.status_code == 200 and key is not None
    job_id = response.headers["location"].split("/")[2].split("?")[0]
    with httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {key.group(1)}"}) as job_client:
        assert job_client.get(f"/api/jobs/{job_id}/roottags").status_code == 200
    for replica in (browser_b, browser_a):
        again = replica.get(response.headers["location"])
        assert again.status_code == 200 and "bj_" not in again.text


def test_a_shared_secret_key_signs_report_links_for_every_server(replicas: object) -> None:
    a, b = replicas(2, env={"BREVETTI_AI_SECRET_KEY": SECRET})  # type: ignore[operator]  # 2 SQLite databases
    assert "BREVETTI_AI_SECRET_KEY" not in a.log()
    assert not (a.data_dir / "ui-secret.key").exists()
    browser = web_login(a, a.admin_password)
    with a.client() as admin:
        job = model(admin)
    base = re.search(r'data-artifacts-base="(/reports/[^"]+)"', browser.get(f"/models/{job['id']}").text).group(1)
    # B has no such job, but it accepts the signature (then finds no file); a changed ticket it refuses.
    assert httpx.get(b.url + base + "x.html", timeout=60).status_code == 404
    changed = base[:-2] + ("1" if base[-2] == "0" else "0") + "/"
    assert httpx.get(b.url + changed + "x.html", timeout=60).status_code == 403


def test_a_logout_on_one_replica_is_refused_by_the_others_within_a_second(postgres: Postgres,
                                                                          replicas: object) -> None:
    a, b = replicas(2, "--database-url", postgres.new_database())  # type: ignore[operator]
    token = a.admin_token()
    with b.client(token) as on_b, a.client(token) as on_a:
        for _ in range(3):  # B has the token in its cache now
            assert on_b.get("/api/auth/me").status_code == 200
        assert on_a.post("/api/auth/logout").status_code == 204
        logged_out = time.monotonic()
        wait_for(lambda: on_b.get("/api/auth/me").status_code == 401, timeout=1.5, every=0.02,
                 what="the logout on A reaching B")
        assert time.monotonic() - logged_out <= 1.5
        # A job key replaced on A (the job is started) stops working on B just as fast.
        with a.client() as admin:
            job = model(admin, modelTypeId=model_type(admin)["id"])
        old_key = job["apiKey"]
        with httpx.Client(base_url=b.url, headers={"Authorization": f"Bearer {old_key}"}) as job_on_b:
            assert job_on_b.get(f"/api/jobs/{job['id']}/roottags").status_code == 200
            with a.client() as admin:
                assert admin.post(f"/api/models/{job['id']}/start").status_code in (200, 409)
            wait_for(lambda: job_on_b.get(f"/api/jobs/{job['id']}/roottags").status_code == 401, timeout=1.5,
                     every=0.02, what="the replaced job key reaching B")
    # A dataset deleted on A takes no more files on B, which had it in its cache of existing resources.
    with a.client() as on_a, b.client() as admin_on_b:
        rid = dataset(on_a)["id"]
        assert admin_on_b.put(f"/api/files/{rid}/a.txt", content=b"x").status_code == 201
        assert on_a.delete(f"/api/datasets/{rid}").status_code == 204
        wait_for(lambda: admin_on_b.put(f"/api/files/{rid}/b.txt", content=b"y").status_code == 404, timeout=1.5,
                 every=0.02, what="the dataset's deletion on A reaching B")


def test_disabling_a_user_or_changing_its_role_on_one_replica_applies_on_the_others_within_a_second(
        postgres: Postgres, replicas: object) -> None:
    a, b = replicas(2, "--database-url", postgres.new_database())  # type: ignore[operator]
    with a.client() as admin:
        name, password = add_user(admin, "member")
        session = user_token(b.url, name, password)
        with b.client(session) as on_b:
            pat = created(on_b.post("/api/tokens", json={"name": "ci", "expires": "1d"}))["token"]
            with b.client(pat) as script_on_b:
                for _ in range(3):  # B has both in its cache now
                    assert on_b.post("/api/tags", json={"name": unique("t")}).status_code == 201
                    assert script_on_b.get("/api/models").status_code == 200
                assert admin.patch(f"/api/users/{name}", json={"role": "viewer"}).status_code == 200
                wait_for(lambda: on_b.post("/api/tags", json={"name": unique("t")}).status_code == 403, timeout=1.5,
                         every=0.02, what="the role change on A reaching B")
                assert admin.patch(f"/api/users/{name}", json={"disabled": True}).status_code == 200
                disabled = time.monotonic()
                wait_for(lambda: on_b.get("/api/models").status_code == 401
                         and script_on_b.get("/api/models").status_code == 401, timeout=1.5, every=0.02,
                         what="the disabled user's session and token refused on B")
                assert time.monotonic() - disabled <= 1.5


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def _established_to(port: int) -> set[int]:
    """Socket inodes of established TCP connections whose local port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(int(fields[9]))
    return inodes


def _serving(pid: int, port: int) -> bool:
    """True when process `pid` holds an established connection to the server port."""
    connections = _established_to(port)
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue
        if str(target).startswith("socket:[") and int(str(target)[8:-1]) in connections:
            return True
    return False


def test_workers_share_the_port_on_sqlite(platform_server_factory: object) -> None:
    server: PlatformServer = platform_server_factory("--workers", "2", admin_password=None)  # type: ignore[operator]
    log = server.log()
    assert log.count(GENERATED) == 1 and log.count("brevettiai platform listening on ") == 1
    assert server.process is not None
    workers = _children(server.process.pid)
    assert len(workers) == 2
    token = server.admin_token()  # the password shown once is the admin's, whichever worker answers

    # Many clients at once, each keeping its connection: both workers serve, every write succeeds.
    with server.client(token) as admin:
        job = model(admin)
    clients = [server.client(token) for _ in range(8)]
    job_clients = [job_client(server.url, job["apiKey"]) for _ in range(8)]
    try:
        def work(index: int) -> list[int]:
            client, as_job = clients[index], job_clients[index]
            codes = []
            for step in range(15):
                codes.append(client.post("/api/datasets", json={"name": f"w{index}-{step}"}).status_code)
                codes.append(client.get("/api/datasets").status_code)
                batch = {"batchId": f"{index}-{step}", "points": [{"step": index * 100 + step, "time": 1.0,
                                                                    "values": {"loss": 0.5}}]}
                codes.append(as_job.post(f"/api/jobs/{job['id']}/metrics", json=batch).status_code)
            return codes

        with ThreadPoolExecutor(8) as pool:
            codes = [code for result in pool.map(work, range(8)) for code in result]
        assert codes.count(201) == 8 * 15 and codes.count(200) == 2 * 8 * 15, set(codes)
        assert all(_serving(pid, server.port) for pid in workers) or wait_for(
            lambda: all(_serving(pid, server.port) for pid in workers) or _more_connections(server, token, clients),
            timeout=20, what="connections reaching both workers")
    finally:
        for client in [*clients, *job_clients]:
            client.close()
    with server.client(token) as admin:
        names = {d["name"] for d in admin.get("/api/datasets", params={"limit": 1000}).json()}
        assert names == {f"w{index}-{step}" for index in range(8) for step in range(15)}
        assert len(admin.get(f"/api/models/{job['id']}/metrics").json()["series"]["loss"]) == 8 * 15
        assert admin.post("/api/auth/logout").status_code == 204
        wait_for(lambda: admin.get("/api/auth/me").status_code == 401, timeout=1.5, every=0.02,
                 what="the logout reaching the other worker")
    # A worker that dies is replaced; the others serve meanwhile.
    os.kill(workers[0], signal.SIGKILL)
    replaced = wait_for(lambda: (pids := _children(server.process.pid)) and len(pids) == 2 and workers[0] not in pids
                        and pids, timeout=60, what="a new worker replacing the killed one")
    wait_for(lambda: httpx.get(server.url + "/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
             == 401, timeout=10, what="the server answering after the kill")
    assert server.stop() == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in [*workers, *replaced])


def _more_connections(server: PlatformServer, token: str, clients: list[httpx.Client]) -> bool:
    """Open one more kept-alive connection (the kernel hands each to whichever worker accepts first)."""
    client = server.client(token)
    clients.append(client)
    client.get("/api/auth/me")
    return False


def test_secret_key_and_workers_settings() -> None:
    from brevettiai.server.config import ConfigError, ServerConfig

    config = ServerConfig.load({}, {"BREVETTI_AI_SECRET_KEY": SECRET, "BREVETTI_AI_WORKERS": "3"})
    assert config.secret_key == SECRET and config.workers == 3 and SECRET not in repr(config)
    assert ServerConfig.load({}, {}).secret_key is None and ServerConfig.load({}, {}).workers == 1
    with pytest.raises(ConfigError) as short:
        ServerConfig.load({"secret_key": "tiny-secret"}, {})
    assert str(short.value).startswith("--secret-key: ") and "tiny-secret" not in str(short.value)
    with pytest.raises(ConfigError, match="^BREVETTI_AI_WORKERS: '0' is not a number of worker processes"):
        ServerConfig.load({}, {"BREVETTI_AI_WORKERS": "0"})


def test_one_time_values_are_taken_once_and_expire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    from sqlalchemy import func, select

    from brevettiai.server import once
    from brevettiai.server.db import models as db
    from brevettiai.server.db.migrate import upgrade
    from brevettiai.server.db.session import Database

    database = Database(f"sqlite:///{tmp_path / 'once.db'}")
    upgrade(database.engine)
    try:
        reference = once.put_once(database, "job-1", "bj_the-key")
        with database.read() as session:
            stored = session.scalars(select(db.OnceValue)).one()
        assert reference not in stored.ref_hash and "the-key" not in stored.sealed  # the database alone reveals nothing
        assert once.take_once(database, reference, "job-2") is None  # another job's page shows nothing
        assert once.take_once(database, reference + "x", "job-1") is None
        assert once.take_once(database, reference, "job-1") == "bj_the-key"
        assert once.take_once(database, reference, "job-1") is None
        monkeypatch.setattr(once, "TTL", datetime.timedelta(seconds=-1))
        once.put_once(database, "job-1", "bj_never-shown")
        expired = once.put_once(database, "job-1", "bj_old")  # purges the expired one before it
        with database.read() as session:
            assert session.scalar(select(func.count()).select_from(db.OnceValue)) == 1
        assert once.take_once(database, expired, "job-1") is None
    finally:
        database.dispose()


def test_a_server_whose_database_is_unreachable_stops_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    for workers in ("1", "2"):
        result = subprocess.run([sys.executable, "-m", "brevettiai.cli", "server", "--port", "0", "--data-dir",
                                 str(tmp_path), "--workers", workers, "--database-url",
                                 "postgresql+psycopg://someone:hunter22@127.0.0.1:1/nothing"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("error: --database-url: cannot use the database postgresql+psycopg://someone:***@")
        assert "Traceback" not in result.stderr and "hunter22" not in result.stderr + result.stdout


def test_sqlite_write_transactions_of_two_processes_do_not_interleave(tmp_path: Path) -> None:
    # Two Database objects on one file are what two --workers processes are: each has its own lock.
    import sqlite3

    from sqlalchemy import event, text

    from brevettiai.server.db.session import Database

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url), Database(url)
    with first.write() as session:
        session.execute(text("CREATE TABLE counter (value INTEGER)"))
    inside, trying = threading.Event(), threading.Event()
    # The second sends its first statement (BEGIN IMMEDIATE, where it waits) only while the first holds its
    # transaction: the first goes on to write only once the second has tried.
    event.listen(second.engine, "before_cursor_execute", lambda *_: trying.set())

    def read_then_write(database: Database, hold: bool) -> None:
        with database.write() as session:
            value = session.execute(text("SELECT count(*) FROM counter")).scalar()
            if hold:
                inside.set()
                assert trying.wait(10), "the second writer never sent a statement"
            session.execute(text("INSERT INTO counter VALUES (:value)"), {"value": value})

    try:
        holder = threading.Thread(target=read_then_write, args=(first, True))
        holder.start()
        assert inside.wait(10), "the first writer never read"
        # Between its read and its write the first holds SQLite's write lock: no other process may begin.
        probe = sqlite3.connect(tmp_path / "shared.db", timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                probe.execute("BEGIN IMMEDIATE")
        finally:
            probe.close()
        read_then_write(second, False)  # waits for the first's whole transaction, then reads its row
        holder.join()
        with first.read() as session:
            assert session.execute(text("SELECT value FROM counter ORDER BY value")).scalars().all() == [0, 1]
    finally:
        first.dispose()
        second.dispose()
