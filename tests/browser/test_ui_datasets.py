"""Datasets through the pages: create one, upload several files with a progress bar, see image
thumbnails, download, browse folders, set tags."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform, shot

pytestmark = pytest.mark.browser


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _upload(page: Any) -> dict[str, Any]:
    """Click Upload; what the form showed when it finished (after the reload that follows a success).

    The page reloads itself 400 ms after an upload succeeds, so what it showed is recorded the moment the
    form is marked done (a MutationObserver) into sessionStorage, which the reload keeps.
    """
    page.evaluate("""() => {
        sessionStorage.removeItem('uploadFinished');
        const form = document.querySelector('#upload-form');
        new MutationObserver(() => {
            if (!form.dataset.done) return;
            sessionStorage.setItem('uploadFinished', JSON.stringify({
                done: form.dataset.done, progress: document.querySelector('#upload-progress').value,
                progressShown: !form.querySelector('.progress-wrap').hidden,
                status: document.querySelector('#upload-status').textContent}));
        }).observe(form, {attributes: true, attributeFilter: ['data-done']});
    }""")
    page.get_by_role("button", name="Upload", exact=True).click()
    finished = json.loads(page.wait_for_function("() => sessionStorage.getItem('uploadFinished')").json_value())
    if finished["done"] == "true":  # let the reload end: a navigation started meanwhile would be cut short by it
        page.wait_for_function("() => document.readyState === 'complete' && "
                               "!(document.querySelector('#upload-form') || {dataset: {}}).dataset.done")
    return finished


def test_create_a_dataset_and_upload_files(logged_in: Any, ui_server: Platform, screenshots: Path) -> None:
    page = logged_in
    page.get_by_role("link", name="Datasets", exact=True).click()
    page.get_by_role("link", name="New dataset").click()
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("alert")).to_have_text("Give the dataset a name.")
    page.get_by_label("Name").fill("Caps from line 3")
    page.get_by_label("Notes").fill("Photos of bottle caps, good and bad")
    page.get_by_label("line 3").check()
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_url(lambda url: "/datasets/" in url and not url.endswith("/datasets/new"))  # not the form's
    dataset_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#no-files")).to_be_visible()
    expect(page.locator("#dataset-tags")).to_have_text("line 3")

    big = bytes(range(256)) * 12_000  # 3 MB: the progress bar has something to show
    files = [
        {"name": "cap-good.png", "mimeType": "image/png", "buffer": png(64, 48, (40, 160, 60))},
        {"name": "cap-bad.png", "mimeType": "image/png", "buffer": png(48, 64, (200, 40, 40))},
        {"name": "labels.csv", "mimeType": "text/csv", "buffer": b"file,label\ncap-good.png,ok\ncap-bad.png,defect\n"},
        {"name": "raw scan #1.bin", "mimeType": "application/octet-stream", "buffer": big},
    ]
    page.get_by_label("Files to upload").set_input_files(files)
    finished = _upload(page)
    assert finished["done"] == "true" and finished["progressShown"] and finished["progress"] == 100, finished
    assert "Uploaded 4 of 4 files." in finished["status"]
    page.locator("#file-list").wait_for()  # the page reloads with the files

    listing = page.locator("#file-list")
    assert "raw scan #1.bin" in listing.inner_text() and "3.1 MB" in listing.inner_text()
    for name in ("cap-good.png", "cap-bad.png"):
        image = listing.get_by_role("img", name=name)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert page.evaluate("document.querySelector('img[alt=\"cap-good.png\"]').naturalWidth") == 64
    shot(page, screenshots, "dataset-page")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download labels.csv").click()
    assert Path(download_info.value.path()).read_bytes().startswith(b"file,label\n")

    # The files are the dataset's, through the REST API too.
    listed = {entry["name"].rsplit("/", 1)[1]: entry["size"] for entry in
              ui_server.api.get(f"/api/ls/{dataset_id}/").json()}
    assert listed == {"cap-good.png": len(files[0]["buffer"]), "cap-bad.png": len(files[1]["buffer"]),
                      "labels.csv": len(files[2]["buffer"]), "raw scan #1.bin": len(big)}

    # Thumbnails and downloads need the session.
    assert httpx.get(f"{ui_server.url}/datasets/{dataset_id}/files/cap-good.png").status_code == 303

    # Folders.
    ui_server.api.put(f"/api/files/{dataset_id}/more/deeper/note.txt", content=b"hello").raise_for_status()
    page.reload()
    page.get_by_role("link", name="more/").click()
    page.get_by_role("link", name="deeper/").click()
    expect(page.locator("#file-list")).to_contain_text("note.txt")
    page.get_by_label("Files to upload").set_input_files([{"name": "here.txt", "mimeType": "text/plain", "buffer": b"x"}])
    finished = _upload(page)
    assert finished["done"] == "true", finished
    assert ui_server.api.get(f"/api/files/{dataset_id}/more/deeper/here.txt").content == b"x"

    # Tags.
    page.goto(f"{ui_server.url}/datasets/{dataset_id}")
    page.get_by_text("Edit tags").click()
    page.get_by_label("production").check()
    page.get_by_role("button", name="Save tags").click()
    expect(page.locator("#dataset-tags li")).to_have_text(["production", "line 3"])
    tag_ids = ui_server.api.get(f"/api/datasets/{dataset_id}").json()["tagIds"]
    assert set(tag_ids) == {ui_server.ids["tag"], ui_server.ids["subtag"]}
