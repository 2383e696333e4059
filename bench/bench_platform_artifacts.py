"""A 256 MiB artifact through the server: our platform (files API) vs MLflow's proxied artifacts.

Ours: a job (`Job.init(job_id, api_key, host)`) uploads a local 256 MiB file of random bytes with
``job.io.copy(local, job.artifact_path("big.bin"))`` and with ``job.io.write_file(path, <file
object>)``, then downloads it with ``job.io.copy`` back and ``job.io.read_file``. MLflow:
``mlflow.log_artifact(path)`` in a run against ``mlflow server --serve-artifacts``, then
``mlflow.artifacts.download_artifacts``. Floor: ``curl`` PUT and GET of the same file against our
server's files API (the job key in a header): what the server does with a client that costs nothing.
Each transfer runs in a fresh process while the server's process tree RSS is sampled every 50 ms
and its CPU time counted; every copy is checked (size and md5).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
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
    cpu_seconds,
    exit_on_sigterm,
    finish_reports,
    fmt_mb,
    http_json,
    process_tree,
    ratio,
    temp_dir,
    tree_rss,
)

SCRIPT = Path(__file__).resolve()
SIZE = 256 * 1024 * 1024
GOAL_UP_MBPS, GOAL_DOWN_MBPS, GOAL_RSS = 600.0, 800.0, 150e6


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
    cpu = time.process_time()
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
        out["seconds"], out["client_cpu"] = time.perf_counter() - start, time.process_time() - cpu
        out["size"], out["md5"] = len(content), hashlib.md5(content).hexdigest()
    else:
        raise SystemExit(f"unknown operation {operation}")
    out.setdefault("seconds", time.perf_counter() - start)
    out.setdefault("client_cpu", time.process_time() - cpu)
    return out


def worker_mlflow(url: str, operation: str, path: str, run_id: str = "") -> dict[str, Any]:
    """MLflow: log_artifact of the file at path in a new run, or download big.bin of run_id into folder path."""
    import mlflow

    mlflow.set_tracking_uri(url)
    if operation == "upload":
        with mlflow.start_run() as run:
            cpu, start = time.process_time(), time.perf_counter()
            mlflow.log_artifact(path)
            return {"seconds": time.perf_counter() - start, "client_cpu": time.process_time() - cpu,
                    "run_id": run.info.run_id}
    cpu, start = time.process_time(), time.perf_counter()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="big.bin", dst_path=path)
    return {"seconds": time.perf_counter() - start, "client_cpu": time.process_time() - cpu, "path": local}


def one_run(server_pid: int, run: Any) -> dict[str, Any]:
    """One transfer while sampling the server's RSS: its result with the server's CPU seconds and RSS."""
    with RssSampler(server_pid) as rss:
        before = cpu_seconds(process_tree(server_pid))
        result = run()
        result["cpu"] = cpu_seconds(process_tree(server_pid)) - before
    result.update(rss_start=rss.start, rss_peak=rss.peak)
    return result


def median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median time, with every time, the first run's RSS before and the peak of all."""
    result = dict(sorted(results, key=lambda r: r["seconds"])[len(results) // 2])
    result.update(times=[r["seconds"] for r in results], rss_start=results[0]["rss_start"],
                  rss_peak=max(r["rss_peak"] for r in results))
    return result


def interleaved(server_pid: int, runs: dict[str, Any], repeats: int) -> dict[str, dict[str, Any]]:
    """Each named transfer `repeats` times, taking turns (ours, then the floor, ...): the load of the
    machine, whatever it is, falls on every side alike. The median run of each."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            results[name].append(one_run(server_pid, run))
    return {name: median_run(found) for name, found in results.items()}


def worker(python: Path, args: list[str]) -> Any:
    """A transfer by a worker process of this script in `python`."""
    return lambda: worker_result(python, SCRIPT, ["--worker", *args], bench_env())


def curl(command: list[str]) -> Any:
    """A transfer by curl (the floor's client): its wall time and CPU seconds, from start to exit."""

    def run() -> dict[str, Any]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(["curl", "--silent", "--show-error", "--fail", *command], capture_output=True,
                              text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise BenchError(f"curl exited {done.returncode}: {done.stderr.strip()[-200:]}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"seconds": seconds, "client_cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}

    return run


def transfer(python: Path, server_pid: int, args: list[str], repeats: int) -> dict[str, Any]:
    """One worker transfer `repeats` times (MLflow's side: no floor to take turns with)."""
    return interleaved(server_pid, {"run": worker(python, args)}, repeats)["run"]


# Sides ----------------------------------------------------------------------------------------------


def measure_ours(tmp: Path, source: Path, md5: str, repeats: int) -> dict[str, Any]:
    """Our server: both uploads, both downloads and curl's, taking turns, each checked."""
    if shutil.which("curl") is None:
        raise BenchError("curl is not installed (apt-get install curl)")
    python = _venvs.ours_python()
    with OurServer(tmp / "ours") as server:
        token = server.admin_token()
        job_id, key = server.new_job(token, "bench-artifacts")
        base = [server.url, job_id, key]
        floor_url = f"{server.url}/api/files/{job_id}/artifacts/curl.bin"
        auth = ["--header", f"Authorization: Bearer {key}"]
        out: dict[str, Any] = {"idle_rss": tree_rss(server.pid)}
        out.update(interleaved(server.pid, {
            "upload-copy": worker(python, ["ours", *base, "upload-copy", str(source)]),
            "curl-up": curl([*auth, "--upload-file", str(source), "--output", os.devnull, floor_url]),
            "upload-write": worker(python, ["ours", *base, "upload-write", str(source)]),
        }, repeats))
        for name in ("big.bin", "big-write.bin", "curl.bin"):
            head = http_json("HEAD", f"{server.url}/api/files/{job_id}/artifacts/{name}", token=token)[
                "_headers"
            ]
            stored = (int(head.get("content-length", -1)), head.get("etag", "").strip('"'))
            if stored != (SIZE, md5):
                raise BenchError(f"the server stores artifacts/{name} as {stored}, expected ({SIZE}, {md5})")
        back, curl_back = tmp / "ours-download.bin", tmp / "curl-download.bin"
        out.update(interleaved(server.pid, {
            "download-copy": worker(python, ["ours", *base, "download-copy", str(back)]),
            "curl-down": curl([*auth, "--output", str(curl_back), floor_url]),
            "download-read": worker(python, ["ours", *base, "download-read", "-"]),
        }, repeats))
        for name, path in (("job.io.copy", back), ("curl", curl_back)):
            if path.stat().st_size != SIZE or md5_of(path) != md5:
                raise BenchError(f"{name} downloaded a file that differs from the upload")
            path.unlink()
        read = out["download-read"]
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
    """Rows per transfer: MB/s, seconds, server CPU and RSS, ratios against MLflow and against curl."""
    ours_side = f"brevettiai {versions['ours']} (ours)"
    peer_side = f"mlflow {versions['mlflow']}"
    mb = SIZE / 1e6
    rep = Report(
        f"A 256 MiB ({mb:.0f} MB) artifact through the server, localhost (median of {repeats} transfers)",
        ["transfer", "side", "MB/s", "seconds", "server CPU", "client CPU", "server RSS before",
         "server RSS peak", "vs peer", "vs floor", ""],
    )
    rows = [  # what, whose figures, key, MLflow's key to compare with, the floor's key to compare with
        ("upload: job.io.copy(local, artifact_path)", "ours", "upload-copy", "upload", "curl-up"),
        ("upload: job.io.write_file(artifact_path, file object)", "ours", "upload-write", "upload", "curl-up"),
        ("upload: mlflow.log_artifact(path), proxied", "mlflow", "upload", None, None),
        ("upload floor: curl --upload-file to /api/files", "floor", "curl-up", None, None),
        ("download: job.io.copy(artifact_path, local)", "ours", "download-copy", "download", "curl-down"),
        ("download: job.io.read_file(artifact_path, cache=False)", "ours", "download-read", "download", "curl-down"),
        ("download: mlflow.artifacts.download_artifacts", "mlflow", "download", None, None),
        ("download floor: curl GET /api/files to a file", "floor", "curl-down", None, None),
    ]

    def rate(source: dict | str, key: str | None) -> float | None:
        if key is None or not isinstance(source, dict) or key not in source:
            return None
        return mb / source[key]["seconds"]

    for what, who, key, peer_key, floor_key in rows:
        source = peer if who == "mlflow" else ours
        side = {"ours": ours_side, "mlflow": peer_side, "floor": "curl, our server (floor)"}[who]
        if not isinstance(source, dict) or key not in source:
            why = source if isinstance(source, str) else "not measured"
            rep.rows.append([what, side, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", f"({why})"])
            continue
        cell = source[key]
        mine = rate(source, key)
        rep.rows.append(
            [
                what,
                side,
                f"{mine:,.0f} MB/s",
                f"{cell['seconds']:.2f} s",
                f"{cell['cpu']:.2f} s",
                f"{cell['client_cpu']:.2f} s",
                fmt_mb(cell["rss_start"]),
                fmt_mb(cell["rss_peak"]),
                "-" if peer_key is None else ratio(mine, rate(peer, peer_key), True),
                "-" if floor_key is None else ratio(mine, rate(ours, floor_key), True),
                "",
            ]
        )
    goals = [
        ("upload-copy", GOAL_UP_MBPS, "upload", "curl-up", "upload (job.io.copy)"),
        ("download-copy", GOAL_DOWN_MBPS, "download", "curl-down", "download (job.io.copy)"),
    ]
    for key, goal, peer_key, floor_key, name in goals:
        text = f"ours {name} >= {goal:.0f} MB/s with server RSS < {GOAL_RSS / 1e6:.0f} MB"
        if isinstance(ours, dict):
            cell, mine = ours[key], rate(ours, key)
            assert mine is not None
            rep.goals.append(
                Goal(
                    text,
                    mine >= goal and cell["rss_peak"] < GOAL_RSS,
                    f"{mine:,.0f} MB/s, peak RSS {fmt_mb(cell['rss_peak'])}, server CPU {cell['cpu']:.2f} s; "
                    f"{ratio(mine, rate(peer, peer_key), True)} MLflow, "
                    f"{ratio(mine, rate(ours, floor_key), True)} the curl floor",
                )
            )
        else:
            rep.goals.append(Goal(text, None, "not measured"))
    if isinstance(ours, dict):
        rep.notes.append(f"ours: server RSS {fmt_mb(ours['idle_rss'])} once started")
    if isinstance(peer, dict):
        rep.notes.append(
            f"MLflow: server RSS {fmt_mb(peer['idle_rss'])} once started (all its processes: 4 uvicorn "
            f"workers and their parents); MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"
        )
    rep.notes.append(machine)
    rep.notes.append(
        "MB = 10^6 bytes. vs peer / vs floor: ours MB/s divided by MLflow's / curl's (>1: ours is faster). "
        "The floor is curl against our own server: the server's cost with a client that costs nothing. "
        "Server CPU: user+system seconds of its process tree during the median transfer; client CPU: "
        "the client's, during the transfer itself (curl: from start to exit). RSS is the "
        "server's whole process tree, sampled every 50 ms during the transfers (each in a fresh client "
        "process; peak over all of them); the file is in the page cache for every side."
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
