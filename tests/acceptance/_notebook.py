"""Run the ```python blocks of a document in order, like notebook cells, and record what each shows.

Usage: python _notebook.py DOCUMENT PRELUDE OUT.json

PRELUDE is Python run first in the same namespace (it defines the classes a seed only names,
such as SerializeableObject). For each block the transcript holds its stdout, its stderr (log
lines included) and, like a notebook, the repr of a final bare expression.
"""

from __future__ import annotations

import ast
import io
import json
import re
import sys
import traceback
import types
from pathlib import Path


class _Tee(io.TextIOBase):
    """A stream that writes into whichever buffer is current (one per block)."""

    def __init__(self) -> None:
        self.buffer_: io.StringIO = io.StringIO()

    def write(self, text: str) -> int:
        return self.buffer_.write(text)


def code_blocks(document: str) -> list[str]:
    """The ```python fenced blocks of a Markdown document."""
    return [m.group(1) for m in re.finditer(r"```python\n(.*?)```", document, re.S)]


def run_block(source: str, namespace: dict) -> object:
    """Execute a block; return the value of its last statement when it is an expression."""
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body.pop()
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
    return None


def main() -> None:
    document, prelude, out_path = sys.argv[1:4]
    sys.argv = ["ipykernel_launcher.py", "-f", "/tmp/kernel-0.json"]  # what a notebook kernel has
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    namespace = module.__dict__
    out, err = _Tee(), _Tee()
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    exec(compile(Path(prelude).read_text(), prelude, "exec"), namespace)
    transcript = []
    for source in code_blocks(Path(document).read_text()):
        out.buffer_, err.buffer_ = io.StringIO(), io.StringIO()
        entry = {"source": source, "error": None, "value": None}
        try:
            value = run_block(source, namespace)
            entry["value"] = None if value is None else repr(value)
        except BaseException as exc:  # noqa: BLE001 - the transcript records every failure
            entry["error"] = "".join(traceback.format_exception(exc))
        entry["stdout"], entry["stderr"] = out.buffer_.getvalue(), err.buffer_.getvalue()
        transcript.append(entry)
    sys.stdout, sys.stderr = real_stdout, real_stderr
    with open(out_path, "w") as handle:
        json.dump(transcript, handle, indent=2)


if __name__ == "__main__":
    main()
