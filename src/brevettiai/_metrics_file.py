"""An offline job's progress points, appended to ``metrics.jsonl`` one JSON line per point.

A point is appended to columns (a list per field, as the platform path does), not kept as a dict.
The columns go to the file when `max_points` are waiting (in the caller's thread, so that a killed
process loses at most the last `max_points` - 1 points), at `flush`/`close`, and, for a local file,
from a background thread once a second, so that a slow loop's points do not wait in memory either.
Each line is ``{"step": .., "time": "<ISO 8601 UTC, ms>", "run_id": "..", "<name>": value, ...}``:
a name missing from a point is left out of its line; None is written as null.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from time import time as _now
from typing import TYPE_CHECKING

from brevettiai._threads import start_daemon
from brevettiai.contract.jsontypes import JSONMapping
from brevettiai.io import path as io_path

if TYPE_CHECKING:
    from brevettiai.io.tools import IoTools

log = logging.getLogger("brevettiai.platform.job")

_RESERVED = frozenset({"step", "time", "run_id"})  # a line's own fields: a metric of one of these names is not written


class _Missing:
    """The value of a series at a step its point did not name."""

    __slots__ = ()


MISSING = _Missing()


class MetricsFile:
    """Progress points in columns, appended as JSON lines to `target` (a local file or an fsspec URL)."""

    def __init__(self, target: str, io: IoTools, *, max_points: int = 1000, interval: float = 1.0) -> None:
        self.target = target
        self.io = io
        self.max_points = max_points
        self.interval = interval
        self._run_id = ""
        self._lock = threading.Lock()  # the columns: the loop's thread and the system-metrics thread both add
        self._write_lock = threading.Lock()  # one writer at a time, so that lines keep the points' order
        self._steps: list[int] = []
        self._times: list[float] = []
        self._series: dict[str, list[object]] = {}
        self._ragged = False  # some point did not name every series
        self._unwritten = ""  # lines a failed write left behind, written first next time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._remote = io_path.is_url(target)  # object stores cannot append: each write rewrites the file
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child(weakref.ref(self)))

    @property
    def run_id(self) -> str:
        return self._run_id

    @run_id.setter
    def run_id(self, run_id: str) -> None:
        """Points logged from now on carry `run_id` (the ones before keep theirs)."""
        self.flush()
        self._run_id = run_id

    def add(self, step: int, values: JSONMapping) -> None:
        """Record one point: appended to the columns; written when `max_points` are waiting."""
        stamp = _now()
        with self._lock:
            steps, series = self._steps, self._series
            steps.append(step)
            self._times.append(stamp)
            count = len(steps)
            for name, value in values.items():
                column = series.get(name)
                if column is None:
                    column = series[name] = [MISSING] * (count - 1)
                    if count > 1:
                        self._ragged = True
                column.append(value)
            if len(values) != len(series):  # names missing from this point
                self._ragged = True
                for column in series.values():
                    if len(column) < count:
                        column.append(MISSING)
            if count < self.max_points:
                if count == 1 and self._thread is None:
                    self._start_writer()
                return
        self.flush()

    def _start_writer(self) -> None:
        if not self._closed and not self._remote:
            self._thread = start_daemon(self._write_periodically, "brevettiai-metrics-file")

    def flush(self) -> None:
        """Append every point recorded so far to the file."""
        self._write(raise_errors=True)

    def close(self) -> None:
        """Stop the background writer and write what is left."""
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()

    def _forget_in_child(self) -> None:
        """A forked child (a data loader's worker) leaves the parent's points to the parent and starts no writer."""
        self._lock = threading.Lock()  # the writer thread may have held them at the fork: it does not exist here
        self._write_lock = threading.Lock()
        self._steps, self._times, self._series, self._ragged, self._unwritten = [], [], {}, False, ""
        self._closed = True

    def _write_periodically(self) -> None:
        while not self._stop.wait(self.interval):
            self._write(raise_errors=False)

    def _write(self, *, raise_errors: bool) -> None:
        with self._write_lock:
            with self._lock:
                steps, times, series, ragged = self._steps, self._times, self._series, self._ragged
                if steps:
                    self._steps, self._times, self._series, self._ragged = [], [], {}, False
            text = self._unwritten + (encode_lines(steps, times, series, self._run_id, ragged) if steps else "")
            if not text:
                return
            try:
                self._append(text)
            except Exception as exc:
                self._unwritten = text  # written first next time: nothing is dropped
                if raise_errors:
                    raise
                log.warning("Could not append metric points to %s (tried again later): %s", self.target, exc)
            else:
                self._unwritten = ""

    def _append(self, text: str) -> None:
        if self._remote:
            previous = self.io.read_file(self.target).decode() if self.io.exists(self.target) else ""
            self.io.write_file(self.target, previous + text)
        else:
            with open(self.target, "a", encoding="utf-8") as handle:
                handle.write(text)


def _after_fork_in_child(ref: weakref.ref[MetricsFile]) -> Callable[[], None]:
    def forget() -> None:
        metrics_file = ref()
        if metrics_file is not None:
            metrics_file._forget_in_child()

    return forget


def encode_lines(steps: list[int], times: list[float], series: dict[str, list[object]], run_id: str,
                 ragged: bool) -> str:
    """The points' JSON lines, as ``json.dumps`` of each point's dict writes them."""
    names = list(series)
    stamps = iso_times(times)
    if ragged or _RESERVED.intersection(names):
        if clashing := _RESERVED.intersection(names):
            log.warning("Metric names %s are the fields of a metrics.jsonl line: their values are not written",
                        sorted(clashing))
        return "".join(json.dumps({"step": step, "time": stamp, "run_id": run_id,
                                   **{name: value for name, value in zip(names, row, strict=True)
                                      if value is not MISSING and name not in _RESERVED}},
                                  default=_json_default) + "\n"
                       for step, stamp, *row in zip(steps, stamps, *series.values(), strict=True))
    template = ('{"step": %s, "time": "%s", "run_id": ' + _escape(json.dumps(run_id))
                + "".join(", " + _escape(json.dumps(name)) + ": %s" for name in names) + "}\n")
    columns = [encode_column(steps), stamps, *(encode_column(column) for column in series.values())]
    return "".join(map(template.__mod__, zip(*columns, strict=True)))


def encode_column(values: Sequence[object]) -> list[str]:
    """Each value's JSON text, encoded in one ``json.dumps`` of the list (per value if one contains ", ")."""
    if not values:
        return []
    parts = json.dumps(values, default=_json_default)[1:-1].split(", ")
    if len(parts) != len(values):  # a value's own text holds the separator (a string, a list)
        parts = [json.dumps(value, default=_json_default) for value in values]
    return parts


def iso_times(times: list[float]) -> list[str]:
    """Epoch seconds as ISO 8601 UTC with milliseconds and a Z (each second's date formatted once)."""
    stamps: list[str] = []
    last_ms = last_second = -1
    text = prefix = ""
    for moment in times:
        ms = int(moment * 1000)
        if ms != last_ms:
            second, milli = divmod(ms, 1000)
            if second != last_second:
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
                last_second = second
            text = f"{prefix}.{milli:03d}Z"
            last_ms = ms
        stamps.append(text)
    return stamps


def _escape(text: str) -> str:
    return text.replace("%", "%%")


def _json_default(value: object) -> float | str:
    """A value JSON has no form for: a number type (numpy's float32) as its float, anything else as text."""
    to_float: Callable[[], float] | None = getattr(value, "__float__", None)
    if to_float is not None:
        return to_float()
    return str(value)
