"""Metric delivery while the platform comes and goes: nothing lost, nothing stored twice."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from brevettiai.platform._metrics import MetricColumns, MetricsSender


class FlakyPlatform:
    """Stands in for the network: refuses batches while `down`, and records what it accepted by batch id."""

    def __init__(self) -> None:
        self.down = False
        self.batches: dict[str, MetricColumns] = {}
        self.calls = 0
        self.lock = threading.Lock()

    def send(self, batch_id: str, batch: MetricColumns) -> None:
        with self.lock:
            self.calls += 1
            if self.down:
                raise ConnectionError("platform down")
            self.batches.setdefault(batch_id, json.loads(batch.body(batch_id)))  # what goes on the wire

    def steps(self) -> list[int]:
        return sorted(step for batch in self.batches.values() for step in batch["steps"])


def test_points_are_delivered_in_batches(tmp_path: Path) -> None:
    platform = FlakyPlatform()
    sender = MetricsSender(platform.send, lambda: str(tmp_path), batch_size=100, interval=0.05)
    for step in range(1000):
        sender.add(step, {"loss": step / 1000})
    assert sender.flush(10)
    assert platform.steps() == list(range(1000))
    assert len(platform.batches) <= 15  # batched, not one request per point
    sender.close(1)


def test_points_wait_while_the_platform_is_down_and_spill_to_disk(tmp_path: Path) -> None:
    platform = FlakyPlatform()
    platform.down = True
    sender = MetricsSender(platform.send, lambda: str(tmp_path / "spill"), batch_size=50, interval=0.02,
                           max_pending_points=200, max_backoff=0.05)
    for step in range(1000):
        sender.add(step, {"acc": 0.5})
    assert not sender.flush(0.5)
    assert sender.undelivered == 1000
    spilled = list((tmp_path / "spill").glob("*.json"))
    assert spilled and sender._pending_points <= 200, "over the memory bound the batches go to disk"
    platform.down = False
    assert sender.flush(10)
    assert platform.steps() == list(range(1000))
    assert not list((tmp_path / "spill").glob("*.json"))
    sender.close(1)


def test_close_keeps_undelivered_points_in_a_file(tmp_path: Path) -> None:
    platform = FlakyPlatform()
    platform.down = True
    sender = MetricsSender(platform.send, lambda: str(tmp_path), interval=0.01, max_backoff=0.02)
    for step in range(10):
        sender.add(step, {"x": 1})
    assert sender.close(0.2) is False
    folder = Path(sender.spill_folder)
    assert sum(len(json.loads(f.read_text())["steps"]) for f in folder.glob("*.json")) == 10


def test_many_points_from_a_training_loop_all_arrive(tmp_path: Path) -> None:
    platform = FlakyPlatform()
    sender = MetricsSender(platform.send, lambda: str(tmp_path), batch_size=10_000, interval=0.05)
    for step in range(100_000):
        sender.add(step, {"loss": 0.1})
    assert sender.flush(30) and len(platform.steps()) == 100_000
    sender.close(1)


class SlowPlatform(FlakyPlatform):
    """Takes a while to store each batch, and notes how many batches it was storing at once."""

    def __init__(self) -> None:
        super().__init__()
        self.storing = 0
        self.most_at_once = 0
        self.order: list[str] = []

    def send(self, batch_id: str, batch: MetricColumns) -> None:
        with self.lock:
            self.storing += 1
            self.most_at_once = max(self.most_at_once, self.storing)
        threading.Event().wait(0.05)
        with self.lock:
            self.storing -= 1
            self.batches.setdefault(batch_id, json.loads(batch.body(batch_id)))
            self.order.append(batch_id)


def test_two_batches_of_later_steps_are_stored_at_once(tmp_path: Path) -> None:
    platform = SlowPlatform()
    sender = MetricsSender(platform.send, lambda: str(tmp_path), batch_size=100, interval=1.0)
    for step in range(1000):
        sender.add(step, {"loss": 0.1})
    assert sender.flush(30) and platform.steps() == list(range(1000))
    assert platform.most_at_once == 2
    assert sender.delivered == 1000 and sender.undelivered == 0
    sender.close(1)


def test_a_slow_batch_does_not_hold_back_the_batches_after_it(tmp_path: Path) -> None:
    """Two requests in flight as a window, not in pairs: while the platform is still storing one batch,
    later batches go out one after another as the other request is answered."""
    platform = FlakyPlatform()
    later_stored = threading.Event()
    order: list[int] = []
    held_back: list[str] = []

    def send(batch_id: str, batch: MetricColumns) -> None:
        if batch.steps[0] == 0 and not later_stored.wait(5):  # the first batch is slow: stored after three later ones
            held_back.append(batch_id)
            raise ConnectionError("no later batch was sent while the first one was being stored")
        platform.send(batch_id, batch)
        with platform.lock:
            order.append(batch.steps[0])
            if len(order) == 3:
                later_stored.set()

    sender = MetricsSender(send, lambda: str(tmp_path), batch_size=100, interval=1.0)
    for step in range(1000):
        sender.add(step, {"loss": 0.1})
    assert sender.flush(30) and platform.steps() == list(range(1000))
    # the other request may store more while the first one's thread waits for a core: at least three came first
    assert not held_back and order.index(0) >= 3 and sorted(order[:3]) == order[:3]
    sender.close(1)


def test_batches_repeating_steps_are_stored_one_after_the_other(tmp_path: Path) -> None:
    """Points of one step in two batches keep their order: the second batch waits for the first."""
    platform = SlowPlatform()
    sender = MetricsSender(platform.send, lambda: str(tmp_path), batch_size=100, interval=1.0)
    for step in range(1000):
        sender.add(step % 150, {"loss": float(step)})
    assert sender.flush(30)
    assert platform.most_at_once == 1
    stored = [value for batch_id in platform.order for value in platform.batches[batch_id]["series"]["loss"]]
    assert stored == [float(step) for step in range(1000)]
    sender.close(1)


def test_points_with_other_names_or_none_values_keep_their_meaning(tmp_path: Path) -> None:
    """A name missing from a point is no value at that step (null); a value given as None a stored null (NaN)."""
    platform = FlakyPlatform()
    sender = MetricsSender(platform.send, lambda: str(tmp_path), interval=0.05)
    sender.add(0, {"loss": 0.5, "lr": 0.1}, timestamp=10.0)
    sender.add(1, {"loss": None, "acc": 0.9}, timestamp=11.0)
    sender.add(2, {"lr": 0.2}, timestamp=12.0)
    assert sender.flush(10)
    (batch,) = platform.batches.values()
    assert batch["steps"] == [0, 1, 2] and batch["times"] == [10.0, 11.0, 12.0]
    loss = batch["series"]["loss"]
    assert loss[0] == 0.5 and loss[1] != loss[1] and loss[2] is None  # NaN sent for None
    assert batch["series"]["lr"] == [0.1, None, 0.2] and batch["series"]["acc"] == [None, 0.9, None]
    sender.close(1)


def test_points_from_two_threads_all_arrive_whole(tmp_path: Path) -> None:
    """The training loop and the system-metrics thread add at once: every point arrives with its own values."""
    platform = FlakyPlatform()
    sender = MetricsSender(platform.send, lambda: str(tmp_path), batch_size=500, interval=0.01)

    def add_points(name: str, first: int) -> None:
        for step in range(first, first + 20_000):
            sender.add(step, {name: float(step)})

    threads = [threading.Thread(target=add_points, args=(name, first)) for name, first in (("a", 0), ("b", 20_000))]
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, also in the middle of an add
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    assert sender.flush(30)
    assert platform.steps() == list(range(40_000))
    for batch in platform.batches.values():
        for name, values in batch["series"].items():
            assert all(v is None or v == step for step, v in zip(batch["steps"], values, strict=True)), name
            assert all((v is None) == ((step < 20_000) == (name == "b"))
                       for step, v in zip(batch["steps"], values, strict=True)), name
    sender.close(1)


def test_the_point_form_of_a_batch_has_the_same_points() -> None:
    batch = MetricColumns()
    batch.add(3, 13.0, {"loss": 0.2, "lr": None})
    batch.add(4, 14.0, {"acc": 0.9})
    assert batch.points() == [{"step": 3, "time": 13.0, "values": {"loss": 0.2, "lr": None}},
                              {"step": 4, "time": 14.0, "values": {"acc": 0.9}}]
