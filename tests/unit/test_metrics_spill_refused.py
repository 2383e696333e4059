"""A disk that refuses the spill: said once per outage while the job runs, and at the job's end the
points that could not be kept are reported lost, with their count (not as waiting in memory).

The failing write is real, as in test_torn_writes.py: the sender runs in a child process whose
file-size limit (RLIMIT_FSIZE) is lower than a spilled batch, so the kernel refuses the write (EFBIG).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("resource")  # POSIX: the limit that makes a write fail

CHILD = textwrap.dedent('''
    import json, logging, resource, signal, sys, threading
    from brevettiai.platform._metrics import MetricsSender

    spill, out = sys.argv[1], sys.argv[2]
    attempts, records, changed = [0], [], threading.Condition()

    def send(batch_id, batch):
        with changed:
            attempts[0] += 1
            changed.notify_all()
        raise ConnectionError("platform down")

    class Keep(logging.Handler):
        def emit(self, record):
            with changed:
                records.append([record.levelname, record.getMessage()])
                changed.notify_all()

    def wait_until(condition):
        with changed:
            assert changed.wait_for(condition, 30), (attempts, records)

    logging.getLogger("brevettiai").addHandler(Keep())
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-limit write fails with EFBIG instead of a kill
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))
    sender = MetricsSender(send, lambda: spill, batch_size=200, interval=0.01, max_pending_points=200,
                           max_backoff=0.02)
    for step in range(1000):
        sender.add(step, {"loss": step / 1000})
    wait_until(lambda: any("Could not keep" in message for _, message in records))
    for round_ in range(5):  # more rounds of the same outage, each one more batch past the memory bound
        seen = attempts[0]
        for step in range(1000 + 200 * round_, 1200 + 200 * round_):
            sender.add(step, {"loss": 0.5})
        wait_until(lambda: attempts[0] >= seen + 3)
    delivered = sender.close(0.2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    with open(out, "w") as handle:
        json.dump({"delivered": delivered, "records": records}, handle)
''')


def test_a_refused_spill_is_told_once_per_outage_and_lost_points_are_counted_at_the_end(tmp_path: Path) -> None:
    spill, out = tmp_path / "spill", tmp_path / "out.json"
    result = subprocess.run([sys.executable, "-c", CHILD, str(spill), str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["delivered"] is False
    refused = [message for level, message in report["records"] if level == "WARNING" and "Could not keep" in message]
    assert len(refused) == 1, report["records"]
    assert "wait in memory" in refused[0]
    errors = [message for level, message in report["records"] if level == "ERROR"]
    assert len(errors) == 1, report["records"]
    assert "2000 metric points" in errors[0] and "they are lost" in errors[0], errors
    assert not any("wait in" in message for message in errors)
