"""Tests of brevettiai._environment against real git repositories and real package folders."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from brevettiai._environment import (
    capture_environment,
    installed_packages,
    normalize_name,
    platform_name,
    start_capture,
    strip_url_credentials,
)

REAL_GIT = shutil.which("git")
needs_git = pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's git configuration out, and stop repository discovery at tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"):
        monkeypatch.delenv(key, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


def git(cwd: Path, *args: str) -> str:
    """Run the real git in `cwd` and return its stripped stdout."""
    assert REAL_GIT is not None
    done = subprocess.run([REAL_GIT, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None, commit: bool = True) -> Path:
    """Create a git repository at `path` on branch main, optionally with one commit of `files`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in (files or {"README.md": "hello\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    if commit:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
    return path


def write_script(path: Path, body: str) -> Path:
    """Write an executable shell script."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def dedup_importlib(dists: list[metadata.Distribution]) -> set[str]:
    """Return importlib's distributions as normalised name==version, first of each name winning."""
    seen: dict[str, str] = {}
    for dist in dists:
        seen.setdefault(normalize_name(dist.metadata["Name"]), dist.version)
    return {f"{name}=={version}" for name, version in seen.items()}


# --------------------------------------------------------------------------------------------------
# interpreter facts and packages
# --------------------------------------------------------------------------------------------------


def test_interpreter_facts(tmp_path: Path) -> None:
    env = capture_environment(tmp_path)
    assert list(env) == [
        "python", "python_full", "executable", "platform", "hostname", "BUILD_ID", "packages", "git",
    ]
    assert env["python"] == platform.python_version()
    assert env["python_full"] == sys.version
    assert env["executable"] == sys.executable
    assert env["platform"] == platform.platform()
    assert env["hostname"] == socket.gethostname()


@pytest.mark.skipif(sys.platform != "linux", reason="the uname -p process is skipped on Linux only")
def test_platform_name_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = platform.platform()

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert platform_name() == expected


def test_packages_equal_importlib_metadata() -> None:
    expected = dedup_importlib(list(metadata.distributions()))
    assert set(installed_packages()) == expected
    assert set(capture_environment()["packages"]) == expected
    assert any(line.startswith("pytest==") for line in expected)


def test_packages_sorted_case_insensitively_and_unique() -> None:
    packages = capture_environment()["packages"]
    names = [line.partition("==")[0] for line in packages]
    assert packages == sorted(packages, key=str.lower)
    assert len(names) == len(set(names))
    assert all(name == normalize_name(name) for name in names)


def test_packages_on_unusual_layouts_match_importlib(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"

    def dist_info(root: Path, folder: str, name: str, version: str) -> None:
        (root / folder).mkdir(parents=True)
        (root / folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n")

    dist_info(first, "Foo_Bar-1.0.dist-info", "Foo-Bar", "1.0")
    dist_info(first, "legacy-1.0_beta.dist-info", "legacy", "1.0-beta")  # unnormalised version
    dist_info(first, "dashed-name-4.0.dist-info", "dashed-name", "4.0")  # legacy dash in the folder name
    (first / "old_pkg-2.0-py3.11.egg-info").mkdir()
    (first / "old_pkg-2.0-py3.11.egg-info" / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: old.pkg\nVersion: 2.0\n")
    (first / "single-3.0.egg-info").write_text("Metadata-Version: 1.0\nName: single\nVersion: 3.0\n")
    (first / "not_a_package").mkdir()
    dist_info(second, "foo_bar-0.9.dist-info", "foo_bar", "0.9")  # shadowed by first
    dist_info(second, "other-7.1.post2.dist-info", "other", "7.1.post2")
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-5.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\nVersion: 5.0\n")
    egg = tmp_path / "thing-1.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: thing\nVersion: 1.0\n")
    paths = [str(first), str(second), str(archive), str(egg), str(tmp_path / "missing")]

    found = installed_packages(paths)

    assert found == [
        "dashed-name==4.0", "foo-bar==1.0", "legacy==1.0-beta", "old-pkg==2.0", "other==7.1.post2",
        "single==3.0", "thing==1.0", "zipped==5.0",
    ]
    assert set(found) == dedup_importlib(list(metadata.distributions(path=paths)))


def test_static_facts_are_cached_but_returned_as_copies(tmp_path: Path) -> None:
    first = capture_environment(tmp_path)
    first["packages"].clear()
    second = capture_environment(tmp_path)
    assert second["packages"] and second["packages"] is not first["packages"]
    assert second["platform"] == first["platform"]


def test_build_id_present_and_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUILD_ID", raising=False)
    assert capture_environment(tmp_path)["BUILD_ID"] is None
    monkeypatch.setenv("BUILD_ID", "build-42")
    assert capture_environment(tmp_path)["BUILD_ID"] == "build-42"


@needs_git
def test_json_serialisable_and_no_other_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SECRET_TOKEN", "s3cr3t-value-123")
    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "origin", "https://bob:s3cr3t-value-123@example.com/org/x.git")
    (repo / "ü and space.py").write_text("x\n")
    env = capture_environment(repo)
    text = json.dumps(env)
    assert json.loads(text) == env
    assert "s3cr3t-value-123" not in text
    assert env["git"]["remote_url"] == "https://example.com/org/x.git"


# --------------------------------------------------------------------------------------------------
# git
# --------------------------------------------------------------------------------------------------


@needs_git
def test_clean_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"src/x.py": "x = 1\n"})
    state = capture_environment(repo)["git"]
    assert state == {
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "main",
        "dirty": False,
        "changed_files": [],
        "remote_url": None,
        "root": git(repo, "rev-parse", "--show-toplevel"),
    }
    assert len(state["commit"]) == 40


@needs_git
def test_changes_of_every_kind_from_a_file_in_a_subfolder(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {"a.py": "a\n", "b.py": "b\n", "c.py": "c\n" * 20, "src/deep/e.py": "e\n", "keep.py": "k\n"},
    )
    (repo / "a.py").write_text("changed\n")  # modified, not staged
    (repo / "s.py").write_text("s\n")
    git(repo, "add", "s.py")  # staged new file
    (repo / "b.py").unlink()  # deleted
    git(repo, "mv", "c.py", "c2.py")  # staged rename
    (repo / "new_untracked.py").write_text("n\n")
    (repo / "newdir").mkdir()
    (repo / "newdir" / "x.py").write_text("x\n")
    (repo / "ü and space.py").write_text("u\n")

    state = capture_environment(repo / "src" / "deep" / "e.py")["git"]

    assert state["root"] == git(repo, "rev-parse", "--show-toplevel")
    assert state["dirty"] is True
    assert state["changed_files"] == sorted(
        ["a.py", "b.py", "c.py", "c2.py", "new_untracked.py", "newdir/", "s.py", "ü and space.py"]
    )
    assert state["commit"] == git(repo, "rev-parse", "HEAD")


@needs_git
def test_untracked_only_is_dirty(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "new_untracked.py").write_text("n\n")
    state = capture_environment(repo)["git"]
    assert state["dirty"] is True
    assert state["changed_files"] == ["new_untracked.py"]


@needs_git
def test_merge_conflict_is_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"f.txt": "base\n"})
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "f.txt").write_text("topic\n")
    git(repo, "commit", "-q", "-am", "topic")
    git(repo, "checkout", "-q", "main")
    (repo / "f.txt").write_text("main\n")
    git(repo, "commit", "-q", "-am", "main")
    merge = subprocess.run([REAL_GIT, "merge", "-q", "topic"], cwd=repo, capture_output=True)
    assert merge.returncode != 0
    state = capture_environment(repo)["git"]
    assert state["changed_files"] == ["f.txt"]
    assert state["branch"] == "main"


@needs_git
def test_other_branch_and_detached_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "-b", "feature/x")
    assert capture_environment(repo)["git"]["branch"] == "feature/x"
    git(repo, "checkout", "-q", "--detach")
    state = capture_environment(repo)["git"]
    assert state["branch"] is None
    assert state["commit"] == git(repo, "rev-parse", "HEAD")
    assert state["dirty"] is False


@needs_git
def test_git_state_is_not_cached(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    before = capture_environment(repo)["git"]["commit"]
    (repo / "README.md").write_text("again\n")
    assert capture_environment(repo)["git"]["dirty"] is True
    git(repo, "commit", "-q", "-am", "second")
    after = capture_environment(repo)["git"]
    assert after["commit"] == git(repo, "rev-parse", "HEAD") != before
    assert after["dirty"] is False


@needs_git
def test_repository_without_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"}, commit=False)
    state = capture_environment(repo)["git"]
    assert state == {
        "commit": None,
        "branch": "main",
        "dirty": True,
        "changed_files": ["a.txt"],
        "remote_url": None,
        "root": git(repo, "rev-parse", "--show-toplevel"),
    }


@needs_git
def test_not_a_repository_and_missing_path(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "job.py").write_text("pass\n")
    assert capture_environment(plain)["git"] is None
    assert capture_environment(plain / "job.py")["git"] is None
    assert capture_environment(tmp_path / "does" / "not" / "exist.py")["git"] is None


@needs_git
def test_default_source_is_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"sub/x.py": "x\n"})
    monkeypatch.chdir(repo / "sub")
    assert capture_environment()["git"]["root"] == git(repo, "rev-parse", "--show-toplevel")


@needs_git
def test_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "origin", "https://u:p@example.com/wt.git")
    git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    state = capture_environment(tmp_path / "side")["git"]
    assert state["branch"] == "side"
    assert state["root"] == git(tmp_path / "side", "rev-parse", "--show-toplevel")
    assert state["remote_url"] == "https://example.com/wt.git"


@needs_git
def test_per_worktree_config_wins(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"sub/x.py": "x\n"})
    git(repo, "remote", "add", "origin", "https://example.com/common.git")
    git(repo, "config", "extensions.worktreeConfig", "true")
    git(repo, "config", "--worktree", "remote.origin.url", "https://example.com/worktree-only.git")
    for source in (repo, repo / "sub"):
        assert capture_environment(source)["git"]["remote_url"] == "https://example.com/worktree-only.git"


CONFIG_SNIPPETS = {
    "plain": '[remote "origin"]\n\turl = https://u:p@example.com/a.git\n',
    "quoted-comment": '[remote "origin"]\n  url = "https://example.com/a b.git" ; comment\n',
    "legacy-header": "[remote.origin]\nurl = https://example.com/legacy.git\n",
    "same-line": '[remote "origin"] url = https://example.com/same-line.git\n',
    "continuation": '[remote "origin"]\n url = https://example.com/\\\ncontinued.git\n',
    "last-wins": '[remote "origin"]\nurl = https://example.com/1.git\n[remote "origin"]\nurl = https://example.com/2.git\n',
    "case": '[REMOTE "origin"]\nURL = https://example.com/case.git # trailing\n',
    "other-subsection-case": '[remote "Origin"]\nurl = https://example.com/not-origin.git\n',
    "escapes": '[remote "origin"]\nurl = "https://example.com/q\\"uote\\\\d.git"\n',
    "boolean-and-crlf": '[remote "origin"]\r\n\tmirror\r\n\turl = https://example.com/crlf.git\r\n',
    "include": "[include]\n\tpath = extra.config\n",
}


@needs_git
@pytest.mark.parametrize("snippet", sorted(CONFIG_SNIPPETS))
def test_remote_url_matches_git_config(tmp_path: Path, snippet: str) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".git" / "extra.config").write_text('[remote "origin"]\n\turl = https://t0k3n@example.com/inc.git\n')
    with open(repo / ".git" / "config", "a", newline="") as handle:
        handle.write(CONFIG_SNIPPETS[snippet])
    asked = subprocess.run(
        [REAL_GIT, "config", "--get", "remote.origin.url"], cwd=repo, capture_output=True, text=True
    )
    expected = strip_url_credentials(asked.stdout[:-1]) if asked.returncode == 0 else None
    assert capture_environment(repo)["git"]["remote_url"] == expected
    if snippet in ("plain", "include"):
        assert expected is not None and "@" not in expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@host/x.git", "https://host/x.git"),
        ("https://ghp_token@github.com/org/x.git", "https://github.com/org/x.git"),
        ("http://u:p@ss@host:8080/x.git?a=b#c", "http://host:8080/x.git?a=b#c"),
        ("https://u:p@[::1]:8443/x.git", "https://[::1]:8443/x.git"),
        ("https://host/x.git", "https://host/x.git"),
        ("https://host/user@org/x.git", "https://host/user@org/x.git"),
        ("ssh://git:secret@host/x.git", "ssh://git@host/x.git"),
        ("ssh://git@host:22/x.git", "ssh://git@host:22/x.git"),
        ("git+ssh://git@host/x.git", "git+ssh://git@host/x.git"),
        ("git@github.com:org/x.git", "git@github.com:org/x.git"),
        ("/srv/git/x.git", "/srv/git/x.git"),
        ("file:///srv/git/x.git", "file:///srv/git/x.git"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


# --------------------------------------------------------------------------------------------------
# how git is run: locks, process count, missing or slow git
# --------------------------------------------------------------------------------------------------


def log_git_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `git` first on PATH that logs ``$GIT_OPTIONAL_LOCKS|args`` of each call, then runs the real git."""
    log = tmp_path / "calls.log"
    write_script(tmp_path / "bin" / "git", f'echo "$GIT_OPTIONAL_LOCKS|$*" >> "{log}"\nexec "{REAL_GIT}" "$@"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("GIT_OPTIONAL_LOCKS", raising=False)
    return log


@needs_git
def test_git_runs_without_optional_locks_in_two_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"sub/x.py": "x\n"})
    git(repo, "remote", "add", "origin", "https://example.com/x.git")
    log = log_git_calls(tmp_path, monkeypatch)

    state = capture_environment(repo / "sub" / "x.py")["git"]

    calls = log.read_text().splitlines()
    assert len(calls) == 2, calls
    assert all(call.startswith("0|") for call in calls), calls
    assert state["remote_url"] == "https://example.com/x.git"
    assert state["commit"] == git(repo, "rev-parse", "HEAD")
    assert state["root"] == git(repo, "rev-parse", "--show-toplevel")


@needs_git
def test_outside_a_repository_no_git_process_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    (tmp_path / "plain" / ".git").mkdir()  # a .git folder without a HEAD is not a repository for git either
    log = log_git_calls(tmp_path, monkeypatch)
    monkeypatch.delenv("GIT_CEILING_DIRECTORIES")
    monkeypatch.chdir(plain)
    assert subprocess.run([REAL_GIT, "rev-parse", "--show-toplevel"], capture_output=True).returncode != 0
    log.unlink(missing_ok=True)

    env = capture_environment(plain)

    assert env["git"] is None
    assert not log.exists()


@needs_git
def test_dot_git_entries_that_are_no_repository_are_taken_as_git_takes_them(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"inner/x.py": "x\n", "broken/y.py": "y\n"})
    (repo / "inner" / ".git").mkdir()  # an empty folder: git passes over it to the repository above
    (repo / "broken" / ".git").write_text("not a gitdir pointer\n")  # git stops here with an error
    assert capture_environment(repo / "inner")["git"]["root"] == git(repo / "inner", "rev-parse", "--show-toplevel")
    refused = subprocess.run([REAL_GIT, "status"], cwd=repo / "broken", capture_output=True)
    assert refused.returncode != 0
    assert capture_environment(repo / "broken")["git"] is None


@needs_git
def test_symlinked_folder_gives_the_physical_root(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"sub/x.py": "x\n"})
    (tmp_path / "link").symlink_to(repo / "sub")
    state = capture_environment(tmp_path / "link" / "x.py")["git"]
    assert state["root"] == git(repo / "sub", "rev-parse", "--show-toplevel")


@needs_git
def test_work_tree_from_the_environment_asks_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"sub/x.py": "x\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(repo))
    state = capture_environment(elsewhere)["git"]
    assert state["root"] == str(repo)
    assert state["commit"] == git(repo, "rev-parse", "HEAD")


@needs_git
def test_core_worktree_asks_git_for_the_root(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    work = tmp_path / "work"
    work.mkdir()
    (work / "b.txt").write_text("b\n")
    git(repo, "config", "core.worktree", str(work))
    state = capture_environment(repo)["git"]
    assert state["root"] == git(repo, "rev-parse", "--show-toplevel") == str(work)
    assert state["changed_files"] == ["a.txt", "b.txt"]  # a.txt is missing from that work tree, b.txt untracked
    assert capture_environment(work)["git"] is None  # no .git there: git finds no repository either


@needs_git
def test_git_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "empty").mkdir()
    capture_environment(repo)  # warm the cached facts while the normal PATH is in place
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    env = capture_environment(repo)
    assert env["git"] is None
    assert env["packages"] and env["python"] == platform.python_version()


def test_slow_git_result_timeout_returns_without_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pids = tmp_path / "pids"
    (tmp_path / ".git").write_text("gitdir: elsewhere\n")  # a repository, as far as the folder shows: git is asked
    write_script(tmp_path / "bin" / "git", f'echo $$ >> "{pids}"\nexec sleep 30\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    started = time.monotonic()
    capture = start_capture(tmp_path, git_timeout=0.5)
    env = capture.result(timeout=0)
    assert time.monotonic() - started < 2.0
    assert env["git"] is None
    assert env["packages"] and env["hostname"] == socket.gethostname()

    # the worker gives up at its own deadline and kills the git processes it started
    final = capture.result(timeout=10)
    assert capture.done()
    assert final["git"] is None
    assert time.monotonic() - started < 5.0
    for pid in map(int, pids.read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@needs_git
def test_start_capture_result_can_be_read_twice(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    capture = start_capture(repo)
    first = capture.result()
    first["git"]["changed_files"].append("mutated")
    assert capture.result(timeout=0)["git"]["changed_files"] == []
