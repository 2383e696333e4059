"""No `Any` in the SDK's public signatures (issue 10): a JSON value is a `JSONValue`/`JSONObject`
(`brevettiai.contract.jsontypes`), "any object" is `object`, a Protocol, a TypeVar or a precise union.

What "public" means here:

- The SDK is every module under ``src/brevettiai`` except ``brevettiai.server`` (an application, not a
  library) and its migrations.
- A public module is one whose dotted name has no part starting with ``_`` (``__init__`` excepted).
  In a public module, every function and every class whose name does not start with ``_`` is public.
- A name defined in a private module (``_backend.py``, ``settings/_convert.py``, ...) is public when it
  is re-exported: imported by a public package's ``__init__.py`` (also under ``TYPE_CHECKING``) or
  listed in a public module's ``__all__``.
- Of a public class, every method not starting with ``_`` is public, and so are its dunder methods
  (``__init__``, ``__exit__``, ``__getattr__``, ...); module-level dunders (a package's lazy
  ``__getattr__``) are public too.

The same holds for public attributes: the annotated names of a public module (``MISSING: Final[...]``),
of a public class's body (pydantic fields, dataclass fields, ``ClassVar``s) and the ``self.name: ...``
annotations in its methods, where the name does not start with ``_``.

A signature "mentions Any" when a parameter or return annotation names ``Any`` (``typing.Any``, a
string annotation holding it) or a module-level type alias of the SDK whose definition does.
Private helpers may keep `Any` (they are free to change); what users call may not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
SDK = SRC / "brevettiai"
NOT_SDK = ("server",)  # brevettiai.server: the platform application


def sdk_modules() -> tuple[dict[str, ast.Module], set[str]]:
    """Every SDK module by dotted name, parsed; and the names of the packages among them."""
    modules, packages = {}, set()
    for path in sorted(SDK.rglob("*.py")):
        relative = path.relative_to(SRC).with_suffix("")
        parts = list(relative.parts)
        if parts[1:2] and parts[1] in NOT_SDK or "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
            packages.add(".".join(parts))
        modules[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return modules, packages


def is_public_module(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _module_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Module-level statements, including those under ``if``/``try`` (``if TYPE_CHECKING:``)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        yield node
        if isinstance(node, ast.If | ast.Try):
            pending.extend([*node.body, *node.orelse, *getattr(node, "finalbody", [])])


def _source_module(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def re_exports(modules: dict[str, ast.Module], packages: set[str]) -> set[tuple[str, str]]:
    """(module, name) pairs that public modules re-export."""
    found: set[tuple[str, str]] = set()
    for module, tree in modules.items():
        if not is_public_module(module):
            continue
        exported = _all_names(tree)
        for node in _module_level(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _source_module(module, module in packages, node)
            for alias in node.names:
                shown = alias.asname or alias.name
                if module in packages or shown in exported:
                    found.add((source, alias.name))
    return found


def _all_names(tree: ast.Module) -> set[str]:
    for node in _module_level(tree):
        names_all = isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                          for t in node.targets)
        if names_all and isinstance(node.value, ast.List | ast.Tuple):
            return {e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def any_aliases(modules: dict[str, ast.Module]) -> set[str]:
    """Names of the SDK's module-level type aliases whose definition mentions Any (directly or via another)."""
    definitions: dict[str, ast.expr] = {}
    for tree in modules.values():
        for node in _module_level(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                definitions[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None \
                    and "TypeAlias" in ast.unparse(node.annotation):
                definitions[node.target.id] = node.value
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, value in definitions.items():
            if name not in tainted and _names_in(value) & ({"Any"} | tainted):
                tainted.add(name)
                changed = True
    return tainted


def _names_in(annotation: ast.expr) -> set[str]:
    """Every name an annotation uses, string annotations (``"Any"``, ``list["X"]``) included."""
    names = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                names |= _names_in(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                continue
    return names


def _annotations(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    found = [a.annotation for a in every if a is not None and a.annotation is not None]
    return found + ([function.returns] if function.returns is not None else [])


def _public_functions(tree: ast.Module, wanted: set[str] | None) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, function) of the public functions and methods of a module; `wanted` limits the
    top-level names (a private module's re-exported ones)."""

    def dunder(name: str) -> bool:
        return name.startswith("__") and name.endswith("__")

    for node in _module_level(tree):
        if wanted is not None and getattr(node, "name", None) not in wanted:
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("_") or dunder(node.name):
                yield node.name, node
        elif isinstance(node, ast.ClassDef) and (not node.name.startswith("_") or wanted is not None):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                        not item.name.startswith("_") or dunder(item.name)):
                    yield f"{node.name}.{item.name}", item


def signatures_with_any(modules: dict[str, ast.Module], packages: set[str]) -> list[str]:
    """``module.function`` of every public signature that mentions Any, sorted."""
    tainted = {"Any"} | any_aliases(modules)
    exported = re_exports(modules, packages)
    hits = []
    for module, tree in modules.items():
        wanted = None if is_public_module(module) else {name for source, name in exported if source == module}
        if wanted == set():
            continue
        for name, function in _public_functions(tree, wanted):
            if any(_names_in(annotation) & tainted for annotation in _annotations(function)):
                hits.append(f"{module}.{name}")
    return sorted(set(hits))


def _attribute_annotations(node: ast.ClassDef) -> Iterator[tuple[str, ast.expr]]:
    """(name, annotation) of a class's public attributes: its body's and ``self.name: T`` in its methods."""
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            yield item.target.id, item.annotation
        elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in ast.walk(item):
                target = getattr(statement, "target", None)
                if isinstance(statement, ast.AnnAssign) and isinstance(target, ast.Attribute) \
                        and isinstance(target.value, ast.Name) and target.value.id == "self":
                    yield target.attr, statement.annotation


def _with_bases(node: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> Iterator[ast.ClassDef]:
    """The class and, through its bases' names, every class of its module it inherits attributes from."""
    pending, seen = [node], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(classes[base.id] for base in current.bases if isinstance(base, ast.Name) and base.id in classes)


def attributes_with_any(modules: dict[str, ast.Module], packages: set[str]) -> list[str]:
    """``module.Class.attribute`` / ``module.NAME`` of every public attribute whose annotation mentions Any
    (a class's own, or inherited from a class of its module, private bases included)."""
    tainted = {"Any"} | any_aliases(modules)
    exported = re_exports(modules, packages)
    hits = []
    for module, tree in modules.items():
        classes = {node.name: node for node in _module_level(tree) if isinstance(node, ast.ClassDef)}
        wanted = None if is_public_module(module) else {name for source, name in exported if source == module}
        if wanted == set():
            continue
        for node in _module_level(tree):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                name, annotation = node.target.id, node.annotation
                if (wanted is None or name in wanted) and not name.startswith("_") and "TypeAlias" not in \
                        ast.unparse(annotation) and _names_in(annotation) & tainted:
                    hits.append(f"{module}.{name}")
            elif isinstance(node, ast.ClassDef) and (node.name in wanted if wanted is not None
                                                     else not node.name.startswith("_")):
                hits.extend(f"{module}.{node.name}.{name}" for owner in _with_bases(node, classes)
                            for name, annotation in _attribute_annotations(owner)
                            if not name.startswith("_") and _names_in(annotation) & tainted)
    return sorted(set(hits))


# Public attributes allowed to mention Any, each with its reason (none today).
ATTRIBUTES_ALLOWED: dict[str, str] = {}


def test_no_public_sdk_attribute_mentions_any() -> None:
    modules, packages = sdk_modules()
    found = attributes_with_any(modules, packages)
    typed_now = sorted(set(ATTRIBUTES_ALLOWED) - set(found))
    assert not typed_now, f"typed now (or gone): remove {typed_now} from ATTRIBUTES_ALLOWED"
    hits = [hit for hit in found if hit not in ATTRIBUTES_ALLOWED]
    assert not hits, (f"{len(hits)} public SDK attribute(s) mention Any; use brevettiai.contract.jsontypes "
                      f"(JSONValue, JSONObject), object, a Protocol or a precise union:\n  " + "\n  ".join(hits))


def test_the_attribute_check_finds_any_in_modules_class_bodies_and_self() -> None:
    public = ast.parse('''
from typing import Any, ClassVar, Final
Row = dict[str, Any]
MISSING: Final[Any] = object()
_hidden: Any = None
Alias: TypeAlias = dict[str, int]
class Record:
    settings: dict[str, Any]
    rows: list[Row] = []
    fine: dict[str, int] = {}
    table: ClassVar[Any] = None
    _private: Any = None
    def __init__(self) -> None:
        self.fs: Any = None
        self._io: Any = None
        self.count: int = 0
class _Hidden:
    x: Any
class _Base:
    inherited: Any
class Derived(_Base):
    pass
''')
    private = ast.parse('''
from typing import Any
class Exported:
    x: Any
class Internal:
    x: Any
''')
    package = ast.parse("from brevettiai._helpers import Exported\n")
    hits = attributes_with_any({"brevettiai.mod": public, "brevettiai._helpers": private, "brevettiai.pkg": package},
                               packages={"brevettiai.pkg"})
    assert hits == ["brevettiai._helpers.Exported.x", "brevettiai.mod.Derived.inherited", "brevettiai.mod.MISSING",
                    "brevettiai.mod.Record.fs",
                    "brevettiai.mod.Record.rows", "brevettiai.mod.Record.settings", "brevettiai.mod.Record.table"]


def test_no_public_sdk_signature_mentions_any() -> None:
    modules, packages = sdk_modules()
    assert "brevettiai.job" in modules and "brevettiai.settings._convert" in modules
    assert "brevettiai.settings" in packages
    assert not any(name.startswith("brevettiai.server") for name in modules)
    hits = signatures_with_any(modules, packages)
    assert not hits, (f"{len(hits)} public SDK signature(s) mention Any; use brevettiai.contract.jsontypes "
                      f"(JSONValue, JSONObject, JSONMapping), object, a Protocol or a TypeVar:\n  " + "\n  ".join(hits))


def test_the_check_finds_any_however_it_is_spelled() -> None:
    """The walker itself: every way of writing Any into a public signature is found, private names are not."""
    public = ast.parse('''
from typing import Any
import typing
Row = dict[str, Any]
Rows = list[Row]
def plain(x: Any) -> None: ...
def returned() -> "dict[str, Any]": ...
def qualified(**kw: typing.Any) -> None: ...
def aliased(rows: Rows) -> None: ...
def fine(x: object) -> dict[str, int]: ...
def _private(x: Any) -> Any: ...
class Client:
    def __init__(self, *args: Any) -> None: ...
    def __exit__(self, *exc: Any) -> None: ...
    def get(self, x: int) -> Any: ...
    def _helper(self, x: Any) -> None: ...
class _Hidden:
    def get(self, x: Any) -> None: ...
''')
    private = ast.parse('''
from typing import Any
def exported(x: Any) -> None: ...
def internal(x: Any) -> None: ...
''')
    package = ast.parse("from brevettiai._helpers import exported\n")
    hits = signatures_with_any({"brevettiai.mod": public, "brevettiai._helpers": private, "brevettiai.pkg": package},
                               packages={"brevettiai.pkg"})
    assert hits == ["brevettiai._helpers.exported", "brevettiai.mod.Client.__exit__", "brevettiai.mod.Client.__init__",
                    "brevettiai.mod.Client.get", "brevettiai.mod.aliased", "brevettiai.mod.plain",
                    "brevettiai.mod.qualified", "brevettiai.mod.returned"]
