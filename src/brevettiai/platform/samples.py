"""Image samples of datasets: one row per image with its path, folder, dataset and md5 checksum.

    samples = get_image_samples(job.datasets, io=job.io)   # or get_image_samples(job)

A dataset's files are listed below its ``bucket`` (a local folder, ``brevettiai://<id>`` on a
platform, or any fsspec URL). Hidden files and folders (``.annotations``, ...) are skipped. The
folder of a sample, relative to the dataset root, is its category in the original SDK's sense.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, Union

from brevettiai.contract.jsontypes import JSONMapping
from brevettiai.datamodel.types import Dataset
from brevettiai.io import IoTools
from brevettiai.io import path as iopath

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
COLUMNS = ("path", "folder", "dataset_id", "checksum")
_MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")


class HasDatasets(Protocol):
    """A job (or anything else) carrying datasets; its ``io``, when it has one, reads them."""

    @property
    def datasets(self) -> Sequence[Dataset]: ...


DatasetRef: TypeAlias = Union[Dataset, JSONMapping, str]  # noqa: UP007 - a record, its dict, or its bucket path
SampleRow: TypeAlias = dict[str, Union[str, None]]  # noqa: UP007 - path, folder, dataset_id, checksum


def get_image_samples(datasets: HasDatasets | DatasetRef | Iterable[DatasetRef], *, io: IoTools | None = None,
                      extensions: Iterable[str] = IMAGE_EXTENSIONS, checksums: bool = True,
                      as_frame: bool | None = None, workers: int = 8) -> pd.DataFrame | list[SampleRow]:
    """A table of the datasets' images: a pandas DataFrame when pandas is importable, else a list of dicts.

    `datasets` is a `Dataset`, a list of them (e.g. ``job.datasets``) or a job; without `io`, the io
    of the job the datasets came from is used. Checksums come from the platform's listing when it gives them, else are computed
    (``checksums=False`` leaves them None). ``as_frame`` forces (True) or refuses (False) a DataFrame.
    """
    if io is None and hasattr(datasets, "datasets") and hasattr(datasets, "io"):
        io = datasets.io
    if io is None:  # a job's datasets carry the job's io (and so its key)
        io = next((d.io for d in _datasets(datasets) if d.io is not None), None)
    io = io or IoTools()
    wanted = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    rows: list[dict[str, Any]] = []
    for dataset in _datasets(datasets):
        rows.extend(_dataset_samples(io, dataset, wanted))
    if checksums:
        _fill_checksums(io, rows, workers)
    log.info("Found %d image samples in %d dataset(s)", len(rows), len(_datasets(datasets)))
    return _table(rows, as_frame)


def _datasets(datasets: Any) -> list[Dataset]:
    """The datasets given: a job's, one, or an iterable of records, dicts or bucket paths."""
    if hasattr(datasets, "datasets") and not isinstance(datasets, (Dataset, Mapping, str)):
        datasets = datasets.datasets
    if isinstance(datasets, (Dataset, Mapping, str)):
        datasets = [datasets]
    result = []
    for item in datasets:
        if isinstance(item, str):
            item = Dataset.model_validate({"id": iopath.basename(item.rstrip("/\\")) or item, "bucket": item})
        elif not isinstance(item, Dataset):
            item = Dataset.model_validate(item)
        if not item.bucket:
            raise ValueError(f"dataset {item.id!r} ({item.name}) has no bucket: its files cannot be listed")
        result.append(item)
    return result


def _dataset_samples(io: IoTools, dataset: Dataset, extensions: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """One row per non-hidden file of the dataset whose extension is wanted, sorted by path."""
    root = str(dataset.bucket)
    rows = []
    for relative, checksum in _list_files(io, root):
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        if not relative.lower().endswith(extensions):
            continue
        folder = relative.rpartition("/")[0]
        rows.append({"path": iopath.join(root, *relative.split("/")), "folder": folder,
                     "dataset_id": dataset.id, "checksum": checksum})
    yield from sorted(rows, key=lambda row: row["path"] or "")


def _list_files(io: IoTools, root: str) -> Iterator[tuple[str, str | None]]:
    """``(posix path relative to root, md5 or None)`` of every file below root."""
    listed = _listing_with_checksums(io, root)
    if listed is not None:
        yield from listed
        return
    for folder, _dirs, files in io.walk(root, exclude_hidden=True):
        relative_folder = "" if folder == root else iopath.relpath(folder, root).replace("\\", "/")
        for name in files:
            yield (f"{relative_folder}/{name}" if relative_folder else name), None


def _listing_with_checksums(io: IoTools, root: str) -> list[tuple[str, str | None]] | None:
    """A remote folder's files with the md5s its listing gives (one request on a platform), else None."""
    if not iopath.is_url(root) or iopath.local_path(root) is not None:
        return None
    try:
        target = io._resolve(root)
    except AttributeError:
        return None
    fs, key = target.fs, target.key.rstrip("/")
    if hasattr(fs, "find_recursive"):
        entries = fs.find_recursive(key)
    else:
        entries = list(fs.find(key, withdirs=False, detail=True).values())
    key = key.strip("/")
    files = []
    for entry in entries:
        if entry.get("type", "file") != "file":
            continue
        name = str(entry["name"]).strip("/")
        relative = name[len(key) + 1:] if name.startswith(key + "/") else name
        files.append((relative, _checksum_of(entry)))
    return files


def _checksum_of(entry: Mapping[str, Any]) -> str | None:
    """The md5 a listing entry carries (``md5``, or an ETag that is a plain md5), else None."""
    for key in ("md5", "ETag", "etag"):
        value = str(entry.get(key) or "").strip('"')
        if _MD5_RE.match(value):
            return value.lower()
    return None


def _fill_checksums(io: IoTools, rows: list[dict[str, Any]], workers: int) -> None:
    """Compute the md5 of rows the listing gave none for, a few files at a time."""
    missing = [row for row in rows if row["checksum"] is None]
    if not missing:
        return
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="md5") as pool:
        for row, md5 in zip(missing, pool.map(lambda r: io.get_md5(r["path"]), missing), strict=True):
            row["checksum"] = md5


def _table(rows: list[dict[str, Any]], as_frame: bool | None) -> Any:
    """Rows as a pandas DataFrame (when wanted and available), else as the list itself."""
    if as_frame is False:
        return rows
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise
        return rows
    return pd.DataFrame(rows, columns=list(COLUMNS))


__all__ = ["IMAGE_EXTENSIONS", "get_image_samples"]
