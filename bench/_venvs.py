"""Throwaway, cached venvs for the peers of the benchmarks (created with uv under bench/.venvs/).

Run directly to create them all: ``python bench/_venvs.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
ROOT = BENCH_DIR.parent
PYTHON_VERSION = "3.11"

PEERS_PACKAGES = ["mlflow", "wandb", "pydantic-settings"]
REFERENCE_PACKAGE = "brevettiai==2.0.0"
REFERENCE_IMPORT = "from brevettiai.platform import Job"
# Installed with --no-deps when brevettiai==2.0.0 does not resolve with its own dependencies:
# the smallest set found (by trying) that lets `from brevettiai.platform import Job` import.
REFERENCE_FALLBACK_DEPS = [
    "pydantic>=1.9,<2",
    "numpy",
    "pandas",
    "requests",
    "requests-oauthlib",
    "oauthlib",
    "backoff",
    "botocore",
    "cloudpathlib",
    "smart-open",
    "minio",
    "shapely",
    "toml",
    "h5py",
    "py7zr",
]


@dataclass
class Venv:
    """A benchmark venv: its python, or why it is unusable."""

    name: str
    python: Path | None
    versions: dict[str, str]
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when the venv exists and its main import works."""
        return self.python is not None


def _uv_command() -> list[str]:
    """How to call uv: the `uv` on PATH, else the uv module of this or the system's python."""
    if shutil.which("uv"):
        return ["uv"]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    return ["python3", "-m", "uv"]


def _uv(*args: str, log: Path) -> bool:
    """Run a uv command, appending its output to log; True on success."""
    with log.open("a") as fh:
        fh.write(f"$ uv {' '.join(args)}\n")
        fh.flush()
        proc = subprocess.run([*_uv_command(), *args], stdout=fh, stderr=subprocess.STDOUT)
    return proc.returncode == 0


def _python_of(path: Path) -> Path:
    """Interpreter of the venv at path."""
    return path / "bin" / "python"


def _versions(python: Path, packages: list[str]) -> dict[str, str]:
    """Installed versions of packages in the given interpreter's environment."""
    code = (
        "import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\n"
        "out = {}\nfor p in sys.argv[1:]:\n"
        "    try: out[p] = version(p)\n    except PackageNotFoundError: out[p] = 'missing'\n"
        "print(json.dumps(out))"
    )
    proc = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def _import_error(python: Path, statement: str) -> str:
    """Last line of the error from running statement in python, or '' if it works."""
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline"}
    proc = subprocess.run([str(python), "-c", statement], capture_output=True, text=True, env=env)
    if proc.returncode == 0:
        return ""
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _create(path: Path, log: Path) -> bool:
    """Create an empty Python 3.11 venv at path; True on success."""
    return _uv("venv", "--quiet", "--clear", "--python", PYTHON_VERSION, str(path), log=log)


def peers_venv() -> Venv:
    """The venv holding mlflow, wandb and pydantic-settings (created once, then cached)."""
    path = VENVS_DIR / "peers"
    marker, log = path / ".bench-ok", VENVS_DIR / "peers.log"
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        py = _python_of(path)
        ok = _create(path, log) and _uv("pip", "install", "--python", str(py), *PEERS_PACKAGES, log=log)
        if not ok:
            return Venv("peers", None, {}, f"install failed, see {log}")
        marker.write_text("ok\n")
    return Venv("peers", _python_of(path), _versions(_python_of(path), PEERS_PACKAGES))


def reference_venv() -> Venv:
    """The venv holding brevettiai==2.0.0 from PyPI, or the reason it is unusable (cached either way)."""
    path = VENVS_DIR / "reference"
    marker, log = path / ".bench-status.json", VENVS_DIR / "reference.log"
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        py = _python_of(path)
        status: dict[str, str] = {"mode": "full"}
        if not _create(path, log):
            return Venv("reference", None, {}, f"n/a (cannot create venv, see {log})")
        if not _uv("pip", "install", "--python", str(py), REFERENCE_PACKAGE, log=log):
            status["mode"] = "no-deps"
            ok = _uv("pip", "install", "--python", str(py), "--no-deps", REFERENCE_PACKAGE, log=log)
            ok = ok and _uv("pip", "install", "--python", str(py), *REFERENCE_FALLBACK_DEPS, log=log)
            if not ok:
                status["error"] = f"brevettiai 2.0.0 does not install on Python {PYTHON_VERSION}, see {log}"
        if "error" not in status:
            err = _import_error(py, REFERENCE_IMPORT)
            if err:
                status["error"] = f"import fails on Python {PYTHON_VERSION}: {err}"
        path.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(status))
    status = json.loads(marker.read_text())
    if "error" in status:
        return Venv("reference", None, {}, f"n/a ({status['error']})")
    note = "installed with --no-deps + minimal deps" if status["mode"] == "no-deps" else ""
    return Venv("reference", _python_of(path), _versions(_python_of(path), ["brevettiai"]), note)


def ours_python() -> Path:
    """Interpreter for our own side: this one if it is the project venv's, else the project venv's."""
    project = ROOT / ".venv" / "bin" / "python"
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve() or not project.exists():
        return Path(sys.executable)
    return project


def ours_versions() -> dict[str, str]:
    """Installed versions of our package and its settings dependency."""
    return _versions(ours_python(), ["brevettiai", "pydantic"])


if __name__ == "__main__":
    for venv in (peers_venv(), reference_venv()):
        print(f"{venv.name}: {venv.python or venv.note} {venv.versions} {venv.note if venv.ok else ''}")
