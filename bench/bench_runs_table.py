"""The runs table with 10,000 runs: a filter on one setting and one metric, sorted by a metric.

10,000 models (three model types, nested settings, tags), their settings rows (50,000) and their
metric summaries (an output metric and three progress series each: 40,000 rows) are inserted straight
into the database, as the server would have written them,
then the same listing is asked for in three ways:

1. the listing service in-process (`brevettiai.server.listing.list_runs`: the SQL for the count and
   the page of 50, and building the rows), median of 30;
2. ``GET /api/models?filter=...&sort=...&columns=...&limit=50`` on a real server process (median of 30);
3. the models page ``GET /models?filter=...&sort=...`` (login cookie), median of 30.

Filter: ``settings.training.epochs > 50 and metrics.test_accuracy >= 0.8``; sort: ``metrics.test_accuracy
desc``; columns: two settings, the output metric and a series minimum. On SQLite (a file) and on
PostgreSQL (a throwaway cluster, started as tests/services.py does; skipped with the reason when
PostgreSQL is not installed).

Goal: <= 50 ms server time for the API request, on each database: the request's time at the client
(wall clock), and the CPU time the server spent on it (its process tree, and on PostgreSQL the
database's processes too), which other work on a shared machine does not inflate as much.

Peer: MLflow's ``MlflowClient.search_runs`` (SQLite store, in-process like our first row) on the same
10,000 runs logged through its client, with the equivalent filter and sort (epochs also as a metric:
MLflow compares params only with =, !=, LIKE); needs bench/.venvs/peers (``python bench/_venvs.py``, from
PyPI), else the table says why it is missing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import time
import types
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

import _venvs  # noqa: E402
from _common import RESULT_MARK, BenchError, report, run_python  # noqa: E402
from _servers import (  # noqa: E402
    Goal,
    MachineLoad,
    OurServer,
    Report,
    cpu_seconds,
    exit_on_sigterm,
    finish_reports,
    fmt_ms,
    process_tree,
    temp_dir,
)

GOAL = 0.050
RUNS = 10_000
REPEAT = 30
FILTER = "settings.training.epochs > 50 and metrics.test_accuracy >= 0.8"
SORT = "metrics.test_accuracy desc"
COLUMNS = "settings.training.epochs,settings.training.optimizer,metrics.test_accuracy,metrics.loss.min"
# MLflow compares params only with =, !=, LIKE, ILIKE: the numeric setting is logged as a metric there too.
MLFLOW_FILTER = "metrics.epochs > 50 and metrics.test_accuracy >= 0.8"


class OurServerOn(OurServer):
    """Our server on a given database URL."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        super().__init__(data_dir)
        self.database_url = database_url

    def command(self) -> tuple[list[str], dict[str, str]]:
        command, env = super().command()
        return command + ["--database-url", self.database_url], env


def generate(runs: int, seed: int = 7) -> list[dict[str, Any]]:
    """The runs: name, status, settings, tags (indexes), output accuracy and three series summaries."""
    rng = random.Random(seed)
    out = []
    for i in range(runs):
        epochs, accuracy = rng.randint(1, 100), rng.random()
        run = {"name": f"run {i:05d}", "epochs": epochs, "accuracy": accuracy,
               "status": rng.choice(["completed"] * 6 + ["failed", "killed", "running", "created"]),
               "type": rng.randrange(3), "settings": {
                   "training": {"epochs": epochs, "learning_rate": rng.choice([1e-3, 1e-2, 0.1]),
                                "optimizer": rng.choice(["adam", "sgd", "rmsprop"])},
                   "data": {"n_features": rng.choice([8, 16, 32]), "augment": rng.random() < 0.5}},
               "tags": rng.sample(range(3), rng.randint(0, 2)), "series": {}}
        for name in ("loss", "accuracy", "val_loss"):
            low, last = rng.random(), rng.random()
            run["series"][name] = {"last": last, "min": min(low, last), "max": max(low, last) + 0.1}
        out.append(run)
    return out


def fill(database_url: str, runs: int) -> int:
    """Migrate the database and insert `runs` models with metric summaries; returns how many match FILTER."""
    from sqlalchemy import insert

    from brevettiai.server.db import models as db
    from brevettiai.server.db.migrate import upgrade
    from brevettiai.server.db.session import Database
    from brevettiai.server.run_summary import setting_rows

    database = Database(database_url)
    upgrade(database.engine)
    start = datetime.datetime(2026, 1, 1)
    types_ = [{"id": str(uuid.uuid4()), "name": f"type {i}", "kind": "model", "settings_schema": {"fields": [
        {"model": "training.epochs", "type": "number"}, {"model": "training.optimizer", "type": "select"}]},
        "defaults": {}, "short_description": "", "created": start} for i in range(3)]
    tags = [{"id": str(uuid.uuid4()), "name": name, "created": start} for name in ("vials", "bottles", "caps")]
    jobs, metrics, matching = [], [], 0
    for i, run in enumerate(generate(runs)):
        job_id = str(uuid.uuid4())
        matching += run["epochs"] > 50 and run["accuracy"] >= 0.8
        jobs.append({"id": job_id, "kind": "model", "name": run["name"], "status": run["status"],
                     "created": start + datetime.timedelta(minutes=i), "model_type_id": types_[run["type"]]["id"],
                     "parent_id": None, "settings": run["settings"], "dataset_ids": [],
                     "tag_ids": [tags[t]["id"] for t in run["tags"]], "stop_requested": False,
                     "run_id": uuid.uuid4().hex})
        metrics.append({"job_id": job_id, "name": "test_accuracy", "value": run["accuracy"],
                        "output": run["accuracy"], "has_output": True, "count": 0})
        for name, series in run["series"].items():
            metrics.append({"job_id": job_id, "name": name, "value": series["last"], "last": series["last"],
                            "last_step": 99, "min": series["min"], "max": series["max"], "count": 100,
                            "has_output": False})
    with database.write() as session:
        session.execute(insert(db.ModelType), types_)
        session.execute(insert(db.Tag), tags)
        for chunk in range(0, len(jobs), 2000):
            session.execute(insert(db.Job), jobs[chunk:chunk + 2000])
        for chunk in range(0, len(metrics), 5000):
            session.execute(insert(db.RunMetric), metrics[chunk:chunk + 5000])
        settings = [row for job in jobs for row in setting_rows(job["id"], job["settings"])]
        for chunk in range(0, len(settings), 5000):
            session.execute(insert(db.RunSetting), settings[chunk:chunk + 5000])
    with database.engine.begin() as connection:  # what the planner knows after a day of use
        connection.exec_driver_sql("ANALYZE")
    database.dispose()
    return matching


def mlflow_worker(folder: str, runs: int) -> None:
    """In the peers venv: the same runs in MLflow (SQLite store), then ``search_runs`` with the equivalent
    filter and sort (epochs also logged as a metric: MLflow cannot compare params with > or <)."""
    import logging

    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    experiment = client.create_experiment("bench")
    begin, now, matching = time.perf_counter(), int(time.time() * 1000), 0
    for run in generate(runs):
        matching += run["epochs"] > 50 and run["accuracy"] >= 0.8
        run_id = client.create_run(experiment, run_name=run["name"]).info.run_id
        metrics = [Metric("test_accuracy", run["accuracy"], now, 0), Metric("epochs", run["epochs"], now, 0)]
        metrics += [Metric(name, series["last"], now, 99) for name, series in run["series"].items()]
        client.log_batch(run_id, metrics=metrics, params=[
            Param("epochs", str(run["epochs"])), Param("optimizer", run["settings"]["training"]["optimizer"])])
    fill_seconds = time.perf_counter() - begin
    times = []
    for _ in range(REPEAT + 3):
        start = time.perf_counter()
        found = client.search_runs([experiment], filter_string=MLFLOW_FILTER, order_by=["metrics.test_accuracy DESC"],
                                   max_results=50)
        times.append(time.perf_counter() - start)
    if len(found) != min(50, matching):
        raise SystemExit(f"MLflow found {len(found)} runs on the first page; {min(50, matching)} expected")
    report({"search": statistics.median(times[3:]), "fill_seconds": fill_seconds, "matching": matching})


def in_process(database_url: str, expected: int, database_pids: list[int]) -> tuple[float, float]:
    """Median seconds of `list_runs` for the filter, sort and columns, and its CPU seconds per call
    (this thread's, plus the database processes')."""
    from brevettiai.server import listing
    from brevettiai.server.db.session import Database

    database = Database(database_url)
    ctx: Any = types.SimpleNamespace(db=database)
    times, cpu = [], []
    for _ in range(REPEAT + 3):
        begin, begin_cpu, begin_db = time.perf_counter(), time.thread_time(), cpu_seconds(database_pids)
        page = listing.list_runs(ctx, "model", filter=FILTER, sort=SORT, columns=COLUMNS, limit=50)
        times.append(time.perf_counter() - begin)
        cpu.append(time.thread_time() - begin_cpu + cpu_seconds(database_pids) - begin_db)
    database.dispose()
    if page.total != expected:
        raise BenchError(f"the listing found {page.total} runs; {expected} match")
    return statistics.median(times[3:]), statistics.mean(cpu[3:])


def over_http(server: OurServer, token: str, expected: int, database_pids: list[int]) -> dict[str, float]:
    """Median seconds of the API request and of the models page, and the server's (and database's) CPU
    seconds per API request."""
    import http.client

    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    query = urllib.parse.urlencode({"filter": FILTER, "sort": SORT, "columns": COLUMNS, "limit": 50})
    page_query = urllib.parse.urlencode({"filter": FILTER, "sort": SORT})

    def get(path: str, headers: dict[str, str]) -> tuple[float, bytes]:
        begin = time.perf_counter()
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        elapsed = time.perf_counter() - begin
        if answer.status != 200:
            raise BenchError(f"GET {path} answered {answer.status}: {data[:300]!r}")
        return elapsed, data

    bearer = {"Authorization": f"Bearer {token}"}
    api = [get(f"/api/models?{query}", bearer) for _ in range(3)]
    pids = process_tree(server.pid) + database_pids
    begin_cpu = cpu_seconds(pids)
    api += [get(f"/api/models?{query}", bearer) for _ in range(REPEAT)]
    api_cpu = (cpu_seconds(pids) - begin_cpu) / REPEAT
    total = json.loads(api[-1][1])["total"]
    if total != expected:
        raise BenchError(f"the API found {total} runs; {expected} match")
    cookie = {"Cookie": f"brevettiai_session={token}"}
    pages = [get(f"/models?{page_query}", cookie) for _ in range(REPEAT + 3)]
    connection.close()
    return {"api": statistics.median(t for t, _ in api[3:]), "api_cpu": api_cpu,
            "page": statistics.median(t for t, _ in pages[3:])}


def measure(tmp: Path, database_url: str, runs: int, database_pid: int | None = None) -> dict[str, Any]:
    """Fill the database, then every figure."""
    begin = time.perf_counter()
    expected = fill(database_url, runs)
    figures: dict[str, Any] = {"fill_seconds": time.perf_counter() - begin, "matching": expected}
    database_pids = process_tree(database_pid) if database_pid else []
    figures["service"], figures["service_cpu"] = in_process(database_url, expected, database_pids)
    with OurServerOn(tmp, database_url) as server:
        token = server.admin_token()
        database_pids = process_tree(database_pid) if database_pid else []
        figures.update(over_http(server, token, expected, database_pids))
    return figures


def _postmaster_pid(cluster: Any) -> int:
    with open(Path(cluster.folder) / "data" / "postmaster.pid") as handle:
        return int(handle.readline())


def measure_mlflow(folder: Path, runs: int) -> dict[str, Any] | str:
    """The peer's figures from a worker in bench/.venvs/peers, or why there are none."""
    peers = _venvs.peers_venv()
    if not peers.ok:
        return f"bench/.venvs/peers is not usable ({peers.note})"
    folder.mkdir(parents=True, exist_ok=True)
    try:  # logging 10,000 runs through MLflow's client takes minutes
        out = run_python(peers.python, [str(Path(__file__)), "--mlflow-worker", str(folder), "--runs", str(runs)],
                         timeout=3600)
    except BenchError as exc:
        return str(exc)
    lines = [line for line in out.splitlines() if line.startswith(RESULT_MARK)]
    if not lines:
        return "the MLflow worker printed no result"
    result = json.loads(lines[-1][len(RESULT_MARK):])
    return {**result, "version": peers.versions.get("mlflow", "?")}


def postgres_url() -> tuple[Any, str | None, int | None, str]:
    """A running throwaway cluster (a context to exit), a new database's URL and the postmaster's pid, or
    the reason there is none."""
    from services import postgres_missing, running_postgres

    missing = postgres_missing()
    if missing:
        return None, None, None, missing
    context = running_postgres()
    cluster = context.__enter__()
    return context, cluster.new_database(), _postmaster_pid(cluster), ""


def report_for(database: str, figures: dict[str, Any] | str, runs: int) -> Report:
    rep = Report(f"Runs table, {runs:,} runs on {database}: filter on a setting and a metric, sorted by a metric",
                 ["measure", "ours"])
    text = f"API list request <= {GOAL * 1e3:.0f} ms, wall clock at the client ({database})"
    cpu_text = f"API list request <= {GOAL * 1e3:.0f} ms of server CPU ({database})"
    if isinstance(figures, str):
        rep.goals += [Goal(text, None, "not measured"), Goal(cpu_text, None, "not measured")]
        rep.notes.append(f"not measured: {figures}")
        return rep
    rep.rows = [
        ["runs matching the filter (of the page of 50 returned)", f"{figures['matching']:,}"],
        ["inserting the runs and summaries (setup)", f"{figures['fill_seconds']:.1f} s"],
        ["listing service in-process: count + page of 50 + columns (median of 30)", fmt_ms(figures["service"])],
        ["  its CPU time per call (this process + database processes, mean)", fmt_ms(figures["service_cpu"])],
        ["GET /api/models?filter&sort&columns&limit=50 (median of 30)", fmt_ms(figures["api"])],
        ["  server CPU time per request (server + database processes, mean)", fmt_ms(figures["api_cpu"])],
        ["GET /models?filter&sort, the page (median of 30)", fmt_ms(figures["page"])],
    ]
    rep.goals.append(Goal(text, figures["api"] <= GOAL, fmt_ms(figures["api"])))
    rep.goals.append(Goal(cpu_text, figures["api_cpu"] <= GOAL, fmt_ms(figures["api_cpu"])))
    rep.figures = figures
    return rep


def main(argv: list[str] | None = None) -> int:
    """Run on SQLite and PostgreSQL and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs to insert (default {RUNS:,})")
    parser.add_argument("--no-postgres", action="store_true", help="only SQLite")
    parser.add_argument("--no-peer", action="store_true", help="without MLflow")
    parser.add_argument("--mlflow-worker", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mlflow_worker:
        mlflow_worker(args.mlflow_worker, args.runs)
        return 0
    exit_on_sigterm()
    machine = MachineLoad()
    reports, error = [], ""
    with temp_dir("bench-runs-") as tmp:
        try:
            sqlite: dict[str, Any] | str = measure(tmp / "sqlite", f"sqlite:///{tmp}/runs.db", args.runs)
        except BenchError as exc:
            sqlite = error = str(exc)
        reports.append(report_for("SQLite", sqlite, args.runs))
        if not args.no_postgres:
            cluster, url, postmaster, missing = postgres_url()
            try:
                pg: dict[str, Any] | str = measure(tmp / "pg", url, args.runs, postmaster) if url else missing
            except BenchError as exc:
                pg = str(exc)
            finally:
                if cluster is not None:
                    cluster.__exit__(None, None, None)
            reports.append(report_for("PostgreSQL", pg, args.runs))
        peer = measure_mlflow(tmp / "mlflow", args.runs) if not args.no_peer else "not asked for (--no-peer)"
    if isinstance(peer, dict):
        reports[0].rows.append(["peer: MLflow search_runs, same runs, filter and sort, first 50 (median of 30)",
                                fmt_ms(peer["search"])])
        reports[0].notes.append(f"peer: MLflow {peer['version']} on SQLite, filter {MLFLOW_FILTER!r}, order by "
                                f"metrics.test_accuracy DESC, max_results=50 ({peer['matching']:,} match; "
                                f"logging the runs took {peer['fill_seconds']:.0f} s); in-process, no HTTP")
    else:
        reports[-1].notes.append(f"peer: MLflow search_runs not measured: {peer}")
    reports[-1].notes.append(machine.note())
    return finish_reports("runs_table", reports, error)


if __name__ == "__main__":
    sys.exit(main())
