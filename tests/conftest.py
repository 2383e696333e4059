"""Fixtures shared by the whole suite."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's BREVETTI_AI_* variables; brevettiai loggers start clean."""
    import os

    for name in list(os.environ):
        if name.startswith(("BREVETTI_AI_", "BREVETTIAI_")) or name == "BUILD_ID":
            monkeypatch.delenv(name)
    logging.getLogger("brevettiai").setLevel(logging.NOTSET)


@pytest.fixture
def empty_memory_fs():
    """An empty shared memory:// filesystem before and after the test."""
    from fsspec.implementations.memory import MemoryFileSystem

    def clear() -> None:
        MemoryFileSystem.store.clear()
        MemoryFileSystem.pseudo_dirs.clear()
        MemoryFileSystem.pseudo_dirs.append("")

    clear()
    yield
    clear()


@pytest.fixture
def make_job_dir(tmp_path: Path):
    """Write an info.json into a fresh job dir and return the dir."""

    def make(info: dict | None = None, name: str = "job") -> Path:
        job_dir = tmp_path / name
        job_dir.mkdir(parents=True, exist_ok=True)
        data = {"id": "job-1", "name": "Test job", "settings": {}, "datasets": [], "tags": []}
        data.update(info or {})
        (job_dir / "info.json").write_text(json.dumps(data))
        return job_dir

    return make
from platform_fixture import *  # noqa: E402,F401,F403
from services import *  # noqa: E402,F401,F403
