"""System metrics of a running job: CPU, memory and (with NVML) GPU use, as ``system/...`` progress series.

A daemon thread takes one sample every `interval` seconds (and one when the job ends) and records it
through the job's own metrics path, so the points travel like any ``log_metrics`` point: batched to
the platform, or into metrics.jsonl offline. The step of a sample is the whole seconds since sampling
began. psutil is imported by the sampler's thread a second after the job starts (a shorter job gets
no system series and pays nothing); GPUs are read only when ``pynvml`` (nvidia-ml-py) is importable
and finds a driver.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from brevettiai._threads import start_daemon

log = logging.getLogger("brevettiai.system_metrics")

DEFAULT_INTERVAL = 10.0
PREPARE_DELAY = 1.0  # seconds after the start before psutil is imported
PREFIX = "system/"
_MB = 1024 * 1024

Record = Callable[[int, dict[str, float]], None]


class _Gpus:
    """NVML's view of the GPUs, or nothing when it is not installed or finds no driver."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        try:
            import pynvml  # type: ignore[import-not-found]

            pynvml.nvmlInit()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self._nvml = pynvml
        except Exception:  # not installed, no driver, no GPU: no GPU series
            self._handles = []

    def sample(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for index, handle in enumerate(self._handles):
            try:
                use = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception as exc:
                log.debug("GPU %d could not be read: %s", index, exc)
                continue
            values[f"{PREFIX}gpu{index}/utilization_percent"] = float(use.gpu)
            values[f"{PREFIX}gpu{index}/memory_mb"] = round(memory.used / _MB, 1)
        return values

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass


class SystemSampler:
    """Samples this process's and the machine's CPU and memory (and GPUs) into `record(step, values)`."""

    def __init__(self, record: Record, interval: float = DEFAULT_INTERVAL) -> None:
        self._record = record
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._process: Any = None
        self._psutil: Any = None
        self._gpus: _Gpus | None = None
        self._lock = threading.Lock()  # one sample at a time: the thread's and the last one at stop
        self.ready = threading.Event()  # psutil is imported and primed
        self.samples = 0
        self.thread_cpu_seconds = 0.0  # CPU time the sampler thread used (what sampling costs)

    def start(self) -> None:
        """Begin sampling in a daemon thread (which imports psutil a second later, off the job's own
        thread); the first sample is taken one interval after the start."""
        if self._thread is not None:
            return
        self._started_at = time.monotonic()
        self._thread = start_daemon(self._loop, "brevettiai-system-metrics")

    def stop(self) -> None:
        """Take a last sample and stop the thread (the job has ended).

        A job that ends before the sampler is ready (within about a second) does not wait for it:
        such a short job gets no system series."""
        if self._thread is None or self._stopped.is_set():
            return
        self._stopped.set()
        if not self.ready.is_set():
            return
        self._thread.join(timeout=5)
        self._take_sample()
        if self._gpus is not None:
            self._gpus.close()

    def _prepare(self) -> bool:
        try:
            import psutil

            self._psutil = psutil
            self._process = psutil.Process()
            self._process.cpu_percent(None)  # the first reading only sets the reference point
            psutil.cpu_percent(None)
            self._gpus = _Gpus()
        except Exception as exc:  # psutil is a dependency, but a trimmed environment may lack it
            log.warning("System metrics are off: %s", exc)
            return False
        self.ready.set()
        return True

    def _loop(self) -> None:
        # psutil's import holds the GIL for tens of milliseconds: a job shorter than this pays nothing
        if self._stopped.wait(min(PREPARE_DELAY, self.interval)):
            return
        began = time.thread_time()
        ready = self._prepare()
        self.thread_cpu_seconds += time.thread_time() - began
        if not ready:
            return
        wait = max(0.0, self.interval - (time.monotonic() - self._started_at))  # the first: one interval from start
        while not self._stopped.wait(wait):
            began = time.thread_time()
            self._take_sample()
            self.thread_cpu_seconds += time.thread_time() - began
            wait = self.interval

    def _take_sample(self) -> None:
        with self._lock:
            try:
                values = self.sample()
                self._record(int(time.monotonic() - self._started_at), values)
                self.samples += 1
            except Exception as exc:  # system metrics must never disturb the job
                log.debug("System metrics sample failed: %s", exc)

    def sample(self) -> dict[str, float]:
        """One reading of every series."""
        psutil, process = self._psutil, self._process
        memory = psutil.virtual_memory()
        values = {
            f"{PREFIX}cpu_percent": float(psutil.cpu_percent(None)),
            f"{PREFIX}process_cpu_percent": float(process.cpu_percent(None)),
            f"{PREFIX}memory_mb": round(process.memory_info().rss / _MB, 1),
            f"{PREFIX}system_memory_percent": float(memory.percent),
        }
        if self._gpus is not None:
            values.update(self._gpus.sample())
        return values
