"""Datasets: list, create, a dataset's files (thumbnails, upload, download), tags, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from brevettiai.server import datasets, files, tags
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError
from brevettiai.server.schemas import MAX_PAGE
from brevettiai.server.storage import clean_path
from brevettiai.server.ui import forms
from brevettiai.server.ui.common import (
    FILES_PAGE_SIZE,
    IMAGE_TYPES,
    PAGE_SIZE,
    page_count,
    query_string,
    serve_file,
    tag_options,
)
from brevettiai.server.ui.web import (
    PageError,
    PageRoute,
    WebUser,
    check_csrf_header,
    ctx_of,
    flash,
    form_with_csrf,
    render,
    signed_in_user,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)



@router.get("/datasets")
def datasets_page(request: Request, q: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                  user: WebUser = Depends(signed_in_user)) -> Response:
    """Datasets, newest first, with search and paging."""
    ctx = ctx_of(request)
    q = q.strip()[:255]
    total, rows = datasets.search(ctx, q, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    tag_names = tags.names(ctx)
    return render(request, "datasets.html", {
        "title": "Datasets", "section": "datasets", "rows": rows, "total": total, "page": page,
        "pages": page_count(total, PAGE_SIZE), "q": q, "tag_names": tag_names, "page_size": PAGE_SIZE,
        "link": lambda p: "/datasets" + query_string(q=q, page=p)}, user=user)


@router.get("/datasets/new")
def dataset_new(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """The form for a new dataset."""
    return render(request, "dataset_new.html", {"title": "New dataset", "section": "datasets", "name": "",
                                                "notes": "", "error": None, "tags": tag_options(ctx_of(request)),
                                                "chosen": set()}, user=user)


@router.post("/datasets/new")
async def dataset_create(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """Create the dataset (the server's own create), then open it to upload files."""
    form = await form_with_csrf(request, user)
    ctx = ctx_of(request)
    name = str(form.get("name") or "").strip()
    notes = str(form.get("notes") or "")
    chosen = [str(v) for v in form.getlist("tag_ids")]
    error = None
    if not name:
        error = "Give the dataset a name."
    elif len(name) > 255:
        error = "The name is too long (255 characters at most)."
    else:
        try:
            created = await run_in_threadpool(datasets.create, ctx, name, "", notes, False, chosen)
        except ApiError as exc:
            error = forms.errors_by_field(exc.detail)[1][0] if isinstance(exc.detail, list) else str(exc.detail)
        else:
            response = RedirectResponse(f"/datasets/{created.id}", status_code=303)
            flash(response, f"Created the dataset “{name}”. Upload its files below.")
            return response
    return render(request, "dataset_new.html", {"title": "New dataset", "section": "datasets", "name": name,
                                                "notes": notes, "error": error, "tags": tag_options(ctx),
                                                "chosen": set(chosen)}, status=422, user=user)


def _dataset(ctx: ServerContext, dataset_id: str) -> db.Dataset:
    row = datasets.find(ctx, dataset_id)
    if row is None:
        raise PageError(404, f"There is no dataset '{dataset_id}'.")
    return row


@router.get("/datasets/{dataset_id}")
def dataset_page(request: Request, dataset_id: str, folder: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                 user: WebUser = Depends(signed_in_user)) -> Response:
    """A dataset: its files (thumbnails for images), upload, tags."""
    ctx = ctx_of(request)
    dataset = _dataset(ctx, dataset_id)
    folder = clean_path(folder)
    found = files.folder_entries(ctx, user.principal, dataset_id, folder)
    if found is None:
        raise PageError(404, f"There is no folder '{folder}' in this dataset.")
    entries = files.folders_first(found)
    total = len(entries)
    pages = page_count(total, FILES_PAGE_SIZE)
    shown = entries[(page - 1) * FILES_PAGE_SIZE: page * FILES_PAGE_SIZE]
    rows = [{"name": e.path.rsplit("/", 1)[-1], "path": e.path, "folder": e.type == "directory", "size": e.size,
             "mtime": e.mtime, "image": e.path.lower().endswith(IMAGE_TYPES)} for e in shown]
    parts = folder.split("/") if folder else []
    crumbs = [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]
    tags = tag_options(ctx)
    tag_names = {tag_id: name for tag_id, name, _ in tags}
    return render(request, "dataset.html", {
        "title": f"{dataset.name} · dataset", "section": "datasets", "dataset": dataset, "rows": rows,
        "folder": folder, "crumbs": crumbs, "total": total, "page": page, "pages": pages, "tags": tags,
        "tag_names": tag_names, "chosen": set(dataset.tag_ids or []),
        "link": lambda p: f"/datasets/{dataset_id}" + query_string(folder=folder, page=p)}, user=user)


@router.get("/datasets/{dataset_id}/files/{path:path}")
def dataset_file(request: Request, dataset_id: str, path: str, download: bool = False,
                 user: WebUser = Depends(signed_in_user)) -> Response:
    """A dataset file for a logged-in person: images inline (thumbnails), anything else as a download."""
    ctx = ctx_of(request)
    _dataset(ctx, dataset_id)
    path = clean_path(path, allow_empty=False)
    inline = path.lower().endswith(IMAGE_TYPES) and not download
    return serve_file(request, dataset_id, path, user.principal, attachment=not inline)


@router.put("/datasets/{dataset_id}/files/{path:path}")
async def dataset_upload(request: Request, dataset_id: str, path: str,
                         user: WebUser = Depends(signed_in_user)) -> Response:
    """Store an uploaded file (body: its bytes) as the files API would; CSRF token in a header."""
    check_csrf_header(request, user)
    ctx = ctx_of(request)
    await run_in_threadpool(_dataset, ctx, dataset_id)
    stored = await files.write(ctx, user.principal, dataset_id, path, request.stream(),
                               request.headers.get("content-length"))
    return JSONResponse(stored.model_dump(), status_code=201)


@router.post("/datasets/{dataset_id}/tags")
async def dataset_tags(request: Request, dataset_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Set the dataset's tags."""
    form = await form_with_csrf(request, user)
    ctx = ctx_of(request)
    chosen = list(dict.fromkeys(str(v) for v in form.getlist("tag_ids")))

    def save() -> None:
        if datasets.set_tags(ctx, dataset_id, chosen) is None:
            raise PageError(404, f"There is no dataset '{dataset_id}'.")

    await run_in_threadpool(save)
    response = RedirectResponse(f"/datasets/{dataset_id}", status_code=303)
    flash(response, "Saved the dataset's tags.")
    return response


@router.get("/datasets/{dataset_id}/delete")
def dataset_delete_confirm(request: Request, dataset_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Ask before deleting a dataset."""
    dataset = _dataset(ctx_of(request), dataset_id)
    return render(request, "confirm_delete.html", {
        "title": f"Delete {dataset.name}", "section": "datasets", "what": "dataset", "name": dataset.name,
        "action": f"/datasets/{dataset_id}/delete", "cancel": f"/datasets/{dataset_id}",
        "details": "This deletes the dataset and every file in it. Models trained on it keep their own "
                   "artifacts. It cannot be undone."}, user=user)


@router.post("/datasets/{dataset_id}/delete")
async def dataset_delete(request: Request, dataset_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Delete a dataset and its files (the server's own delete)."""
    await form_with_csrf(request, user)
    ctx = ctx_of(request)
    dataset = await run_in_threadpool(_dataset, ctx, dataset_id)
    await run_in_threadpool(datasets.delete_dataset, ctx, dataset_id)
    response = RedirectResponse("/datasets", status_code=303)
    flash(response, f"Deleted the dataset “{dataset.name}”.")
    return response


