"""Metric delivery while the platform comes and goes: nothing lost, nothing stored twice."""

from __future__ import annotations

import threading
from pathlib import Path

from brevettiai.platform._metrics import MetricsSender


class FlakyPlatform:
    """Stands in for the network: refuses batches while `down`, and records what it accepted by batch id."""

    def __init__(self) -> None:
        self.down = False
        self.batches: dict[str, list] = {}
        self.calls = 0
        self.lock = threading.Lock()

    def send(self, batch_id: str, points: list) -> None:
        with self.lock:
            self.calls += 1
            if self.down:
                raise ConnectionError("platform down")
            self.batches.setdefault(batch_id, points)

    def steps(self) -> list[int]:
        return sorted(p["step"] for batch in self.batches.values() for p in batch)


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
    assert sum(f.read_text().count('"step"') for f in folder.glob("*.json")) == 10


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

    def send(self, batch_id: str, points: list) -> None:
        with self.lock:
            self.storing += 1
            self.most_at_once = max(self.most_at_once, self.storing)
        threading.Event().wait(0.05)
        with self.lock:
            self.storing -= 1
            self.batches.setdefault(batch_id, points)
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


def test_batches_repeating_steps_are_stored_one_after_the_other(tmp_path: Path) -> None:
    """Points of one step in two batches keep their order: the second batch waits for the first."""
    platform = SlowPlatform()
    sender = MetricsSender(platform.send, lambda: str(tmp_path), batch_size=100, interval=1.0)
    for step in range(1000):
        sender.add(step % 150, {"loss": float(step)})
    assert sender.flush(30)
    assert platform.most_at_once == 1
    stored = [p["values"]["loss"] for batch_id in platform.order for p in platform.batches[batch_id]]
    assert stored == [float(step) for step in range(1000)]
    sender.close(1)
