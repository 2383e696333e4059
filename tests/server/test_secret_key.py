"""The report signing key of the embedded default: generated once into the data dir, the same for every
worker process that starts at the same moment, and never read half-written."""

from __future__ import annotations

import errno
import multiprocessing
import os
from pathlib import Path

import pytest

from brevettiai.server.secret_key import KEY_FILE, _from_data_dir


def _key_in_child(path: str, start: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue) -> None:
    start.wait()
    out.put(_from_data_dir(Path(path)).hex())


def test_workers_starting_together_all_sign_with_the_one_stored_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    path = tmp_path / "data" / KEY_FILE
    for _ in range(5):  # the race is between processes: run it a few times
        path.unlink(missing_ok=True)
        start, out = context.Barrier(8), context.Queue()
        children = [context.Process(target=_key_in_child, args=(str(path), start, out)) for _ in range(8)]
        for child in children:
            child.start()
        keys = {out.get(timeout=30) for _ in children}
        for child in children:
            child.join(30)
        assert keys == {path.read_bytes().hex()}, "every worker must use the key that is stored"
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == [KEY_FILE], "no temporary file is left behind"


def test_a_short_key_file_is_replaced_and_an_unwritable_data_dir_still_gives_a_key(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / KEY_FILE
    path.write_bytes(b"torn")
    key = _from_data_dir(path)
    assert len(key) == 32 and path.read_bytes() == key
    assert _from_data_dir(path) == key

    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_bytes(b"")
    assert len(_from_data_dir(not_a_folder / KEY_FILE)) == 32, "a data dir it cannot write to still gives a key"
    assert "Could not store the report signing key" in caplog.text


def test_workers_agree_on_the_key_where_the_file_system_has_no_hard_links(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: str, target: str) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)  # as on FAT, many FUSE mounts, some SMB shares
    test_workers_starting_together_all_sign_with_the_one_stored_key(tmp_path)
    path = tmp_path / "data" / KEY_FILE
    assert _from_data_dir(path) == path.read_bytes(), "a restart signs with the stored key"
