"""A dataset of many small files through the server: `brevettiai upload-data` vs MLflow's log_artifacts.

10,000 files of 10 kB of random bytes in 100 folders. Ours: the real command
``python -m brevettiai.utils.upload_data FOLDER --dataset_name NAME`` (a user login, 8 workers),
timed from start to exit as a user sees it, on local storage. Peer: ``mlflow.log_artifacts(folder)``
in a run against ``mlflow server --serve-artifacts`` (proxied). Floor: the same files PUT one by one
to ``/api/files`` by 8 threads, each with its own keep-alive httpx client (no md5 check, no listing:
the least a client can do with the files API), and as many ``GET /healthz`` from the same 8 threads
(what one request that does nothing costs the server: the floor of a one-file PUT). Each side's
server CPU seconds are printed, in all and per file (or request); every upload is checked (ours:
every file listed with the local md5; floor: every answer's md5; MLflow: every file present with
its size).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError, report, worker_result  # noqa: E402
from _servers import (  # noqa: E402
    ADMIN_PASSWORD,
    Goal,
    MachineLoad,
    MlflowServer,
    OurServer,
    Report,
    bench_env,
    cpu_seconds,
    exit_on_sigterm,
    finish_reports,
    http_json,
    process_tree,
    ratio,
    temp_dir,
)

SCRIPT = Path(__file__).resolve()
FILES, FILE_SIZE, FOLDERS, WORKERS = 10_000, 10_000, 100, 8
GOAL_FILES_PER_S = 1000.0


def make_folder(root: Path, files: int) -> dict[str, str]:
    """`files` files of FILE_SIZE random bytes in FOLDERS folders; their md5 by relative path."""
    md5s = {}
    for index in range(files):
        relative = f"class-{index % FOLDERS:03d}/image-{index:05d}.png"
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        content = os.urandom(FILE_SIZE)
        path.write_bytes(content)
        md5s[relative] = hashlib.md5(content).hexdigest()
    return md5s


# Workers ----------------------------------------------------------------------------------------------


def worker_floor(url: str, token: str, rid: str, folder: str) -> dict[str, Any]:
    """PUT every file to the files API from WORKERS threads, each with its own keep-alive client."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    files = sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())
    local = threading.local()
    clients: list[httpx.Client] = []

    def put(relative: str) -> bool:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
            clients.append(client)
        content = Path(folder, relative).read_bytes()
        answer = client.put(f"/api/files/{rid}/{relative}", content=content)
        return answer.status_code == 201 and answer.json()["md5"] == hashlib.md5(content).hexdigest()

    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        ok = sum(pool.map(put, files))
    seconds = time.perf_counter() - start
    for client in clients:
        client.close()
    return {"seconds": seconds, "files": len(files), "ok": ok}


def worker_healthz(url: str, count: str) -> dict[str, Any]:
    """GET /healthz `count` times from WORKERS threads, each with its own keep-alive client: what one
    request costs the server when it does nothing (the floor of a one-file PUT)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    local = threading.local()
    clients: list[httpx.Client] = []

    def get(_: int) -> bool:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url)
            clients.append(client)
        return client.get("/healthz").status_code == 200

    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        ok = sum(pool.map(get, range(int(count))))
    seconds = time.perf_counter() - start
    for client in clients:
        client.close()
    return {"seconds": seconds, "files": int(count), "ok": ok}


def worker_mlflow(url: str, folder: str) -> dict[str, Any]:
    """MLflow: log_artifacts of the whole folder in a new run."""
    import mlflow

    mlflow.set_tracking_uri(url)
    with mlflow.start_run():
        start = time.perf_counter()
        mlflow.log_artifacts(folder)
        return {"seconds": time.perf_counter() - start}


# Sides ----------------------------------------------------------------------------------------------


def _timed_cpu(pid: int, run: Any) -> tuple[Any, float]:
    """run()'s result and the CPU seconds the server's process tree used meanwhile."""
    pids = process_tree(pid)
    before = cpu_seconds(pids)
    result = run()
    return result, cpu_seconds(process_tree(pid)) - before


def measure_ours(tmp: Path, folder: Path, md5s: dict[str, str], repeats: int) -> dict[str, Any]:
    """upload-data into a new dataset per repeat (checked), then the floor's PUT loop (checked)."""
    python = _venvs.ours_python()
    out: dict[str, Any] = {"upload-data": [], "floor": [], "healthz": []}
    with OurServer(tmp / "ours") as server:
        token = server.admin_token()
        for index in range(repeats):
            name = f"bench-dataset-{index}"
            command = [str(python), "-m", "brevettiai.utils.upload_data", str(folder), "--dataset_name", name,
                       "--host", server.url, "--username", "admin", "--password", ADMIN_PASSWORD,
                       "--workers", str(WORKERS), "--no-progress"]

            def run(command: list[str] = command) -> tuple[float, subprocess.CompletedProcess[str]]:
                start = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, env=bench_env(), timeout=900,
                                      cwd=tmp)
                return time.perf_counter() - start, done

            (seconds, done), cpu = _timed_cpu(server.pid, run)
            if done.returncode != 0:
                raise BenchError(f"upload-data exited {done.returncode}: {done.stderr.strip()[-300:]}")
            dataset = next(d for d in http_json("GET", f"{server.url}/api/datasets", token=token)
                           if d["name"] == name)
            listed = http_json("GET", f"{server.url}/api/ls/{dataset['id']}?recursive=true", token=token,
                               timeout=300)
            stored = {e["name"].split("/", 1)[1]: e.get("md5") for e in listed}
            if stored != md5s:
                wrong = sum(1 for k, v in md5s.items() if stored.get(k) != v)
                raise BenchError(f"upload-data stored {len(stored)} files, {wrong} missing or with another md5")
            out["upload-data"].append({"seconds": seconds, "cpu": cpu})
        for index in range(repeats):
            rid = http_json("POST", f"{server.url}/api/datasets", {"name": f"bench-floor-{index}"}, token)["id"]
            args = ["--worker", "floor", server.url, token, rid, str(folder)]
            result, cpu = _timed_cpu(server.pid, lambda args=args: worker_result(python, SCRIPT, args, bench_env()))
            if result["ok"] != len(md5s):
                raise BenchError(f"the PUT loop stored {result['ok']} of {len(md5s)} files with the right md5")
            out["floor"].append({"seconds": result["seconds"], "cpu": cpu})
            args = ["--worker", "healthz", server.url, str(len(md5s))]
            result, cpu = _timed_cpu(server.pid, lambda args=args: worker_result(python, SCRIPT, args, bench_env()))
            if result["ok"] != len(md5s):
                raise BenchError(f"/healthz answered 200 to {result['ok']} of {len(md5s)} requests")
            out["healthz"].append({"seconds": result["seconds"], "cpu": cpu})
    return out


def measure_mlflow(python: Path, tmp: Path, folder: Path, md5s: dict[str, str], repeats: int) -> dict[str, Any]:
    """MLflow with proxied artifacts: log_artifacts of the folder, once per repeat (each a new run)."""
    out: dict[str, Any] = {"log_artifacts": []}
    with MlflowServer(tmp / "mlflow", python, serve_artifacts=True) as server:
        for _ in range(repeats):
            args = ["--worker", "mlflow", server.url, str(folder)]
            result, cpu = _timed_cpu(server.pid, lambda args=args: worker_result(python, SCRIPT, args, bench_env()))
            out["log_artifacts"].append({"seconds": result["seconds"], "cpu": cpu})
        stored = [p for p in (server.data_dir / "artifacts").rglob("image-*.png") if p.stat().st_size == FILE_SIZE]
        if len(stored) != len(md5s) * repeats:
            raise BenchError(f"mlflow stored {len(stored)} complete files, expected {len(md5s) * repeats}")
    return out


# Report ----------------------------------------------------------------------------------------------


def _median(cells: list[dict[str, float]]) -> dict[str, float]:
    """The cell of the median time (with every time kept)."""
    cell = dict(sorted(cells, key=lambda c: c["seconds"])[len(cells) // 2])
    cell["times"] = [c["seconds"] for c in cells]  # type: ignore[assignment]
    return cell


def build_report(ours: dict | str, peer: dict | str, versions: dict[str, str], repeats: int, files: int,
                 machine: str) -> Report:
    """Rows: upload-data, the PUT-loop floor, /healthz, MLflow; files/s, seconds, server CPU (and per file), ratios."""
    rep = Report(
        f"A dataset of {files:,} files of {FILE_SIZE / 1000:.0f} kB through the server, localhost "
        f"(median of {repeats})",
        ["upload", "side", "files/s", "seconds", "server CPU", "per file", "vs peer", "vs floor", ""],
    )
    median_ours = None if isinstance(ours, str) else _median(ours["upload-data"])
    median_floor = None if isinstance(ours, str) else _median(ours["floor"])
    median_healthz = None if isinstance(ours, str) or not ours.get("healthz") else _median(ours["healthz"])
    median_peer = None if isinstance(peer, str) else _median(peer["log_artifacts"])

    def rate(cell: dict[str, float] | None) -> float | None:
        return None if cell is None else files / cell["seconds"]

    rows = [
        (f"brevettiai upload-data ({WORKERS} workers), whole command", f"brevettiai {versions['ours']} (ours)",
         median_ours, ours if isinstance(ours, str) else ""),
        (f"floor: {WORKERS} threads PUT /api/files, keep-alive httpx", "ours, floor", median_floor,
         ours if isinstance(ours, str) else ""),
        (f"one request's floor: {WORKERS} threads GET /healthz, as many", "ours, floor", median_healthz,
         ours if isinstance(ours, str) else "not measured"),
        ("mlflow.log_artifacts(folder), proxied", f"mlflow {versions['mlflow']}", median_peer,
         peer if isinstance(peer, str) else ""),
    ]
    for what, side, cell, why in rows:
        if cell is None:
            rep.rows.append([what, side, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", f"({why})"])
            continue
        is_ours = cell is median_ours
        unit = "req/s" if cell is median_healthz else "files/s"
        rep.rows.append([
            what, side, f"{rate(cell):,.0f} {unit}", f"{cell['seconds']:.2f} s", f"{cell['cpu']:.2f} s",
            f"{cell['cpu'] / files * 1000:.2f} ms",
            "-" if is_ours or cell is median_healthz else ratio(rate(median_ours), rate(cell), True),
            ratio(rate(median_ours), rate(median_floor), True) if is_ours else "-",
            "",
        ])
    text = f"ours upload-data >= {GOAL_FILES_PER_S:,.0f} files/s"
    if median_ours is not None:
        figure = (f"{rate(median_ours):,.0f} files/s, server CPU {median_ours['cpu']:.2f} s "
                  f"({median_ours['cpu'] / files * 1000:.2f} ms a file); "
                  f"{ratio(rate(median_ours), rate(median_peer), True)} MLflow, "
                  f"{ratio(rate(median_ours), rate(median_floor), True)} the floor")
        rep.goals.append(Goal(text, rate(median_ours) >= GOAL_FILES_PER_S, figure))
    else:
        rep.goals.append(Goal(text, None, "not measured"))
    if median_floor is not None:
        put_cpu = median_floor["cpu"] / files * 1000
        floor_text = "" if median_healthz is None else (
            f"; one GET /healthz {median_healthz['cpu'] / files * 1000:.2f} ms (the PUT "
            f"{put_cpu / max(median_healthz['cpu'] / files * 1000, 1e-9):.1f}x that)")
        rep.notes.append(f"server CPU per request: one-file PUT {put_cpu:.2f} ms{floor_text}; upload-data "
                         + ("n/a" if median_ours is None else f"{median_ours['cpu'] / files * 1000:.2f} ms")
                         + " a file. CPU per request is the figure least changed by other load on the machine.")
    rep.notes.append("vs peer / vs floor: ours files/s divided by theirs (>1: ours is faster). The floor is "
                     "the files API driven by the simplest parallel client; upload-data also lists the "
                     "dataset, hashes every file and checks every stored md5. /healthz: as many requests "
                     "as files, answered from the readiness cache: what any one request costs the server.")
    rep.notes.append("server CPU: user+system seconds of the server's whole process tree during the upload "
                     "(MLflow: its 4 uvicorn workers and their parent); an idle server also uses a little")
    rep.notes.append(machine)
    for name, cell in (("ours", median_ours), ("floor", median_floor), ("healthz", median_healthz),
                       ("mlflow", median_peer)):
        if cell is not None:
            rep.notes.append(f"{name}: times {', '.join(f'{t:.2f}' for t in cell['times'])} s")  # type: ignore
    rep.figures = {"files": files, "file_size": FILE_SIZE, "ours": ours, "mlflow": peer}
    return rep


def main(argv: list[str] | None = None) -> int:
    """Run the dataset benchmark (or, with --worker, one side's client) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="uploads of each kind; the median is shown (default 3)")
    parser.add_argument("--files", type=int, default=FILES, help=f"files in the dataset (default {FILES:,})")
    parser.add_argument("--no-peer", action="store_true", help="skip MLflow (ours and the floor only)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, rest = args.worker[0], args.worker[1:]
        workers = {"floor": worker_floor, "healthz": worker_healthz, "mlflow": worker_mlflow}
        report(workers[kind](*rest))
        return 0
    exit_on_sigterm()
    machine = MachineLoad()
    peers = None if args.no_peer else _venvs.peers_venv()
    versions = {"ours": _venvs.ours_versions().get("brevettiai", "?"),
                "mlflow": peers.versions.get("mlflow", "?") if peers else "-"}
    with temp_dir("bench-dataset-") as tmp:
        folder = tmp / "images"
        md5s = make_folder(folder, args.files)
        ours: dict | str
        peer: dict | str
        try:
            ours = measure_ours(tmp, folder, md5s, args.repeats)
        except BenchError as exc:
            ours = str(exc)
        if peers is None:
            peer = "skipped (--no-peer)"
        elif peers.python is None:
            peer = peers.note or "not installed"
        else:
            try:
                peer = measure_mlflow(peers.python, tmp, folder, md5s, args.repeats)
            except BenchError as exc:
                peer = str(exc)
    return finish_reports(
        "platform_dataset",
        [build_report(ours, peer, versions, args.repeats, args.files, machine.note())],
        ours if isinstance(ours, str) else "",
    )


if __name__ == "__main__":
    sys.exit(main())
