"""`make setup` (what `make demo` and `make test` run first) on a copy of the checkout, with a stand-in
for the interpreter that behaves as Debian's `python3` does: no uv, and PEP 668 refusing a plain
`pip install`. Only the interpreter is a stand-in; make and the Makefile are the real ones."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Debian's python3 as far as the Makefile can tell: uv missing until pip installs it, and pip refusing to
# install into the system unless told --user --break-system-packages (or missing altogether).
DEBIAN_PYTHON = r"""#!/bin/bash
echo "$*" >> "$CALLS"
state=$(dirname "$0")
case "$*" in
  "-m uv --version") test -f "$state/uv-installed" ;;
  "-m pip install --quiet uv")
    [ -n "$NO_PIP" ] && { echo "No module named pip" >&2; exit 1; }
    echo "error: externally-managed-environment" >&2; exit 1 ;;
  "-m pip install --quiet --user --break-system-packages uv")
    [ -n "$NO_PIP" ] && { echo "No module named pip" >&2; exit 1; }
    touch "$state/uv-installed" ;;
  "-m uv sync --frozen --extra dev --python "*)
    test -f "$state/uv-installed" && mkdir -p .venv ;;
  *) echo "unexpected: $*" >&2; exit 3 ;;
esac
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, copy / name)
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.write_text(DEBIAN_PYTHON)
    python.chmod(0o755)
    return copy


def _make(checkout: Path, **env: str) -> subprocess.CompletedProcess[str]:
    python = checkout.parent / "bin" / "python3"
    calls = checkout.parent / "calls.txt"
    return subprocess.run(["make", "--no-print-directory", "setup", f"PYTHON={python}"], cwd=checkout,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "CALLS": str(calls), **env})


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_setup_installs_uv_past_pep_668_then_syncs(checkout: Path) -> None:
    result = _make(checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (checkout.parent / "calls.txt").read_text().splitlines()
    python = checkout.parent / "bin" / "python3"
    assert calls == ["-m uv --version", "-m pip install --quiet uv",
                     "-m pip install --quiet --user --break-system-packages uv",
                     f"-m uv sync --frozen --extra dev --python {python}"]
    assert (checkout / ".venv" / ".synced-dev").exists()
    again = _make(checkout)  # set up already: nothing to do
    assert again.returncode == 0 and len((checkout.parent / "calls.txt").read_text().splitlines()) == 4


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_setup_without_pip_says_what_to_install(checkout: Path) -> None:
    result = _make(checkout, NO_PIP="1")
    assert result.returncode != 0
    assert "could not install uv" in result.stderr and "apt-get install python3-pip" in result.stderr
    assert not (checkout / ".venv").exists()
