"""Metric reads of a long job: 2,000,000 points in one job (two series of 1,000,000 steps), then what
the model page and the metrics API cost to read them.

Measured against our server (SQLite, the default; ``--database-url`` for another database such as
PostgreSQL), the job's points stored through the metrics API in batches of 50,000 points:

1. The model page's first data: ``GET /models/<id>/live.json`` (login cookie), the first one right
   after the last batch is stored, then the median of 5 more; its size; and the first one of a new
   server process on the same data (started after the rest).
2. ``GET /api/models/<id>/metrics``: the whole job, downsampled (median of 5); a zoom to 2,000 steps
   (point for point); one 100,000-point range (``max_points=100000``).
3. Polls: ``live.json?after=<cursor>`` with nothing new (median of 50; ``GET /healthz`` beside it for
   scale) and with 100 new points, and for comparison a poll by time (``?since=<now>``), which reads
   the job's rows.
4. The server's RSS (process tree, sampled every 50 ms) before and at its peak during all of the above.
5. ``GET /healthz`` latency (every 50 ms) while three clients each read the whole job at once.

Peer: MLflow's ``get-metric-history`` on the same points would be the side-by-side, but only when
``bench/.venvs/peers`` already exists (made by ``python bench/_venvs.py``); this benchmark never
creates it, and says so when it is missing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _venvs  # noqa: E402
from _common import BenchError  # noqa: E402
from _servers import (  # noqa: E402
    Goal,
    MachineLoad,
    OurServer,
    Report,
    RssSampler,
    exit_on_sigterm,
    finish_reports,
    fmt_mb,
    fmt_ms,
    temp_dir,
)

GOAL_FIRST, GOAL_POLL, GOAL_RSS = 0.5, 0.005, 250 * 2**20
BATCH = 10_000  # the most points the server takes in one batch
LOGIN_COOKIE = "brevettiai_session"


class OurServerOn(OurServer):
    """Our server on a given database (``--database-url``), or on its default SQLite file."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        super().__init__(data_dir)
        self.database_url = database_url

    def command(self) -> tuple[list[str], dict[str, str]]:
        command, env = super().command()
        return command + (["--database-url", self.database_url] if self.database_url else []), env


class Client:
    """One keep-alive HTTP connection to the server, sending a token as header or as the page's cookie."""

    def __init__(self, url: str, token: str, cookie: bool = False) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        self.headers = {"Cookie": f"{LOGIN_COOKIE}={token}"} if cookie else {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[float, bytes]:
        """Seconds to the whole answer, and the answer; BenchError unless 200."""
        headers = dict(self.headers, **({"Content-Type": "application/json"} if body is not None else {}))
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                answer = self.connection.getresponse()
                data = answer.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed the kept-alive connection after its idle timeout: connect again.
                self.connection.close()
                if attempt == 2:
                    raise BenchError(f"{method} {path}: the server closed the connection") from None
        elapsed = time.perf_counter() - start
        if answer.status != 200:
            raise BenchError(f"{method} {path} answered {answer.status}: {data[:200]!r}")
        return elapsed, data

    def get(self, path: str) -> tuple[float, Any, int]:
        """Seconds, decoded JSON answer and its size in bytes."""
        elapsed, data = self.request("GET", path)
        return elapsed, json.loads(data), len(data)

    def close(self) -> None:
        self.connection.close()


def store_points(server: OurServer, job_id: str, key: str, steps: int) -> float:
    """Two series (loss, accuracy) of `steps` points each through the metrics API; seconds it took."""
    client = Client(server.url, key)
    start = time.perf_counter()
    per_batch = BATCH // 2
    for first in range(0, steps, per_batch):
        points = [{"step": s, "time": 1.7e9 + s * 0.01,
                   "values": {"loss": 1.0 / (1 + s / 1000) + (s % 97) * 1e-4, "accuracy": 1 - 1.0 / (2 + s / 500)}}
                  for s in range(first, min(steps, first + per_batch))]
        body = json.dumps({"batchId": uuid.uuid4().hex, "points": points}).encode()
        _, answer = client.request("POST", f"/api/jobs/{job_id}/metrics", body)
        if json.loads(answer) != {"accepted": len(points)}:
            raise BenchError(f"a batch was not stored: {answer[:200]!r}")
    client.close()
    return time.perf_counter() - start


def healthz_during_full_reads(server: OurServer, token: str, job_id: str, readers: int = 3) -> dict[str, Any]:
    """/healthz latency every 50 ms while `readers` clients each read the whole job at once."""
    read_times: list[float] = []
    errors: list[str] = []

    def read() -> None:
        client = Client(server.url, token)
        try:
            read_times.append(client.get(f"/api/models/{job_id}/metrics")[0])
        except BenchError as exc:
            errors.append(str(exc))
        finally:
            client.close()

    threads = [threading.Thread(target=read) for _ in range(readers)]
    probe = Client(server.url, token)
    probe.get("/healthz")
    for thread in threads:
        thread.start()
    latencies = []
    while any(thread.is_alive() for thread in threads):
        latencies.append(probe.get("/healthz")[0])
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    probe.close()
    if errors:
        raise BenchError(errors[0])
    return {"reads": read_times, "healthz_max": max(latencies), "healthz_p50": statistics.median(latencies),
            "healthz_samples": len(latencies)}


def measure_ours(tmp: Path, steps: int, database_url: str | None) -> dict[str, Any]:
    """Every figure of our server."""
    figures: dict[str, Any] = {"steps": steps, "points": 2 * steps}
    with OurServerOn(tmp / "ours", database_url) as server:
        token = server.admin_token()
        job_id, key = server.new_job(token, "bench-reads")
        figures["store_seconds"] = store_points(server, job_id, key, steps)
        page, api = Client(server.url, token, cookie=True), Client(server.url, token)
        live = f"/models/{job_id}/live.json"
        with RssSampler(server.pid) as rss:
            figures["first_live"], first, figures["live_bytes"] = page.get(live)
            if first["counts"] != {"loss": steps, "accuracy": steps}:
                raise BenchError(f"live.json counts {first['counts']}, expected {steps} per series")
            figures["live_rows"] = sum(len(rows) for rows in first["series"].values())
            figures["live_warm"] = statistics.median(page.get(live)[0] for _ in range(5))
            api_reads = [api.get(f"/api/models/{job_id}/metrics") for _ in range(5)]
            figures["api_full"], figures["api_bytes"] = statistics.median(r[0] for r in api_reads), api_reads[0][2]
            middle = steps // 2
            zoom = api.get(f"/api/models/{job_id}/metrics?names=loss&start_step={middle}&end_step={middle + 1999}")
            if zoom[1]["bucketSteps"] != {"loss": 1} or len(zoom[1]["series"]["loss"]) != 2000:
                raise BenchError("a zoom to 2,000 steps did not come back point for point")
            figures["zoom_2k"] = zoom[0]
            wide = api.get(f"/api/models/{job_id}/metrics?names=loss&start_step=0&end_step=99999&max_points=100000")
            figures["range_100k"], figures["range_100k_bytes"] = wide[0], wide[2]
            cursor = first["cursor"]
            figures["poll_empty"] = statistics.median(page.get(f"{live}?after={cursor}")[0] for _ in range(50))
            figures["poll_empty_api"] = statistics.median(
                api.get(f"/api/models/{job_id}/metrics?after={cursor}")[0] for _ in range(50))
            writer = Client(server.url, key)
            writer.request("POST", f"/api/jobs/{job_id}/metrics", json.dumps({"batchId": uuid.uuid4().hex, "points": [
                {"step": steps + i, "values": {"loss": 0.1}} for i in range(100)]}).encode())
            writer.close()
            figures["poll_100"], new, _ = page.get(f"{live}?after={cursor}")
            if [len(rows) for rows in new["series"].values()] != [100]:
                raise BenchError(f"a poll after 100 new points answered {new['counts']}")
            figures["poll_since"] = page.get(f"{live}?since={time.time() + 3600}")[0]
            figures["healthz_alone"] = statistics.median(page.get("/healthz")[0] for _ in range(50))
            figures["healthz"] = healthz_during_full_reads(server, token, job_id)
        figures["rss_before"], figures["rss_peak"] = rss.start, rss.peak
        page.close()
        api.close()
    again = OurServerOn(tmp / "ours", database_url)  # the same data: a user opening the page another day
    again.log_file.replace(again.log_file.with_suffix(".first.log"))  # its ready line is not the new one's
    with again as server:
        page = Client(server.url, token, cookie=True)
        figures["first_live_restarted"] = page.get(live)[0]
        page.close()
    return figures


def build_report(ours: dict[str, Any] | str, peer_note: str, steps: int, database: str) -> Report:
    """The table and the goals."""
    rep = Report(f"Metric reads of one job with {2 * steps:,} points, our server on {database}",
                 ["measure", "ours", "before (2 M points)"])
    if isinstance(ours, str):
        rep.goals += [Goal(text, None, "not measured") for text in (
            f"model page first data <= {GOAL_FIRST} s", f"empty poll <= {GOAL_POLL * 1e3:.0f} ms",
            f"server RSS <= {GOAL_RSS / 2**20:.0f} MiB")]
        return rep
    health = ours["healthz"]
    rep.rows = [
        ["storing the points (metrics API, 10,000-point batches)", f"{ours['store_seconds']:.1f} s", ""],
        ["model page first data: live.json, first read", fmt_ms(ours["first_live"]), "7,600 ms"],
        ["  live.json again (median of 5)", fmt_ms(ours["live_warm"]), ""],
        ["  its size", f"{ours['live_bytes'] / 1e3:,.0f} kB ({ours['live_rows']:,} rows)", ""],
        ["GET /api/models/<id>/metrics, whole job (median of 5)", fmt_ms(ours["api_full"]), "7,400 ms"],
        ["  its size", f"{ours['api_bytes'] / 1e3:,.0f} kB", "101 MB"],
        ["zoom: 2,000 steps point for point", fmt_ms(ours["zoom_2k"]), ""],
        ["100,000-step range point for point (max_points=100000)",
         f"{fmt_ms(ours['range_100k'])}, {fmt_mb(ours['range_100k_bytes'])}", ""],
        ["  live.json, first read of a new server process on the same data", fmt_ms(ours["first_live_restarted"]), ""],
        ["empty poll: live.json?after=<cursor> (median of 50)", fmt_ms(ours["poll_empty"]), "275 ms (since=now)"],
        ["  the same on the API (median of 50)", fmt_ms(ours["poll_empty_api"]), ""],
        ["  for scale: GET /healthz at that time (median of 50)", fmt_ms(ours["healthz_alone"]), ""],
        ["poll with 100 new points", fmt_ms(ours["poll_100"]), ""],
        ["poll by time: live.json?since=<now> (reads the job's rows)", fmt_ms(ours["poll_since"]), "275 ms"],
        ["server RSS before the reads / peak during them",
         f"{ours['rss_before'] / 2**20:.0f} / {ours['rss_peak'] / 2**20:.0f} MiB", "658 MiB"],
        ["3 concurrent whole-job reads: each took", ", ".join(f"{t * 1e3:,.0f} ms" for t in health["reads"]), "27 s"],
        ["  /healthz meanwhile: median / max", f"{fmt_ms(health['healthz_p50'])} / {fmt_ms(health['healthz_max'])}",
         "max 2,700 ms"],
    ]
    rep.goals = [
        Goal(f"model page first data <= {GOAL_FIRST} s", ours["first_live"] <= GOAL_FIRST, fmt_ms(ours["first_live"])),
        Goal(f"empty poll <= {GOAL_POLL * 1e3:.0f} ms", ours["poll_empty"] <= GOAL_POLL, fmt_ms(ours["poll_empty"])),
        Goal(f"server RSS <= {GOAL_RSS / 2**20:.0f} MiB", ours["rss_peak"] <= GOAL_RSS,
             f"peak {ours['rss_peak'] / 2**20:.0f} MiB"),
    ]
    rep.notes += [
        "'before': the figures issue 7 reports for the same reads before bounded answers (not measured here).",
        f"peer: {peer_note}",
    ]
    rep.figures = {"ours": ours}
    return rep


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000,
                        help="steps per series; two series (default 1,000,000: 2,000,000 points)")
    parser.add_argument("--database-url", help="run our server on this (empty) database, e.g. "
                        "postgresql+psycopg://user@127.0.0.1:5432/bench (default: its SQLite file)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    machine = MachineLoad()
    peers = _venvs.VENVS_DIR / "peers"
    peer_note = ("MLflow's get-metric-history is not measured: bench/.venvs/peers is not set up "
                 "(python bench/_venvs.py makes it; this benchmark does not)") if not (
        peers / ".bench-ok").exists() else "MLflow's get-metric-history side-by-side is not implemented yet"
    with temp_dir("bench-reads-") as tmp:
        try:
            ours: dict[str, Any] | str = measure_ours(tmp, args.steps, args.database_url)
        except BenchError as exc:
            ours = str(exc)
    database = "PostgreSQL" if (args.database_url or "").startswith("postgresql") else "SQLite"
    rep = build_report(ours, peer_note, args.steps, database)
    rep.notes.append(machine.note())
    name = "metrics_reads" if database == "SQLite" else "metrics_reads_postgresql"
    return finish_reports(name, [rep], ours if isinstance(ours, str) else "")


if __name__ == "__main__":
    sys.exit(main())
