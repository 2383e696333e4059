"""Tests of the URL-aware path helpers in brevettiai.io.path."""

import os
import pathlib
import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brevettiai.errors import StoragePathError
from brevettiai.io import path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s3://bucket/key", ("s3", "bucket/key")),
        ("memory://x", ("memory", "x")),
        ("file:///tmp/a", ("file", "/tmp/a")),
        ("gcs+x.y-z://b", ("gcs+x.y-z", "b")),
        ("/tmp/a", (None, "/tmp/a")),
        ("relative/a", (None, "relative/a")),
        ("C:\\data\\x", (None, "C:\\data\\x")),
        ("s3:/not-a-url", (None, "s3:/not-a-url")),
    ],
)
def test_split_protocol_and_is_url(text, expected):
    assert path.split_protocol(text) == expected
    assert path.is_url(text) == (expected[0] is not None)


def test_local_path_maps_file_urls_and_rejects_remote_ones():
    assert path.local_path("/tmp/a") == "/tmp/a"
    assert path.local_path(pathlib.Path("rel/a")) == os.path.join("rel", "a")
    assert path.local_path("file:///tmp/a") == "/tmp/a"
    assert path.local_path("s3://bucket/a") is None
    assert path.local_path("memory://a") is None


def test_join_local_uses_os_path_join():
    assert path.join("a", "b", "c.txt") == os.path.join("a", "b", "c.txt")
    assert path.join(pathlib.Path("a"), "b") == os.path.join("a", "b")
    assert path.join("a", "/abs") == os.path.join("a", "/abs")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("s3://bucket", "a", "b.txt"), "s3://bucket/a/b.txt"),
        (("s3://bucket/", "/a/", "b.txt"), "s3://bucket/a/b.txt"),
        (("s3://", "bucket", "key"), "s3://bucket/key"),
        (("memory:///", "a"), "memory:///a"),
        (("s3://bucket", "", "a"), "s3://bucket/a"),
        (("local", "s3://bucket", "a"), "s3://bucket/a"),
        (("s3://bucket/x", "memory://m", "a"), "memory://m/a"),
    ],
)
def test_join_urls_uses_slash(parts, expected):
    assert path.join(*parts) == expected


def test_join_needs_a_part():
    with pytest.raises(TypeError):
        path.join()


def test_relpath_for_urls_and_local_paths():
    assert path.relpath("s3://b/a/x/y.txt", "s3://b/a") == "x/y.txt"
    assert path.relpath("s3://b/a", "s3://b/a/x") == ".."
    assert path.relpath(os.path.join("a", "b", "c"), "a") == os.path.join("b", "c")


@pytest.mark.parametrize(("p", "start"), [("s3://b/a", "memory://b"), ("s3://b/a", "/b"), ("/b/a", "s3://b")])
def test_relpath_rejects_mixed_schemes(p, start):
    with pytest.raises(StoragePathError, match="different schemes"):
        path.relpath(p, start)


def test_dirname_and_basename():
    assert path.dirname("s3://b/a/x.txt") == "s3://b/a"
    assert path.basename("s3://b/a/x.txt") == "x.txt"
    assert path.dirname("s3://b") == "s3://"
    assert path.dirname(os.path.join("a", "b.txt")) == "a"
    assert path.basename(os.path.join("a", "b.txt")) == "b.txt"


def test_safe_join_accepts_relative_parts():
    assert path.safe_join("s3://bucket/root", "a/b", "c.txt") == "s3://bucket/root/a/b/c.txt"
    assert path.safe_join("root", "a", "b..c", ".hidden") == os.path.join("root", "a", "b..c", ".hidden")


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        ("..", "'..'"),
        ("a/../../b", "'..'"),
        ("a\\..\\b", "'..'"),
        ("/etc/passwd", "absolute"),
        ("\\server\\share", "absolute"),
        ("C:/windows", "absolute"),
        ("s3://x", "URL"),
        ("memory://x/y", "URL"),
        ("a\x00b", "NUL"),
        ("a\\b", "backslash"),
        ("x" * 256, "255 bytes"),
    ],
)
def test_safe_join_rejects_escaping_parts(part, reason):
    with pytest.raises(StoragePathError) as caught:
        path.safe_join("root", "ok", part)
    message = str(caught.value)
    assert repr(part) in message  # what was given
    assert "part 2" in message  # which part
    assert reason in message
    assert "accepted" in message
    assert isinstance(caught.value, ValueError)


_segment = st.text(alphabet="abcXYZ019._- ", min_size=1, max_size=8).filter(lambda s: s not in {".", ".."})


@given(st.lists(_segment, min_size=1, max_size=5))
def test_safe_join_result_stays_below_root(segments):
    joined = path.safe_join("s3://bucket/root", *segments)
    _, rest = path.split_protocol(joined)
    assert posixpath.normpath(rest).startswith("bucket/root/")
