"""The pages of models and test reports: lists, a job's page and its live data, artifacts, stop, run again, delete.

HTML reports a job writes are shown in ``<iframe sandbox="allow-scripts">`` from
``/reports/<job id>/<ticket>/<path>``: a route that reads cookies of no kind, takes a signed ticket
for that one job's ``artifacts/`` instead, and answers with ``Content-Security-Policy: sandbox
allow-scripts; ...``, so a report runs in an opaque origin without the platform's cookies or
credentials, while relative links to its sibling artifacts still work.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from brevettiai.server import charts, files, job_log, jobs, listing, model_types, prefs, run_filter, runs
from brevettiai.server.auth import Principal
from brevettiai.server.context import ServerContext
from brevettiai.server.errors import ApiError
from brevettiai.server.metric_reads import ReadQuery
from brevettiai.server.once import put_once, take_once
from brevettiai.server.schemas import MAX_PAGE, ModelIn, ReportIn
from brevettiai.server.storage import PathRejected, clean_path
from brevettiai.server.ui import forms, preview
from brevettiai.server.ui.common import (
    KIND_WORDS,
    KINDS,
    PAGE_SIZE,
    STATUSES,
    page_count,
    query_string,
    serve_file,
    tag_options,
)
from brevettiai.server.ui.notes import render_notes
from brevettiai.server.ui.web import (
    PageError,
    PageRoute,
    WebUser,
    check_ticket,
    ctx_of,
    flash,
    form_with_csrf,
    render,
    report_ticket,
    signed_in_user,
)
from brevettiai.server.wire_checks import scrub

router = APIRouter(route_class=PageRoute, include_in_schema=False)


# What a sandboxed report may do: run its own scripts and load files of its own artifacts, nothing more.
REPORT_CSP = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data:; form-action 'none'; frame-ancestors 'self'"



COLUMNS_PREF = "runs_columns.{kind}"
# The list's own columns: header, the field a click on it sorts by.
BASE_COLUMNS = [("Name", "name"), ("Model type", "type"), ("Status", "status"), ("Created", "created"),
                ("Finished", "completed")]


def _chosen_columns(ctx: ServerContext, user: WebUser, kind: str) -> list[str]:
    saved = prefs.get_pref(ctx, user.username, COLUMNS_PREF.format(kind=kind)) or {}
    columns = saved.get("columns")
    return [c for c in columns if isinstance(c, str)] if isinstance(columns, list) else []


def cell_text(value: Any) -> str:
    """A settings or metric value as the runs table shows it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _sort_link(kind: str, params: dict[str, Any], field: str, sort: str) -> tuple[str, str | None]:
    """Where a click on a column's header goes, and the column's current direction (aria-sort)."""
    try:
        current = run_filter.parse_sort(sort)
    except run_filter.FilterError:
        current = None
    label = run_filter.parse_field(field).label
    direction = None
    if current is not None and current.field.label == label:
        direction = "descending" if current.descending else "ascending"
    target = f"{label} asc" if direction == "descending" else f"{label} desc" if direction else f"{label} asc"
    return KINDS[kind] + query_string(**{**params, "sort": target, "page": 1}), direction


def _job_list_page(request: Request, user: WebUser, kind: str, q: str, status: str, page: int,
                   filter_text: str, sort: str) -> Response:
    ctx = ctx_of(request)
    q, status = q.strip()[:255], status if status in STATUSES else ""
    filter_text, sort = filter_text.strip()[:run_filter.MAX_LENGTH], sort.strip()[:300]
    columns = _chosen_columns(ctx, user, kind)
    error, rows, total = None, [], 0
    try:
        result = listing.list_runs(ctx, kind, filter=filter_text, sort=sort, columns=columns, q=q,
                                   statuses=[status] if status else [], offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        rows, total, fields = result.rows, result.total, result.columns
    except run_filter.FilterError as exc:
        error = str(exc)
        fields = run_filter.parse_columns(columns)
    pages = page_count(total, PAGE_SIZE)
    params = {"filter": filter_text, "q": q, "status": status, "sort": sort}
    if page > pages and total:
        return RedirectResponse(KINDS[kind] + query_string(**params, page=pages), status_code=303)
    word, plural, section = KIND_WORDS[kind]
    known_settings, known_metrics = listing.known_fields(ctx, kind)
    headers = [(title, *_sort_link(kind, params, field, sort)) for title, field in BASE_COLUMNS]
    extra_headers = [(item.label, *_sort_link(kind, params, item.label, sort)) for item in fields]
    return render(request, "jobs.html", {
        "title": plural, "section": section, "kind": kind, "prefix": KINDS[kind], "rows": rows, "total": total,
        "page": page, "pages": pages, "q": q, "status": status, "statuses": STATUSES, "page_size": PAGE_SIZE,
        "word": word, "plural": plural, "filter": filter_text, "sort": sort, "filter_error": error,
        "headers": headers, "extra_headers": extra_headers, "columns": [item.label for item in fields],
        "known_settings": known_settings, "known_metrics": known_metrics, "cell_text": cell_text,
        "extra_columns": [c for c in (item.label for item in fields) if c.split(".", 1)[-1] not in (
            known_settings if c.startswith("settings.") else known_metrics)],
        "link": lambda p: KINDS[kind] + query_string(**params, page=p)}, user=user)


@router.get("/models")
def models_page(request: Request, q: str = "", status: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                filter: str = "", sort: str = "", user: WebUser = Depends(signed_in_user)) -> Response:
    """Models, newest first or sorted, filtered with the run filter language, with chosen columns and paging."""
    return _job_list_page(request, user, "model", q, status, page, filter, sort)


@router.get("/testreports")
def reports_page(request: Request, q: str = "", status: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                 filter: str = "", sort: str = "", user: WebUser = Depends(signed_in_user)) -> Response:
    """Test reports, as the models list."""
    return _job_list_page(request, user, "report", q, status, page, filter, sort)


def _register_column_choice(kind: str) -> None:
    prefix = KINDS[kind]

    @router.post(prefix + "/columns")
    async def choose_columns(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
        """Keep the person's choice of settings and metric columns, then show the list again."""
        form = await form_with_csrf(request, user)
        chosen = [str(value) for value in form.getlist("column")]
        chosen += [part for part in str(form.get("extra") or "").split(",") if part.strip()]
        back = prefix + query_string(filter=str(form.get("filter") or ""), sort=str(form.get("sort") or ""),
                                     status=str(form.get("status") or ""))
        response = RedirectResponse(back, status_code=303)
        try:
            fields = run_filter.parse_columns(chosen)
        except run_filter.FilterError as exc:
            flash(response, f"Columns not changed: {exc}")
            return response
        ctx = ctx_of(request)
        await run_in_threadpool(prefs.set_pref, ctx, user.username, COLUMNS_PREF.format(kind=kind),
                                {"columns": [item.label for item in fields]})
        empty = await run_in_threadpool(listing.unknown_columns, ctx, kind, fields)
        if empty:
            flash(response, f"Saved the columns; {'; '.join(empty)} (empty until one does).")
        return response


for _kind in KINDS:
    _register_column_choice(_kind)


def _job_view(ctx: ServerContext, caller: Principal, job_id: str, kind: str) -> dict[str, Any]:
    """Everything the page of a model or test report shows."""
    found = runs.related(ctx, job_id, kind)
    job, model_type = found.job, found.model_type
    reports, report_total = listing.list_jobs(ctx, "report", "", "", 1, 100, parent_id=job.id) if kind == "model" else ([], 0)
    root = files.folders_first(files.artifact_entries(ctx, caller, job_id) or [])
    html_reports = [entry.path.split("/", 1)[1] for entry in root
                    if entry.type == "file" and entry.path.lower().endswith((".html", ".htm"))]
    output = files.read_json(ctx, caller, job_id, f"{files.ARTIFACTS}/output.json")
    output = output if isinstance(output, dict) else {}
    environment = output.get("environment") if isinstance(output.get("environment"), dict) else None
    results = output.get("output") if isinstance(output.get("output"), dict) else {}
    schema = model_type.settings_schema if model_type is not None else {}
    error = scrub(job.error) if isinstance(job.error, dict) else None  # old records may hold unencodable text
    return {
        "job": job, "model_type": model_type, "datasets": found.datasets, "tags": found.tags, "parent": found.parent,
        "reports": reports, "report_total": report_total, "report_types": found.report_types,
        "settings_rows": forms.settings_rows(schema, scrub(job.settings or {})),
        "charts": charts.load(ctx, job_id), "html_reports": html_reports,
        "ticket": report_ticket(ctx, job_id), "environment": environment, "results": results,
        "error": error, "log": job_log.read_log(ctx, job_id, job.status in jobs.ACTIVE),
        "artifact_count": len(root), "active": job.status in jobs.ACTIVE, "terminal": job.status in jobs.TERMINAL,
        "notes_html": render_notes(job.notes), "tag_choices": tag_options(ctx),
        "not_started": runs.not_started_reason(model_type, KIND_WORDS[kind][0]) if job.status == "created" else None,
    }


def _redirect_back(prefix: str, job_id: str) -> RedirectResponse:
    return RedirectResponse(f"{prefix}/{job_id}", status_code=303)


def _register_job_pages(kind: str) -> None:
    """The pages of one kind of job: ``/models/<id>...`` or ``/testreports/<id>...``."""
    prefix = KINDS[kind]
    word, plural, section = KIND_WORDS[kind]

    @router.get(prefix + "/{job_id}", name=f"{kind}_page")
    def job_page(request: Request, job_id: str, created: str | None = None,
                 user: WebUser = Depends(signed_in_user)) -> Response:
        """A model's (or test report's) page: status, settings, progress, charts, reports, environment."""
        ctx = ctx_of(request)
        view = _job_view(ctx, user.principal, job_id, kind)
        key = take_once(ctx.db, created, job_id)
        return render(request, "job.html", {"title": f"{view['job'].name} · {word}", "section": section,
                                            "kind": kind, "prefix": prefix, "word": word, "plural": plural,
                                            "new_key": key, **view}, user=user)

    @router.get(prefix + "/{job_id}/live.json")
    def live(request: Request, job_id: str, query: ReadQuery = Depends(),
             user: WebUser = Depends(signed_in_user)) -> Response:
        """What the page polls every second: status, times, and the metric points (downsampled, of a
        step range, or those after a cursor: the parameters of the metrics API)."""
        ctx = ctx_of(request)
        job = jobs.read_job(ctx, job_id, kind)
        return JSONResponse({"status": job.status, "terminal": job.status in jobs.TERMINAL,
                             "started": _iso(job.started), "completed": _iso(job.completed),
                             **query.read(ctx.db, job_id)}, headers={"Cache-Control": "no-store"})

    @router.get(prefix + "/{job_id}/artifacts")
    def artifacts_page(request: Request, job_id: str, folder: str = "",
                       user: WebUser = Depends(signed_in_user)) -> Response:
        """The artifacts browser: folders, sizes and downloads."""
        ctx = ctx_of(request)
        folder = clean_path(folder)
        job = jobs.read_job(ctx, job_id, kind)
        found = files.artifact_entries(ctx, user.principal, job_id, folder)
        if found is None and folder:  # a job that wrote no artifacts yet shows an empty browser
            raise PageError(404, f"There is no folder '{folder}' in the artifacts of this {word}.")
        entries = files.folders_first(found or [])
        rows = [{"name": entry.path.rsplit("/", 1)[-1], "path": entry.path.split("/", 1)[1],
                 "folder": entry.type == "directory", "size": entry.size, "mtime": entry.mtime,
                 "html": entry.path.lower().endswith((".html", ".htm")),
                 "preview": entry.type != "directory" and preview.kind_of(entry.path) != "none"} for entry in entries]
        crumbs = []
        parts = folder.split("/") if folder else []
        for index, part in enumerate(parts):
            crumbs.append((part, "/".join(parts[: index + 1])))
        return render(request, "artifacts.html", {
            "title": f"Artifacts of {job.name}", "section": section, "job": job, "prefix": prefix, "word": word,
            "folder": folder, "rows": rows, "crumbs": crumbs, "ticket": report_ticket(ctx, job_id),
            "total_size": sum(r["size"] for r in rows if not r["folder"])}, user=user)

    @router.get(prefix + "/{job_id}/download/{path:path}")
    def download(request: Request, job_id: str, path: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """An artifact (or the job log) as a download."""
        ctx = ctx_of(request)
        jobs.read_job(ctx, job_id, kind)
        path = clean_path(path, allow_empty=False)
        if not (path.startswith("artifacts/") or path == jobs.LOG_FILE):
            raise PageError(404, "Only artifacts and the job log can be downloaded here.")
        return serve_file(request, job_id, path, user.principal, attachment=True)

    @router.post(prefix + "/{job_id}/stop")
    async def stop(request: Request, job_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """Ask the job to stop."""
        await form_with_csrf(request, user)
        job = await run_in_threadpool(jobs.stop_job, ctx_of(request), job_id, kind)
        response = _redirect_back(prefix, job_id)
        flash(response, "Asked the job to stop." if job.status in jobs.ACTIVE else f"The {word} is {job.status}.")
        return response

    @router.post(prefix + "/{job_id}/rerun")
    async def rerun(request: Request, job_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """A new job with the same type, settings, datasets and tags (and model), started at once, under an
        unused name after the run's (as "Run again with changes" proposes)."""
        await form_with_csrf(request, user)
        ctx = ctx_of(request)

        def again() -> tuple[str, str, str | None]:
            job = jobs.read_job(ctx, job_id, kind)
            body = ModelIn(name=model_types.next_run_name(ctx, job.name), model_type_id=job.model_type_id,
                           settings=dict(job.settings or {}),
                           dataset_ids=list(job.dataset_ids or []), tag_ids=list(job.tag_ids or []))
            if kind == "report":
                if not job.parent_id:
                    raise PageError(409, "The model this test report was about is deleted; it cannot run again.")
                body = ReportIn(parent_id=job.parent_id, **body.model_dump())
            new, key, problem = runs.create_and_start(ctx, kind, body)
            return new.id, key, problem

        new_id, key, problem = await run_in_threadpool(again)
        reference = await run_in_threadpool(put_once, ctx.db, new_id, key)
        response = RedirectResponse(f"{prefix}/{new_id}?created={reference}", status_code=303)
        flash(response, f"Created a new {word} with the same settings" + (f", but it could not start: {problem}"
                                                                            if problem else " and started it."))
        return response

    @router.get(prefix + "/{job_id}/delete")
    def delete_confirm(request: Request, job_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """Ask before deleting."""
        ctx = ctx_of(request)
        job = jobs.read_job(ctx, job_id, kind)
        return render(request, "confirm_delete.html", {
            "title": f"Delete {job.name}", "section": section, "what": word, "name": job.name,
            "action": f"{prefix}/{job_id}/delete", "cancel": f"{prefix}/{job_id}",
            "details": f"This stops the {word} if it runs and deletes its record, progress metrics, charts and "
                       f"every file of its job directory (artifacts, logs). It cannot be undone."}, user=user)

    @router.post(prefix + "/{job_id}/delete")
    async def delete(request: Request, job_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
        """Delete the job (stopped first) and its files."""
        await form_with_csrf(request, user)
        ctx = ctx_of(request)

        def work() -> tuple[str, str | None]:
            job = jobs.read_job(ctx, job_id, kind)
            name, parent = job.name, job.parent_id
            jobs.delete_job(ctx, job_id, kind)
            return name, parent

        name, parent = await run_in_threadpool(work)
        target = f"/models/{parent}" if kind == "report" and parent else prefix
        response = RedirectResponse(target, status_code=303)
        flash(response, f"Deleted the {word} “{name}”.")
        return response


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


for _kind in KINDS:
    _register_job_pages(_kind)


@router.get("/reports/{job_id}/{ticket}/{path:path}")
def sandboxed_report(request: Request, job_id: str, ticket: str, path: str) -> Response:
    """A file of a job's artifacts for the report iframe: signed ticket, no cookies, sandboxing CSP."""
    ctx = ctx_of(request)
    # Any origin may read what the ticket opens (the ticket is the access; no cookie is ever involved):
    # a report's own scripts run in an opaque origin and need this to fetch its sibling JSON files.
    headers = {"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "private, no-cache",
               "Access-Control-Allow-Origin": "*"}
    if not check_ticket(ctx, job_id, ticket):
        return PlainTextResponse("This report link has expired: reload the page it was on.", status_code=403,
                                 headers=headers)
    try:
        inner = clean_path(path, allow_empty=False)
    except PathRejected as exc:
        return PlainTextResponse(str(exc), status_code=400, headers=headers)
    try:
        # Read as the job itself would: its own files, read-only, nothing of the visitor's.
        response = files.read(ctx, Principal(job_id=job_id), job_id, f"artifacts/{inner}", request.headers)
    except ApiError as exc:
        return PlainTextResponse(str(exc.detail), status_code=exc.status, headers=headers)
    for name, value in headers.items():
        response.headers[name] = value
    return response
