"""Behaviour tests of IoTools on local disk, memory:// and (via moto) s3://."""

import hashlib
import io
import os
import socket
import subprocess
import sys
import uuid

import pytest

from brevettiai.errors import StorageError, StoragePathError
from brevettiai.io import IoTools, io_tools
from brevettiai.io import path as iopath
from brevettiai.io.progress import LARGE_COPY_BYTES

pytestmark = pytest.mark.usefixtures("empty_memory_fs")


@pytest.fixture
def tools():
    return IoTools()


@pytest.fixture(params=["local", "memory"])
def base(request, tmp_path):
    """A folder on each backend: a local tmp folder or a fresh memory:// folder."""
    if request.param == "local":
        return str(tmp_path / "base")
    return f"memory://base-{uuid.uuid4().hex[:8]}"


def tree_of(tools, root):
    """Return {relative posix path: bytes} for every file below root."""
    found = {}
    for folder, _dirs, files in tools.walk(root):
        for name in files:
            full = iopath.join(folder, name)
            found[iopath.relpath(full, root).replace(os.sep, "/")] = tools.read_file(full)
    return found


SAMPLE_TREE = {"a.txt": b"A", "sub/b.bin": b"\x00\x01" * 100, "sub/deeper/c.txt": b"C", ".hidden/d": b"D"}


def write_tree(tools, root, files=SAMPLE_TREE):
    for relative, content in files.items():
        tools.write_file(iopath.join(root, *relative.split("/")), content)


# -- read / write ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_content", "expected"),
    [
        (lambda: "héllo", "héllo".encode()),
        (lambda: b"\x00bytes", b"\x00bytes"),
        (lambda: bytearray(b"array"), b"array"),
        (lambda: memoryview(b"view"), b"view"),
        (lambda: io.BytesIO(b"binary stream"), b"binary stream"),
        (lambda: io.StringIO("text stream ø"), "text stream ø".encode()),
    ],
    ids=["str", "bytes", "bytearray", "memoryview", "binary-file", "text-file"],
)
def test_write_then_read_returns_bytes(tools, base, make_content, expected):
    target = iopath.join(base, "deep", "er", "file.dat")  # parents do not exist yet
    tools.write_file(target, make_content())
    assert tools.read_file(target) == expected
    assert tools.isfile(target)


def test_write_overwrites(tools, base):
    target = iopath.join(base, "f.txt")
    tools.write_file(target, "first version")
    tools.write_file(target, "2nd")
    assert tools.read_file(target) == b"2nd"


def test_write_large_stream_to_memory_is_spooled_and_complete(tools, monkeypatch):
    monkeypatch.setattr("brevettiai.io.tools.SINGLE_PUT_BYTES", 1000)
    payload = os.urandom(5000)
    tools.write_file("memory://big/blob", io.BytesIO(payload))
    assert tools.read_file("memory://big/blob") == payload


def test_write_accepts_pathlike(tools, tmp_path):
    tools.write_file(tmp_path / "p.txt", "x")
    assert (tmp_path / "p.txt").read_bytes() == b"x"


def test_file_urls_are_local_paths(tools, tmp_path):
    tools.write_file(f"file://{tmp_path}/via-url/f.txt", "u")
    assert (tmp_path / "via-url" / "f.txt").read_bytes() == b"u"
    assert tools.ls(f"file://{tmp_path}/via-url") == [f"file://{tmp_path}/via-url/f.txt"]


def test_write_rejects_unsupported_content(tools, base):
    with pytest.raises(TypeError, match="given int"):
        tools.write_file(iopath.join(base, "x"), 42)


class FailingStream:
    """A binary stream that yields one chunk, then fails like a dropped connection."""

    def __init__(self):
        self.calls = 0

    def read(self, size=-1):
        self.calls += 1
        if self.calls == 1:
            return b"partial new content"
        raise RuntimeError("source broke midway")


def test_failed_write_keeps_old_content_and_leaves_no_temp_file(tools, base):
    target = iopath.join(base, "folder", "f.txt")
    tools.write_file(target, "old content")
    with pytest.raises(RuntimeError, match="source broke midway"):
        tools.write_file(target, FailingStream())
    assert tools.read_file(target) == b"old content"
    assert tools.ls(iopath.join(base, "folder")) == [target]


def test_local_stream_write_reads_in_bounded_chunks(tools, tmp_path):
    sizes = []

    class Recording(io.BytesIO):
        def read(self, size=-1):
            sizes.append(size)
            return super().read(size)

    tools.write_file(tmp_path / "out", Recording(b"z" * 3_000_000))
    assert (tmp_path / "out").read_bytes() == b"z" * 3_000_000
    assert len(sizes) >= 3 and all(0 < size <= 4 << 20 for size in sizes)


def test_read_missing_file_names_the_path(tools, base):
    missing = iopath.join(base, "nope.txt")
    with pytest.raises(FileNotFoundError) as caught:
        tools.read_file(missing)
    assert missing in str(caught.value)


def test_backend_failure_becomes_storage_error(tools, tmp_path):
    with pytest.raises(StorageError, match="read_file failed for") as caught:
        tools.read_file(tmp_path)  # a folder
    assert isinstance(caught.value.__cause__, IsADirectoryError)


def test_unknown_protocol_is_rejected(tools):
    with pytest.raises(StoragePathError, match="nosuchproto"):
        tools.read_file("nosuchproto://x/y")


def test_get_md5_matches_hashlib(tools, base):
    payload = os.urandom(3 << 20)
    target = iopath.join(base, "blob")
    tools.write_file(target, payload)
    assert tools.get_md5(target) == hashlib.md5(payload).hexdigest()


# -- copy / move / remove ----------------------------------------------------------------------


def test_copy_file_across_backends(tools, tmp_path):
    local_src = str(tmp_path / "src.txt")
    tools.write_file(local_src, "payload")
    tools.copy(local_src, "memory://dst/copied.txt")
    assert tools.read_file("memory://dst/copied.txt") == b"payload"
    tools.copy("memory://dst/copied.txt", str(tmp_path / "back" / "again.txt"))
    assert (tmp_path / "back" / "again.txt").read_bytes() == b"payload"
    tools.copy("memory://dst/copied.txt", "memory://other/same-fs.txt")
    assert tools.read_file("memory://other/same-fs.txt") == b"payload"


@pytest.mark.parametrize("source_kind", ["local", "memory"])
@pytest.mark.parametrize("destination_kind", ["local", "memory"])
def test_copy_tree_across_backends(tools, tmp_path, source_kind, destination_kind):
    source = str(tmp_path / "src") if source_kind == "local" else "memory://src"
    destination = str(tmp_path / "dst") if destination_kind == "local" else "memory://dst"
    write_tree(tools, source)
    tools.copy(source, destination)
    assert tree_of(tools, destination) == SAMPLE_TREE
    assert tree_of(tools, source) == SAMPLE_TREE


def test_copy_missing_source_raises_not_found(tools, base):
    with pytest.raises(FileNotFoundError):
        tools.copy(iopath.join(base, "missing"), iopath.join(base, "dst"))


def test_copy_tree_into_itself_is_refused(tools, base):
    write_tree(tools, iopath.join(base, "t"))
    with pytest.raises(StoragePathError, match="inside source"):
        tools.copy(iopath.join(base, "t"), iopath.join(base, "t", "inner"))


def test_move_file_and_tree(tools, base):
    tools.write_file(iopath.join(base, "a.txt"), "A")
    tools.move(iopath.join(base, "a.txt"), iopath.join(base, "moved", "a.txt"))
    assert not tools.exists(iopath.join(base, "a.txt"))
    assert tools.read_file(iopath.join(base, "moved", "a.txt")) == b"A"

    write_tree(tools, iopath.join(base, "tree"))
    tools.move(iopath.join(base, "tree"), iopath.join(base, "tree2"))
    assert not tools.exists(iopath.join(base, "tree"))
    assert tree_of(tools, iopath.join(base, "tree2")) == SAMPLE_TREE


def test_move_across_backends(tools, tmp_path):
    write_tree(tools, "memory://tree")
    tools.move("memory://tree", str(tmp_path / "tree"))
    assert tree_of(tools, str(tmp_path / "tree")) == SAMPLE_TREE
    assert not tools.exists("memory://tree")


def test_move_missing_source_raises_not_found(tools, base):
    with pytest.raises(FileNotFoundError):
        tools.move(iopath.join(base, "missing"), iopath.join(base, "dst"))
    assert not tools.exists(iopath.join(base, "dst"))


def test_remove_file_tree_and_missing(tools, base):
    write_tree(tools, iopath.join(base, "tree"))
    tools.remove(iopath.join(base, "tree", "a.txt"))
    assert not tools.exists(iopath.join(base, "tree", "a.txt"))
    tools.remove(iopath.join(base, "tree"))
    assert not tools.exists(iopath.join(base, "tree"))
    with pytest.raises(FileNotFoundError, match="remove"):
        tools.remove(iopath.join(base, "tree"))


def test_make_dirs(tools, tmp_path):
    tools.make_dirs(tmp_path / "x" / "y")
    assert (tmp_path / "x" / "y").is_dir()
    tools.make_dirs("memory://made/dirs")
    assert tools.exists("memory://made/dirs")


# -- listing -----------------------------------------------------------------------------------


def test_walk_like_os_walk(tools, base):
    root = iopath.join(base, "tree")
    write_tree(tools, root)
    walked = list(tools.walk(root))
    assert walked == [
        (root, [".hidden", "sub"], ["a.txt"]),
        (iopath.join(root, ".hidden"), [], ["d"]),
        (iopath.join(root, "sub"), ["deeper"], ["b.bin"]),
        (iopath.join(root, "sub", "deeper"), [], ["c.txt"]),
    ]


def test_walk_exclude_hidden_and_pruning(tools, base):
    root = iopath.join(base, "tree")
    write_tree(tools, root)
    tools.write_file(iopath.join(root, "sub", ".secret"), "s")
    walked = list(tools.walk(root, exclude_hidden=True))
    assert walked == [
        (root, ["sub"], ["a.txt"]),
        (iopath.join(root, "sub"), ["deeper"], ["b.bin"]),
        (iopath.join(root, "sub", "deeper"), [], ["c.txt"]),
    ]
    seen = []
    for folder, dirs, _files in tools.walk(root):
        seen.append(folder)
        dirs[:] = [name for name in dirs if name != "sub"]
    assert seen == [root, iopath.join(root, ".hidden")]


def test_walk_missing_raises_not_found(tools, base):
    with pytest.raises(FileNotFoundError):
        list(tools.walk(iopath.join(base, "missing")))


def test_ls_exists_isfile(tools, base):
    root = iopath.join(base, "tree")
    write_tree(tools, root)
    assert tools.ls(root) == [iopath.join(root, name) for name in (".hidden", "a.txt", "sub")]
    assert tools.exists(iopath.join(root, "sub")) and not tools.isfile(iopath.join(root, "sub"))
    assert tools.exists(iopath.join(root, "a.txt")) and tools.isfile(iopath.join(root, "a.txt"))
    assert not tools.exists(iopath.join(root, "nope")) and not tools.isfile(iopath.join(root, "nope"))
    with pytest.raises(FileNotFoundError):
        tools.ls(iopath.join(root, "nope"))
    with pytest.raises(StorageError, match="ls failed"):
        tools.ls(iopath.join(root, "a.txt"))


# -- instances, options, progress, import cost -------------------------------------------------


def test_factory_and_default_instance():
    made = IoTools.factory(cache_root=None)
    assert isinstance(made, IoTools) and made is not io_tools
    assert isinstance(io_tools, IoTools)


def test_storage_options_are_passed_per_protocol(tools):
    private = IoTools(storage_options={"memory": {"global_store": False, "skip_instance_cache": True}})
    private.write_file("memory://only-private.txt", "p")
    assert private.read_file("memory://only-private.txt") == b"p"
    assert not tools.exists("memory://only-private.txt")


def test_progress_bar_only_for_large_copies_on_a_terminal(tools, tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    source = tmp_path / "big.bin"
    source.write_bytes(b"\x00" * (LARGE_COPY_BYTES + 1))
    (tmp_path / "small.bin").write_bytes(b"\x00" * 10)

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    tools.copy(tmp_path / "small.bin", tmp_path / "small-copy.bin")
    assert terminal.getvalue() == ""
    tools.copy(source, tmp_path / "big-copy.bin")
    drawn = terminal.getvalue()
    assert f"copy {source}" in drawn and "8.00M" in drawn  # a tqdm bar with the total size

    not_terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", not_terminal)
    tools.copy(source, tmp_path / "big-copy-2.bin")
    assert not_terminal.getvalue() == ""
    assert (tmp_path / "big-copy-2.bin").stat().st_size == LARGE_COPY_BYTES + 1


def test_import_and_local_use_do_not_load_remote_libraries(tmp_path):
    code = (
        "import sys, brevettiai.io as bio\n"
        f"bio.io_tools.write_file({str(tmp_path / 'x' / 'f.txt')!r}, 'x')\n"
        f"assert bio.io_tools.read_file({str(tmp_path / 'x' / 'f.txt')!r}) == b'x'\n"
        f"bio.io_tools.copy({str(tmp_path / 'x')!r}, {str(tmp_path / 'y')!r})\n"
        "loaded = [m for m in ('fsspec', 's3fs', 'tqdm', 'httpx') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- S3 (moto server) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint):
    """A fresh bucket: returns (bucket URL, boto3 client acting as an outside writer, options)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    options = {"s3": {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}}
    return f"s3://{bucket}", client, options


def test_s3_round_trip(s3, tmp_path):
    bucket_url, client, options = s3
    tools = IoTools(storage_options=options)
    tools.write_file(f"{bucket_url}/dir/a.txt", "hello")
    tools.write_file(f"{bucket_url}/dir/sub/b.bin", io.BytesIO(b"\x01" * 1000))
    assert tools.read_file(f"{bucket_url}/dir/a.txt") == b"hello"
    assert tools.ls(f"{bucket_url}/dir") == [f"{bucket_url}/dir/a.txt", f"{bucket_url}/dir/sub"]
    assert list(tools.walk(f"{bucket_url}/dir")) == [
        (f"{bucket_url}/dir", ["sub"], ["a.txt"]),
        (f"{bucket_url}/dir/sub", [], ["b.bin"]),
    ]
    assert tools.isfile(f"{bucket_url}/dir/a.txt") and not tools.isfile(f"{bucket_url}/dir")
    assert tools.get_md5(f"{bucket_url}/dir/a.txt") == hashlib.md5(b"hello").hexdigest()

    tools.copy(f"{bucket_url}/dir", str(tmp_path / "down"))
    assert tree_of(tools, str(tmp_path / "down")) == {"a.txt": b"hello", "sub/b.bin": b"\x01" * 1000}
    tools.copy(str(tmp_path / "down"), f"{bucket_url}/up")
    assert tree_of(tools, f"{bucket_url}/up") == {"a.txt": b"hello", "sub/b.bin": b"\x01" * 1000}
    tools.move(f"{bucket_url}/up/a.txt", f"{bucket_url}/moved.txt")
    assert not tools.exists(f"{bucket_url}/up/a.txt")

    tools.remove(f"{bucket_url}/dir")
    assert not tools.exists(f"{bucket_url}/dir/a.txt")
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket_url[5:])["Contents"])
    assert keys == ["moved.txt", "up/sub/b.bin"]
    with pytest.raises(FileNotFoundError):
        tools.read_file(f"{bucket_url}/dir/a.txt")


def test_s3_large_uploads_go_through_the_backend_upload(s3, tmp_path, monkeypatch):
    bucket_url, _client, options = s3
    monkeypatch.setattr("brevettiai.io.tools.SINGLE_PUT_BYTES", 1000)
    tools = IoTools(storage_options=options)
    payload = os.urandom(5000)
    (tmp_path / "big.bin").write_bytes(payload)
    tools.copy(tmp_path / "big.bin", f"{bucket_url}/copied.bin")
    tools.write_file(f"{bucket_url}/streamed.bin", io.BytesIO(payload))
    assert tools.read_file(f"{bucket_url}/copied.bin") == payload
    assert tools.read_file(f"{bucket_url}/streamed.bin") == payload


def test_s3_cache_revalidates_with_etag_after_outside_write(s3, tmp_path):
    bucket_url, client, options = s3
    cache_root = tmp_path / "cache"
    cache_root.mkdir()
    tools = IoTools(cache_root=cache_root, storage_options=options)
    tools.write_file(f"{bucket_url}/data/x.txt", "version-1")
    assert tools.read_file(f"{bucket_url}/data/x.txt") == b"version-1"
    cached = cache_root / "s3" / bucket_url[5:] / "data" / "x.txt"
    assert cached.read_bytes() == b"version-1"

    # Same size, written by another client: only the ETag tells the versions apart.
    client.put_object(Bucket=bucket_url[5:], Key="data/x.txt", Body=b"version-2")
    assert tools.read_file(f"{bucket_url}/data/x.txt") == b"version-2"
    assert cached.read_bytes() == b"version-2"
