"""The kept answers of metrics reads: the latest answers by key, bounded by the rows they hold.

One cache per server (`ServerContext.metric_answers`): keys hold job ids, which say nothing of the database,
so two servers in one process (on two databases) must not share one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

ANSWER_ROWS = 100_000  # rows of kept answers per server (~16 MB): five compare views of 10 runs × 4 series
ROW_BYTES = 160  # about what one kept row costs in memory
ENTRY_ROWS = 8  # an answer's own entry (its dicts, the key's tuple) weighs as much as this many rows

AnswerKey = tuple[Any, ...]


class AnswerCache:
    """The latest answers by key, holding at most `max_rows` series rows in all (least recently used out); an
    answer of more than a quarter of them (a long range point for point, seldom asked twice) is not kept."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.max_answer_rows = max_rows // 4
        self._answers: OrderedDict[AnswerKey, tuple[dict[str, Any], int]] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()

    def get(self, key: AnswerKey) -> dict[str, Any] | None:
        """The answer kept under `key` (never to be changed by the caller), or None."""
        with self._lock:
            found = self._answers.get(key)
            if found is None:
                return None
            self._answers.move_to_end(key)
            return found[0]

    def put(self, key: AnswerKey, answer: dict[str, Any]) -> None:
        """Keep `answer` under `key`; older answers go while the rows are over the bound. An answer weighs
        its rows plus what its entry and key hold (an empty answer to a long list of names is not free)."""
        rows = sum(len(series) for series in answer["series"].values())
        if rows > self.max_answer_rows:
            return
        rows += ENTRY_ROWS + len(repr(key)) // ROW_BYTES
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._rows -= old[1]
            self._answers[key] = (answer, rows)
            self._rows += rows
            while self._rows > self.max_rows:
                _, (_, dropped) = self._answers.popitem(last=False)
                self._rows -= dropped

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._answers.clear()
            self._rows = 0
