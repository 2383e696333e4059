"""Delivery of progress metrics to the platform: buffered, batched, sent from a background thread.

Adding a point appends its step, time and values straight to the open batch's columns (one list per
series, the columnar wire form; no object per point). A background thread sends batches (each with
an id, so a retried batch is never stored twice) with up to two requests in flight: a batch is sent
while another one is still being stored only when its steps all come after that one's (the order of
points of one step never changes), and the next one goes out as soon as either is answered, so the
platform receives a batch while it stores the previous one. While the platform is unreachable the batches wait, in
memory up to a bound and then spilled to files, and are delivered in order when it returns.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, BinaryIO

import pydantic_core

from brevettiai._threads import start_daemon
from brevettiai.contract.jsontypes import JSONMapping
from brevettiai.io.atomic import atomic_write

log = logging.getLogger("brevettiai.platform.metrics")


def _json_encoder() -> Callable[[Any], bytes]:
    """pydantic-core's encoder with NaN and Infinity as JSON's extensions (as `json.dumps` writes them);
    a pydantic-core too old to be told so (it would write null, which means "no value") gets `json`."""
    try:
        pydantic_core.to_json(0.0, inf_nan_mode="constants")
    except TypeError:
        return lambda content: json.dumps(content).encode()
    return functools.partial(pydantic_core.to_json, inf_nan_mode="constants")


_encode = _json_encoder()

# The columnar body of a batch and its Content-Type: brevettiai.contract.reports.COLUMNS_CONTENT_TYPE.
_NAN = float("nan")


class MetricColumns:
    """Points in columns: ``steps``, ``times`` and ``series`` (name -> one value per step).

    A name missing from a point is None at that step (no value stored); a value given as None is kept
    as NaN, which the platform stores as a null value.
    """

    __slots__ = ("series", "steps", "times")

    def __init__(self, steps: list[int] | None = None, times: list[float] | None = None,
                 series: dict[str, list[float | None]] | None = None) -> None:
        self.steps: list[int] = [] if steps is None else steps
        self.times: list[float] = [] if times is None else times
        self.series: dict[str, list[float | None]] = {} if series is None else series

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: int, time_: float, values: JSONMapping) -> None:
        """Append one point (not thread-safe: the sender holds its lock)."""
        steps, series = self.steps, self.series
        steps.append(step)
        self.times.append(time_)
        for name, value in values.items():
            column = series.get(name)
            if column is None:
                column = series[name] = [None] * (len(steps) - 1)
            column.append(_NAN if value is None else value)  # type: ignore[arg-type]
        if len(values) != len(series):  # names missing from this point: no value at this step
            count = len(steps)
            for column in series.values():
                if len(column) < count:
                    column.append(None)

    def body(self, batch_id: str) -> bytes:
        """The columnar JSON body: ``{batchId, steps, times, series: {name: [value per step]}}``.

        Encoded by pydantic-core (shortest round-trip floats, NaN and Infinity as JSON's extensions,
        like `json.dumps`): a tenth of `json.dumps`'s time, whose float repr was most of the client's
        work per point besides the loop itself.
        """
        return _encode({"batchId": batch_id, "steps": self.steps, "times": self.times, "series": self.series})

    def points(self) -> list[dict[str, Any]]:
        """The same points one object each (the point form, for a platform that reads only that)."""
        names = list(self.series)
        columns = list(self.series.values())
        return [{"step": step, "time": stamp,
                 "values": {name: None if value != value else value  # NaN: a null value
                            for name, value in zip(names, row, strict=True) if value is not None}}
                for step, stamp, *row in zip(self.steps, self.times, *columns, strict=True)]

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> MetricColumns:
        """The columns of a parsed columnar body (a spilled batch)."""
        return cls(body["steps"], body["times"], body["series"])


IN_FLIGHT = 2  # metric requests at once: the platform receives one batch while it stores another


def _steps_follow(earlier: MetricColumns, later: MetricColumns) -> bool:
    """True when every step of `later` is after every step of `earlier` (then their order does not matter)."""
    return bool(earlier.steps and later.steps) and min(later.steps) > max(earlier.steps)


class MetricsSender:
    """Sends metric points with `send(batch_id, columns)` in batches from a daemon thread."""

    def __init__(self, send: Callable[[str, MetricColumns], None], spill_dir: Callable[[], str], *,
                 batch_size: int = 10_000, interval: float = 0.5, max_pending_points: int = 100_000,
                 max_backoff: float = 5.0) -> None:
        self._send = send
        self._spill_dir = spill_dir
        self.batch_size = batch_size
        self.interval = interval
        self.max_pending_points = max_pending_points
        self.max_backoff = max_backoff
        self._lock = threading.Lock()  # the loop's thread and the system-metrics thread both add
        self._open = MetricColumns()
        self._full: collections.deque[MetricColumns] = collections.deque()  # closed batches not yet given ids
        self._full_points = 0
        self._pending: collections.deque[tuple[str, MetricColumns]] = collections.deque()
        self._pending_points = 0
        self._spill_folder: str | None = None
        self._spilled: collections.deque[tuple[str, int]] = collections.deque()  # (file, points), oldest first
        self._spilled_points = 0
        self._spill_count = 0
        self._spill_refusal_told = False  # the disk refused a spill during this outage, and the log said so
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self.delivered = 0
        self._lanes: list[queue.SimpleQueue[tuple[str, MetricColumns] | None]] = []  # a sending thread each
        self._answers: queue.SimpleQueue[tuple[int, tuple[str, MetricColumns], bool]] = queue.SimpleQueue()
        self._lane_threads: list[threading.Thread] = []
        self._thread = start_daemon(self._loop, "brevettiai-metrics")

    def add(self, step: int, values: JSONMapping, timestamp: float | None = None) -> None:
        """Queue one point (cheap; never blocks on the network)."""
        stamp = time.time() if timestamp is None else timestamp
        with self._lock:
            batch = self._open
            batch.add(step, stamp, values)
            if len(batch.steps) < self.batch_size:
                return
            self._full.append(batch)
            self._full_points += len(batch.steps)
            self._open = MetricColumns()
        if not self._wake.is_set():
            self._wake.set()

    @property
    def undelivered(self) -> int:
        """Points not yet accepted by the platform."""
        return len(self._open.steps) + self._full_points + self._pending_points + self._spilled_points

    def _queued(self) -> bool:
        return bool(self._full or self._open.steps)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every point queued so far is delivered; False when `timeout` ran out first."""
        deadline = time.monotonic() + timeout
        while self.undelivered:
            self._idle.clear()
            self._wake.set()
            if not self._idle.wait(max(0.0, deadline - time.monotonic())) or time.monotonic() >= deadline:
                return self.undelivered == 0
        return True

    @property
    def spill_folder(self) -> str | None:
        """The folder holding batches that wait for the platform on disk, if any."""
        return self._spill_folder if self._spilled else None

    @property
    def spilled(self) -> int:
        """Points waiting in files in `spill_folder`."""
        return self._spilled_points

    def close(self, timeout: float = 30.0) -> bool:
        """Flush and stop the thread; what could not be delivered is left in `spill_folder`.

        Points that cannot be written there either are lost: the log says how many.
        """
        delivered = self.flush(timeout)
        self._closed = True
        self._wake.set()
        for lane in self._lanes:
            lane.put(None)
        stop_by = time.monotonic() + 5  # one wait for all threads: a hung request must not cost 5 s per thread
        for thread in (self._thread, *self._lane_threads):
            thread.join(timeout=max(0.0, stop_by - time.monotonic()))
        if not delivered:
            self._spill_everything()
        return delivered

    # Background thread ---------------------------------------------------------------------------

    def _loop(self) -> None:
        failures = 0
        while not self._closed:
            self._wake.wait(self.interval if not failures else min(self.max_backoff, 0.2 * 2 ** failures))
            self._wake.clear()
            delivered = self._send_pending()
            while delivered and self._queued():  # healthy: send what came meanwhile (the open batch too)
                self._take_batch()
                delivered = self._send_pending()
            if delivered:
                failures = 0
                self._spill_refusal_told = False  # the outage is over
            else:  # the platform is away: park the queue in batches, on disk past the memory bound
                failures += 1
                self._take_from_queue()
            if not self.undelivered:
                self._idle.set()

    def _take_batch(self) -> None:
        """Give the oldest queued batch (a full one, else the open one) an id and make it pending."""
        with self._lock:
            batch = self._full[0] if self._full else self._open
            # pending before the queue forgets it, so that `undelivered` never misses it
            self._pending.append((uuid.uuid4().hex, batch))
            self._pending_points += len(batch.steps)
            if self._full:
                self._full.popleft()
                self._full_points -= len(batch.steps)
            else:
                self._open = MetricColumns()

    def _take_from_queue(self) -> None:
        while self._queued():
            self._take_batch()
        if self._pending_points > self.max_pending_points:
            self._spill_oldest()

    def _send_pending(self) -> bool:
        """Send waiting batches, spilled ones first (they are older); False when the platform failed."""
        while self._spilled:
            path, count = self._spilled[0]
            with open(path, encoding="utf-8") as handle:
                body = json.load(handle)
            if not self._try_send(body["batchId"], MetricColumns.from_body(body)):
                return False
            os.remove(path)
            self._spilled.popleft()
            self._spilled_points -= count
        return self._send_window()

    def _send_window(self) -> bool:
        """Send the pending batches, and full batches closed meanwhile, from the lane threads with up to
        `IN_FLIGHT` requests at once; False when one failed (the failed ones stay pending, in order)."""
        if not self._pending:
            return True
        flying: dict[int, tuple[str, MetricColumns]] = {}
        idle = self._start_lanes()
        newest: MetricColumns | None = None  # the last batch sent: a batch sent beside others must follow it
        failed = False
        while True:
            while not failed and idle:
                item = next((entry for entry in self._pending if id(entry) not in flying), None)
                if item is None and self._full:
                    self._take_batch()  # a full batch closed while others were in flight: keep the window busy
                    continue
                if item is None or (flying and not _steps_follow(newest, item[1])):  # type: ignore[arg-type]
                    break
                lane = idle.pop()
                flying[id(item)] = item
                newest = item[1]
                self._lanes[lane].put(item)
            if not flying:
                return not failed
            lane, item, sent = self._answers.get()
            idle.append(lane)
            del flying[id(item)]
            if sent:
                try:
                    self._pending.remove(item)
                except ValueError:  # close() spilled it meanwhile: sent again from disk, stored once by its id
                    continue
                self._pending_points -= len(item[1])
                self.delivered += len(item[1])
            else:
                failed = True

    def _start_lanes(self) -> list[int]:
        """The lane numbers, their threads started on first use (all idle here)."""
        while len(self._lanes) < IN_FLIGHT:
            number, lane = len(self._lanes), queue.SimpleQueue[tuple[str, MetricColumns] | None]()
            self._lanes.append(lane)
            self._lane_threads.append(start_daemon(functools.partial(self._lane, number, lane),
                                                   f"brevettiai-metrics-{number + 1}"))
        return list(range(IN_FLIGHT))

    def _lane(self, number: int, lane: queue.SimpleQueue[tuple[str, MetricColumns] | None]) -> None:
        while (item := lane.get()) is not None:
            try:
                self._send(*item)
            except Exception as exc:  # kept in _pending; sent again later
                log.debug("Sending %d metric points failed: %s", len(item[1]), exc)
                self._answers.put((number, item, False))
            else:
                self._answers.put((number, item, True))

    def _try_send(self, batch_id: str, batch: MetricColumns) -> bool:
        try:
            self._send(batch_id, batch)
        except Exception as exc:  # keep the points, try again later
            log.debug("Sending %d metric points failed: %s", len(batch), exc)
            return False
        self.delivered += len(batch)
        return True

    # Spilling to disk: one file per batch (its columnar body), sent and removed oldest first -------

    def _spill_oldest(self, keep: int = 1, *, ending: bool = False) -> None:
        """Move all but the newest `keep` in-memory batches to files (`ending`: the last chance to keep them)."""
        while len(self._pending) > keep:
            batch_id, batch = self._pending[0]
            try:  # whole or not at all: a full disk or a crash leaves no torn file to be read back
                if self._spill_folder is None:
                    self._spill_folder = self._spill_dir()
                    os.makedirs(self._spill_folder, exist_ok=True)
                self._spill_count += 1
                path = os.path.join(self._spill_folder, f"metrics-{self._spill_count:08d}-{batch_id}.json")
                atomic_write(path, functools.partial(_write_bytes, batch.body(batch_id)))
            except OSError as exc:
                self._spill_refused(exc, ending)
                return
            self._pending.popleft()
            self._pending_points -= len(batch)
            self._spilled.append((path, len(batch)))
            self._spilled_points += len(batch)
        log.warning("The platform is not taking metrics; %d points wait in %s", self._spilled_points,
                    self._spill_folder)

    def _spill_refused(self, exc: OSError, ending: bool) -> None:
        where = self._spill_folder or "a temporary folder"
        if ending:
            log.error("Could not keep %d metric points on disk in %s as the job ends (%s); they are lost",
                      self._pending_points, where, exc)
        elif not self._spill_refusal_told:  # once per outage, not once per round of it
            self._spill_refusal_told = True
            log.warning("Could not keep %d metric points on disk in %s (%s); they wait in memory until "
                        "the platform or the disk takes them", self._pending_points, where, exc)

    def _spill_everything(self) -> None:
        self._take_from_queue()
        self._spill_oldest(keep=0, ending=True)


def _write_bytes(data: bytes, handle: BinaryIO) -> None:
    handle.write(data)
