"""Fixtures of the integration tests that use the web API client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from platform_fixture import admin_name

from brevettiai.platform.web_api import PlatformAPI


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Saved logins go to a temporary home, never the real one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    return home


@pytest.fixture
def web(platform_server: Any, home: Path) -> Iterator[PlatformAPI]:
    """A logged-in admin client that saves nothing."""
    with PlatformAPI(admin_name(platform_server), platform_server.admin_password, host=platform_server.url,
                     remember_me=False) as api:
        yield api
