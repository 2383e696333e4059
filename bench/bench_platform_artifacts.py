"""A 256 MiB artifact through the server: our platform (files API) vs MLflow's proxied artifacts.

Ours: a job (`Job.init(job_id, api_key, host)`) uploads a local 256 MiB file of random bytes with
``job.io.copy(local, job.artifact_path("big.bin"))`` and with ``job.io.write_file(path, <file
object>)``, then downloads it with ``job.io.copy`` back and ``job.io.read_file``. MLflow:
``mlflow.log_artifact(path)`` in a run against ``mlflow server --serve-artifacts``, then
``mlflow.artifacts.download_artifacts``. Each transfer runs in a fresh worker process while the
server's process tree RSS is sampled every 50 ms; every copy is checked (size and md5).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError, report, worker_result  # noqa: E402
from _servers import (  # noqa: E402
    Goal,
    MachineLoad,
    MlflowServer,
    OurServer,
    Report,
    RssSampler,
    bench_env,
    exit_on_sigterm,
    finish_reports,
    fmt_mb,
    http_json,
    ratio,
    temp_dir,
    tree_rss,
)

SCRIPT = Path(__file__).resolve()
SIZE = 256 * 1024 * 1024
GOAL_MBPS, GOAL_RSS = 300.0, 150e6


def md5_of(path: str | Path) -> str:
    """The md5 hex digest of a file, read in 4 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def make_file(path: Path, size: int) -> str:
    """Write `size` random bytes to path; returns their md5."""
    digest = hashlib.md5()
    with open(path, "wb") as handle:
        for _ in range(0, size, 4 << 20):
            chunk = os.urandom(min(4 << 20, size - handle.tell()))
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


# Workers ----------------------------------------------------------------------------------------------


def worker_ours(url: str, job_id: str, key: str, operation: str, local: str) -> dict[str, Any]:
    """One transfer by a platform job: upload-copy, upload-write, download-copy or download-read."""
    from brevettiai import Job

    job = Job.init(job_id=job_id, api_key=key, host=url, argv=[])
    remote = job.artifact_path("big.bin")
    out: dict[str, Any] = {}
    start = time.perf_counter()
    if operation == "upload-copy":
        job.io.copy(local, remote)
    elif operation == "upload-write":
        with open(local, "rb") as handle:
            job.io.write_file(job.artifact_path("big-write.bin"), handle)
    elif operation == "download-copy":
        job.io.copy(remote, local)
    elif operation == "download-read":
        content = job.io.read_file(remote, cache=False)
        out["seconds"] = time.perf_counter() - start
        out["size"], out["md5"] = len(content), hashlib.md5(content).hexdigest()
    else:
        raise SystemExit(f"unknown operation {operation}")
    out.setdefault("seconds", time.perf_counter() - start)
    return out


def worker_mlflow(url: str, operation: str, path: str, run_id: str = "") -> dict[str, Any]:
    """MLflow: log_artifact of the file at path in a new run, or download big.bin of run_id into folder path."""
    import mlflow

    mlflow.set_tracking_uri(url)
    if operation == "upload":
        with mlflow.start_run() as run:
            start = time.perf_counter()
            mlflow.log_artifact(path)
            return {"seconds": time.perf_counter() - start, "run_id": run.info.run_id}
    start = time.perf_counter()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="big.bin", dst_path=path)
    return {"seconds": time.perf_counter() - start, "path": local}


def transfer(python: Path, server_pid: int, args: list[str], repeats: int) -> dict[str, Any]:
    """Run one worker `repeats` times while sampling the server's RSS.

    The figures of the run with the median time, plus all times, the server's RSS before the first
    run and its peak over all of them.
    """
    results = []
    with RssSampler(server_pid) as rss:
        for _ in range(repeats):
            results.append(worker_result(python, SCRIPT, ["--worker", *args], bench_env()))
    result = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    result.update(times=[r["seconds"] for r in results], rss_start=rss.start, rss_peak=rss.peak)
    return result


# Sides ----------------------------------------------------------------------------------------------


def measure_ours(tmp: Path, source: Path, md5: str, repeats: int) -> dict[str, Any]:
    """Our server: both uploads and both downloads, each checked."""
    python = _venvs.ours_python()
    with OurServer(tmp / "ours") as server:
        token = server.admin_token()
        job_id, key = server.new_job(token, "bench-artifacts")
        base = [server.url, job_id, key]
        out: dict[str, Any] = {"idle_rss": tree_rss(server.pid)}
        out["upload-copy"] = transfer(
            python, server.pid, ["ours", *base, "upload-copy", str(source)], repeats
        )
        out["upload-write"] = transfer(
            python, server.pid, ["ours", *base, "upload-write", str(source)], repeats
        )
        for name in ("big.bin", "big-write.bin"):
            head = http_json("HEAD", f"{server.url}/api/files/{job_id}/artifacts/{name}", token=token)[
                "_headers"
            ]
            stored = (int(head.get("content-length", -1)), head.get("etag", "").strip('"'))
            if stored != (SIZE, md5):
                raise BenchError(f"the server stores artifacts/{name} as {stored}, expected ({SIZE}, {md5})")
        back = tmp / "ours-download.bin"
        out["download-copy"] = transfer(
            python, server.pid, ["ours", *base, "download-copy", str(back)], repeats
        )
        if back.stat().st_size != SIZE or md5_of(back) != md5:
            raise BenchError("job.io.copy downloaded a file that differs from the upload")
        back.unlink()
        out["download-read"] = read = transfer(
            python, server.pid, ["ours", *base, "download-read", "-"], repeats
        )
        if (read["size"], read["md5"]) != (SIZE, md5):
            raise BenchError("job.io.read_file returned bytes that differ from the upload")
    return out


def measure_mlflow(python: Path, tmp: Path, source: Path, md5: str, repeats: int) -> dict[str, Any]:
    """MLflow with proxied artifacts: log_artifact, then download_artifacts, each checked."""
    with MlflowServer(tmp / "mlflow", python, serve_artifacts=True) as server:
        out: dict[str, Any] = {"idle_rss": tree_rss(server.pid)}
        out["upload"] = up = transfer(
            python, server.pid, ["mlflow", server.url, "upload", str(source)], repeats
        )
        stored = next((server.data_dir / "artifacts").rglob(source.name), None)
        if stored is None or stored.stat().st_size != SIZE:
            raise BenchError("mlflow stored no complete big.bin under its artifacts destination")
        down = tmp / "mlflow-download"
        down.mkdir()
        out["download"] = transfer(
            python, server.pid, ["mlflow", server.url, "download", str(down), up["run_id"]], repeats
        )
        got = Path(out["download"]["path"])
        if got.is_dir():
            got = got / source.name
        if got.stat().st_size != SIZE or md5_of(got) != md5:
            raise BenchError("mlflow downloaded a file that differs from the upload")
    return out


# Report ----------------------------------------------------------------------------------------------


def build_report(
    ours: dict | str, peer: dict | str, versions: dict[str, str], repeats: int, machine: str
) -> Report:
    """Rows per transfer: MB/s, seconds, server RSS before and at peak, ratio against ours."""
    ours_side = f"brevettiai {versions['ours']} (ours)"
    peer_side = f"mlflow {versions['mlflow']}"
    mb = SIZE / 1e6
    rep = Report(
        f"A 256 MiB ({mb:.0f} MB) artifact through the server, localhost (median of {repeats} transfers)",
        ["transfer", "side", "MB/s", "seconds", "server RSS before", "server RSS peak", "ratio", ""],
    )
    rows = [
        ("upload: job.io.copy(local, artifact_path)", "ours", "upload-copy", None),
        ("upload: job.io.write_file(artifact_path, file object)", "ours", "upload-write", None),
        ("upload: mlflow.log_artifact(path), proxied", "mlflow", "upload", "upload-copy"),
        ("download: job.io.copy(artifact_path, local)", "ours", "download-copy", None),
        ("download: job.io.read_file(artifact_path, cache=False)", "ours", "download-read", None),
        ("download: mlflow.artifacts.download_artifacts", "mlflow", "download", "download-copy"),
    ]
    for what, who, key, against in rows:
        source, side = (ours, ours_side) if who == "ours" else (peer, peer_side)
        if isinstance(source, str):
            rep.rows.append(
                [what, side, "n/a", "n/a", "n/a", "n/a", "-" if who == "ours" else "n/a", f"({source})"]
            )
            continue
        cell = source[key]
        rate = mb / cell["seconds"]
        base = None if against is None or isinstance(ours, str) else mb / ours[against]["seconds"]
        rep.rows.append(
            [
                what,
                side,
                f"{rate:,.0f} MB/s",
                f"{cell['seconds']:.2f} s",
                fmt_mb(cell["rss_start"]),
                fmt_mb(cell["rss_peak"]),
                "-" if against is None else ratio(base, rate, True),
                "",
            ]
        )
    text = f"ours upload (job.io.copy) >= {GOAL_MBPS:.0f} MB/s with server RSS < {GOAL_RSS / 1e6:.0f} MB"
    if isinstance(ours, dict):
        cell = ours["upload-copy"]
        rate = mb / cell["seconds"]
        rep.goals.append(
            Goal(
                text,
                rate >= GOAL_MBPS and cell["rss_peak"] < GOAL_RSS,
                f"{rate:,.0f} MB/s, peak RSS {fmt_mb(cell['rss_peak'])}",
            )
        )
        rep.notes.append(f"ours: server RSS {fmt_mb(ours['idle_rss'])} once started")
    else:
        rep.goals.append(Goal(text, None, "not measured"))
    if isinstance(peer, dict):
        rep.notes.append(
            f"MLflow: server RSS {fmt_mb(peer['idle_rss'])} once started (all its processes: 4 uvicorn "
            f"workers and their parents); MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"
        )
    rep.notes.append(machine)
    rep.notes.append(
        "MB = 10^6 bytes. RSS is the server's whole process tree, sampled every 50 ms during the "
        "transfers (each in a fresh client process; peak over all of them); the file is in the page "
        "cache for both sides."
    )
    for name, side in (("ours", ours), ("mlflow", peer)):
        if isinstance(side, dict):
            spread = ", ".join(
                f"{key} {min(c['times']):.2f}-{max(c['times']):.2f} s"
                for key, c in side.items()
                if isinstance(c, dict)
            )
            rep.notes.append(f"{name}: time ranges: {spread}")
    rep.figures = {"size": SIZE, "ours": ours, "mlflow": peer}
    return rep


def main(argv: list[str] | None = None) -> int:
    """Run the artifact benchmark (or, with --worker, one transfer) and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="transfers of each kind; the median is shown (default 3)"
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, rest = args.worker[0], args.worker[1:]
        report(worker_ours(*rest) if kind == "ours" else worker_mlflow(*rest))
        return 0
    exit_on_sigterm()
    machine = MachineLoad()
    peers = _venvs.peers_venv()
    versions = {
        "ours": _venvs.ours_versions().get("brevettiai", "?"),
        "mlflow": peers.versions.get("mlflow", "?"),
    }
    with temp_dir("bench-artifacts-") as tmp:
        source = tmp / "big.bin"
        md5 = make_file(source, SIZE)
        ours: dict | str
        peer: dict | str
        try:
            ours = measure_ours(tmp, source, md5, args.repeats)
        except BenchError as exc:
            ours = str(exc)
        if peers.python is None:
            peer = peers.note or "not installed"
        else:
            try:
                peer = measure_mlflow(peers.python, tmp, source, md5, args.repeats)
            except BenchError as exc:
                peer = str(exc)
    return finish_reports(
        "platform_artifacts",
        [build_report(ours, peer, versions, args.repeats, machine.note())],
        ours if isinstance(ours, str) else "",
    )


if __name__ == "__main__":
    sys.exit(main())
