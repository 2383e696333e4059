"""What a user does with one run on its page besides watching it: follow its log, start it, edit its
notes and tags, and preview its artifacts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from brevettiai.server import files, job_log, jobs, runs
from brevettiai.server.errors import ApiError
from brevettiai.server.once import put_once
from brevettiai.server.schemas import MAX_NOTES, JobPatch
from brevettiai.server.storage import clean_path
from brevettiai.server.ui import preview
from brevettiai.server.ui.common import KIND_WORDS, KINDS, serve_file
from brevettiai.server.ui.web import (
    PageError,
    PageRoute,
    WebUser,
    ctx_of,
    flash,
    form_with_csrf,
    render,
    signed_in_user,
)
from brevettiai.server.wire_checks import INT64_MAX

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _register(kind: str) -> None:
    prefix = KINDS[kind]
    word, _plural, section = KIND_WORDS[kind]

    @router.get(prefix + "/{job_id}/log.json")
    def log_json(request: Request, job_id: str, offset: int | None = Query(None, ge=0, le=INT64_MAX),
                 user: WebUser = Depends(signed_in_user)) -> Response:
        """The log from a byte offset (none: its end), polled by the live log on the page."""
        answer = job_log.read_job_log(ctx_of(request), job_id, kind, offset, job_log.MAX_READ)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @router.post(prefix + "/{job_id}/start")
    async def start(request: Request, job_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """Start a created job; its new key is shown once on its page."""
        await form_with_csrf(request, user)
        ctx = ctx_of(request)
        try:
            job, key = await run_in_threadpool(jobs.start_job, ctx, job_id, kind)
        except ApiError as exc:
            if exc.status != 409:
                raise
            response = RedirectResponse(f"{prefix}/{job_id}", status_code=303)
            flash(response, f"The {word} did not start: {exc.detail}")
            return response
        reference = await run_in_threadpool(put_once, ctx.db, job.id, key)
        response = RedirectResponse(f"{prefix}/{job_id}?created={reference}", status_code=303)
        flash(response, f"Started the {word}.")
        return response

    @router.post(prefix + "/{job_id}/notes")
    async def notes(request: Request, job_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """Save the notes (Markdown)."""
        form = await form_with_csrf(request, user)
        text = str(form.get("notes") or "")
        if len(text) > MAX_NOTES:
            raise PageError(422, f"The notes are too long ({len(text):,} characters; {MAX_NOTES:,} at most).")
        await run_in_threadpool(runs.edit_job, ctx_of(request), job_id, kind, JobPatch.model_validate({"notes": text}))
        response = RedirectResponse(f"{prefix}/{job_id}#notes-title", status_code=303)
        flash(response, "Saved the notes.")
        return response

    @router.post(prefix + "/{job_id}/tags")
    async def tags(request: Request, job_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """Replace the run's tags with the ones ticked."""
        form = await form_with_csrf(request, user)
        chosen = [str(value) for value in form.getlist("tag_ids")]
        await run_in_threadpool(runs.edit_job, ctx_of(request), job_id, kind, JobPatch.model_validate({"tagIds": chosen}))
        response = RedirectResponse(f"{prefix}/{job_id}#inputs-title", status_code=303)
        flash(response, f"Saved the tags ({len(chosen)}).")
        return response

    @router.get(prefix + "/{job_id}/preview/{path:path}")
    def preview_page(request: Request, job_id: str, path: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """The start of an artifact shown in the page: text, pretty JSON, CSV as a table, or the image."""
        ctx = ctx_of(request)
        job = jobs.read_job(ctx, job_id, kind)
        inner = clean_path(path, allow_empty=False)
        stored = f"{files.ARTIFACTS}/{inner}"
        info = files.file_info(ctx, user.principal, job_id, stored)
        if info is None:
            raise PageError(404, f"There is no file '{inner}' in the artifacts of this {word}.")
        shown = preview.build(ctx, user.principal, job_id, stored, info.size)
        folder = inner.rsplit("/", 1)[0] if "/" in inner else ""
        return render(request, "preview.html", {
            "title": f"{inner} · {job.name}", "section": section, "job": job, "prefix": prefix, "word": word,
            "path": inner, "folder": folder, "size": info.size, "preview": shown,
            "text_limit": preview.TEXT_BYTES, "csv_rows": preview.CSV_ROWS}, user=user)

    @router.get(prefix + "/{job_id}/inline/artifacts/{path:path}")
    def inline(request: Request, job_id: str, path: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """An artifact served for showing in the page (images): inert, like a download, but not as an attachment."""
        ctx = ctx_of(request)
        jobs.read_job(ctx, job_id, kind)
        inner = clean_path(path, allow_empty=False)
        if preview.kind_of(inner) != "image":
            raise PageError(404, "Only images are shown inline; download other files.")
        return serve_file(request, job_id, f"artifacts/{inner}", user.principal, attachment=False)


for _kind in KINDS:
    _register(_kind)
