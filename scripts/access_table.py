"""Rewrite the "Access by role" table of docs/platform-api.md from `brevettiai.server.access.TABLE`.

Run after adding a route's row: ``.venv/bin/python scripts/access_table.py``
(tests/server/test_server_roles.py holds the docs to the table).
"""

from __future__ import annotations

from pathlib import Path

from brevettiai.server.access import TABLE
from brevettiai.server.roles import at_least

DOCS = Path(__file__).resolve().parent.parent / "docs" / "platform-api.md"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def table_lines() -> list[str]:
    lines = ["| method | path | viewer | member | admin |", "|---|---|---|---|---|"]
    for method, path in sorted(TABLE, key=lambda cell: (cell[1], METHODS.index(cell[0]))):
        marks = " | ".join("✓" if at_least(role, TABLE[(method, path)]) else "—" for role in ("viewer", "member", "admin"))
        lines.append(f"| {method} | `{path}` | {marks} |")
    return lines


def main() -> None:
    text = DOCS.read_text(encoding="utf-8")
    head, tail = text.split("### Access by role", 1)
    lines = tail.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("| method | path | viewer"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    lines[start:end] = table_lines()
    DOCS.write_text(head + "### Access by role" + "\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
