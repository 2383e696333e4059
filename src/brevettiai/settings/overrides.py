"""Command-line overrides of settings in dot notation, and the way back from settings to argv.

``--data.size 42``, ``--data.size=42``, ``--flag``/``--no-flag`` for booleans, JSON for lists,
dicts and nested groups. Values are parsed by the *declared* type of the setting. Tokens that do
not start with ``--`` are ignored (a notebook's ``-f kernel.json``), and ``--`` ends the options.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, cast

from brevettiai.contract.dotted import set_path
from brevettiai.contract.jsontext import from_json_text
from brevettiai.contract.jsontypes import JSONMapping, JSONObject, JSONValue
from brevettiai.errors import SettingsError, UsageError
from brevettiai.settings._convert import to_config, validate_value
from brevettiai.settings._fields import MISSING, fields_of
from brevettiai.settings._plugins import without_plugin_scan
from brevettiai.settings._types import (
    describe_type,
    dict_value_type,
    is_bool_type,
    is_pydantic_model,
    is_settings_node,
    is_text_type,
    unwrap_optional,
)

if TYPE_CHECKING:
    import logging


def _log() -> logging.Logger:
    """The settings' logger; logging is imported when something is logged (``--help`` never imports it)."""
    import logging

    return logging.getLogger("brevettiai.settings")


_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


class HelpRequested(SystemExit):
    """``--help`` was given: not an error but a request to print `message` (the help text) and exit 0.

    A `SystemExit` like argparse's ``--help``: uncaught it ends the process quietly with code 0, and
    ``except Exception``/``except BrevettiError`` do not mistake it for a failure.
    """

    def __init__(self, message: str) -> None:
        super().__init__(0)
        self.message = message

    def __str__(self) -> str:
        return self.message


class _Target(NamedTuple):  # not a frozen dataclass: --help and every run define it, at a tenth of the cost
    path: str
    annotation: Any
    default: Any = MISSING
    bounds: tuple[tuple[str, float], ...] = ()  # ge/le/gt/lt, multiple_of, min_length/max_length

    def checked_annotation(self) -> Any:
        """The annotation with the field's bounds attached, for validating one value."""
        if not self.bounds:
            return self.annotation
        import annotated_types

        makers = {"ge": annotated_types.Ge, "le": annotated_types.Le, "gt": annotated_types.Gt, "lt": annotated_types.Lt,
                  "multiple_of": annotated_types.MultipleOf, "min_length": annotated_types.MinLen,
                  "max_length": annotated_types.MaxLen}
        return Annotated[(self.annotation, *(makers[k](v) for k, v in self.bounds))]


def setting_paths(cls: type, prefix: str = "") -> list[str]:
    """Every dotted setting path of a settings class, groups included."""
    paths = []
    for name, field in fields_of(cls).fields.items():
        paths.append(prefix + name)
        inner, _ = unwrap_optional(field.annotation)
        if is_settings_node(inner):
            paths.extend(setting_paths(cast(type, inner), f"{prefix}{name}."))
    return paths


def _resolve(cls: type, name: str) -> _Target:
    parts = name.split(".")
    node: Any = cls
    for index, part in enumerate(parts):
        spec = fields_of(node)
        field = spec.fields.get(part) or spec.fields.get(part.replace("-", "_"))
        done = ".".join(parts[: index + 1])
        if field is None:
            if spec.accepts_extra:
                return _Target(name, Any)
            raise SettingsError(_unknown_message(cls, name, done))
        if index == len(parts) - 1:
            checks = {**field.bounds, **{k: v for k, v in field.constraints.items() if k != "pattern"}}
            return _Target(".".join(parts[:index] + [field.name]), field.annotation, field.default,
                           tuple(checks.items()))
        inner, _ = unwrap_optional(field.annotation)
        if is_settings_node(inner):
            parts[index] = field.name
            node = inner
            continue
        value_type = dict_value_type(inner)
        if value_type is not None or inner is Any:
            rest = len(parts) - index - 1
            return _Target(".".join(parts[:index] + [field.name] + parts[index + 1:]),
                           value_type if rest == 1 and value_type is not None else Any)
        raise SettingsError(f"unknown setting flag --{name}: '{done}' is {describe_type(field.annotation)}, "
                            f"it has no sub-setting '{parts[index + 1]}'")
    raise AssertionError("unreachable")


def close_paths(name: str, known: Sequence[str], n: int, cutoff: float) -> list[str]:
    """The dotted paths a mistyped flag may mean: whole paths that look alike, then paths whose last part does
    (``epochs`` or ``epoch`` for ``training.epochs``: a nested setting typed without its group)."""
    import difflib  # only a mistyped flag pays for it

    close = difflib.get_close_matches(name, known, n=n, cutoff=cutoff)
    by_leaf: dict[str, list[str]] = {}
    for path in known:
        by_leaf.setdefault(path.rpartition(".")[2], []).append(path)
    leaf = name.replace("-", "_")
    for match in [leaf] if leaf in by_leaf else difflib.get_close_matches(leaf, list(by_leaf), n=n, cutoff=cutoff):
        close += [path for path in by_leaf[match] if path not in close]
    return close[:n]


def _unknown_message(cls: type, name: str, failing_part: str) -> str:
    known = setting_paths(cls)
    close = close_paths(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join('--' + c for c in close)}?" if close else ""
    listing = ", ".join("--" + k for k in known[:30]) + (", ..." if len(known) > 30 else "")
    return (f"unknown setting flag --{name} ('{failing_part}' is not a setting of {cls.__name__}){hint} "
            f"Accepted settings: {listing or 'none'}")


def _parse_bool(text: str, flag: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{flag} {text!r}: expected {describe_type(bool)}")


def _parse_value(target: _Target, text: str | bool, flag: str) -> Any:
    if isinstance(text, bool):
        return text
    inner, optional = unwrap_optional(target.annotation)
    if text == "" and (optional or target.default is None):
        return None
    if is_bool_type(target.annotation):
        return _parse_bool(text, flag)
    if is_text_type(inner):
        value: Any = text
    else:
        value = from_json_text(text)
    if target.annotation is Any:
        return value
    if is_settings_node(inner):
        if value is None or isinstance(value, Mapping):
            return value
        raise SettingsError(f"{flag} {text!r}: expected {describe_type(target.annotation)}")
    try:
        validate_value(target.checked_annotation(), value, target.path)
    except SettingsError as exc:
        limits = dict(target.bounds)  # "expected an integer" alone is wrong for an integer out of its bounds
        raise SettingsError(f"{flag} {text!r}: expected {describe_type(target.annotation)}"
                            f"{_bounds_text(limits, limits)} ({exc})") from None
    return value


def parse_overrides(cls: type, argv: Sequence[str], reserved: Iterable[str] = ()) -> tuple[JSONObject, dict[str, str]]:
    """Parse argv into ({dotted setting path: raw value}, {reserved flag: text}).

    `reserved` names flags that are not settings (such as ``job_id``); their values are returned
    as given. A flag given twice keeps its last value, with a warning.
    """
    with without_plugin_scan():  # checking the values builds validators, often the process's first
        return _parse_overrides(cls, argv, reserved)


def _parse_overrides(cls: type, argv: Sequence[str], reserved: Iterable[str]) -> tuple[JSONObject, dict[str, str]]:
    reserved = set(reserved)
    overrides: dict[str, Any] = {}
    reserved_values: dict[str, str] = {}
    problems: list[str] = []  # every bad flag is reported, not only the first
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if token == "--":
            break
        if not token.startswith("--"):
            if (problem := _single_dash_problem(cls, token, reserved)) is not None:
                problems.append(problem)
            continue
        name, has_value, inline = token[2:].partition("=")
        value: Any = inline if has_value else None
        flag = "--" + name
        if name in reserved:
            if value is None:
                if index >= len(argv):
                    raise UsageError(f"flag {flag} needs a value")
                value, index = argv[index], index + 1
            if name in reserved_values:
                _log().warning("Flag %s given more than once; using the last value", flag)
            reserved_values[name] = value
            continue
        if name == "help":
            raise HelpRequested(format_help(cls))
        try:
            target = _resolve_with_negation(cls, name)
            if target is None:
                target, value = _resolve(cls, name[3:]), False
            elif value is None:
                if is_bool_type(target.annotation):
                    if index < len(argv) and argv[index].strip().lower() in _TRUE | _FALSE:
                        value, index = argv[index], index + 1
                    else:
                        value = True
                elif index < len(argv) and not argv[index].startswith("--"):
                    value, index = argv[index], index + 1
                else:
                    raise SettingsError(f"flag {flag} needs a value: {describe_type(target.annotation)}")
            parsed = _parse_value(target, value, flag)
        except SettingsError as exc:
            problems.append(str(exc))
            continue
        if target.path in overrides:
            _log().warning("Setting flag %s given more than once; the last value wins: %r", flag, parsed)
            del overrides[target.path]  # keep the order of the last occurrence
        overrides[target.path] = parsed
    if len(problems) == 1:
        raise SettingsError(problems[0])
    if problems:
        raise SettingsError(f"{len(problems)} problems with the command line:\n" +
                            "\n".join(f"  - {problem}" for problem in problems))
    return overrides, reserved_values


def asks_for_help(argv: Sequence[str], reserved: Iterable[str] = ()) -> bool:
    """True when `parse_overrides` would answer `argv` with the help: a ``--help`` before any ``--``
    that is not the value of a reserved flag (``--job_dir --help`` names a folder). Nothing else it
    meets first stops it from getting there: bad setting flags are reported after the whole line."""
    reserved = set(reserved)
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            return False
        if not token.startswith("--"):
            continue
        name, has_value, _ = token[2:].partition("=")
        if name == "help":
            return True
        if name in reserved and not has_value:
            next(tokens, None)
    return False


def _single_dash_problem(cls: type, token: str, reserved: set[str]) -> str | None:
    """A one-dash token that names a setting or job flag (``-epochs 5``) is a mistake, not a stray word.

    Other one-dash tokens (a notebook kernel's ``-f kernel.json``) are ignored, as before.
    """
    if not token.startswith("-") or token.startswith("--") or len(token) < 3:
        return None
    name = token[1:].partition("=")[0]
    known = [*setting_paths(cls), *reserved]
    if name in known or name.replace("-", "_") in known:
        return f"{token}: flags take two dashes; did you mean -{token}?"
    close = close_paths(name, known, n=1, cutoff=0.8)
    if close:
        return f"{token}: flags take two dashes; did you mean --{close[0]}?"
    return None


def _resolve_with_negation(cls: type, name: str) -> _Target | None:
    """Resolve a flag; None means it is ``--no-<bool setting>``."""
    try:
        return _resolve(cls, name)
    except SettingsError:
        for prefix in ("no-", "no_"):
            if name.startswith(prefix):
                try:
                    target = _resolve(cls, name[len(prefix):])
                except SettingsError:
                    break
                if is_bool_type(target.annotation):
                    return None
        raise


def apply_overrides(config: JSONMapping | None, overrides: Mapping[str, JSONValue]) -> JSONObject:
    """A copy of a raw settings dict with each {dotted path: value} override set into it."""
    result = _copy_tree(dict(config or {}))
    for path, value in overrides.items():
        set_path(result, path, value, parse_text=True)
        _log().info("Setting %s = %r from the command line", path, value)
    return result


def _copy_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_tree(v) for k, v in value.items()}
    return value


def settings_to_argv(settings: object) -> list[str]:
    """The command-line flags that reproduce `settings` exactly (``--path=value`` form)."""
    argv: list[str] = []
    _emit(type(settings), settings, "", argv)
    return argv


def _emit(cls: type, node: Any, prefix: str, argv: list[str]) -> None:
    spec = fields_of(cls)
    for name, field in spec.fields.items():
        if not hasattr(node, name):
            continue
        value = getattr(node, name)
        inner, _ = unwrap_optional(field.annotation)
        if value is not None and is_settings_node(inner) and is_settings_node(type(value)):
            _emit(type(value), value, f"{prefix}{name}.", argv)
            continue
        argv.append(f"--{prefix}{name}={_format(field.annotation, value)}")
    if spec.accepts_extra:
        extras = (node.model_extra or {}) if is_pydantic_model(cls) else {
            k: v for k, v in vars(node).items() if not k.startswith("_") and k not in spec.fields}
        for key, value in extras.items():
            argv.append(f"--{prefix}{key}={json.dumps(to_config(value))}")


def _format(annotation: Any, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    plain = to_config(value)
    inner, _ = unwrap_optional(annotation)
    if isinstance(plain, str) and is_text_type(inner):
        return plain
    return json.dumps(plain)


def format_help(cls: type) -> str:
    """The ``--help`` text: every setting flag with its type, default and description."""
    lines = [f"Settings of {cls.__name__} (override any with --path VALUE or --path=VALUE):", ""]
    _help_lines(cls, "", lines)
    lines += ["", "Job flags: --job_id/--model_id/--test_id ID, --api_key KEY, --info_file FILE, "
                  "--job_dir DIR, --cache_path DIR, --host URL, --data_bucket URL"]
    return "\n".join(lines)


def _help_lines(cls: type, prefix: str, lines: list[str]) -> None:
    for name, field in fields_of(cls).fields.items():
        inner, _ = unwrap_optional(field.annotation)
        if is_settings_node(inner):
            lines.append(f"  {prefix}{name}: group {cast(type, inner).__name__}" + (f" - {field.description}" if field.description else ""))
            _help_lines(cast(type, inner), f"{prefix}{name}.", lines)
            continue
        default = "required" if field.required else f"default {json.dumps(to_config(field.get_default()))}"
        text = f"  --{prefix}{name}  {describe_type(field.annotation)}{_bounds_text(field.bounds, field.constraints)}; {default}"
        if field.description:
            text += f" - {field.description}"
        lines.append(text)


_BOUND_SYMBOLS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_CONSTRAINT_WORDS = {"multiple_of": "a multiple of {}", "min_length": "length >= {}", "max_length": "length <= {}",
                     "pattern": "matching {}"}


def _bounds_text(bounds: Mapping[str, float], constraints: Mapping[str, Any] | None = None) -> str:
    """`` (>= 1, < 100, a multiple of 2)`` for a field's bounds and constraints; empty without any."""
    parts = [f"{_BOUND_SYMBOLS[kind]} {value:g}" for kind, value in bounds.items() if kind in _BOUND_SYMBOLS]
    for kind, value in (constraints or {}).items():
        if kind in _CONSTRAINT_WORDS:
            shown = f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else repr(value)
            parts.append(_CONSTRAINT_WORDS[kind].format(shown))
    return f" ({', '.join(parts)})" if parts else ""
