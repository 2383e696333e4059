"""Many small local files in one request: a tar stream to ``PUT /api/archive/<resource>``.

One request per file costs a round trip, an access check and a database write each; a dataset of
thousands of small images goes much faster as a few archives. Each file's md5 is computed as it is
sent and checked against the md5 the platform stored; a file the platform refused comes back with
its reason, the others are stored all the same.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import quote

from brevettiai.errors import PlatformError, PlatformNotFoundError, PlatformValidationError
from brevettiai.platform._http import PlatformClient

ARCHIVE_FILE_MAX = 1 << 20  # larger files are sent one request each (streamed, never read whole)
_PIECE = 256 << 10  # headers and small files are sent in pieces of about this size
_BLOCK = tarfile.BLOCKSIZE


class _TarBody:
    """Local files as a re-iterable tar stream (each retry starts over), with the md5 of each file sent.

    A file that cannot be read is left out, and its error kept in `unreadable`.
    """

    def __init__(self, files: Sequence[tuple[str, str]], progress: Callable[[int], object] | None) -> None:
        self.files = files
        self.progress = progress
        self.md5s: dict[str, str] = {}
        self.unreadable: dict[str, OSError] = {}
        self._reported = 0

    def __iter__(self) -> Iterator[bytes]:
        if self.progress and self._reported:
            self.progress(-self._reported)
        self._reported = 0
        self.md5s, self.unreadable = {}, {}
        pending: list[bytes] = []
        size = 0
        for relative, path in self.files:
            try:
                with open(path, "rb") as handle:
                    content = handle.read()
            except OSError as exc:
                self.unreadable[relative] = exc
                continue
            info = tarfile.TarInfo(relative)
            info.size, info.mode, info.mtime = len(content), 0o644, int(os.path.getmtime(path))
            self.md5s[relative] = hashlib.md5(content, usedforsecurity=False).hexdigest()
            padding = -len(content) % _BLOCK
            pending += [info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), content, b"\0" * padding]
            size += len(pending[-3]) + len(content) + padding
            if self.progress:
                self.progress(len(content))
                self._reported += len(content)
            if size >= _PIECE:
                yield b"".join(pending)
                pending, size = [], 0
        yield b"".join(pending) + b"\0" * (2 * _BLOCK)


def upload_archive(client: PlatformClient, rid: str, files: Sequence[tuple[str, str]],
                   progress: Callable[[int], object] | None = None) -> dict[str, int | Exception] | None:
    """Send local files (path inside the resource, local path) as one archive; per file its size or error.

    None when the platform has no archive endpoint (an older server): send the files one by one.
    """
    body = _TarBody(files, progress)
    try:
        response = client.put(f"/api/archive/{quote(rid, safe='')}", content=body, expected=(405,),
                              headers={"Content-Type": "application/x-tar"})
    except PlatformNotFoundError as exc:
        if exc.detail == "Not Found":  # no such route, rather than no such resource
            return None
        raise
    if response.status_code == 405:
        return None
    answer = response.json()
    outcomes: dict[str, int | Exception] = dict(body.unreadable)
    prefix = rid + "/"
    for item in answer.get("files", []):
        relative = item["path"][len(prefix):] if item["path"].startswith(prefix) else item["path"]
        if body.md5s.get(relative) not in (None, item.get("md5")):
            outcomes[relative] = PlatformValidationError(
                f"the platform stored md5 {item.get('md5')} for {relative} but it was sent with md5 "
                f"{body.md5s[relative]} (changed while uploading?)")
        else:
            outcomes[relative] = int(item["size"])
    for item in answer.get("refused", []):
        outcomes[item["name"]] = PlatformError(f"PUT /api/archive/{rid}: the platform refused {item['name']}: "
                                               f"{item['status']} {item['detail']}", item["status"], item["detail"])
    for relative, _ in files:
        outcomes.setdefault(relative, PlatformError(f"PUT /api/archive/{rid}: {relative} is missing from the "
                                                    f"platform's answer"))
    return outcomes
