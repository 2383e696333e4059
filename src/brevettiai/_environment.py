"""Record the environment a job ran in, so that a run can be reproduced.

`capture_environment` returns a JSON-serialisable dict with the interpreter, the platform, the installed
distributions and the state of the git repository holding the job's source. It runs on every job start,
so it is built to be cheap:

* Interpreter facts that cannot change within a process (python, platform, hostname, packages) are
  computed once and cached in module state. Packages are listed by scanning ``sys.path`` for
  ``*.dist-info`` / ``*.egg-info`` folders instead of importing `importlib.metadata` (whose import alone
  costs tens of milliseconds); `importlib.metadata` is only used for the rare zip / ``.egg`` entries.
* The git state is never cached. It is collected in a daemon thread, so that `start_capture` lets a
  caller overlap it with other start-up work. The work tree's top folder is found the way git finds
  it (the nearest folder up with a ``.git`` folder or file); outside any repository no ``git`` process
  is started at all. In a repository, two ``git`` processes start at once: ``status --porcelain=v2
  --branch -z`` (HEAD, branch and changes) and ``config --get-regexp`` of ``remote.origin.url`` and
  ``core.worktree`` (git itself reads includes and worktree configs). Only when the work tree is set
  elsewhere (``GIT_DIR`` / ``GIT_WORK_TREE``, ``core.worktree``) does ``rev-parse --show-toplevel``
  ask git for the top folder. ``git`` runs with ``GIT_OPTIONAL_LOCKS=0`` so that a job never takes the
  index lock of the user's repository.

Nothing here raises: a missing ``git``, a directory outside any repository, a timeout or a repository
without commits give ``None`` (or ``None`` fields) and a DEBUG log line.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from brevettiai._threads import start_daemon
from brevettiai.contract.jsontypes import JSONObject
from brevettiai.contract.paths import URL_SCHEME

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "EnvironmentCapture",
    "capture_environment",
    "host_name",
    "installed_packages",
    "normalize_name",
    "platform_name",
    "start_capture",
    "strip_url_credentials",
]

logger = logging.getLogger("brevettiai.environment")

GIT_TIMEOUT = 5.0
"""Seconds the git processes of one capture may take in total before they are killed."""

# The characters of a ``name-version.dist-info`` folder's name and version (checked without a regex:
# compiling one, case-insensitive, cost a job's start more than the whole scan of site-packages).
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_NAME_CHARS = _ALNUM | {".", "_"}
_VERSION_CHARS = _ALNUM | {".", "+", "!"}
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})

_T = TypeVar("_T")

_static_lock = threading.Lock()
_static: dict[str, Any] | None = None


def _reset_lock_after_fork() -> None:
    """Give a forked child a fresh lock, in case the fork happened while another thread held it."""
    global _static_lock
    _static_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


# --------------------------------------------------------------------------------------------------
# Installed distributions
# --------------------------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """Return the PEP 503 normalised form of a distribution name (lowercase, runs of ``-_.`` as ``-``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_packages(paths: Iterable[str | os.PathLike[str]] | None = None) -> list[str]:
    """List the distributions found on `paths` (default ``sys.path``) as sorted ``name==version``."""
    found: dict[str, str] = {}
    for entry in sys.path if paths is None else paths:
        for name, version in _distributions_on(entry):
            found.setdefault(normalize_name(name), version)
    return sorted((f"{name}=={version}" for name, version in found.items()), key=str.lower)


def _distributions_on(entry: object) -> Iterator[tuple[str, str]]:
    """Yield (name, version) of each distribution directly on one ``sys.path`` entry, in name order."""
    if isinstance(entry, os.PathLike):
        entry = os.fspath(entry)
    if not isinstance(entry, str):
        return
    root = entry or "."
    if root.lower().endswith(".egg") or not os.path.isdir(root):
        if os.path.exists(root):
            yield from _distributions_by_importlib(entry)
        return
    try:
        children = sorted(os.listdir(root))
    except OSError as exc:
        logger.debug("cannot list %r for installed packages: %s", root, exc)
        return
    for child in children:
        low = child.lower()
        if low.endswith(".dist-info"):
            parsed = _dist_info_name(child) or _read_metadata(os.path.join(root, child, "METADATA"))
        elif low.endswith(".egg-info"):
            path = os.path.join(root, child)
            parsed = _read_metadata(os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path)
        else:
            continue
        if parsed is not None:
            yield parsed


def _dist_info_name(folder: str) -> tuple[str, str] | None:
    """(name, version) of a ``name-version.dist-info`` folder in the standard form, else None.

    The name starts and ends with a letter or digit (``.`` and ``_`` inside), the version starts with
    a digit (letters, digits, ``.``, ``+``, ``!``); neither holds a ``-``.
    """
    name, dash, version = folder[: -len(".dist-info")].partition("-")
    if not (dash and name[:1] in _ALNUM and name[-1:] in _ALNUM and version[:1].isdigit()):
        return None
    if not (_NAME_CHARS.issuperset(name) and _VERSION_CHARS.issuperset(version)):
        return None
    return name, version


def _read_metadata(path: str) -> tuple[str, str] | None:
    """Read ``Name`` and ``Version`` from the header of a METADATA / PKG-INFO file, or None."""
    name = version = None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                key = key.strip().lower()
                if key == "name" and name is None:
                    name = value.strip()
                elif key == "version" and version is None:
                    version = value.strip()
                if name and version:
                    return name, version
    except OSError as exc:
        logger.debug("cannot read package metadata %r: %s", path, exc)
    return None


def _distributions_by_importlib(entry: str) -> Iterator[tuple[str, str]]:
    """Yield (name, version) for a zip or ``.egg`` path entry using `importlib.metadata` (slow, rare)."""
    try:
        from importlib import metadata

        for dist in metadata.distributions(path=[entry]):
            name, version = dist.metadata["Name"], dist.version
            if name and version:
                yield name, version
    except Exception as exc:  # a broken archive must not break a job
        logger.debug("cannot list packages in %r: %s", entry, exc)


# --------------------------------------------------------------------------------------------------
# Interpreter facts (cached per process)
# --------------------------------------------------------------------------------------------------


def _static_facts() -> dict[str, Any]:
    """Return the per-process interpreter facts, computing them on the first call only."""
    global _static
    if _static is None:
        with _static_lock:
            if _static is None:
                _static = _compute_static_facts()
    return _static


def _compute_static_facts() -> dict[str, Any]:
    """Compute python, platform, hostname and package facts; failures become None."""
    return {
        "python": platform.python_version(),
        "python_full": sys.version,
        "executable": sys.executable,
        "platform": _safely(platform_name),
        "hostname": _safely(host_name),
        "packages": _safely(installed_packages),
    }


def host_name() -> str:
    """This machine's host name: `socket.gethostname()`'s answer, without importing socket on POSIX.

    On POSIX gethostname(2) is the node name of uname(2); socket's import (its constants as enums)
    would cost a job's start more than the rest of the interpreter facts together.
    """
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def platform_name() -> str:
    """`platform.platform()`'s string, on Linux without the ``uname -p`` process it starts.

    That process asks for the processor, which on Linux is ``unknown`` or the machine name: both are
    left out of the string, so only the process start is saved (a fork and exec on every job start).
    """
    if sys.platform != "linux":
        return platform.platform()
    uname = os.uname()
    libc, libc_version = platform.libc_ver()
    name = "-".join(part.strip() for part in (uname.sysname, uname.release, uname.machine, "with",
                                                 libc + libc_version) if part)
    name = name.replace(" ", "_")
    for obstacle in '/\\:;"()':
        name = name.replace(obstacle, "-")
    name = name.replace("unknown", "")
    while "--" in name:
        name = name.replace("--", "-")
    return name.rstrip("-")


def _safely(func: Callable[[], _T]) -> _T | None:
    """Call `func` without arguments; on any exception log it at DEBUG and return None."""
    try:
        return func()
    except Exception as exc:
        logger.debug("environment fact %s unavailable: %s", getattr(func, "__name__", func), exc)
        return None


# --------------------------------------------------------------------------------------------------
# Git
# --------------------------------------------------------------------------------------------------


def strip_url_credentials(url: str) -> str:
    """Remove credentials from a remote URL (ssh URLs keep their user name, never a password)."""
    scheme = URL_SCHEME.match(url)
    if scheme is None:
        return url  # scp-like ``user@host:path`` or a local path: no password can be written there
    head, rest = scheme.group(1), url[scheme.end():]
    end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            end = min(end, index)
    userinfo, at, hostport = rest[:end].rpartition("@")
    if not at:
        return url
    keep = userinfo.partition(":")[0] + "@" if head.lower() in _SSH_SCHEMES and userinfo else ""
    return f"{head}://{keep}{hostport}{rest[end:]}"


def _git_directory(source_path: str | os.PathLike[str] | None) -> str | None:
    """Return the directory git should run in for `source_path` (a file's folder, default the cwd)."""
    try:
        path = os.path.abspath(os.fspath(source_path if source_path is not None else os.curdir))
    except (OSError, TypeError, ValueError) as exc:  # e.g. the working directory was deleted
        logger.debug("no directory for git state of %r: %s", source_path, exc)
        return None
    return path if os.path.isdir(path) else os.path.dirname(path)


_ASK_GIT = "ask git"  # the work tree is set by the environment: only git knows its top folder


def _work_tree_top(directory: str) -> str | None:
    """The top folder of the git work tree holding `directory`, found as git finds it; None outside any.

    git looks in each folder upwards for a ``.git`` git directory or a ``.git`` file (a worktree's or
    submodule's ``gitdir:`` pointer); the first one found is the work tree's top. With
    ``GIT_DIR`` or ``GIT_WORK_TREE`` set the answer is git's alone (`_ASK_GIT`).
    """
    if "GIT_DIR" in os.environ or "GIT_WORK_TREE" in os.environ:
        return _ASK_GIT
    path = os.path.realpath(directory)  # git works in the physical folder, as getcwd() gives it
    while True:
        if _is_dot_git(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _is_dot_git(path: str) -> bool:
    """True when git takes `path` as a repository's ``.git``: any file (a ``gitdir:`` pointer; git stops
    with an error at an invalid one) or a folder that looks like a git directory (git passes over others)."""
    if os.path.isfile(path):
        return True
    if not os.path.isfile(os.path.join(path, "HEAD")):
        return False
    shared = os.path.isfile(os.path.join(path, "commondir"))
    return shared or (os.path.isdir(os.path.join(path, "objects")) and os.path.isdir(os.path.join(path, "refs")))


def _git_env() -> dict[str, str]:
    """Return the environment for git: the caller's, never taking optional locks nor prompting."""
    return dict(os.environ, GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")


def _popen_git(directory: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``git -C directory *args`` with captured output."""
    import subprocess  # only a job in a repository pays for it

    return subprocess.Popen(
        ["git", "-C", directory, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


_STATUS = ["status", "--porcelain=v2", "--branch", "--no-ahead-behind", "-z"]
_CONFIG = ["config", "--null", "--get-regexp", r"^(remote\.origin\.url|core\.worktree)$"]
_TOP = ["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"]


def _spawn_git(directory: str, ask_top: bool) -> dict[str, subprocess.Popen[bytes]] | None:
    """Start the git queries for `directory` at once (the top folder's too if `ask_top`); None when git
    cannot be started."""
    env = _git_env()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        if ask_top:
            procs["rev-parse"] = _popen_git(directory, _TOP, env)
        procs["status"] = _popen_git(directory, _STATUS, env)
        procs["config"] = _popen_git(directory, _CONFIG, env)
    except OSError as exc:
        logger.debug("cannot run git in %r: %s", directory, exc)
        _kill(procs.values())
        return None
    return procs


def _kill(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """Kill and reap git processes that are still running."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.communicate(timeout=1.0)  # reaps the process and closes its pipes
        except Exception:
            pass


def _finish(proc: subprocess.Popen[bytes], what: str, directory: str, deadline: float) -> bytes | None:
    """Wait for one git process until `deadline`; its stdout on success, None on failure."""
    stdout, stderr = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
    if proc.returncode != 0:
        message = stderr.decode(errors="replace").strip()
        logger.debug("git %s in %r failed (%s): %s", what, directory, proc.returncode, message)
        return None
    return stdout


def _asked_top(directory: str, proc: subprocess.Popen[bytes], deadline: float) -> str | None:
    """The work tree's top folder from ``rev-parse``; None outside a work tree (or with no repository)."""
    located = _finish(proc, "rev-parse", directory, deadline)
    lines = os.fsdecode(located).split("\n") if located is not None else []
    return lines[0] if len(lines) >= 3 else None


def _collect_git(
    directory: str, top: str | None, procs: dict[str, subprocess.Popen[bytes]], deadline: float
) -> dict[str, Any] | None:
    """Wait for the git processes until `deadline` and build the ``git`` section, or None.

    `top` is the work tree's top folder when it was found without git (then a failed ``status`` means
    git sees no work tree here either), else None (``rev-parse`` was asked)."""
    import subprocess  # imported already: the processes run

    try:
        if top is None:
            top = _asked_top(directory, procs["rev-parse"], deadline)
            if top is None:
                return None
            status = _finish(procs["status"], "status", directory, deadline)
        else:
            status = _finish(procs["status"], "status", directory, deadline)
            if status is None:
                return None
        config = _parse_config(_finish(procs["config"], "config", directory, deadline) or b"")  # 1: no key set
        if "core.worktree" in config and "rev-parse" not in procs:  # the work tree is elsewhere: git says where
            procs["rev-parse"] = _popen_git(directory, _TOP, _git_env())
            top = _asked_top(directory, procs["rev-parse"], deadline)
            if top is None:
                return None
    except subprocess.TimeoutExpired as exc:
        logger.debug("git in %r did not answer in time; git state not recorded (%s)", directory, exc)
        return None
    except OSError as exc:
        logger.debug("cannot run git in %r: %s", directory, exc)
        return None
    finally:
        _kill(procs.values())
    section: dict[str, Any] = {"commit": None, "branch": None, "dirty": None, "changed_files": None}
    if status is not None:
        section.update(_parse_status(status))
    remote_url = config.get("remote.origin.url")
    section["remote_url"] = strip_url_credentials(remote_url) if remote_url else None
    section["root"] = top
    return section


def _parse_config(output: bytes) -> dict[str, str]:
    """Parse ``git config --null --get-regexp`` (``key\\nvalue\\0`` entries) into the last value of each key."""
    values: dict[str, str] = {}
    for entry in output.split(b"\0"):
        key, _, value = entry.partition(b"\n")
        if key:
            values[os.fsdecode(key)] = os.fsdecode(value)  # the last of several values wins, as with --get
    return values


def _parse_status(output: bytes) -> dict[str, Any]:
    """Parse ``git status --porcelain=v2 --branch -z`` into commit, branch, dirty and changed_files."""
    commit: str | None = None
    branch: str | None = None
    changed: set[str] = set()
    fields = output.split(b"\0")
    index = 0
    while index < len(fields):
        record = fields[index]
        index += 1
        kind = record[:2]
        if kind == b"# ":
            key, _, value = record[2:].partition(b" ")
            if key == b"branch.oid" and value != b"(initial)":
                commit = value.decode("ascii", errors="replace")
            elif key == b"branch.head" and value != b"(detached)":
                branch = os.fsdecode(value)
        elif kind == b"1 ":
            changed.add(os.fsdecode(record.split(b" ", 8)[8]))
        elif kind == b"2 ":
            changed.add(os.fsdecode(record.split(b" ", 9)[9]))
            if index < len(fields):
                changed.add(os.fsdecode(fields[index]))  # the original path of a rename or copy
                index += 1
        elif kind == b"u ":
            changed.add(os.fsdecode(record.split(b" ", 10)[10]))
        elif kind == b"? ":
            changed.add(os.fsdecode(record[2:]))
    changed_files = sorted(changed)
    return {"commit": commit, "branch": branch, "dirty": bool(changed_files), "changed_files": changed_files}


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


class EnvironmentCapture:
    """An environment capture in progress; git state is collected by a daemon thread."""

    def __init__(self, source_path: str | os.PathLike[str] | None, git_timeout: float) -> None:
        self._directory = _git_directory(source_path)
        self._git_timeout = git_timeout
        self._git: dict[str, Any] | None = None
        self._done = threading.Event()
        try:
            self._thread = start_daemon(self._run, "brevettiai-environment")
        except RuntimeError as exc:  # no thread available: collect synchronously instead
            logger.debug("environment capture runs in the caller's thread: %s", exc)
            self._run()

    def _run(self) -> None:
        """Start git (in a repository), warm the interpreter facts while it runs, then collect its answers."""
        try:
            deadline = time.monotonic() + self._git_timeout
            directory = self._directory
            top = _work_tree_top(directory) if directory is not None else None
            procs = _spawn_git(directory, ask_top=top is _ASK_GIT) if directory is not None and top else None
            _static_facts()
            if procs is not None and directory is not None:
                self._git = _collect_git(directory, None if top is _ASK_GIT else top, procs, deadline)
        except Exception as exc:  # never let a capture problem surface in a job
            logger.debug("git state of %r not recorded: %s", self._directory, exc)
        finally:
            self._done.set()

    def done(self) -> bool:
        """Tell whether the git state has been collected (or given up on)."""
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> JSONObject:
        """Return the environment dict, waiting at most `timeout` seconds for git (then ``git`` is None)."""
        finished = self._done.wait(timeout)
        if not finished:
            logger.debug("git state of %r not ready after %s s; recorded as None", self._directory, timeout)
        static = _static_facts()
        packages = static["packages"]
        return {
            "python": static["python"],
            "python_full": static["python_full"],
            "executable": static["executable"],
            "platform": static["platform"],
            "hostname": static["hostname"],
            "BUILD_ID": os.environ.get("BUILD_ID"),
            "packages": list(packages) if packages is not None else None,
            "git": _copy_git(self._git) if finished else None,
        }


def _copy_git(git: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a copy of a git section that callers may mutate freely."""
    if git is None:
        return None
    copy = dict(git)
    if copy["changed_files"] is not None:
        copy["changed_files"] = list(copy["changed_files"])
    return copy


def start_capture(
    source_path: str | os.PathLike[str] | None = None, *, git_timeout: float = GIT_TIMEOUT
) -> EnvironmentCapture:
    """Start capturing the environment of `source_path` (file or folder, default cwd) in the background."""
    return EnvironmentCapture(source_path, git_timeout)


def capture_environment(source_path: str | os.PathLike[str] | None = None) -> JSONObject:
    """Return the JSON-serialisable environment of this process and of the repository of `source_path`."""
    return start_capture(source_path).result()
