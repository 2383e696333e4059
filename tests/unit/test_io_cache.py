"""Tests of the validated read cache, through IoTools and through ReadCache itself."""

import datetime
import os

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from brevettiai.errors import StoragePathError
from brevettiai.io import IoTools
from brevettiai.io.cache import ReadCache, remote_signature

pytestmark = pytest.mark.usefixtures("empty_memory_fs")


@pytest.fixture
def cache_root(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    return root


@pytest.fixture
def tools(cache_root):
    return IoTools(cache_root=cache_root)


def outside_fs():
    """A separate handle on the shared memory store, as another process or client would use."""
    return MemoryFileSystem(skip_instance_cache=True)


def overwrite_in_place(key, content):
    """Change a memory file's bytes without touching its size or timestamps (invisible to validation)."""
    stored = MemoryFileSystem.store[key]
    assert len(content) == stored.size
    stored.seek(0)
    stored.write(content)


# -- cache root --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "file", "url"])
def test_bad_cache_root_is_rejected(tmp_path, kind):
    if kind == "missing":
        root = str(tmp_path / "does-not-exist")
    elif kind == "file":
        root = str(tmp_path / "a-file")
        (tmp_path / "a-file").write_text("x")
    else:
        root = "s3://bucket/cache"
    with pytest.raises(StoragePathError) as caught:
        IoTools(cache_root=root)
    assert repr(root) in str(caught.value) and "accepted" in str(caught.value)
    tools = IoTools()
    with pytest.raises(StoragePathError):
        tools.set_cache_root(root)
    assert tools.cache_root is None


def test_set_cache_root_and_turn_off(cache_root):
    tools = IoTools()
    tools.set_cache_root(cache_root)
    assert tools.cache_root == str(cache_root)
    tools.set_cache_root(None)
    assert tools.cache_root is None


def test_cache_true_without_root_is_an_error():
    outside_fs().pipe_file("/f", b"x")
    with pytest.raises(StoragePathError, match="needs a cache root"):
        IoTools().read_file("memory://f", cache=True)
    with pytest.raises(StoragePathError, match="needs a cache root"):
        IoTools().ensure_in_cache("memory://f")


# -- hits and misses ---------------------------------------------------------------------------


def test_second_read_is_served_from_the_cache(tools, cache_root):
    outside_fs().pipe_file("/data/f.txt", b"original")
    assert tools.read_file("memory://data/f.txt") == b"original"
    assert (cache_root / "memory" / "data" / "f.txt").read_bytes() == b"original"

    overwrite_in_place("/data/f.txt", b"SNEAKY!!")  # same size, same timestamps
    assert tools.read_file("memory://data/f.txt") == b"original"  # the cached copy
    assert tools.read_file("memory://data/f.txt", cache=False) == b"SNEAKY!!"


def test_without_cache_root_reads_go_to_the_remote(cache_root):
    tools = IoTools()
    outside_fs().pipe_file("/f.txt", b"abc")
    assert tools.read_file("memory://f.txt") == b"abc"
    assert os.listdir(cache_root) == []


def test_local_files_are_never_cached(tools, cache_root, tmp_path):
    (tmp_path / "local.txt").write_bytes(b"local")
    assert tools.read_file(tmp_path / "local.txt", cache=True) == b"local"
    assert tools.ensure_in_cache(tmp_path / "local.txt") == str(tmp_path / "local.txt")
    assert os.listdir(cache_root) == []


def test_ensure_in_cache_returns_a_local_copy(tools, cache_root):
    outside_fs().pipe_file("/a/b.bin", b"\x00\x01")
    local = tools.ensure_in_cache("memory://a/b.bin")
    assert local == str(cache_root / "memory" / "a" / "b.bin")
    with open(local, "rb") as handle:
        assert handle.read() == b"\x00\x01"
    with pytest.raises(FileNotFoundError, match="memory://a/missing"):
        tools.ensure_in_cache("memory://a/missing")


# -- never stale -------------------------------------------------------------------------------


def test_our_write_drops_the_cached_copy(tools, cache_root):
    tools.write_file("memory://d/f.txt", "old!")
    assert tools.read_file("memory://d/f.txt") == b"old!"
    cached = cache_root / "memory" / "d" / "f.txt"
    assert cached.exists()
    tools.write_file("memory://d/f.txt", "new!")
    assert not cached.exists()
    assert tools.read_file("memory://d/f.txt") == b"new!"


@pytest.mark.parametrize("operation", ["copy", "move", "remove"])
def test_other_writes_drop_cached_copies_below_them(tools, cache_root, operation):
    tools.write_file("memory://src/f.txt", "src")
    tools.write_file("memory://dst/f.txt", "dst")
    tools.write_file("memory://dst/sub/g.txt", "g")
    assert tools.read_file("memory://dst/f.txt") == b"dst"
    assert tools.read_file("memory://dst/sub/g.txt") == b"g"
    if operation == "remove":
        tools.remove("memory://dst")
    else:
        getattr(tools, operation)("memory://src/f.txt", "memory://dst/f.txt")
        tools.remove("memory://dst/sub")
    assert not (cache_root / "memory" / "dst" / "f.txt").exists()
    assert not (cache_root / "memory" / "dst" / "sub").exists()


def test_outside_write_is_caught_by_mtime_and_size(tools):
    outside_fs().pipe_file("/v.txt", b"v1")
    assert tools.read_file("memory://v.txt") == b"v1"
    outside_fs().pipe_file("/v.txt", b"v2")  # same size; memory:// reports no ETag, only a timestamp
    assert tools.read_file("memory://v.txt") == b"v2"
    outside_fs().pipe_file("/v.txt", b"longer v3")
    assert tools.read_file("memory://v.txt") == b"longer v3"


def test_write_by_another_instance_is_caught(tools, cache_root):
    other = IoTools()  # no cache: its write cannot drop our cached copy, only validation helps
    tools.write_file("memory://shared.txt", "one")
    assert tools.read_file("memory://shared.txt") == b"one"
    other.write_file("memory://shared.txt", "two")
    assert (cache_root / "memory" / "shared.txt").read_bytes() == b"one"
    assert tools.read_file("memory://shared.txt") == b"two"


def test_instances_sharing_a_cache_root_see_each_others_writes(cache_root):
    first, second = IoTools(cache_root=cache_root), IoTools(cache_root=cache_root)
    first.write_file("memory://shared.txt", "one")
    assert first.read_file("memory://shared.txt") == b"one"
    second.write_file("memory://shared.txt", "two")
    assert first.read_file("memory://shared.txt") == b"two"


def test_replaced_local_copy_is_not_trusted(tools, cache_root):
    outside_fs().pipe_file("/r.txt", b"remote")
    local = tools.ensure_in_cache("memory://r.txt")
    # Another process swaps the cached copy without updating the sidecar.
    with open(local + ".tmp", "wb") as handle:
        handle.write(b"bogus!")
    os.replace(local + ".tmp", local)
    assert tools.read_file("memory://r.txt") == b"remote"


# -- ReadCache and signatures directly ---------------------------------------------------------


def test_remote_signature_prefers_etag_then_mtime_and_size():
    when = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    assert remote_signature({"ETag": '"abc"', "size": 3, "LastModified": when}) == {"etag": '"abc"'}
    assert remote_signature({"size": 3, "mtime": 1.5}) == {"mtime": "1.5", "size": 3}
    assert remote_signature({"size": 3, "created": when}) == {"mtime": str(when), "size": 3}
    assert remote_signature({"size": 3}) is None


def test_read_cache_store_lookup_drop(cache_root):
    cache = ReadCache(cache_root)
    signature = {"etag": "e1"}
    path = cache.store("s3", "bucket/k/file.bin", signature, lambda handle: handle.write(b"data"))
    assert path == str(cache_root / "s3" / "bucket" / "k" / "file.bin")
    assert cache.lookup("s3", "bucket/k/file.bin", signature) == path
    assert cache.lookup("s3", "bucket/k/file.bin", {"etag": "e2"}) is None
    assert cache.lookup("s3", "bucket/k/file.bin", None) is None  # unverifiable: never trusted
    cache.drop("s3", "bucket/k")
    assert cache.lookup("s3", "bucket/k/file.bin", signature) is None
    assert not os.path.exists(path)


def test_read_cache_failed_fill_leaves_nothing(cache_root):
    cache = ReadCache(cache_root)

    def broken(handle):
        handle.write(b"half")
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError):
        cache.store("s3", "bucket/f", {"etag": "e"}, broken)
    assert os.listdir(cache_root / "s3" / "bucket") == []
    assert cache.lookup("s3", "bucket/f", {"etag": "e"}) is None


def test_read_cache_refuses_keys_that_escape(cache_root):
    cache = ReadCache(cache_root)
    with pytest.raises(StoragePathError):
        cache.entry_path("s3", "bucket/../../etc/passwd")
