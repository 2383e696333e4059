"""Dispatch that survives servers and workers: queued jobs, Dask tasks that run once, stops from any replica.

Real parts only: `brevettiai server` processes, PostgreSQL where two replicas share a database, and a
Dask scheduler with two `dask worker --no-nanny` processes (so a worker can be SIGKILLed for real).
The job is a small script talking to the platform with plain httpx; each start appends
``<pid> <parent pid> <child pid>`` to a file, so a test counts how often a job ran and finds its
processes (on Dask the parent is the keeper of the job's process group, a child of the worker).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from platform_fixture import PlatformServer
from server_helpers import job_client, model, model_type
from services import DaskCluster, wait_for

FINAL = {"completed", "failed", "killed", "lost"}
SERVER_SECRETS = {"AWS_SECRET_ACCESS_KEY": "aws-secret", "FSSPEC_S3_KEY": "fsspec-key", "PGPASSWORD": "pg-password",
                  "BREVETTI_AI_PW": "sdk-password"}

# `behaviour`: "steps" sends `steps` metric points (one per step, `pause` s apart) and completes;
# "loop" heartbeats until SIGTERM and reports killed; "ignore_term" ignores SIGTERM and heartbeats on.
JOB_SCRIPT = textwrap.dedent('''
    import json, os, signal, subprocess, sys, time
    import httpx

    args = sys.argv[1:]
    job_id, host = args[args.index("--job_id") + 1], args[args.index("--host") + 1]
    client = httpx.Client(base_url=host, headers={"Authorization": "Bearer " + os.environ["BREVETTI_AI_API_KEY"]})
    api = f"/api/jobs/{job_id}"

    def call(method, path, **kwargs):  # the platform may be restarting: retry for a minute
        deadline = time.time() + 60
        while True:
            try:
                answer = client.request(method, path, **kwargs)
                if answer.status_code < 500:
                    return answer
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                sys.exit(9)
            time.sleep(0.2)

    settings = call("GET", api + "/info").json()["settings"]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) if settings.get("child") else None
    with open(settings["starts"], "a") as starts:
        starts.write(f"{os.getpid()} {os.getppid()} {child.pid if child else 0}\\n")
    print("job started; environment:", json.dumps(sorted(os.environ)), flush=True)
    terminated = []
    if settings["behaviour"] == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: terminated.append(True))
    call("POST", api + "/state", json={"status": "running"})
    if settings["behaviour"] == "steps":
        for step in range(settings["steps"]):
            point = {"step": step, "time": time.time(), "values": {"loss": 1 / (step + 1)}}
            call("POST", api + "/metrics", json={"batchId": f"{job_id}-{step}", "points": [point]})
            time.sleep(settings["pause"])
        call("POST", api + "/state", json={"status": "completed"})
        sys.exit(0)
    while not terminated:
        call("POST", api + "/heartbeat")
        time.sleep(0.1)
    print("got SIGTERM", flush=True)
    call("POST", api + "/state", json={"status": "killed", "exit": {"code": 143, "signal": "SIGTERM"}})
    sys.exit(143)
''')


@pytest.fixture
def job_code(tmp_path: Path) -> Path:
    folder = tmp_path / "job-code"
    folder.mkdir()
    (folder / "job.py").write_text(JOB_SCRIPT)
    return folder


def _job_type(admin: httpx.Client, code: Path) -> dict:
    return model_type(admin, command=[sys.executable, "job.py"], workingDir=str(code),
                      settingsSchema={"fields": [], "presets": {}}, defaults={})


def _create(admin: httpx.Client, type_id: str, tmp_path: Path, behaviour: str, **settings: object) -> tuple[dict, Path]:
    starts = tmp_path / f"starts-{len(list(tmp_path.glob('starts-*')))}"
    starts.touch()
    created = model(admin, modelTypeId=type_id, settings={"behaviour": behaviour, "starts": str(starts), **settings})
    return created, starts


def _start(client: httpx.Client, job_id: str) -> dict:
    answer = client.post(f"/api/models/{job_id}/start")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _status(admin: httpx.Client, job_id: str) -> dict:
    return admin.get(f"/api/models/{job_id}").json()


def _final(admin: httpx.Client, job_id: str, timeout: float = 60) -> dict:
    return wait_for(lambda: (r := _status(admin, job_id))["status"] in FINAL and r, timeout=timeout,
                    what=f"job {job_id} ending")


def _starts(path: Path) -> list[tuple[int, int, int]]:
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]  # type: ignore[misc]


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _steps(admin: httpx.Client, job_id: str) -> list[int]:
    series = admin.get(f"/api/models/{job_id}/metrics").json()["series"]
    return [point[0] for point in series.get("loss", [])]


def _dask_server(factory: object, cluster: DaskCluster, *flags: str, env: dict[str, str] | None = None) -> PlatformServer:
    return factory("--runner", "dask", "--dask-scheduler", cluster.scheduler_address, *flags, env=env)  # type: ignore[operator]


# --- the job environment ---------------------------------------------------------------------------

def test_a_job_sees_none_of_the_servers_secrets(platform_server_factory: object, job_code: Path,
                                                tmp_path: Path) -> None:
    server: PlatformServer = platform_server_factory(env=SERVER_SECRETS)  # type: ignore[operator]
    with server.client() as admin:
        job, starts = _create(admin, _job_type(admin, job_code)["id"], tmp_path, "steps", steps=1, pause=0)
        _start(admin, job["id"])
        assert _final(admin, job["id"])["status"] == "completed"
        log = wait_for(lambda: "environment:" in (t := admin.get(f"/api/files/{job['id']}/logs/job.log").text) and t,
                       what="the job's log")
    environment = json.loads(log.split("environment:", 1)[1].splitlines()[0])
    assert "PATH" in environment and "BREVETTI_AI_API_KEY" in environment
    assert not set(SERVER_SECRETS) & set(environment), environment
    assert not [name for name in environment if name.startswith(("AWS_", "FSSPEC_", "PG"))]


def test_a_run_is_claimed_once_and_its_reported_exit_ends_the_job(platform_server: PlatformServer) -> None:
    with platform_server.client() as admin:
        for exit_report, status, message in (({"lost": True}, "lost", "the Dask worker running it was lost"),
                                             ({"code": 3}, "failed", "exit code 3"),
                                             ({"signal": "SIGKILL"}, "failed", "signal SIGKILL")):
            created = model(admin)
            key = admin.post(f"/api/models/{created['id']}/start", params={"launch": "false"}).json()["apiKey"]
            api = f"/api/jobs/{created['id']}"
            with job_client(platform_server.url, key) as job:
                run = job.get(api + "/info").json()["run_id"]
                assert job.post(api + "/claim", json={"runId": "another run"}).status_code == 409
                assert job.post(api + "/claim", json={"runId": run}).json() == {"claimed": True, "stopRequested": False}
                again = job.post(api + "/claim", json={"runId": run})
                assert again.status_code == 409 and "claimed already" in again.json()["detail"]
                assert job.post(api + "/exit", json={"runId": "another run", "code": 0}).status_code == 409
                ended = job.post(api + "/exit", json={"runId": run, **exit_report}).json()
            assert ended["status"] == status and message in ended["error"]["message"], ended
            assert _status(admin, created["id"])["status"] == status


def test_a_claim_sent_again_with_its_token_is_its_own_and_any_other_claim_is_refused(
        platform_server: PlatformServer) -> None:
    with platform_server.client() as admin:
        created = model(admin)
        key = admin.post(f"/api/models/{created['id']}/start", params={"launch": "false"}).json()["apiKey"]
        api = f"/api/jobs/{created['id']}"
        with job_client(platform_server.url, key) as job:
            run = job.get(api + "/info").json()["run_id"]
            first = job.post(api + "/claim", json={"runId": run, "claimToken": "attempt-1"})
            assert first.json() == {"claimed": True, "stopRequested": False}
            again = job.post(api + "/claim", json={"runId": run, "claimToken": "attempt-1"})  # the answer was lost
            assert again.status_code == 200 and again.json() == first.json()
            for other in ({"runId": run, "claimToken": "attempt-2"}, {"runId": run},  # a task run again
                          {"runId": "another run", "claimToken": "attempt-1"}):
                refused = job.post(api + "/claim", json=other)
                assert refused.status_code == 409, (other, refused.text)
            assert admin.post(f"/api/models/{created['id']}/stop").status_code == 200
            stopped = job.post(api + "/claim", json={"runId": run, "claimToken": "attempt-1"})
            assert stopped.json() == {"claimed": True, "stopRequested": True}  # the task then does not run it


def test_a_queued_job_waits_for_room_and_a_stop_kills_it_at_once(platform_server_factory: object, job_code: Path,
                                                                 tmp_path: Path) -> None:
    server: PlatformServer = platform_server_factory("--max-running-jobs", "1")  # type: ignore[operator]
    with server.client() as admin:
        type_id = _job_type(admin, job_code)["id"]
        first, _ = _create(admin, type_id, tmp_path, "loop")
        second, second_starts = _create(admin, type_id, tmp_path, "loop")
        third, third_starts = _create(admin, type_id, tmp_path, "steps", steps=2, pause=0)
        for job in (first, second, third):
            _start(admin, job["id"])
        wait_for(lambda: _status(admin, first["id"])["status"] == "running", what="the first job running")
        assert [_status(admin, job["id"])["status"] for job in (second, third)] == ["queued", "queued"]
        stopped = admin.post(f"/api/models/{second['id']}/stop").json()
        assert stopped["status"] == "killed" and stopped["error"]["message"] == "stopped before it started"
        admin.post(f"/api/models/{first['id']}/stop")
        assert _final(admin, first["id"])["status"] == "killed"
        assert _final(admin, third["id"])["status"] == "completed"  # launched once there was room
        assert _starts(second_starts) == [] and len(_starts(third_starts)) == 1


# --- Dask ------------------------------------------------------------------------------------------

def test_a_dask_job_runs_exactly_once_and_its_log_is_stored(shared_dask_cluster: DaskCluster,
                                                           platform_server_factory: object, job_code: Path,
                                                           tmp_path: Path) -> None:
    server = _dask_server(platform_server_factory, shared_dask_cluster)
    with server.client() as admin:
        job, starts = _create(admin, _job_type(admin, job_code)["id"], tmp_path, "steps", steps=80, pause=0)
        assert _start(admin, job["id"])["status"] == "queued"
        record = _final(admin, job["id"])
        assert record["status"] == "completed", record
        assert _steps(admin, job["id"]) == list(range(80))
        assert len(_starts(starts)) == 1
        assert len(_starts(starts)) == 1
        log = wait_for(lambda: "job started" in (t := admin.get(f"/api/files/{job['id']}/logs/job.log").text) and t,
                       what="the job's log in storage")
        assert "BREVETTI_AI_API_KEY" in log and "bj_" not in log


def test_a_killed_worker_takes_its_job_down_and_the_job_is_not_run_again(
        dask_cluster: DaskCluster, platform_server_factory: object, job_code: Path, tmp_path: Path) -> None:
    server = _dask_server(platform_server_factory, dask_cluster)
    with server.client() as admin:
        job, starts = _create(admin, _job_type(admin, job_code)["id"], tmp_path, "steps", steps=80, pause=0.1,
                              child=True)
        _start(admin, job["id"])
        wait_for(lambda: len(_steps(admin, job["id"])) >= 5, what="the job's first points")
        [(pid, keeper, child)] = _starts(starts)
        worker = _parent(keeper)
        assert worker in dask_cluster.worker_pids() and _alive(child)
        os.kill(worker, signal.SIGKILL)
        for process in (pid, child, keeper):
            wait_for(lambda p=process: not _alive(p), timeout=10, what=f"process {process} of the job ending with its worker")
        record = _final(admin, job["id"])
        assert record["status"] == "lost" and record["error"]["message"] == "the Dask worker running it was lost"
        time.sleep(1.0)  # waiting for something NOT to happen: a second start would show within this
        assert len(_starts(starts)) == 1
        steps = _steps(admin, job["id"])
        assert 5 <= len(steps) < 80 and steps == sorted(set(steps))
        assert _status(admin, job["id"])["status"] == "lost"


class ClaimAnswerDropper:
    """A TCP proxy to the platform that forwards the first ``POST .../claim``, waits for the platform's
    answer (the claim is committed by then) and closes the connection without passing it on, as a
    network failing at that moment would; everything else it passes on both ways."""

    def __init__(self) -> None:
        self.target_port = 0
        self.dropped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:  # the platform is gone (the test ended): the caller sees the connection closed
            client.close()
            return
        with client, upstream:
            request = _read_request(client)
            upstream.sendall(request)
            if not self.dropped.is_set() and b"/claim " in request.split(b"\r\n", 1)[0]:
                upstream.recv(65536)  # the platform answered: the claim is committed
                self.dropped.set()
                return  # closes both: the task never sees the answer
            pump = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            pump.start()
            _pipe(client, upstream)
            pump.join()


def _read_request(connection: socket.socket) -> bytes:
    """The first request on a connection: its head and its Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := connection.recv(65536)):
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(data) < len(head) + 4 + length and (chunk := connection.recv(65536)):
        data += chunk
    return data


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def claim_answer_dropper() -> Iterator[ClaimAnswerDropper]:
    proxy = ClaimAnswerDropper()
    yield proxy
    proxy.close()


def test_a_dask_task_whose_claim_answer_was_lost_runs_its_job_once(
        shared_dask_cluster: DaskCluster, platform_server_factory: object, claim_answer_dropper: ClaimAnswerDropper,
        job_code: Path, tmp_path: Path) -> None:
    proxy = claim_answer_dropper
    server = _dask_server(platform_server_factory, shared_dask_cluster, "--public-url", proxy.url)
    proxy.target_port = server.port  # the task and its job reach the platform through the proxy
    with server.client() as admin:
        job, starts = _create(admin, _job_type(admin, job_code)["id"], tmp_path, "steps", steps=5, pause=0)
        _start(admin, job["id"])
        record = _final(admin, job["id"])
        assert proxy.dropped.is_set()  # the first claim's answer never reached the task
        assert record["status"] == "completed", record  # it sent its claim again and ran the job
        assert _steps(admin, job["id"]) == list(range(5))
        assert len(_starts(starts)) == 1


@pytest.mark.parametrize("runner", ["local", "dask"])
def test_queued_jobs_survive_a_server_restart_and_run_once(runner: str, request: pytest.FixtureRequest,
                                                           platform_server_factory: object, job_code: Path,
                                                           tmp_path: Path) -> None:
    flags = ["--max-running-jobs", "1"]
    if runner == "dask":
        flags += ["--runner", "dask", "--dask-scheduler", request.getfixturevalue("shared_dask_cluster").scheduler_address]
    server: PlatformServer = platform_server_factory(*flags)  # type: ignore[operator]
    with server.client() as admin:
        type_id = _job_type(admin, job_code)["id"]
        created = [_create(admin, type_id, tmp_path, "steps", steps=20, pause=0.05) for _ in range(3)]
        for job, _ in created:
            _start(admin, job["id"])
        wait_for(lambda: [_status(admin, j["id"])["status"] for j, _ in created].count("queued") == 2,
                 what="one job launched, two queued")
        launched = next(j["id"] for j, _ in created if _status(admin, j["id"])["status"] != "queued")
    server.stop()
    server.start()
    with server.client() as admin:
        for job, starts in created:
            record = _final(admin, job["id"])
            if runner == "local" and job["id"] == launched:  # a local job dies with its server (maybe unstarted)
                assert record["status"] == "killed" and "shut down" in record["error"]["message"], record
                assert len(_starts(starts)) <= 1
            else:  # a Dask job goes on while the server restarts; the queued ones run after it
                assert record["status"] == "completed", record
                assert _steps(admin, job["id"]) == list(range(20))
                assert len(_starts(starts)) == 1


@pytest.mark.parametrize("runner", ["local", "dask"])
def test_a_job_ignoring_sigterm_is_killed_after_the_stop_grace(runner: str, request: pytest.FixtureRequest,
                                                               platform_server_factory: object, job_code: Path,
                                                               tmp_path: Path) -> None:
    flags = ["--stop-grace", "2"]
    if runner == "dask":
        flags += ["--runner", "dask", "--dask-scheduler", request.getfixturevalue("shared_dask_cluster").scheduler_address]
    server: PlatformServer = platform_server_factory(*flags)  # type: ignore[operator]
    with server.client() as admin:
        job, starts = _create(admin, _job_type(admin, job_code)["id"], tmp_path, "ignore_term")
        _start(admin, job["id"])
        wait_for(lambda: _status(admin, job["id"])["status"] == "running", what="the job running")
        [(pid, _, _)] = _starts(starts)
        asked = time.monotonic()
        admin.post(f"/api/models/{job['id']}/stop")
        record = _final(admin, job["id"], timeout=20)
        waited = time.monotonic() - asked
        assert record["status"] == "killed" and record["error"]["signal"] == "SIGKILL", record
        assert waited >= 1.5  # it had its grace (2 s) first
        assert not _alive(pid)


# --- two replicas ------------------------------------------------------------------------------------

@pytest.mark.parametrize("runner", ["local", "dask"])
def test_stop_on_one_replica_reaches_a_job_another_launched(runner: str, request: pytest.FixtureRequest,
                                                            postgres: object, platform_server_factory: object,
                                                            job_code: Path, tmp_path: Path) -> None:
    shared = ["--database-url", postgres.new_database(), "--storage", str(tmp_path / "storage")]  # type: ignore[attr-defined]
    if runner == "dask":
        shared += ["--runner", "dask", "--dask-scheduler", request.getfixturevalue("shared_dask_cluster").scheduler_address]
    b: PlatformServer = platform_server_factory(*shared)  # type: ignore[operator]
    wait_for(lambda: "This server dispatches queued jobs" in b.log(), what="B dispatching")
    a: PlatformServer = platform_server_factory(*shared)  # type: ignore[operator]
    with a.client() as on_a, b.client() as on_b:
        job, starts = _create(on_a, _job_type(on_a, job_code)["id"], tmp_path, "loop")
        _start(on_b, job["id"])
        wait_for(lambda: _status(on_a, job["id"])["status"] == "running", what="the job running")
        [(pid, parent, _)] = _starts(starts)
        if runner == "local":
            assert parent == b.process.pid  # B dispatches, so B's runner holds the job: A must reach it
        asked = time.monotonic()
        assert on_a.post(f"/api/models/{job['id']}/stop").status_code == 200
        wait_for(lambda: not _alive(pid), timeout=3, every=0.02, what="the job ending after the stop on A")
        ended = time.monotonic() - asked
        record = _final(on_a, job["id"])
        assert record["status"] == "killed" and record["error"]["signal"] == "SIGTERM", record
        print(f"\n{runner}: stop on A to the job's end: {ended:.2f} s")


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_another_replica_dispatches_when_the_dispatching_one_dies(database: str, request: pytest.FixtureRequest,
                                                                  platform_server_factory: object, job_code: Path,
                                                                  tmp_path: Path) -> None:
    url = (request.getfixturevalue("postgres").new_database() if database == "postgresql"
           else f"sqlite:///{tmp_path / 'shared.db'}")  # SQLite: two processes on one machine
    shared = ["--database-url", url, "--storage", str(tmp_path / "storage")]
    b: PlatformServer = platform_server_factory(*shared)  # type: ignore[operator]
    wait_for(lambda: "This server dispatches queued jobs" in b.log(), what="B dispatching")
    a: PlatformServer = platform_server_factory(*shared)  # type: ignore[operator]
    with a.client() as on_a:
        type_id = _job_type(on_a, job_code)["id"]
        before, before_starts = _create(on_a, type_id, tmp_path, "steps", steps=3, pause=0)
        _start(on_a, before["id"])
        assert _final(on_a, before["id"])["status"] == "completed"
        assert _starts(before_starts)[0][1] == b.process.pid  # queued on A, launched by B
        assert "This server dispatches queued jobs" not in a.log()
        b.kill()
        wait_for(lambda: "This server dispatches queued jobs" in a.log(), timeout=10, what="A taking over")
        created = [_create(on_a, type_id, tmp_path, "steps", steps=3, pause=0) for _ in range(3)]
        for job, _ in created:
            _start(on_a, job["id"])
        for job, starts in created:
            assert _final(on_a, job["id"])["status"] == "completed"
            assert [parent for _, parent, _ in _starts(starts)] == [a.process.pid]
            assert _steps(on_a, job["id"]) == [0, 1, 2]


def test_a_job_run_as_another_user_reaches_none_of_the_servers_files(platform_server_factory: object,
                                                                      tmp_path: Path) -> None:
    import pwd
    import shutil

    if os.geteuid() != 0:
        pytest.skip("running jobs as another user needs the server to run as root")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None or not os.access(python, os.X_OK):
        pytest.skip("no system python3 another user can run")
    nobody = pwd.getpwnam("nobody")
    server = platform_server_factory("--job-user", "nobody", env={"AWS_SECRET_ACCESS_KEY": "server-secret"})  # type: ignore[operator]
    probe = textwrap.dedent(f"""
        import json, os
        def readable(path):
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
                return True
            except OSError:
                return False
        print("PROBE " + json.dumps({{
            "uid": os.getuid(), "home": os.environ.get("HOME"),
            "database": readable({str(server.data_dir / "brevettiai.db")!r}),
            "server_environ": readable("/proc/{server.process.pid}/environ"),
            "storage": os.access({str(server.data_dir / "storage")!r}, os.R_OK),
            "aws": "AWS_SECRET_ACCESS_KEY" in os.environ}}))
    """)
    with server.client() as admin:
        mt = model_type(admin, command=[python, "-c", probe], settingsSchema={"fields": [], "presets": {}}, defaults={})
        job = model(admin, modelTypeId=mt["id"])
        assert admin.post(f"/api/models/{job['id']}/start").status_code == 200
        wait_for(lambda: admin.get(f"/api/models/{job['id']}").json()["status"] in ("failed", "completed"),
                 timeout=60, what="the probe job ending")
        log = admin.get(f"/api/files/{job['id']}/logs/job.log").text
    seen = json.loads(log.split("PROBE ", 1)[1].splitlines()[0])
    assert seen == {"uid": nobody.pw_uid, "home": nobody.pw_dir, "database": False, "server_environ": False,
                    "storage": False, "aws": False}, log


def test_an_unknown_job_user_is_a_one_line_error_naming_the_flag() -> None:
    from brevettiai.server.config import ConfigError, ServerConfig

    with pytest.raises(ConfigError, match="--job-user: 'no-such-user-x' is not a user on this machine"):
        ServerConfig.load({"job_user": "no-such-user-x"}, {})
