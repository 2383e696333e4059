"""Building settings validators without pydantic's plugin scan when no pydantic plugin is installed.

The first validator pydantic builds in a process imports ``pydantic.plugin._loader``, which imports
`importlib.metadata` (with email, csv, zipfile: ~66 M instructions) and asks it for the entry points
of every installed distribution (~29 M) to find the ``pydantic`` plugins. A job's settings are often
the only validator a short job builds, so this was a third of what a no-op run did above the import.

While settings are parsed and built, a stand-in takes the loader's place (only if pydantic's loader
was not imported yet). Asked for the plugins, it does the same search as `importlib.metadata`, over
the same `sys.path` folders, but only for the one fact needed: whether any distribution declares a
``[pydantic]`` entry point. When none does, it answers "no plugins" (what the real loader would
answer); otherwise, and whenever the search cannot see what `importlib.metadata` would (a zip or egg
on the path, another finder of distributions), it hands over to pydantic's own loader. Validators
built after the settings use pydantic's loader as always.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.machinery import PathFinder

LOADER = "pydantic.plugin._loader"
_GROUP = "pydantic"


@contextmanager
def without_plugin_scan() -> Iterator[None]:
    """Within the block, pydantic finds no plugins without its scan, if none is installed."""
    if LOADER in sys.modules:  # imported already: its answer is cached
        yield
        return
    stand_in = _stand_in_loader()
    sys.modules[LOADER] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(LOADER) is stand_in:
            del sys.modules[LOADER]


_answer: tuple[tuple[object, ...], bool] | None = None  # (the path, its folders' mtimes and finders; the answer)


def no_plugins_installed() -> bool:
    """True when no distribution on `sys.path` declares a ``pydantic`` entry point (False when unsure)."""
    global _answer
    key = (*map(_stamp, sys.path), *map(id, sys.meta_path))  # a folder's mtime changes when a package is installed
    if _answer is None or _answer[0] != key:
        _answer = (key, _search())
    return _answer[1]


def _stamp(entry: object) -> object:
    try:
        return entry, os.stat(entry or ".").st_mtime_ns if isinstance(entry, str) else None
    except OSError:
        return entry, None


def _search() -> bool:
    for finder in sys.meta_path:  # importlib.metadata asks every finder that can find distributions
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return False
    for entry in sys.path:
        if not isinstance(entry, str):
            return False
        root = entry or "."
        if not os.path.isdir(root):
            if os.path.exists(root):  # a zip: importlib.metadata looks inside
                return False
            continue
        if os.path.basename(root).lower().endswith(".egg"):  # an egg folder: its EGG-INFO counts too
            return False
        try:
            children = os.listdir(root)
        except OSError:  # importlib.metadata finds nothing there either
            continue
        for child in children:
            if child.lower().endswith((".dist-info", ".egg-info")) and _declares_plugin(os.path.join(root, child)):
                return False
    return True


def _declares_plugin(info_dir: str) -> bool:
    path = os.path.join(info_dir, "entry_points.txt")
    if not os.path.isfile(path):  # most distributions have none: a stat, without an exception per miss
        return False
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:  # unreadable here: let pydantic look
        return True
    return any(line.strip().startswith("[") and line.strip().strip("[]").strip() == _GROUP
               for line in text.splitlines())


def _stand_in_loader() -> types.ModuleType:
    module = types.ModuleType(LOADER, "Answers pydantic's plugin lookup when no plugin is installed.")

    def real_loader() -> types.ModuleType:
        if sys.modules.get(LOADER) is module:
            del sys.modules[LOADER]
        return importlib.import_module(LOADER)

    def get_plugins() -> Iterable[object]:
        """pydantic's question, asked when it builds a validator: the real loader's answer, found cheaply if none."""
        if no_plugins_installed():
            return ()
        plugins: Iterable[object] = real_loader().get_plugins()
        return plugins

    def real_attribute(name: str) -> object:
        """Anything else is the real loader's (imported then, in place of this stand-in)."""
        if name.startswith("__"):  # the import system's questions (__path__: is it a package?)
            raise AttributeError(name)
        return getattr(real_loader(), name)

    module.get_plugins = get_plugins  # type: ignore[attr-defined]
    module.__getattr__ = real_attribute  # type: ignore[method-assign]
    return module
