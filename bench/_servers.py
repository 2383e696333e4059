"""Servers for the platform benchmarks (stdlib only): our platform and an MLflow tracking server.

Each is started on 127.0.0.1 (a free port), in its own process group with its own data dir, and is
always killed at the end: `with OurServer(dir) as server: ...`. Also here: the process tree's RSS
(sampled every 50 ms), bounded HTTP helpers, and the multi-column report these benchmarks print.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _venvs
from _common import RESULTS_DIR, BenchError, clean_env

HOST = "127.0.0.1"
ADMIN_PASSWORD = "bench-admin-password"
READY = "brevettiai platform listening on "
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that `finally` blocks kill the servers this process started."""
    signal.signal(signal.SIGTERM, _exit)


def bench_env(**extra: str) -> dict[str, str]:
    """`clean_env` that lets Python write bytecode caches, as installed software normally does.

    A session that sets PYTHONDONTWRITEBYTECODE would otherwise compile every module of FastAPI,
    SQLAlchemy or MLflow from source at each start (seconds, not what users see after a first run).
    """
    env = clean_env(**extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, from /proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


_SESSIONS: set[int] = set()  # the servers started here, each in a session of its own (sid = its pid)


def _scan() -> dict[tuple[int, int], tuple[int, int, float]]:
    """(pid, start time) -> (ppid, session id, CPU seconds so far) of every process (from /proc)."""
    ticks, found = os.sysconf("SC_CLK_TCK"), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            found[(int(entry), int(fields[19]))] = (
                int(fields[1]),
                int(fields[3]),
                (int(fields[11]) + int(fields[12])) / ticks,
            )
        except (OSError, IndexError, ValueError):
            continue
    return found


class MachineLoad:
    """What else ran on the machine during a benchmark: `note()` at its end.

    A thread samples every process every 0.2 s: the CPU time of this process, its descendants and the
    servers' sessions (also their orphans) is ours; the machine's busy time minus ours is other work.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.load = os.getloadavg()[0]
        self.busy = busy_seconds()
        self.start = time.monotonic()
        self.interval = interval
        self._first: dict[tuple[int, int], float] = {}
        self._last: dict[tuple[int, int], float] = {}
        self._sampled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        procs = _scan()
        tree: dict[int, list[int]] = {}
        for (pid, _), (ppid, _, _) in procs.items():
            tree.setdefault(ppid, []).append(pid)
        mine, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            mine.add(pid)
            todo.extend(tree.get(pid, []))
        for key, (_, sid, cpu) in procs.items():
            if key[0] in mine or sid in _SESSIONS:
                # A process seen in the first sample counts from there; a later one from its start.
                self._first.setdefault(key, cpu if not self._sampled else 0.0)
                self._last[key] = cpu
        self._sampled = True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def others(self) -> float:
        """Cores used on average by processes not of this benchmark since it started."""
        self._stop.set()
        self._thread.join(5)
        self._sample()
        own = sum(self._last[key] - first for key, first in self._first.items())
        return max(0.0, busy_seconds() - self.busy - own) / max(1e-9, time.monotonic() - self.start)

    def note(self) -> str:
        """One line for the report: cores, other processes' CPU, load averages."""
        others = self.others()
        warn = " -- other work competed for the cores: figures are skewed" if others > 0.25 else ""
        return (
            f"machine: {os.cpu_count()} cores; other processes used {others:.2f} cores on average during this "
            f"benchmark; load average (1 min) {self.load:.1f} at its start, {os.getloadavg()[0]:.1f} at its end{warn}"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# Processes and memory --------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids of every process (from /proc)."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def rss_bytes(pids: Sequence[int]) -> int:
    """Summed resident memory of the processes (those already gone count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    return total


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants now."""
    return rss_bytes(process_tree(pid))


def cpu_seconds(pids: Sequence[int]) -> float:
    """Summed user+system CPU time of the processes so far."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


class RssSampler:
    """Peak RSS of a process tree, sampled every `interval` seconds in a thread: `with RssSampler(pid) as s`."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.peak = self.start = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids, refreshed = process_tree(self.pid), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 1.0:  # workers may come and go
                pids, refreshed = process_tree(self.pid), time.monotonic()
            self.peak = max(self.peak, rss_bytes(pids))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.start = self.peak = rss_bytes(process_tree(self.pid))
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_bytes(process_tree(self.pid)))


# HTTP (a few calls; the load itself comes from wrk or the benchmark's workers) ----------------------


def http_json(method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 60) -> Any:
    """Send a JSON request and return the decoded JSON answer; BenchError on an error answer."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            return (
                {"_headers": {k.lower(): v for k, v in answer.headers.items()}}
                if method == "HEAD"
                else json.loads(raw or b"null")
            )
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode(errors="replace")
        raise BenchError(f"{method} {url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise BenchError(f"{method} {url} failed: {exc}") from None


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when a GET of url answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            answer.read()
            return answer.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# Servers ------------------------------------------------------------------------------------------


class Server:
    """A server process in its own process group; `stop` ends the whole group (SIGTERM, then SIGKILL)."""

    name = "server"
    health_path = "/"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file = self.data_dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.started_at = 0.0
        self.first_answer_seconds = 0.0  # from Popen to the first 200 on the health path

    @property
    def pid(self) -> int:
        """The pid of the process this benchmark started."""
        assert self.process is not None
        return self.process.pid

    def command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of the server."""
        raise NotImplementedError

    def _popen(self) -> None:
        command, env = self.command()
        self.started_at = time.perf_counter()
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.data_dir,
                start_new_session=True,
            )
        _SESSIONS.add(self.process.pid)

    def _wait_answer(self, timeout: float) -> None:
        """Poll the health path every 10 ms until it answers 200; records the time since Popen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.url and answers(self.url + self.health_path):
                self.first_answer_seconds = time.perf_counter() - self.started_at
                return
            self._check_alive()
            time.sleep(0.01)
        raise BenchError(
            f"{self.name} did not answer {self.health_path} within {timeout:.0f} s: {self.last_log()}"
        )

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.process.returncode}: {self.last_log()}")

    def last_log(self) -> str:
        """The last meaningful line the server printed."""
        try:
            lines = [
                ln.strip() for ln in self.log_file.read_text(errors="replace").splitlines() if ln.strip()
            ]
        except OSError:
            return "no log"
        return lines[-1][:200] if lines else "no output"

    def start(self, timeout: float = 180) -> Server:
        """Start the server and wait until it answers."""
        raise NotImplementedError

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process group, then SIGKILL what is left of it."""
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the group id is the pid of the process we started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def __enter__(self) -> Server:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()


class OurServer(Server):
    """`python -m brevettiai.cli server` of this checkout, with a fresh data dir and a known admin password."""

    name = "brevettiai-server"
    health_path = "/healthz"

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in bench_env().items() if not k.startswith(("BREVETTI_AI_", "BREVETTIAI_"))}
        env["BREVETTI_AI_ADMIN_PASSWORD"] = ADMIN_PASSWORD
        command = [
            str(_venvs.ours_python()),
            "-m",
            "brevettiai.cli",
            "server",
            "--host",
            HOST,
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir / "data"),
            "--log-level",
            "warning",
        ]
        return command, env

    def start(self, timeout: float = 180) -> OurServer:
        self._popen()
        deadline = time.monotonic() + timeout
        while not self.url:
            text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            if READY in text:
                self.url = text.split(READY, 1)[1].split()[0]
                break
            self._check_alive()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{self.name} printed no ready line within {timeout:.0f} s: {self.last_log()}"
                )
            time.sleep(0.01)
        self._wait_answer(max(1.0, deadline - time.monotonic()))
        return self

    def admin_token(self) -> str:
        """A new admin user token."""
        answer = http_json(
            "POST", f"{self.url}/api/auth/token", {"username": "admin", "password": ADMIN_PASSWORD}
        )
        return answer["accessToken"]

    def new_job(self, token: str, name: str = "bench") -> tuple[str, str]:
        """Create a model with the admin API; returns its id and its job key."""
        model = http_json(
            "POST",
            f"{self.url}/api/models",
            {"name": name, "settings": {}, "datasetIds": [], "tagIds": []},
            token,
        )
        return model["id"], model["apiKey"]

    def metric_points(self, token: str, job_id: str) -> int:
        """How many metric values the server stores for a job, counted in its database.

        (The metrics API answers long series in min/max buckets, so its points are not a count.) The
        job must exist for the admin token, else this raises.
        """
        http_json("GET", f"{self.url}/api/models/{job_id}", token=token, timeout=60)
        database = self.data_dir / "data" / "brevettiai.db"
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=60)) as conn:
            return conn.execute("SELECT count(*) FROM metric_points p JOIN metric_series s ON s.id = p.series_id "
                                "WHERE s.job_id = ?", (job_id,)).fetchone()[0]


class MlflowServer(Server):
    """`mlflow server` of the peers venv on a fresh sqlite store (optionally proxying artifacts).

    `job_execution=False` sets MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: MLflow 3 otherwise also starts
    a job runner with 10 huey worker processes, which compete for this machine's 2 cores.
    """

    name = "mlflow-server"
    health_path = "/health"

    def __init__(
        self, data_dir: Path, python: Path, serve_artifacts: bool = False, job_execution: bool = False
    ) -> None:
        super().__init__(data_dir)
        self.python = python
        self.serve_artifacts = serve_artifacts
        self.job_execution = job_execution
        self.port = 0

    def command(self) -> tuple[list[str], dict[str, str]]:
        self.port = free_port()
        mlflow = self.python.parent / "mlflow"
        command = [
            str(mlflow),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.data_dir / 'mlflow.db'}",
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]
        if self.serve_artifacts:
            command += ["--serve-artifacts", "--artifacts-destination", str(self.data_dir / "artifacts")]
        else:
            command += ["--default-artifact-root", str(self.data_dir / "artifacts")]
        env = bench_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="true" if self.job_execution else "false")
        return command, env

    def start(self, timeout: float = 180) -> MlflowServer:
        self._popen()
        self.url = f"http://{HOST}:{self.port}"
        self._wait_answer(timeout)
        return self

    def new_run(self) -> str:
        """Create a run in the default experiment over REST; returns its id."""
        answer = http_json("POST", f"{self.url}/api/2.0/mlflow/runs/create", {"experiment_id": "0"})
        return answer["run"]["info"]["run_id"]


# The report: several figures per row ----------------------------------------------------------------


@dataclass
class Goal:
    """One goal on our figures: its text, whether it is met (None: ours not measured), what we measured."""

    text: str
    met: bool | None
    figure: str
    peer: str = ""  # e.g. "mlflow 12x": how ours compares with the peer on this figure
    floor: str = ""  # e.g. "ours = 85% of /healthz": how ours compares with what the machine allows

    @property
    def status(self) -> str:
        """MET, NOT MET or UNKNOWN."""
        return "UNKNOWN" if self.met is None else "MET" if self.met else "NOT MET"


@dataclass
class Report:
    """A table with free columns, the goals on our figures, notes, and the raw figures saved as JSON."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def print_report(report: Report) -> None:
    """Print the table, then one line per goal, the ratio legend and the notes."""
    lines = [report.header, *report.rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(report.header))]
    print(f"\n== {report.title} ==")
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths).rstrip())
    for goal in report.goals:
        extra = "; ".join(part for part in (goal.peer, goal.floor) if part)
        print(f"goal: {goal.text}: {goal.status} ({goal.figure}{'; ' + extra if extra else ''})")
    print(
        "ratio = how many times better ours is (peer time / ours, or ours rate / peer): >1 means we are faster"
    )
    for note in report.notes:
        print(note)


def finish_reports(name: str, reports: list[Report], ours_error: str = "") -> int:
    """Print and save the reports (bench/results/<name>.json); exit status 1 when ours was not measured."""
    if ours_error:
        reports[-1].notes.insert(0, f"ours not measured: {ours_error}")
    for report in reports:
        print_report(report)
    RESULTS_DIR.mkdir(exist_ok=True)
    data = {
        "tables": [
            {"title": r.title, "header": r.header, "rows": r.rows, "notes": r.notes, "figures": r.figures}
            for r in reports
        ],
        "goals": [{"text": g.text, "status": g.status, "figure": g.figure, "peer_text": g.peer, "floor_text": g.floor}
                  for r in reports for g in r.goals],
    }
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    if ours_error:
        print(f"error: ours not measured: {ours_error}")
    return 1 if ours_error else 0


def ratio(ours: float | None, peer: float | None, higher_is_better: bool) -> str:
    """How many times better ours is than the peer, as text ('-' when either is missing)."""
    if not ours or not peer:
        return "n/a"
    value = ours / peer if higher_is_better else peer / ours
    if value >= 100:
        return f"{value:,.0f}x"
    return f"{value:.1f}x" if value >= 0.95 else f"{value:.2f}x"


def fmt_rate(value: float | None, unit: str) -> str:
    """A rate with thousands separators (req/s, points/s)."""
    if value is None:
        return "n/a"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def fmt_ms(seconds: float | None) -> str:
    """Seconds as milliseconds."""
    return "n/a" if seconds is None else f"{seconds * 1000:.2f} ms"


def fmt_us(seconds: float | None) -> str:
    """Seconds as microseconds (milliseconds past 10 ms)."""
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e3:,.1f} ms" if seconds >= 0.01 else f"{seconds * 1e6:,.2f} µs"


def fmt_mb(size: float | None) -> str:
    """Bytes as MB (10^6)."""
    return "n/a" if size is None else f"{size / 1e6:,.0f} MB"


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A temp dir removed at the end (the servers' data, files, logs)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
