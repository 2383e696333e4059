"""Upload a local folder to a platform dataset, resuming where an earlier upload stopped.

    python -m brevettiai.utils.upload_data FOLDER --dataset_name NAME [--host URL] [--username U]

Files already on the platform with the same md5 are skipped, so running the command again after an
interruption uploads only what is missing or changed. Hidden files and folders are not uploaded.

When the platform keeps its files on S3, the files go straight to the bucket: each worker asks the
platform for presigned PUT URLs for a batch of files at once (one request per batch) and PUTs every
file to its URL; the stored ETag is checked against the file's md5. Otherwise the small files (up to
1 MiB) of a batch go as one tar archive (``PUT /api/archive/<dataset>``, the md5 of each file checked
against the one stored) and larger files are streamed one by one through the platform's files API.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from brevettiai.datamodel.types import Dataset
from brevettiai.errors import (
    PlatformError,
    PlatformNotFoundError,
    PlatformValidationError,
)
from brevettiai.platform.archive_upload import ARCHIVE_FILE_MAX, upload_archive
from brevettiai.platform.filesystem import DIRECT_WRITE_MAX, put_presigned, request_transfer, storage_client
from brevettiai.utils._command import add_login_options, run_with_platform

if TYPE_CHECKING:
    from brevettiai.platform.web_api import PlatformAPI

log = logging.getLogger(__name__)


@dataclasses.dataclass
class UploadResult:
    """What an upload did: file counts, bytes sent and the files that failed (with why)."""

    dataset: Dataset
    uploaded: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return self.failed == 0

    def summary(self) -> str:
        """A one-line summary for people."""
        text = (f"dataset '{self.dataset.name}' ({self.dataset.id}): {self.uploaded} uploaded "
                f"({_size(self.bytes)}), {self.skipped} skipped (already there), {self.failed} failed")
        return text


@dataclasses.dataclass(frozen=True)
class _LocalFile:
    relative: str  # posix path below the folder
    path: str
    size: int


def upload_folder(web: PlatformAPI, folder: str | os.PathLike[str], dataset_name: str | None = None,
                  dataset_id: str | None = None, workers: int = 8, progress: bool = True) -> UploadResult:
    """Upload `folder` into a dataset (found by id or name, else created), skipping unchanged files."""
    root = os.path.abspath(os.fspath(folder))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{os.fspath(folder)!r} is not a folder: give the folder to upload")
    if workers < 1:
        raise ValueError(f"workers must be at least 1; given {workers}")
    dataset, created = _dataset_for(web, dataset_name or os.path.basename(root), dataset_id)
    files = list(_local_files(root))
    remote = {} if created else _remote_md5s(web, dataset.id)
    result = UploadResult(dataset=dataset)
    log.info("Uploading %d files from %s to dataset %s (%s)", len(files), root, dataset.name, dataset.id)
    uploader = _Uploader(web, dataset.id)
    size = max(1, min(BATCH, -(-len(files) // workers)))  # every worker busy, even for few files
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    try:
        with _progress_bar(sum(f.size for f in files), progress) as advance, \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload") as pool:
            futures = [pool.submit(uploader.sync_batch, batch, remote, advance) for batch in batches]
            for future in as_completed(futures):
                for local, outcome in future.result():
                    if isinstance(outcome, BaseException):
                        result.failed += 1
                        result.errors.append((local.relative, str(outcome)))
                        log.warning("Could not upload %s: %s", local.relative, outcome)
                    elif outcome is None:
                        result.skipped += 1
                    else:
                        result.uploaded += 1
                        result.bytes += outcome
    finally:
        uploader.close()
    log.info("Upload to %s: %s", dataset.id, result.summary())
    return result


BATCH = 256  # files per request: presigned URLs asked at once, or small files sent as one archive


class _Uploader:
    """Sends files of one dataset: straight to the storage with presigned URLs when offered, else via the API."""

    def __init__(self, web: PlatformAPI, dataset_id: str) -> None:
        self._web, self._dataset_id = web, dataset_id
        self._direct: bool | None = None  # None: not known until the first batch asks
        self._archive: bool | None = None  # whether the platform takes tar archives; None: not known yet
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    def sync_batch(self, batch: list[_LocalFile], remote: dict[str, tuple[int | None, str | None]],
                   advance: Callable[[int], object]) -> list[tuple[_LocalFile, int | None | BaseException]]:
        """Upload the files of a batch that the platform lacks; per file the bytes sent, None (skipped) or the error."""
        outcomes: list[tuple[_LocalFile, int | None | BaseException]] = []
        todo = []
        for local in batch:
            try:
                if _unchanged(local, remote.get(local.relative)):
                    advance(local.size)
                    outcomes.append((local, None))
                else:
                    todo.append(local)
            except OSError as exc:
                outcomes.append((local, exc))
        singles = list(zip(todo, self._urls(todo, outcomes), strict=True))
        small = [local for local, url in singles if url is None and local.size <= ARCHIVE_FILE_MAX]
        if small and self._archive is not False:
            archived = self._send_archive(small, advance)
            if archived is not None:
                outcomes += [(local, archived[local.relative]) for local in small]
                singles = [(local, url) for local, url in singles if url is not None or local.size > ARCHIVE_FILE_MAX]
        for local, url in singles:
            try:
                if url is None or local.size > DIRECT_WRITE_MAX:
                    self._web.upload_file(self._dataset_id, local.relative, local.path, progress=advance)
                else:
                    put_presigned(self._http(), url, local.path, progress=advance)
                outcomes.append((local, local.size))
            except (PlatformError, OSError) as exc:
                outcomes.append((local, exc))
        return outcomes

    def _send_archive(self, files: list[_LocalFile], advance: Callable[[int], object]
                      ) -> dict[str, int | BaseException] | None:
        """Send small files as one tar archive; per file its size or error. None: the platform has no archive
        endpoint (send them one by one)."""
        try:
            archived = upload_archive(self._web.client, self._dataset_id, [(f.relative, f.path) for f in files],
                                      progress=advance)
        except PlatformError as exc:
            return {f.relative: exc for f in files}
        self._archive = archived is not None
        return dict(archived) if archived is not None else None

    def _urls(self, todo: list[_LocalFile], outcomes: list[Any]) -> list[str | None]:
        """Presigned URLs for the files (None each when the platform streams them itself)."""
        if not todo or self._direct is False:
            return [None] * len(todo)
        try:
            urls = request_transfer(self._web.client, self._dataset_id, [(f.relative, f.size) for f in todo])
        except PlatformError as exc:
            log.debug("No presigned URLs (%s); uploading through the platform", exc)
            urls = None
        self._direct = urls is not None
        return list(urls) if urls is not None else [None] * len(todo)

    def _http(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = storage_client()
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


def _dataset_for(web: PlatformAPI, name: str, dataset_id: str | None) -> tuple[Dataset, bool]:
    """The dataset with this id, else the one with this name, else a new one; and whether it is new."""
    if dataset_id:
        return web.get_dataset(dataset_id), False  # type: ignore[return-value]
    found: list[Dataset] = web.get_dataset(name=name)  # type: ignore[assignment]
    if len(found) > 1:
        ids = ", ".join(d.id for d in found)
        raise PlatformValidationError(f"{len(found)} datasets are named {name!r} ({ids}): "
                                      f"choose one with --dataset_id")
    if found:
        log.info("Adding to the existing dataset %s (%s)", name, found[0].id)
        return found[0], False
    dataset = web.create_dataset(name)
    log.info("Created dataset %s (%s)", name, dataset.id)
    return dataset, True


def _local_files(root: str) -> Iterator[_LocalFile]:
    """Every non-hidden file below `root`, in hidden-folder-free walk order."""
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(current, name)
            if not os.path.isfile(path):
                continue
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            yield _LocalFile(relative, path, os.path.getsize(path))


def _remote_md5s(web: PlatformAPI, dataset_id: str) -> dict[str, tuple[int | None, str | None]]:
    """Size and md5 of every file already in the dataset, by path relative to the dataset."""
    try:
        entries = web.ls(dataset_id, recursive=True)
    except PlatformNotFoundError:
        return {}
    remote: dict[str, Any] = {}
    for entry in entries:
        if entry.get("type", "file") != "file":
            continue
        name = str(entry["name"]).strip("/")
        relative = name.split("/", 1)[1] if name.startswith(dataset_id + "/") else name
        remote[relative] = (entry.get("size"), entry.get("md5"))
    return remote


def _unchanged(local: _LocalFile, remote: tuple[int | None, str | None] | None) -> bool:
    """True when the platform has this file already (same size and md5)."""
    if remote is None:
        return False
    size, md5 = remote
    return bool((size is None or size == local.size) and md5 and md5 == _md5(local.path))


def _md5(path: str) -> str:
    """The md5 of a local file, read in chunks."""
    from brevettiai.io import io_tools

    return io_tools.get_md5(path)


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Callable[[int], object]]:
    """A thread-safe ``advance(n_bytes)`` drawing a tqdm bar on a terminal when enabled."""
    from brevettiai.io.progress import no_progress, stderr_is_terminal

    if not enabled or not stderr_is_terminal():
        yield no_progress
        return
    from tqdm import tqdm

    lock = threading.Lock()
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="upload", file=sys.stderr) as bar:
        def advance(n: int) -> None:
            with lock:
                bar.update(n)

        yield advance


def _size(n: int) -> str:
    """A byte count for people (KiB, MiB, GiB)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


# -- command line ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="brevettiai upload-data",
        description="Upload a folder to a platform dataset; files already there with the same md5 are skipped.")
    parser.add_argument("folder", help="the local folder to upload (hidden files and folders are skipped)")
    parser.add_argument("--dataset_name", "--dataset-name", dest="dataset_name",
                        help="dataset to add to (created when missing; default: the folder's name)")
    parser.add_argument("--dataset_id", "--dataset-id", dest="dataset_id", help="id of an existing dataset")
    add_login_options(parser)
    parser.add_argument("--workers", type=int, default=8, help="parallel uploads (default: 8)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the upload command; returns the exit code (0 ok, 1 some files failed, 2 bad input)."""
    args = _parser().parse_args(argv)
    if not os.path.isdir(args.folder):
        print(f"error: {args.folder!r} is not a folder: give the folder to upload", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"error: --workers must be at least 1; given {args.workers}", file=sys.stderr)
        return 2

    def upload(web: PlatformAPI) -> int:
        result = upload_folder(web, args.folder, dataset_name=args.dataset_name, dataset_id=args.dataset_id,
                               workers=args.workers, progress=args.progress)
        for relative, message in result.errors:
            print(f"failed: {relative}: {message}", file=sys.stderr)
        print(result.summary())
        return 0 if result.ok else 1

    return run_with_platform(args, upload)


if __name__ == "__main__":
    sys.exit(main())
