"""The compare view of 10 runs × 4 series × 100,000 points: how long until its charts are drawn.

Our server (SQLite, a fresh data dir) gets 10 models of one model type (their settings differ) with four
progress series of 100,000 steps each (4,000,000 stored values, through the metrics API in 10,000-point
batches) and an output.json each. Then headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; the login cookie of an admin token) opens ``/compare?ids=<the 10>``:

1. first paint: from the navigation's start (``performance.timeOrigin``) until every progress chart
   and the parallel-coordinates chart are drawn with their data (their ``data-rendered`` set after
   Vega's render); the first load after storing the points, then the median of 5 more loads;
2. ``GET /compare/data.json`` alone (the page's one data request; median of 5) and its size;
3. a zoom to 2,000 steps (typed into the zoom form): until the charts are drawn again with every point.

Goal: first paint <= 1 s (the median of the 5 loads; the very first load is shown beside it).
Peer: MLflow's compare-runs page is not measured: it needs the MLflow UI's React build and 4 M metric
values logged into its store (``log_batch`` at 1,000 per call); not quick, and said so in the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    http_json,
    process_tree,
    temp_dir,
)
from bench_metrics_reads import LOGIN_COOKIE, Client  # noqa: E402

GOAL_PAINT = 1.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERIES = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")
BATCH = 10_000
SCHEMA = {"fields": [
    {"type": "label", "tag": "training", "label": "Training"},
    {"type": "input", "inputType": "number", "model": "training.learning_rate", "label": "Learning rate", "default": 0.1},
    {"type": "input", "inputType": "number", "model": "training.batch_size", "label": "Batch size", "default": 32},
    {"type": "input", "inputType": "number", "model": "seed", "label": "Seed", "default": 0},
], "presets": {}}

# Set by the page's own rendering: every chart drawn with its data. Evaluated in the page.
DRAWN = """(count) => {
  const charts = document.querySelectorAll('.progress-chart');
  const parallel = document.querySelector('#parallel-chart');
  return charts.length === count && Array.from(charts).every(c => c.dataset.rendered === 'true' && Number(c.dataset.points) > 0)
    && parallel !== null && parallel.dataset.rendered === 'true';
}"""
# The moment (ms after the navigation's start) the page first showed all charts drawn: checked whenever a
# chart's data-rendered or data-points changes (not on every node Vega adds: that check cost the page ~0.1 s).
WATCH = ("(() => { const drawn = " + DRAWN + "; const check = () => {"
         f" if (window.__drawnAt === undefined && drawn({len(SERIES)})) {{ window.__drawnAt = performance.now(); }} }};"
         " new MutationObserver(check).observe(document, {subtree: true, attributes: true,"
         " attributeFilter: ['data-rendered', 'data-points']}); })();")


def put_output(server: OurServer, model: dict[str, Any], output: dict[str, Any]) -> None:
    """The run's artifacts/output.json, as its job writes it."""
    request = urllib.request.Request(f"{server.url}/api/files/{model['id']}/artifacts/output.json", method="PUT",
                                     data=json.dumps({"output": output}).encode(),
                                     headers={"Authorization": f"Bearer {model['apiKey']}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        if answer.status != 201:
            raise BenchError(f"output.json was not stored: {answer.status}")


def store_runs(server: OurServer, token: str, runs: int, steps: int) -> tuple[list[str], float]:
    """`runs` models with `steps` points of each series and an output.json; their ids and the seconds it took."""
    model_type = http_json("POST", f"{server.url}/api/modeltypes", {
        "name": "bench-compare", "settingsSchema": SCHEMA, "command": [sys.executable, "-c", "pass"]}, token)
    ids = []
    start = time.perf_counter()
    for run in range(runs):
        settings = {"training": {"learning_rate": 0.01 * (run + 1), "batch_size": 16 * (1 + run % 4)}, "seed": run}
        model = http_json("POST", f"{server.url}/api/models", {
            "name": f"run {run:02d}", "modelTypeId": model_type["id"], "settings": settings}, token)
        job = Client(server.url, model["apiKey"])
        rate = 0.01 * (run + 1)
        for first in range(0, steps, BATCH):
            points = [{"step": s, "time": 1.7e9 + run * 1e4 + s * 0.05, "values": {
                "train_loss": 1.0 / (1 + rate * s / 100) + (s % 89) * 1e-4, "val_loss": 1.1 / (1 + rate * s / 120),
                "train_accuracy": 1 - 0.5 / (1 + rate * s / 200), "val_accuracy": 1 - 0.55 / (1 + rate * s / 250)}}
                for s in range(first, min(steps, first + BATCH))]
            _, answer = job.request("POST", f"/api/jobs/{model['id']}/metrics",
                                    json.dumps({"batchId": uuid.uuid4().hex, "points": points}).encode())
            if json.loads(answer) != {"accepted": len(points)}:
                raise BenchError(f"a batch was not stored: {answer[:200]!r}")
        put_output(server, model, {"test_accuracy": 0.8 + run / 100})
        job.close()
        ids.append(model["id"])
    return ids, time.perf_counter() - start


PARTS: list[dict[str, float]] = []  # per load: ms to DOMContentLoaded, to the data's last byte, to drawn
CPU: list[tuple[float, float]] = []  # per load: CPU seconds of the server, of the browser (and its driver)


def cpu_split(server: OurServer) -> tuple[float, float]:
    """CPU seconds so far of the server's processes, and of this benchmark's others (the browser, its driver)."""
    servers = set(process_tree(server.pid))
    others = [pid for pid in process_tree(os.getpid()) if pid not in servers and pid != os.getpid()]
    return cpu_seconds(sorted(servers)), cpu_seconds(others)


def new_context(browser: Any, server: OurServer, token: str) -> Any:
    """A fresh browser context (an empty cache) signed in with `token`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": LOGIN_COOKIE, "value": token, "url": server.url}])
    return context


def open_compare(browser: Any, server: OurServer, token: str, path: str,
                 context: Any = None) -> tuple[float, float, Any]:
    """Open the compare page, in a fresh context unless one is given: seconds until its charts are drawn
    (page clock), seconds measured outside the page (goto until drawn), and the page, still open."""
    context = context or new_context(browser, server, token)
    page = context.new_page()
    page.add_init_script(WATCH)
    devtools = context.new_cdp_session(page)
    devtools.send("Performance.enable")
    server_cpu, browser_cpu = cpu_split(server)
    start = time.perf_counter()
    page.goto(server.url + path)
    page.wait_for_function(DRAWN, arg=len(SERIES), timeout=120_000)
    outside = time.perf_counter() - start
    server_after, browser_after = cpu_split(server)
    CPU.append((server_after - server_cpu, browser_after - browser_cpu))
    page.wait_for_function("() => window.__drawnAt !== undefined")
    parts = page.evaluate("""() => ({
        drawn: window.__drawnAt,
        ready: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
        data: (performance.getEntriesByType('resource').find(r => r.name.includes('/compare/data.json')) || {}).responseEnd,
        received: (performance.getEntriesByName('compare: points received')[0] || {}).startTime,
        charted: Math.max(...performance.getEntriesByType('mark').filter(m => m.name.startsWith('chart drawn: '))
                                         .map(m => m.startTime))})""")
    metrics = {item["name"]: item["value"] for item in devtools.send("Performance.getMetrics")["metrics"]}
    parts["main_thread"] = metrics.get("TaskDuration", 0) * 1000  # ms the page's main thread was busy
    parts["script"] = metrics.get("ScriptDuration", 0) * 1000
    parts["thread_cpu"] = metrics.get("ThreadTime", 0) * 1000  # CPU ms of the page's main thread
    parts["renderer_cpu"] = metrics.get("ProcessTime", 0) * 1000  # CPU ms of the page's renderer process
    PARTS.append(parts)
    return parts["drawn"] / 1000, outside, page


def zoom(page: Any, start: int, end: int, runs: int) -> float:
    """Seconds from submitting a typed zoom until every chart shows the range point for point."""
    form = page.get_by_role("form", name="Zoom to steps")
    form.get_by_label("From step").fill(str(start))
    form.get_by_label("to step").fill(str(end))
    began = time.perf_counter()
    form.get_by_role("button", name="Zoom").click()
    page.wait_for_function("""([range, points]) => Array.from(document.querySelectorAll('.progress-chart')).every(
        c => c.dataset.zoomed === range && c.dataset.rendered === 'true' && Number(c.dataset.points) === points)""",
                           arg=[f"{start}-{end}", runs * (end - start + 1)], timeout=120_000)
    return time.perf_counter() - began


def measure_ours(tmp: Path, runs: int, steps: int) -> dict[str, Any]:
    """Every figure of our side."""
    try:
        import playwright.sync_api as playwright_api
    except ImportError:
        raise BenchError("the compare view benchmark needs playwright (the dev extra)") from None
    if not Path(CHROMIUM).exists():
        raise BenchError(f"the compare view benchmark needs Debian's Chromium at {CHROMIUM}")
    figures: dict[str, Any] = {"runs": runs, "steps": steps, "values": runs * steps * len(SERIES)}
    with OurServer(tmp / "ours") as server:
        token = server.admin_token()
        ids, figures["store_seconds"] = store_runs(server, token, runs, steps)
        path = "/compare?ids=" + ",".join(ids)
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                first, first_outside, page = open_compare(browser, server, token, path)
                page.context.close()
                loads = []
                for _ in range(5):
                    drawn, outside, page = open_compare(browser, server, token, path)
                    loads.append((drawn, outside))
                    if _ == 4:
                        figures["zoom"] = zoom(page, steps // 4, min(steps - 1, steps // 4 + 1999), runs)
                    page.context.close()
                # a returning user: the same context (its cache holds the page's scripts) opens the view again
                warm_context = new_context(browser, server, token)
                open_compare(browser, server, token, path, warm_context)[2].close()
                figures["first_paints_warm"] = []
                for _ in range(3):
                    drawn, _outside, page = open_compare(browser, server, token, path, warm_context)
                    figures["first_paints_warm"].append(drawn)
                    page.close()
                warm_context.close()
            finally:
                browser.close()
        figures["first_paint_first"], figures["first_paint_first_outside"] = first, first_outside
        figures["first_paint"] = statistics.median(drawn for drawn, _ in loads)
        figures["first_paint_outside"] = statistics.median(outside for _, outside in loads)
        figures["first_paints"] = [drawn for drawn, _ in loads]
        figures["cpu_server"] = statistics.median(server for server, _ in CPU[1:6])
        figures["cpu_browser"] = statistics.median(browser for _, browser in CPU[1:6])
        figures["ready"] = statistics.median(part["ready"] / 1000 for part in PARTS[1:6])
        figures["data_received"] = statistics.median((part["data"] or 0) / 1000 for part in PARTS[1:6])
        figures["drawing"] = statistics.median((part["charted"] - part["received"]) / 1000 for part in PARTS[1:6])
        figures["main_thread"] = statistics.median(part["main_thread"] / 1000 for part in PARTS[1:6])
        figures["script"] = statistics.median(part["script"] / 1000 for part in PARTS[1:6])
        figures["thread_cpu"] = statistics.median(part["thread_cpu"] / 1000 for part in PARTS[1:6])
        figures["renderer_cpu"] = statistics.median(part["renderer_cpu"] / 1000 for part in PARTS[1:6])
        data = Client(server.url, token, cookie=True)
        reads = [data.get("/compare/data.json?ids=" + ",".join(ids)) for _ in range(5)]
        data.close()
        answer = reads[0][1]
        if any(answer["counts"][run][name] != steps for run in ids for name in SERIES):
            raise BenchError("the compare data does not count every stored point")
        figures["data_seconds"] = statistics.median(read[0] for read in reads)
        figures["data_bytes"] = reads[0][2]
        figures["data_rows"] = sum(len(rows) for run in answer["series"].values() for rows in run.values())
    return figures


def build_report(ours: dict[str, Any] | str, runs: int, steps: int) -> Report:
    """The table and the goal."""
    rep = Report(f"Compare view of {runs} runs × {len(SERIES)} series × {steps:,} points (SQLite, Chromium)",
                 ["measure", "ours", "MLflow compare runs"])
    goal_text = f"compare view first paint <= {GOAL_PAINT:.0f} s (median of 5 loads)"
    if isinstance(ours, str):
        rep.goals.append(Goal(goal_text, None, "not measured"))
        return rep
    peer = "not measured"
    rep.rows = [
        ["storing the points (metrics API, 10,000-point batches)",
         f"{ours['store_seconds']:.0f} s for {ours['values']:,} values", peer],
        ["first paint: navigation start until every chart is drawn (median of 5)", fmt_ms(ours["first_paint"]), peer],
        ["  each of the 5 loads", ", ".join(fmt_ms(t) for t in ours["first_paints"]), ""],
        ["  of which: page and scripts loaded (DOMContentLoaded; median)", fmt_ms(ours["ready"]), ""],
        ["  of which: the data received (data.json's last byte; median)", fmt_ms(ours["data_received"]), ""],
        ["  of which: drawing the progress charts (the page's marks: points parsed until the last chart drawn)",
         fmt_ms(ours["drawing"]), ""],
        ["  the page's main thread busy (DevTools TaskDuration; of which JavaScript)",
         f"{fmt_ms(ours['main_thread'])} ({fmt_ms(ours['script'])})", ""],
        ["  CPU of the page (DevTools ThreadTime / ProcessTime): its main thread / its renderer process",
         f"{fmt_ms(ours['thread_cpu'])} / {fmt_ms(ours['renderer_cpu'])}", ""],
        ["  CPU work per load (median): server / browser and its driver",
         f"{fmt_ms(ours['cpu_server'])} / {fmt_ms(ours['cpu_browser'])}", ""],
        ["  the same, measured outside the page (goto until drawn)", fmt_ms(ours["first_paint_outside"]), ""],
        ["  the first load after storing (blocks summed up on the way)", fmt_ms(ours["first_paint_first"]), ""],
        ["  a returning user (the same browser context, scripts cached; median of 3)",
         fmt_ms(statistics.median(ours["first_paints_warm"])), ""],
        ["GET /compare/data.json (the page's data; median of 5)", fmt_ms(ours["data_seconds"]), peer],
        ["  its size", f"{ours['data_bytes'] / 1e3:,.0f} kB ({ours['data_rows']:,} rows)", ""],
        ["zoom to 2,000 steps: every point of 10 runs × 4 series drawn", fmt_ms(ours["zoom"]), peer],
    ]
    rep.goals.append(Goal(goal_text, ours["first_paint"] <= GOAL_PAINT, fmt_ms(ours["first_paint"])))
    rep.notes.append("CPU work is what the load costs whatever else runs on the machine (from /proc): on a machine "
                     "with cores to spare the wall time comes close to the larger of the two.")
    rep.notes.append("peer: MLflow's compare-runs page is not measured (its React UI in a browser, with 4 M metric "
                     "values logged into its store first): not quick; left for later.")
    rep.figures = {"ours": ours}
    return rep


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=10, help="runs compared (default 10)")
    parser.add_argument("--steps", type=int, default=100_000, help="points per series (default 100,000)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    machine = MachineLoad()
    with temp_dir("bench-compare-") as tmp:
        try:
            ours: dict[str, Any] | str = measure_ours(tmp, args.models, args.steps)
        except BenchError as exc:
            ours = str(exc)
    rep = build_report(ours, args.models, args.steps)
    rep.notes.append(machine.note())
    return finish_reports("compare_view", [rep], ours if isinstance(ours, str) else "")


if __name__ == "__main__":
    sys.exit(main())
