"""Metric ingestion: our platform server vs an MLflow tracking server, over HTTP and from a training loop.

1. HTTP: requests/s and p50/p95 latency at 1, 8 and 32 concurrent keep-alive clients (wrk, one
   thread, a Lua script making each body unique), each cell bounded in time and request count.
   Ours: ``POST /api/jobs/<id>/metrics`` with one point of one value (job key of a model created with
   the admin API). MLflow: ``POST /api/2.0/mlflow/runs/log-metric`` with one metric. Both servers'
   health endpoints are measured the same way, for reference.
2. Training loop: the amortised cost of one call and the delivery rate (points stored per second,
   from the first call until everything is stored), checked against what the server then holds.
   Ours: ``job.log_metrics(step, loss=x)`` in a real ``Job.init(job_id, api_key, host)`` job, then
   ``flush_metrics()`` of the job's platform session. MLflow: ``mlflow.log_metric`` (synchronous and asynchronous)
   and ``MlflowClient.log_batch`` with 1000 metrics per call.

The SDK sides run as workers (``--worker``) in their own interpreters; the servers are started here
and always killed at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
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
    bench_env,
    busy_seconds,
    cpu_seconds,
    exit_on_sigterm,
    finish_reports,
    fmt_ms,
    fmt_rate,
    fmt_us,
    process_tree,
    ratio,
    temp_dir,
)

SCRIPT = Path(__file__).resolve()
CLIENTS = (1, 8, 32)
GOAL_OF_HEALTHZ, GOAL_CLIENTS = 0.90, (8, 32)  # metrics req/s at least this share of /healthz's
GOAL_PER_CALL, GOAL_DELIVERY = 20e-6, 250_000.0
MAX_RATE = 50_000  # requests/s: caps each load cell at MAX_RATE * seconds requests
_CELLS = itertools.count(1)

LUA = """
local counter = 0
local limit = %(limit)d
local headers = %(headers)s
request = function()
  counter = counter + 1
  local body = %(body)s
  return wrk.format("%(method)s", "%(path)s", headers, body)
end
response = function(status, hdrs, content)
  if counter >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


# Load generation ------------------------------------------------------------------------------------


class Endpoint:
    """One request kind: method, path, headers, and a body template whose {n} becomes a number unique per request."""

    def __init__(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        offset: int = 0,
    ) -> None:
        self.method, self.path, self.headers, self.body, self.offset = (
            method,
            path,
            headers or {},
            body,
            offset,
        )

    def lua(self, limit: int, base: int) -> str:
        """The wrk script: the body built per request from the template (Lua long strings around its parts)."""
        headers = "{" + ", ".join(f'["{k}"] = "{v}"' for k, v in self.headers.items()) + "}"
        body = "nil"
        if self.body is not None:
            number = f"tostring(counter + {self.offset + base})"
            body = f" .. {number} .. ".join(f"[==[{part}]==]" for part in self.body.split("{n}"))
        return LUA % {
            "limit": limit,
            "headers": headers,
            "body": body,
            "method": self.method,
            "path": self.path,
        }


def ours_metrics_endpoint(job_id: str, key: str) -> Endpoint:
    """``POST /api/jobs/<id>/metrics``: one point with one value, a new batch id per request."""
    tag = uuid.uuid4().hex[:12]  # batch ids never repeat across cells (a repeated id is not stored again)
    body = '{"batchId":"' + tag + '-{n}","points":[{"step":{n},"time":1700000000.5,"values":{"loss":0.5}}]}'
    return Endpoint(
        "POST",
        f"/api/jobs/{job_id}/metrics",
        {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        body,
    )


def mlflow_metric_endpoint(run_id: str, offset: int) -> Endpoint:
    """``POST /api/2.0/mlflow/runs/log-metric``: one metric, a new step per request."""
    body = '{"run_id":"' + run_id + '","key":"loss","value":0.5,"timestamp":1700000000000,"step":{n}}'
    return Endpoint(
        "POST", "/api/2.0/mlflow/runs/log-metric", {"Content-Type": "application/json"}, body, offset
    )


def load(
    url: str, endpoint: Endpoint, clients: int, seconds: float, server_pid: int, tmp: Path
) -> dict[str, Any]:
    """Keep `clients` connections busy for `seconds` (at most MAX_RATE * seconds requests); the figures."""
    limit = int(MAX_RATE * seconds)
    base = next(_CELLS) * 100_000_000  # numbers in bodies never repeat across cells
    pids = process_tree(server_pid)
    cpu_before, usage_before, busy_before, start = (
        cpu_seconds(pids),
        resource.getrusage(resource.RUSAGE_CHILDREN),
        busy_seconds(),
        time.time(),
    )
    if shutil.which("wrk"):
        script = tmp / f"load-{uuid.uuid4().hex[:8]}.lua"
        script.write_text(endpoint.lua(limit, base))
        command = [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"wrk did not end within {seconds + 60:.0f} s") from exc
        found = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not found:
            raise BenchError(f"wrk failed: {(proc.stderr or proc.stdout).strip()[-200:]}")
        count, micros, p50, p95, bad_status, socket_errors = found[-1].split()[1:]
        figures = {
            "requests": int(count),
            "seconds": int(micros) / 1e6,
            "p50": float(p50) / 1e6,
            "p95": float(p95) / 1e6,
            "errors": int(bad_status) + int(socket_errors),
            "generator": "wrk",
        }
    else:
        figures = python_load(url, endpoint, clients, seconds, limit, base, pids)
    elapsed = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(pids) - cpu_before
    generator_cpu = usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime
    figures["rate"] = figures["requests"] / figures["seconds"] if figures["seconds"] else 0.0
    figures.setdefault("server_cpu", server_cpu / elapsed)
    figures["generator_cpu"] = generator_cpu / elapsed
    # Cores used meanwhile by everything else on the machine (this bench's own driver is idle then).
    figures["other_cpu"] = max(0.0, busy_seconds() - busy_before - server_cpu - generator_cpu) / elapsed
    figures["capped"] = figures["requests"] >= limit
    return figures


def python_load(
    url: str, endpoint: Endpoint, clients: int, seconds: float, limit: int, base: int, pids: list[int]
) -> dict[str, Any]:
    """The load generator when wrk is not installed: processes of threads, each with a keep-alive httpx client.

    The processes start, import and connect, say they are ready, and all start on one go; the
    server's CPU is counted from that go on.
    """
    processes = min(clients, 4)
    spec = {
        "url": url,
        "method": endpoint.method,
        "path": endpoint.path,
        "headers": endpoint.headers,
        "body": endpoint.body,
        "seconds": seconds,
        "limit": max(1, limit // processes),
    }
    workers = []
    try:
        for i in range(processes):
            threads = clients // processes + (1 if i < clients % processes else 0)
            args = json.dumps({**spec, "threads": threads, "offset": base + endpoint.offset + i * 10_000_000})
            command = [str(_venvs.ours_python()), str(SCRIPT), "--worker", "load", args]
            workers.append(
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=bench_env()
                )
            )
        for worker in workers:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise BenchError("a load generator process did not start")
        cpu_before, start = cpu_seconds(pids), time.time()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [
            json.loads(worker.communicate(timeout=seconds + 60)[0].strip().splitlines()[-1])
            for worker in workers
        ]
        server_cpu = (cpu_seconds(pids) - cpu_before) / (time.time() - start)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
    latencies = sorted(value for result in results for value in result["latencies"])
    elapsed = max(result["elapsed"] for result in results)

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {
        "requests": sum(r["requests"] for r in results),
        "seconds": elapsed,
        "p50": pick(0.5),
        "p95": pick(0.95),
        "errors": sum(r["errors"] for r in results),
        "generator": f"python ({processes} processes of threads)",
        "server_cpu": server_cpu,
    }


def worker_load(spec_json: str) -> None:
    """One process of the Python load generator: `threads` keep-alive clients until time or count runs out."""
    import threading

    import httpx

    spec = json.loads(spec_json)
    lock = threading.Lock()
    state = {"n": spec["offset"], "requests": 0, "errors": 0}
    latencies: list[float] = []
    go = threading.Event()
    window = {"start": 0.0, "end": 0.0}

    def client() -> None:
        with httpx.Client(base_url=spec["url"], headers=spec["headers"], timeout=10) as http:
            go.wait()
            while time.perf_counter() < window["end"]:
                with lock:
                    if state["requests"] >= spec["limit"]:
                        return
                    state["n"] += 1
                    state["requests"] += 1
                    n = state["n"]
                body = spec["body"].replace("{n}", str(n)).encode() if spec["body"] else None
                start = time.perf_counter()
                try:
                    ok = http.request(spec["method"], spec["path"], content=body).status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                if not ok:
                    with lock:
                        state["errors"] += 1

    threads = [threading.Thread(target=client) for _ in range(spec["threads"])]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    sys.stdin.readline()
    window["start"] = time.perf_counter()
    window["end"] = window["start"] + spec["seconds"]
    go.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - window["start"]
    print(
        json.dumps(
            {
                "requests": state["requests"],
                "errors": state["errors"],
                "latencies": latencies,
                "elapsed": elapsed,
            }
        )
    )


def measure_http(
    url: str, endpoints: dict[str, Endpoint], seconds: float, server_pid: int, tmp: Path
) -> dict[str, dict[int, dict[str, Any]]]:
    """Each endpoint at each client count (after a 1 s warm-up at 8 clients)."""
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for name, endpoint in endpoints.items():
        load(url, endpoint, 8, 1.0, server_pid, tmp)
        results[name] = {c: load(url, endpoint, c, seconds, server_pid, tmp) for c in CLIENTS}
    return results


# Training-loop workers -------------------------------------------------------------------------------


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def worker_ours_sdk(url: str, job_id: str, key: str, calls: int) -> dict[str, Any]:
    """`job.log_metrics(step, loss=x)` `calls` times in a real platform job, then flush_metrics()."""
    from brevettiai import Job

    warnings = _Count()
    logging.getLogger("brevettiai.platform.metrics").addHandler(warnings)
    job = Job.init(job_id=job_id, api_key=key, host=url, argv=[])
    # the backend's platform session ("link" in later versions)
    session = getattr(job.backend, "session", None) or getattr(job.backend, "link", None)
    if session is None:
        raise SystemExit("Job.init(job_id, api_key, host) made no platform session")
    losses = [1.0 / (i + 1) for i in range(calls)]

    def no_op(step: int, **values: float) -> None:
        """The bare loop: a call that does nothing."""

    start = time.perf_counter()
    for step in range(calls):
        no_op(step, loss=losses[step])
    bare_loop = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="bench-offline-") as folder:  # the floor: no platform
        offline = Job.init(job_dir=folder, argv=[])
        start = time.perf_counter()
        for step in range(calls):
            offline.log_metrics(step, loss=losses[step])
        offline.flush_metrics()
        floor_loop = time.perf_counter() - start
        offline.complete()
    cpu_start, start = time.process_time(), time.perf_counter()
    for step in range(calls):
        job.log_metrics(step, loss=losses[step])
    looped = time.perf_counter()
    flushed = session.flush_metrics()
    end, cpu_end = time.perf_counter(), time.process_time()
    return {
        "calls": calls,
        "floor_loop": floor_loop,
        "bare_loop": bare_loop,
        "loop": looped - start,
        "delivered": end - start,
        "flush": end - looped,
        "loop_cpu": cpu_end - cpu_start,  # the client's CPU (all its threads) for the calls and their delivery
        "flushed": flushed,
        "warnings": warnings.messages[:3],
    }


def worker_mlflow_sdk(url: str, calls: int, async_calls: int, batches: int) -> dict[str, Any]:
    """mlflow.log_metric (sync, then async + flush) and MlflowClient.log_batch(1000 metrics), each in a run."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    mlflow.set_tracking_uri(url)
    client = MlflowClient()
    out: dict[str, Any] = {}

    def stored(run_id: str) -> int:
        return len(client.get_metric_history(run_id, "loss"))

    with mlflow.start_run() as run:  # synchronous: one request per call
        mlflow.log_metric("warmup", 0.0, step=0)
        start = time.perf_counter()
        for step in range(calls):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        out["sync"] = {"calls": calls, "loop": time.perf_counter() - start, "stored": stored(run.info.run_id)}
        out["sync"]["delivered"] = out["sync"]["loop"]
    with mlflow.start_run() as run:  # asynchronous: queued, sent in batches by a thread
        mlflow.log_metric("warmup", 0.0, step=0, synchronous=False)
        mlflow.flush_async_logging()
        start = time.perf_counter()
        for step in range(async_calls):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=False)
        looped = time.perf_counter()
        mlflow.flush_async_logging()
        end = time.perf_counter()
        out["async"] = {
            "calls": async_calls,
            "loop": looped - start,
            "delivered": end - start,
            "stored": stored(run.info.run_id),
        }
    with mlflow.start_run() as run:  # log_batch, 1000 metrics per call (built before the clock starts)
        stamp = int(time.time() * 1000)
        payloads = [
            [Metric("loss", 1.0 / (b * 1000 + j + 1), stamp, b * 1000 + j) for j in range(1000)]
            for b in range(batches)
        ]
        client.log_batch(run.info.run_id, metrics=[Metric("warmup", 0.0, stamp, 0)])
        start = time.perf_counter()
        for metrics in payloads:
            client.log_batch(run.info.run_id, metrics=metrics)
        elapsed = time.perf_counter() - start
        out["batch"] = {
            "calls": batches,
            "points": batches * 1000,
            "loop": elapsed,
            "delivered": elapsed,
            "stored": stored(run.info.run_id),
        }
    return out


# Report ----------------------------------------------------------------------------------------------


def http_report(seconds: float, ours: dict | str, peer: dict | str, versions: dict[str, str]) -> Report:
    """The HTTP table: per endpoint and client count, req/s, p50, p95, CPU, ratio against ours."""
    ours_side = f"brevettiai {versions['ours']} (ours)"
    peer_side = f"mlflow {versions['mlflow']}"
    rep = Report(
        f"Metric ingestion over HTTP, 1 point of 1 value per request ({seconds:g} s per cell, "
        f"keep-alive clients)",
        ["request", "side", "clients", "req/s", "p50", "p95", "server CPU", "others' CPU", "ratio", ""],
    )
    pairs = [
        ("POST /api/jobs/<id>/metrics", ours_side, "metrics", None),
        ("POST /api/2.0/mlflow/runs/log-metric", peer_side, "log-metric", "metrics"),
        ("GET /healthz (reference)", ours_side, "healthz", None),
        ("GET /health (reference)", peer_side, "health", "healthz"),
    ]
    for what, side, key, against in pairs:
        source = ours if side == ours_side else peer
        for clients in CLIENTS:
            if isinstance(source, str):
                rep.rows.append([what, side, str(clients), "n/a", "n/a", "n/a", "", "", "n/a", f"({source})"])
                continue
            cell = source[key][clients]
            base = None if against is None or isinstance(ours, str) else ours[against][clients]
            note = []
            if cell["errors"]:
                note.append(f"{cell['errors']} errors")
            if cell["capped"]:
                note.append("request cap reached")
            rep.rows.append(
                [
                    what,
                    side,
                    str(clients),
                    fmt_rate(cell["rate"], "req/s"),
                    fmt_ms(cell["p50"]),
                    fmt_ms(cell["p95"]),
                    f"{cell['server_cpu']:.0%}",
                    f"{cell['other_cpu']:.0%}",
                    "-" if against is None else ratio(base and base["rate"], cell["rate"], True),
                    f"({', '.join(note)})" if note else "",
                ]
            )
    for clients in GOAL_CLIENTS:
        text = f"ours >= {GOAL_OF_HEALTHZ:.0%} of the server's own /healthz req/s at {clients} clients"
        if not isinstance(ours, dict):
            rep.goals.append(Goal(text, None, "not measured"))
            continue
        cell, floor = ours["metrics"][clients], ours["healthz"][clients]
        share = cell["rate"] / floor["rate"] if floor["rate"] else 0.0
        peer_cell = peer["log-metric"][clients] if isinstance(peer, dict) else None
        rep.goals.append(Goal(
            text, share >= GOAL_OF_HEALTHZ,
            f"{fmt_rate(cell['rate'], 'req/s')}, p50 {fmt_ms(cell['p50'])}",
            peer=f"mlflow log-metric {ratio(cell['rate'], peer_cell and peer_cell['rate'], True)} slower"
            if peer_cell else "",
            floor=f"ours = {share:.0%} of /healthz ({fmt_rate(floor['rate'], 'req/s')})",
        ))
    if isinstance(ours, dict):
        generator = ours["metrics"][8]["generator"]
        cpu = max(c["generator_cpu"] for e in ours.values() for c in e.values())
        rep.notes.append(
            f"load generator: {generator}, at most {cpu:.0%} of one core; server CPU is the server "
            f"process tree's CPU time per second of wall time, others' CPU that of every other process on the machine "
            f"(100% = one core; this machine has {os.cpu_count()} cores)"
        )
    rep.notes.append(
        "MLflow: `mlflow server` defaults (4 uvicorn workers) on a sqlite store, "
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false (no huey job runner)"
    )
    rep.figures = {"ours": ours, "mlflow": peer}
    return rep


def loop_report(ours: dict | str, peer: dict | str, versions: dict[str, str]) -> Report:
    """The training-loop table: cost per call and delivery rate, with what the server stored."""
    ours_side = f"brevettiai {versions['ours']} (ours)"
    peer_side = f"mlflow {versions['mlflow']}"
    rep = Report(
        "Metrics from a training loop: cost per call in the loop, points/s stored on the server",
        [
            "what was measured",
            "side",
            "calls",
            "per call",
            "per point",
            "points/s delivered",
            "stored",
            "ratio/point",
            "ratio delivered",
            "",
        ],
    )
    base_point = base_rate = None
    if isinstance(ours, dict):
        base_point = ours["loop"] / ours["calls"]
        base_rate = ours["calls"] / ours["delivered"]
        rep.rows.append(
            [
                "job.log_metrics(step, loss=x); flush_metrics()",
                ours_side,
                f"{ours['calls']:,}",
                fmt_us(base_point),
                fmt_us(base_point),
                fmt_rate(base_rate, "/s"),
                f"{ours['stored']:,}",
                "-",
                "-",
                "" if ours["flushed"] else "(flush timed out)",
            ]
        )
    else:
        rep.rows.append(
            [
                "job.log_metrics(step, loss=x); flush_metrics()",
                ours_side,
                "n/a",
                "n/a",
                "n/a",
                "n/a",
                "n/a",
                "-",
                "-",
                f"({ours})",
            ]
        )
    if isinstance(ours, dict) and ours.get("floor_loop"):
        for what, key in (("floor: the same loop in a job without a platform (metrics.jsonl)", "floor_loop"),
                          ("(the bare loop, calling a function that does nothing)", "bare_loop")):
            per_call = ours[key] / ours["calls"]
            rep.rows.append(
                [
                    what,
                    "no platform",
                    f"{ours['calls']:,}",
                    fmt_us(per_call),
                    fmt_us(per_call),
                    fmt_rate(1 / per_call, "/s"),
                    "-",
                    "-",
                    f"ours {base_rate * per_call:.0%}" if base_rate else "n/a",
                    "",
                ]
            )
    rows = [
        ("mlflow.log_metric(key, x, step)", "sync", 1),
        ("mlflow.log_metric(..., synchronous=False); flush", "async", 1),
        ("MlflowClient.log_batch(1000 metrics)", "batch", 1000),
    ]
    for what, key, per_call in rows:
        if isinstance(peer, str):
            rep.rows.append([what, peer_side, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", f"({peer})"])
            continue
        cell = peer[key]
        points = cell["calls"] * per_call
        per_point, rate = cell["loop"] / points, points / cell["delivered"]
        rep.rows.append(
            [
                what,
                peer_side,
                f"{cell['calls']:,}",
                fmt_us(cell["loop"] / cell["calls"]),
                fmt_us(per_point),
                fmt_rate(rate, "/s"),
                f"{cell['stored']:,}",
                ratio(base_point, per_point, False),
                ratio(base_rate, rate, True),
                "",
            ]
        )
    if isinstance(ours, dict):
        rep.goals.append(
            Goal(
                f"ours < {GOAL_PER_CALL * 1e6:.0f} µs per log_metrics call, amortised",
                base_point is not None and base_point < GOAL_PER_CALL,
                fmt_us(base_point),
            )
        )
        delivered_all = ours["stored"] == ours["calls"]
        floor_rate = ours["calls"] / ours["floor_loop"] if ours.get("floor_loop") else None
        batch = peer.get("batch") if isinstance(peer, dict) else None
        peer_rate = batch["calls"] * 1000 / batch["delivered"] if batch else None
        rep.goals.append(
            Goal(
                f"ours >= {GOAL_DELIVERY:,.0f} points/s delivered (all stored)",
                bool(base_rate and base_rate >= GOAL_DELIVERY and delivered_all),
                f"{fmt_rate(base_rate, 'points/s')}, {ours['stored']:,} of {ours['calls']:,} stored",
                peer=f"mlflow log_batch {ratio(base_rate, peer_rate, True)} slower" if peer_rate else "",
                floor=f"ours = {base_rate / floor_rate:.0%} of the loop's own rate without a platform "
                f"({fmt_rate(floor_rate, 'points/s')})"
                if floor_rate and base_rate else "",
            )
        )
        rep.notes.append(
            f"ours: the loop took {ours['loop']:.2f} s, flush_metrics() then {ours['flush']:.2f} s; during the worker "
            f"process (imports and Job.init included) the client used {ours['client_cpu']:.0%}, the server "
            f"{ours['server_cpu']:.0%} and other processes {ours['other_cpu']:.0%} of one core"
            + (f"; the loop and its delivery alone cost the client {ours['loop_cpu']:.2f} s of CPU "
               f"({fmt_us(ours['loop_cpu'] / ours['calls'])} per point)" if "loop_cpu" in ours else "")
        )
        for message in ours["warnings"]:
            rep.notes.append(f"ours: the SDK warned during the run: {message}")
    else:
        rep.goals.append(
            Goal(f"ours < {GOAL_PER_CALL * 1e6:.0f} µs per log_metrics call, amortised", None, "not measured")
        )
        rep.goals.append(Goal(f"ours >= {GOAL_DELIVERY:,.0f} points/s delivered", None, "not measured"))
    rep.notes.append(
        "'stored' is counted on the server afterwards (ours: rows in its database, the job checked with the "
        "admin API; MLflow: get_metric_history). log_batch metrics are built before the clock starts."
    )
    rep.figures = {"ours": ours, "mlflow": peer}
    return rep


# Driver ---------------------------------------------------------------------------------------------


def measure_ours(tmp: Path, seconds: float, calls: int) -> tuple[dict | str, dict | str]:
    """Our server: HTTP ingestion, then a training loop in a worker process."""
    http: dict | str
    loop: dict | str
    with OurServer(tmp / "ours") as server:
        token = server.admin_token()
        job_id, key = server.new_job(token, "bench-http")
        endpoints = {"metrics": ours_metrics_endpoint(job_id, key), "healthz": Endpoint("GET", "/healthz")}
        try:
            http = measure_http(server.url, endpoints, seconds, server.pid, tmp)
        except BenchError as exc:
            http = str(exc)
        job_id, key = server.new_job(token, "bench-loop")
        try:
            pids = process_tree(server.pid)
            server_before, busy_before, start = cpu_seconds(pids), busy_seconds(), time.time()
            usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            loop = worker_result(
                _venvs.ours_python(),
                SCRIPT,
                ["--worker", "ours-sdk", server.url, job_id, key, str(calls)],
                bench_env(),
            )
            usage, elapsed = resource.getrusage(resource.RUSAGE_CHILDREN), time.time() - start
            client = usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime
            server_cpu = cpu_seconds(pids) - server_before
            loop["server_cpu"], loop["client_cpu"] = server_cpu / elapsed, client / elapsed
            loop["other_cpu"] = max(0.0, busy_seconds() - busy_before - server_cpu - client) / elapsed
            loop["stored"] = server.metric_points(token, job_id)
        except BenchError as exc:
            loop = str(exc)
    return http, loop


def measure_mlflow(
    python: Path | None, note: str, tmp: Path, seconds: float, calls: int, async_calls: int, batches: int
) -> tuple[dict | str, dict | str]:
    """The MLflow server: HTTP ingestion, then mlflow's client calls in a worker process."""
    if python is None:
        return note or "not installed", note or "not installed"
    http: dict | str
    loop: dict | str
    try:
        with MlflowServer(tmp / "mlflow", python) as server:
            run_id = server.new_run()
            endpoints = {"log-metric": None, "health": Endpoint("GET", "/health")}
            results: dict[str, dict[int, dict[str, Any]]] = {}
            try:
                for offset, name in enumerate(endpoints):
                    endpoint = endpoints[name] or mlflow_metric_endpoint(run_id, offset * 10_000_000)
                    results.update(measure_http(server.url, {name: endpoint}, seconds, server.pid, tmp))
                http = results
            except BenchError as exc:
                http = str(exc)
            try:
                loop = worker_result(
                    python,
                    SCRIPT,
                    ["--worker", "mlflow-sdk", server.url, str(calls), str(async_calls), str(batches)],
                    bench_env(),
                )
            except BenchError as exc:
                loop = str(exc)
    except BenchError as exc:
        return str(exc), str(exc)
    return http, loop


def main(argv: list[str] | None = None) -> int:
    """Run the metrics benchmark (or, with --worker, one side's client part) and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per load cell (default 5)")
    parser.add_argument(
        "--calls", type=int, default=200_000, help="ours: log_metrics calls (default 200,000)"
    )
    parser.add_argument("--mlflow-calls", type=int, default=200, help="mlflow.log_metric calls (default 200)")
    parser.add_argument(
        "--mlflow-async-calls",
        type=int,
        default=1000,
        help="mlflow.log_metric(synchronous=False) calls (default 1000)",
    )
    parser.add_argument("--mlflow-batches", type=int, default=20, help="log_batch calls of 1000 (default 20)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, rest = args.worker[0], args.worker[1:]
        if kind == "load":
            worker_load(rest[0])
        elif kind == "ours-sdk":
            report(worker_ours_sdk(rest[0], rest[1], rest[2], int(rest[3])))
        elif kind == "mlflow-sdk":
            report(worker_mlflow_sdk(rest[0], int(rest[1]), int(rest[2]), int(rest[3])))
        return 0
    exit_on_sigterm()
    machine = MachineLoad()
    peers = _venvs.peers_venv()
    versions = {
        "ours": _venvs.ours_versions().get("brevettiai", "?"),
        "mlflow": peers.versions.get("mlflow", "?"),
    }
    if not shutil.which("wrk"):
        print(
            "wrk is not installed (apt-get install wrk): using the Python load generator, which may be the "
            "bottleneck",
            flush=True,
        )
    with temp_dir("bench-metrics-") as tmp:
        try:
            ours_http, ours_loop = measure_ours(tmp, args.seconds, args.calls)
        except BenchError as exc:
            ours_http = ours_loop = str(exc)
        peer_http, peer_loop = measure_mlflow(
            peers.python,
            peers.note,
            tmp,
            args.seconds,
            args.mlflow_calls,
            args.mlflow_async_calls,
            args.mlflow_batches,
        )
    reports = [
        http_report(args.seconds, ours_http, peer_http, versions),
        loop_report(ours_loop, peer_loop, versions),
    ]
    reports[-1].notes.append(machine.note())
    errors = [e for e in (ours_http, ours_loop) if isinstance(e, str)]
    return finish_reports("platform_metrics", reports, errors[0] if errors else "")


if __name__ == "__main__":
    sys.exit(main())
