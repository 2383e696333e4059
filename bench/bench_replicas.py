"""Metric ingestion with one server vs two replicas on one PostgreSQL database.

A throwaway PostgreSQL cluster (as `make cluster` starts it), one model made with the admin API, then
8 keep-alive clients posting 1-point metric batches (``POST /api/jobs/<id>/metrics``, a new batch id
per request) for `--seconds`, from two load generators of 4 clients each: first both against server A
alone, then one against A and one against B (what a round-robin load balancer does), B started on
the same database. Prints requests/s, p50/p95,
each side's server CPU, and the ratio 2 replicas / 1. The load generator is the Python one of
`bench_platform_metrics.py` (or wrk when installed), on the same machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

from _common import BenchError  # noqa: E402
from _servers import (  # noqa: E402
    Goal,
    MachineLoad,
    OurServer,
    Report,
    cpu_seconds,
    exit_on_sigterm,
    finish_reports,
    fmt_ms,
    fmt_rate,
    process_tree,
    temp_dir,
)
from bench_platform_metrics import load, ours_metrics_endpoint  # noqa: E402

GOAL_RATIO = 1.7
CLIENTS = 8


class Replica(OurServer):
    """Our server on a shared PostgreSQL database, with the secret key every replica shares."""

    def __init__(self, data_dir: Path, database_url: str, name: str) -> None:
        self.name = name
        super().__init__(data_dir)
        self.database_url = database_url

    def command(self) -> tuple[list[str], dict[str, str]]:
        command, env = super().command()
        env["BREVETTI_AI_SECRET_KEY"] = "bench-replicas-shared-secret-key"
        return [*command, "--database-url", self.database_url], env


def postgres_pids(data: Path | None) -> list[int]:
    """The PostgreSQL server's processes (the postmaster's pid is the first line of postmaster.pid)."""
    try:
        return process_tree(int((data / "postmaster.pid").read_text().split()[0])) if data else []
    except (OSError, ValueError, IndexError):
        return []


def measure_split(servers: list[Replica], job_id: str, key: str, seconds: float, tmp: Path,
                  database: list[int]) -> dict[str, Any]:
    """CLIENTS clients split evenly over the servers at the same time; the summed figures."""
    server_pids = sorted({pid for server in servers for pid in process_tree(server.pid)})
    database_cpu, server_cpu, started = cpu_seconds(database), cpu_seconds(server_pids), time.monotonic()
    results: list[dict[str, Any] | BaseException] = [BenchError("not run")] * len(servers)
    share = CLIENTS // len(servers)

    def run(index: int) -> None:
        try:
            results[index] = load(servers[index].url, ours_metrics_endpoint(job_id, key), share, seconds,
                                  servers[index].pid, tmp)
        except BaseException as exc:  # noqa: BLE001 - reported in the table
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise BenchError(str(result))
    figures = [r for r in results if isinstance(r, dict)]
    elapsed = time.monotonic() - started
    return {"rate": sum(f["rate"] for f in figures), "p50": max(f["p50"] for f in figures),
            "p95": max(f["p95"] for f in figures), "errors": sum(f["errors"] for f in figures),
            "server_cpu": (cpu_seconds(server_pids) - server_cpu) / elapsed,  # from the generators' start
            "database_cpu": (cpu_seconds(database) - database_cpu) / elapsed, "generator": figures[0]["generator"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement (default 10)")
    parser.add_argument("--durable", action="store_true",
                        help="PostgreSQL with synchronous_commit on (default off: measure the servers, not the disk)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    from cluster import Cluster, start_postgres

    rep = Report(f"Metric ingestion, 1-point batches, {CLIENTS} clients: 1 vs 2 replicas on PostgreSQL",
                 ["setup", "req/s", "p50", "p95", "errors", "servers' CPU (cores)", "PostgreSQL CPU", "ratio"])
    error = ""
    with temp_dir("bench-replicas-") as tmp:
        cluster = Cluster(tmp)
        servers: list[Replica] = []
        try:
            database_url = start_postgres(cluster, "" if args.durable else "-c synchronous_commit=off")
            machine = MachineLoad()
            servers.append(Replica(tmp / "a", database_url, "replica-a").start())
            token = servers[0].admin_token()
            job_id, key = servers[0].new_job(token, "bench-replicas")
            load(servers[0].url, ours_metrics_endpoint(job_id, key), CLIENTS, 1.0, servers[0].pid, tmp)  # warm-up
            # Two load generators in both setups (both at A here), so that only the servers differ.
            database = postgres_pids(cluster.postgres_data)
            one = measure_split([servers[0], servers[0]], job_id, key, args.seconds, tmp, database)
            servers.append(Replica(tmp / "b", database_url, "replica-b").start())
            load(servers[1].url, ours_metrics_endpoint(job_id, key), CLIENTS, 1.0, servers[1].pid, tmp)
            two = measure_split(servers, job_id, key, args.seconds, tmp, database)
            factor = two["rate"] / one["rate"] if one["rate"] else 0.0
            for label, figures, shown in (("1 server", one, "1.0x"), ("2 replicas (4 + 4 clients)", two,
                                                                        f"{factor:.2f}x")):
                rep.rows.append([label, fmt_rate(figures["rate"], "req/s"), fmt_ms(figures["p50"]),
                                 fmt_ms(figures["p95"]), str(figures["errors"]), f"{figures['server_cpu']:.2f}",
                                 f"{figures['database_cpu']:.2f}", shown])
            rep.goals.append(Goal(f"2 replicas >= {GOAL_RATIO}x the requests/s of 1", factor >= GOAL_RATIO,
                                  f"{factor:.2f}x"))
            rep.figures = {"one": one, "two": two, "ratio": factor}
            rep.notes.append(f"load generator: {one['generator']}, on the same {os.cpu_count()} cores as the servers "
                             f"and PostgreSQL (PostgreSQL's CPU is in the table, and counts as other work below)")
            rep.notes.append(machine.note())
            rep.notes.append("PostgreSQL: synchronous_commit " + ("on (every commit waits for the disk)" if args.durable
                                                                   else "off (commits do not wait for the disk)"))
            rep.notes.append("on 2 cores the replicas, PostgreSQL and the Python load generator share the CPU (with "
                             "whatever else runs): when the servers' and PostgreSQL's cores stay well under what is "
                             "free, the generator is the limit, and a second replica on the same cores cannot add "
                             "requests; the ratio means something with free cores for each replica (or machines)")
        except BenchError as exc:
            error = str(exc)
        finally:
            for server in servers:
                server.stop()
            cluster.stop()
    return finish_reports("bench_replicas", [rep], error)


if __name__ == "__main__":
    sys.exit(main())
