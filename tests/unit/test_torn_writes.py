"""Files read back later are written whole or not at all: spilled metric batches and sync's job keys.

A write that fails part-way must lose nothing and leave no torn file. The failing write is real: the
writer runs in a child process whose file-size limit (RLIMIT_FSIZE) is lower than what it writes, so
the kernel refuses the write part-way (EFBIG), as a full disk would.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")  # POSIX: the limit that makes a write fail part-way

CHILD = textwrap.dedent('''
    import json, logging, resource, signal, sys, threading, time
    from brevettiai.platform._metrics import MetricsSender

    spill, steps_file = sys.argv[1], sys.argv[2]
    down, delivered, lock = [True], {}, threading.Lock()

    def send(batch_id, batch):
        if down[0]:
            raise ConnectionError("platform down")
        with lock:
            delivered.setdefault(batch_id, json.loads(batch.body(batch_id))["steps"])

    refused = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record):
            if "Could not keep" in record.getMessage():
                refused.set()

    logging.getLogger("brevettiai").addHandler(Watch())
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-limit write fails with EFBIG instead of a kill
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))  # a batch's body is larger: its write tears
    sender = MetricsSender(send, lambda: spill, batch_size=200, interval=0.01, max_pending_points=200,
                           max_backoff=0.02)
    for step in range(1000):
        sender.add(step, {"loss": step / 1000, "accuracy": 1 - step / 1000})
    assert refused.wait(30), "the spill was never refused"
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    down[0] = False
    assert sender.flush(30), sender.undelivered
    sender.close(5)
    with open(steps_file, "w") as out:
        json.dump(sorted(step for steps in delivered.values() for step in steps), out)
''')


def test_a_spill_write_that_fails_part_way_loses_no_point_and_leaves_no_torn_file(tmp_path: Path) -> None:
    spill, steps_file = tmp_path / "spill", tmp_path / "steps.json"
    result = subprocess.run([sys.executable, "-c", CHILD, str(spill), str(steps_file)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(steps_file.read_text()) == list(range(1000))
    left = list(spill.iterdir()) if spill.exists() else []
    assert left == [], f"torn or stale spill files: {[p.name for p in left]}"


KEY_CHILD = textwrap.dedent('''
    import resource, signal, sys
    from brevettiai.utils.sync import _key_file, _save_key

    _save_key("m1", "bj_the-first-key")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8, hard))
    try:
        _save_key("m1", "bj_a-second-key-longer-than-the-limit")
    except OSError as exc:
        print("refused:", exc.strerror)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    print("kept:", _key_file("m1").read_text())
''')


def test_a_job_key_write_that_fails_part_way_keeps_the_previous_key_whole(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", KEY_CHILD], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["refused: File too large", "kept: bj_the-first-key"]
    folder = tmp_path / ".cache" / "brevettiai" / "sync-keys"
    assert [p.name for p in folder.iterdir()] == ["m1.key"]
    assert stat.S_IMODE((folder / "m1.key").stat().st_mode) == 0o600
