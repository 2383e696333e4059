"""The writer's per-block sums of a batch: the slice path for consecutive steps gives what the row loop gives."""

from __future__ import annotations

import random

from brevettiai.server.metric_blocks import Summaries


def test_sums_by_slices_equal_sums_row_by_row() -> None:
    generator = random.Random(12)
    for _ in range(300):
        by_slices, by_rows = Summaries(), Summaries()
        start = generator.randint(-300, 300)
        for _batch in range(3):  # batches of one group, sometimes going back over steps already sent
            count = generator.randint(1, 200)
            steps = list(range(start, start + count))
            start += count if generator.random() < 0.8 else -generator.randint(0, 50)
            values = [generator.uniform(-5, 5) for _ in steps]
            times = [generator.uniform(0, 10) for _ in steps] if generator.random() < 0.5 else None
            assert by_slices.add_series("job", "loss", steps, values, times, 1.5)
            by_rows.add_rows(("job", step, "loss", value, 1.5 if times is None else times[i])
                             for i, (step, value) in enumerate(zip(steps, values, strict=True)))
        assert by_slices.blocks == by_rows.blocks
        assert by_slices.series() == by_rows.series()


def test_steps_that_are_not_consecutive_are_left_to_the_row_loop() -> None:
    sums = Summaries()
    assert not sums.add_series("job", "loss", [0, 2, 3], [1.0, 2.0, 3.0], None, 0.0)
    assert not sums.add_series("job", "loss", [3, 2, 1], [1.0, 2.0, 3.0], None, 0.0)
    assert not sums.blocks
