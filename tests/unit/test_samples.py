"""get_image_samples on local folder datasets and on fsspec URLs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from brevettiai.datamodel import Dataset
from brevettiai.io import IoTools
from brevettiai.platform import get_image_samples


def _write(path: Path, content: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return hashlib.md5(content).hexdigest()


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    _write(root / "ok" / "a.png", b"a")
    _write(root / "ok" / "b.JPG", b"b")
    _write(root / "defect" / "scratch" / "c.bmp", b"c")
    _write(root / "top.tiff", b"t")
    _write(root / "notes.txt", b"not an image")
    _write(root / ".annotations" / "ok" / "a.png", b"hidden folder")
    _write(root / "ok" / ".hidden.png", b"hidden file")
    return root


def test_local_dataset_gives_path_folder_dataset_and_md5(dataset_dir: Path) -> None:
    samples = get_image_samples([Dataset(id="d1", name="one", bucket=str(dataset_dir))])
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == ["path", "folder", "dataset_id", "checksum"]
    rows = {os.path.relpath(p, dataset_dir).replace(os.sep, "/"): r for p, r in
            zip(samples.path, samples.to_dict("records"), strict=True)}
    assert set(rows) == {"ok/a.png", "ok/b.JPG", "defect/scratch/c.bmp", "top.tiff"}
    assert rows["ok/a.png"]["folder"] == "ok"
    assert rows["defect/scratch/c.bmp"]["folder"] == "defect/scratch"
    assert rows["top.tiff"]["folder"] == ""
    assert rows["ok/b.JPG"]["checksum"] == hashlib.md5(b"b").hexdigest()
    assert set(samples.dataset_id) == {"d1"}
    assert all(os.path.isfile(p) for p in samples.path)


def test_several_datasets_dicts_and_plain_paths(dataset_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _write(other / "x" / "y.jpeg", b"y")
    samples = get_image_samples([{"id": "d1", "bucket": str(dataset_dir)}, str(other)], as_frame=False)
    assert isinstance(samples, list)
    by_dataset = {row["dataset_id"] for row in samples}
    assert by_dataset == {"d1", "other"}
    assert [row["folder"] for row in samples if row["dataset_id"] == "other"] == ["x"]


def test_extensions_and_checksums_off(dataset_dir: Path) -> None:
    samples = get_image_samples(Dataset(id="d1", bucket=str(dataset_dir)), extensions=("txt",), checksums=False)
    assert [os.path.basename(p) for p in samples.path] == ["notes.txt"]
    assert samples.checksum.isna().all()


def test_list_of_dicts_without_pandas(dataset_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pandas(name: str, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    samples = get_image_samples([Dataset(id="d1", bucket=str(dataset_dir))])
    assert isinstance(samples, list) and len(samples) == 4
    assert set(samples[0]) == {"path", "folder", "dataset_id", "checksum"}


def test_a_job_passes_its_datasets_and_io(dataset_dir: Path) -> None:
    class FakeJob:
        datasets = [Dataset(id="d1", bucket=str(dataset_dir))]
        io = IoTools()

    assert len(get_image_samples(FakeJob())) == 4


def test_fsspec_url_dataset(tmp_path: Path) -> None:
    io = IoTools()
    io.write_file("memory://samples-test/ds/cat/a.png", b"abc")
    io.write_file("memory://samples-test/ds/.annotations/a.png", b"hidden")
    samples = get_image_samples([Dataset(id="m", bucket="memory://samples-test/ds")], io=io)
    assert list(samples.path) == ["memory://samples-test/ds/cat/a.png"]
    assert list(samples.folder) == ["cat"]
    assert list(samples.checksum) == [hashlib.md5(b"abc").hexdigest()]


def test_dataset_without_bucket_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no bucket"):
        get_image_samples([Dataset(id="nobucket")])
