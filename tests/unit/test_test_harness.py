"""The test suite's own rules: an assert in a worker thread fails the test that started the thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_assert_in_a_worker_thread_fails_the_test(tmp_path: Path) -> None:
    (tmp_path / "test_thread.py").write_text(textwrap.dedent("""
        import threading

        def test_worker_asserts():
            worker = threading.Thread(target=lambda: (_ for _ in ()).throw(AssertionError("seen in the thread")))
            worker.start()
            worker.join()
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
                             "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
                             str(tmp_path / "test_thread.py")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "seen in the thread" in result.stdout and "1 failed" in result.stdout.replace("error", "failed")
