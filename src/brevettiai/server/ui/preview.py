"""Previews of artifacts in the artifacts browser: text, pretty JSON, CSV as a table, images.

Only the start of a file is read (`TEXT_BYTES`); everything is shown as text through the templates'
escaping, and images are served by the inert file route (sandboxing CSP, ``nosniff``), so no file
of a job ever runs as a document of the platform.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from brevettiai.server import files
from brevettiai.server.auth import Principal
from brevettiai.server.context import ServerContext
from brevettiai.server.ui.common import IMAGE_TYPES

TEXT_BYTES = 64 * 1024  # what a text preview shows
JSON_BYTES = 1024 * 1024  # a JSON file up to this size is shown pretty; a larger one as its first text
CSV_ROWS = 100
TEXT_TYPES = (".txt", ".log", ".md", ".py", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml", ".html", ".htm",
              ".sh", ".rst", ".out", ".err", ".jsonl", ".ndjson")


@dataclass
class Preview:
    """What the preview page shows of one file."""

    kind: str  # "image", "json", "csv", "text" or "none"
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False
    note: str = ""


def kind_of(name: str) -> str:
    """How a file is previewed, by its name."""
    lowered = name.lower()
    if lowered.endswith(IMAGE_TYPES):
        return "image"
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith((".csv", ".tsv")):
        return "csv"
    if lowered.endswith(TEXT_TYPES):
        return "text"
    return "none"


def _head(ctx: ServerContext, caller: Principal, job_id: str, path: str, size: int, limit: int) -> tuple[bytes, bool]:
    return files.read_start(ctx, caller, job_id, path, min(size, limit)), size > limit


def _text(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text[:-1] if text.endswith("\ufffd") else text  # a character cut at the limit


def build(ctx: ServerContext, caller: Principal, job_id: str, path: str, size: int) -> Preview:
    """The preview of the stored file `path` (of `size` bytes) of a job."""
    kind = kind_of(path)
    if size == 0 and kind != "none":
        return Preview("text", note="The file is empty (0 bytes).")
    if kind in ("image", "none"):
        return Preview(kind)
    if kind == "json" and size <= JSON_BYTES:
        data, _ = _head(ctx, caller, job_id, path, size, JSON_BYTES)
        try:
            document: Any = json.loads(data)
        except ValueError as exc:
            head, truncated = _head(ctx, caller, job_id, path, size, TEXT_BYTES)
            return Preview("text", _text(head), truncated=truncated, note=f"Not valid JSON ({exc}); shown as text.")
        return Preview("json", json.dumps(document, indent=2, ensure_ascii=False))
    head, truncated = _head(ctx, caller, job_id, path, size, TEXT_BYTES)
    text = _text(head)
    if kind == "csv":
        if truncated and "\n" in text:
            text = text.rsplit("\n", 1)[0]  # whole rows only
        delimiter = "\t" if path.lower().endswith(".tsv") else ","
        rows: list[list[str]] = []
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            rows.append(row)
            if len(rows) > CSV_ROWS + 1:  # the header and CSV_ROWS rows, and one to know there are more
                break
        more = len(rows) > CSV_ROWS + 1 or truncated
        return Preview("csv", rows=rows[:CSV_ROWS + 1], truncated=more)
    return Preview("text", text, truncated=truncated,
                   note="Larger than 1 MiB: its beginning is shown as text." if kind == "json" else "")
