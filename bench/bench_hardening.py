"""Hardening under abuse: huge bodies to the login endpoint, and a wrong-password flood.

Ours only (no peer): one `brevettiai server` on a fresh data dir.

1. Huge bodies: one client sends 100 MB bodies to ``POST /api/auth/token`` in a loop for --seconds,
   once with ``Content-Length`` declared and once chunked (the length unknown until the end).
   Meanwhile a probe client calls ``GET /healthz`` every 10 ms. Figures: the probe's p50/p99, the
   bodies sent, and the growth of the server's RSS (peak during the run minus before it).
2. Login flood: 64 clients post wrong passwords as fast as they can for --seconds, (a) all from
   127.0.0.1 at the user ``admin`` (a password-guessing attack), (b) each from its own address
   (127.0.0.2-65) with a new made-up username per request (the worst case for the hashing bound:
   every address gets its free failures). Meanwhile a probe client with a valid token calls
   ``GET /api/models?limit=10`` every 10 ms. Figures: the probe's p50/p99, the flood's answers by
   status, and the RSS growth.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
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

BODY = 100 * 1000 * 1000
GOAL_HEALTH_P99, GOAL_RSS_GROWTH, GOAL_FLOOD_P99 = 0.050, 50 * 1024 * 1024, 0.100
FLOOD_CLIENTS = 64


def percentile(values: list[float], fraction: float) -> float | None:
    """The `fraction` quantile of `values` (nearest rank), or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Probe:
    """Times one request every `every` seconds in a thread until stopped."""

    def __init__(self, call: Callable[[], httpx.Response], every: float = 0.01) -> None:
        self.call, self.every = call, every
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            try:
                status = self.call().status_code
            except httpx.HTTPError as exc:
                self.failures[type(exc).__name__] += 1
            else:
                self.latencies.append(time.perf_counter() - start)
                if status != 200:
                    self.failures[str(status)] += 1
            self._stop.wait(self.every)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    piece = b" " * size
    while total > 0:
        yield piece[: min(size, total)]
        total -= size


def send_huge_bodies(url: str, seconds: float, chunked: bool) -> dict[str, Any]:
    """The abusive side of scenario 1 (in a process of its own): 100 MB login bodies in a loop."""
    body = b" " * BODY
    sent, statuses = 0, Counter()
    with httpx.Client(base_url=url, timeout=120) as sender:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            content: Any = _chunks(BODY) if chunked else body
            try:
                answer = sender.post("/api/auth/token", content=content, headers={"Content-Type": "application/json"})
                statuses[str(answer.status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            sent += 1
    return {"sent": sent, "statuses": dict(statuses)}


def flood_logins(url: str, seconds: float, spread: bool) -> dict[str, Any]:
    """The abusive side of scenario 2 (in a process of its own): 64 clients posting wrong passwords."""
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def flood(index: int) -> None:
        address = f"127.0.0.{2 + index}" if spread else "127.0.0.1"
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=url, timeout=120, transport=transport) as client:
            while not stop.is_set():
                username = f"guess-{uuid.uuid4().hex[:8]}" if spread else "admin"
                try:
                    status = str(client.post("/api/auth/token", json={"username": username,
                                                                      "password": "wrong"}).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    statuses[status] += 1

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(FLOOD_CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    return {"statuses": dict(statuses)}


def _child(load: Callable[..., dict[str, Any]], args: tuple[Any, ...], results: Any) -> None:
    results.put(load(*args))


def probed(server: OurServer, probe_call: Callable[[httpx.Client], httpx.Response], token: str | None,
           load: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `load(server.url, *args)` in another process while this one probes the server."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as client:
        probe_call(client)
        child = context.Process(target=_child, args=(load, (server.url, *args), results), daemon=True)
        with RssSampler(server.pid) as rss, Probe(lambda: probe_call(client)) as probe:
            child.start()
            try:
                outcome = results.get(timeout=600)
            except queue.Empty:
                raise BenchError("the load process reported nothing") from None
            child.join(60)
    return {**outcome, "p50": percentile(probe.latencies, 0.5), "p99": percentile(probe.latencies, 0.99),
            "probes": len(probe.latencies), "probe_failures": dict(probe.failures), "rss_start": rss.start,
            "rss_growth": rss.peak - rss.start}


def _health(client: httpx.Client) -> httpx.Response:
    return client.get("/healthz")


def _models(client: httpx.Client) -> httpx.Response:
    return client.get("/api/models", params={"limit": 10})


def _row(what: str, cell: dict[str, Any] | str, answers: str) -> list[str]:
    if isinstance(cell, str):
        return [what, "n/a", "n/a", "n/a", f"({cell})"]
    failures = f"; probe failures {cell['probe_failures']}" if cell["probe_failures"] else ""
    return [what, fmt_ms(cell["p50"]), fmt_ms(cell["p99"]), fmt_mb(cell["rss_growth"]), answers + failures]


def main(argv: list[str] | None = None) -> int:
    """Run both scenarios and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each scenario (default 10)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    machine = MachineLoad()
    cells: dict[str, dict[str, Any] | str] = {}
    error = ""
    with temp_dir("bench-hardening-") as tmp:
        try:
            with OurServer(tmp) as server:
                token = server.admin_token()
                for name, run in (
                    ("declared", lambda: probed(server, _health, None, send_huge_bodies, args.seconds, False)),
                    ("chunked", lambda: probed(server, _health, None, send_huge_bodies, args.seconds, True)),
                    ("flood_one_address", lambda: probed(server, _models, token, flood_logins, args.seconds,
                                                         False)),
                    ("flood_64_addresses", lambda: probed(server, _models, token, flood_logins, args.seconds,
                                                          True)),
                ):
                    try:
                        cells[name] = run()
                    except (BenchError, httpx.HTTPError) as exc:
                        cells[name] = str(exc)[:200]
        except BenchError as exc:
            error = str(exc)
    rep = Report("Hardening: the server under huge bodies and a login flood (ours only)",
                 ["scenario", "probe p50", "probe p99", "RSS growth", "abusive requests' answers"])

    def answers(cell: dict[str, Any] | str, prefix: str = "") -> str:
        if isinstance(cell, str):
            return ""
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(cell["statuses"].items()))
        return f"{prefix}{counts}"

    for name, what in (("declared", "100 MB login bodies, Content-Length declared; probe GET /healthz"),
                       ("chunked", "100 MB login bodies, chunked; probe GET /healthz"),
                       ("flood_one_address", "64 clients, wrong passwords for admin from one address; "
                                             "probe GET /api/models"),
                       ("flood_64_addresses", "64 clients from 64 addresses, made-up usernames; "
                                              "probe GET /api/models")):
        cell = cells.get(name, error or "not run")
        sent = f"{cell['sent']} bodies; " if isinstance(cell, dict) and "sent" in cell else ""
        rep.rows.append(_row(what, cell, sent + answers(cell)))
    bodies = [c for k, c in cells.items() if k in ("declared", "chunked") and isinstance(c, dict)]
    floods = [c for k, c in cells.items() if k.startswith("flood") and isinstance(c, dict)]
    worst_health = max((c["p99"] or 0 for c in bodies), default=None)
    worst_growth = max((c["rss_growth"] for c in bodies), default=None)
    worst_flood = max((c["p99"] or 0 for c in floods), default=None)
    rep.goals.append(Goal(f"/healthz p99 <= {GOAL_HEALTH_P99 * 1000:.0f} ms while 100 MB login bodies arrive",
                          None if worst_health is None else worst_health <= GOAL_HEALTH_P99, fmt_ms(worst_health)))
    rep.goals.append(Goal(f"server RSS grows < {GOAL_RSS_GROWTH / 2**20:.0f} MiB meanwhile",
                          None if worst_growth is None else worst_growth < GOAL_RSS_GROWTH,
                          "n/a" if worst_growth is None else f"{worst_growth / 2**20:.1f} MiB"))
    rep.goals.append(Goal(f"other requests' p99 <= {GOAL_FLOOD_P99 * 1000:.0f} ms during a 64-client login flood",
                          None if worst_flood is None else worst_flood <= GOAL_FLOOD_P99, fmt_ms(worst_flood)))
    rep.notes.append(f"each scenario runs {args.seconds:g} s; probes every 10 ms; the load generator runs on the "
                     f"same machine (another process: 64 threads for the floods); RSS: the server's process tree, peak minus start")
    rep.notes.append(machine.note())
    rep.figures = {"cells": cells, "median_probe_p99_ms": statistics.median(
        [c["p99"] * 1000 for c in [*bodies, *floods] if c["p99"]]) if bodies or floods else None}
    return finish_reports("hardening", [rep], error)


if __name__ == "__main__":
    sys.exit(main())
