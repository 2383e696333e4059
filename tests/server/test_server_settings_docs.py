"""The server's settings are listed once (`SETTINGS`); the CLI and docs/server.md must say the same."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from brevettiai.cli import app
from brevettiai.server.config import SETTINGS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def _documented() -> list[tuple[str, str, str]]:
    rows = re.findall(r"^\| `(--[a-z-]+)` \| `(BREVETTI_AI_[A-Z_]+)` \|\s*([^|]*?)\s*\|", DOCS.read_text(), flags=re.M)
    return [(flag, env, default.strip().strip("`")) for flag, env, default in rows]


def test_the_docs_settings_table_lists_every_setting_in_order_with_its_default() -> None:
    assert _documented() == [(s.flag, s.env, s.default) for s in SETTINGS.values()]


def test_the_server_command_offers_every_setting_as_a_flag() -> None:
    result = CliRunner().invoke(app, ["server", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    offered = set(re.findall(r"(--[a-z][a-z-]+)", result.output))
    missing = [s.flag for s in SETTINGS.values() if s.flag not in offered]
    assert not missing, f"brevettiai server lacks {missing}"
