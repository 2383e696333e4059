"""The platform's web pages: log in, models (list, page, artifacts), model zoo, datasets, tags.

Server-rendered with Jinja2 (`brevettiai.server.ui.web`); a little JavaScript polls a model's
``live.json`` while it runs, draws charts with the vendored Vega-Lite, and uploads dataset files.
Every page works through the server's own functions (`jobs`, `auth`, `charts`, `metrics`, the
files API), so the rules are the REST API's.

HTML reports a job writes are shown in ``<iframe sandbox="allow-scripts">`` from
``/reports/<job id>/<ticket>/<path>``: a route that reads cookies of no kind, takes a signed ticket
for that one job's ``artifacts/`` instead, and answers with ``Content-Security-Policy: sandbox
allow-scripts; ...``, so a report runs in an opaque origin without the platform's cookies or
credentials, while relative links to its sibling artifacts still work.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import urllib.parse
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, or_, select

from brevettiai.contract.forms import deep_merge, validate_settings
from brevettiai.contract.status import JOB_STATUSES
from brevettiai.server import auth, charts, jobs, views
from brevettiai.server.api import datasets as datasets_api
from brevettiai.server.api import files as files_api
from brevettiai.server.api import tags as tags_api
from brevettiai.server.auth import Principal
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError
from brevettiai.server.metric_reads import ReadQuery
from brevettiai.server.once import put_once, take_once
from brevettiai.server.schemas import MAX_PAGE, DatasetIn, ModelIn, ReportIn, TagIn
from brevettiai.server.storage import PathRejected, clean_path
from brevettiai.server.throttle import client_address
from brevettiai.server.ui import forms
from brevettiai.server.ui.web import (
    LOGIN_CSRF_COOKIE,
    STATIC_DIR,
    LoginRequired,
    PageError,
    PageRoute,
    WebUser,
    check_csrf_header,
    check_ticket,
    clear_session_cookie,
    ctx_of,
    flash,
    form_with_csrf,
    render,
    report_ticket,
    safe_next,
    session_user,
    set_session_cookie,
)
from brevettiai.server.wire_checks import scrub

__all__ = ["STATIC_DIR", "router", "static_files"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# The pages' CSS, JavaScript and vendored Vega builds; the app mounts it at STATIC_URL (/ui/static).
static_files = StaticFiles(directory=STATIC_DIR)

PAGE_SIZE = 50
FILES_PAGE_SIZE = 200
STATUSES = JOB_STATUSES
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".avif")
LOG_TAIL_BYTES = 64 * 1024
KINDS = {"model": "/models", "report": "/testreports"}
KIND_WORDS = {"model": ("model", "Models", "models"), "report": ("test report", "Test reports", "models")}

# What a sandboxed report may do: run its own scripts and load files of its own artifacts, nothing more.
REPORT_CSP = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data:; form-action 'none'; frame-ancestors 'self'"
# Files downloaded or shown through the pages never run as documents of the platform.
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def _ctx(request: Request) -> ServerContext:
    return ctx_of(request)


def _page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def _qs(**params: Any) -> str:
    """A query string of the parameters that say something (no empty ones, no first page)."""
    kept = {k: v for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)}
    return ("?" + urllib.parse.urlencode(kept)) if kept else ""


# Log in and out ---------------------------------------------------------------------------------------------

@router.get("/login")
async def login_page(request: Request, next: str = "/models") -> Response:
    """The login form (with a login CSRF token in a cookie and the form); logged in already: onwards."""
    try:
        await session_user(request)
        return RedirectResponse(safe_next(next), status_code=303)
    except LoginRequired:
        pass
    return _login_form(request, safe_next(next), "", None, 200)


def _login_form(request: Request, target: str, username: str, error: str | None, status: int) -> Response:
    """The login form; its CSRF token lives in a short-lived cookie beside it (double submit)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"title": "Log in", "next": target, "username": username,
                                              "error": error, "login_csrf": token}, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Check the credentials with the server's login; a session cookie holding the new user token."""
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    given = str(form.get("csrf_token") or "")
    ctx = _ctx(request)

    def again(message: str, status: int) -> Response:
        return _login_form(request, target, username, message, status)

    if not expected or not hmac.compare_digest(expected, given):
        return again("The login form expired. Please try again.", 400)
    if not username or not password:
        return again("Enter your username and password.", 400)
    try:
        token, _, _ = await request.app.state.login_throttle.check(
            username, client_address(request.client),
            lambda: auth.login(ctx.db, username, password, ctx.config.token_ttl))
    except ApiError as exc:
        if exc.status == 429:
            response = again(f"{str(exc.detail)[:1].upper()}{str(exc.detail)[1:]}.", 429)
            response.headers.update(exc.headers or {})
            return response
        return again("Wrong username or password.", 401)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token, ctx.config.token_ttl)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, user: WebUser = Depends(session_user)) -> Response:
    """Revoke the session's token and drop the cookie."""
    await form_with_csrf(request, user)
    ctx = _ctx(request)
    await run_in_threadpool(auth.logout, ctx.db, user.token, ctx.tokens)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    flash(response, "You are logged out.")
    return response


@router.get("/ui")
def home(user: WebUser = Depends(session_user)) -> Response:
    """The web pages' start: the models list."""
    return RedirectResponse("/models", status_code=303)


# Models and test reports ----------------------------------------------------------------------------------------

def _list_jobs(ctx: ServerContext, kind: str, q: str, status: str, page: int, size: int = PAGE_SIZE,
               parent_id: str | None = None) -> tuple[list[Any], int]:
    """One page of jobs, newest first: LIMIT/OFFSET on the (kind, created) index; only listed columns read."""
    conditions: list[Any] = [db.Job.kind == kind]
    if q:
        conditions.append(or_(func.lower(db.Job.name).contains(q.lower(), autoescape=True), db.Job.id == q))
    if status:
        conditions.append(db.Job.status == status)
    if parent_id:
        conditions.append(db.Job.parent_id == parent_id)
    with ctx.db.read() as session:
        total = session.scalar(select(func.count()).select_from(db.Job).where(*conditions)) or 0
        rows = session.execute(
            select(db.Job.id, db.Job.name, db.Job.status, db.Job.created, db.Job.started, db.Job.completed,
                   db.Job.parent_id, db.ModelType.name.label("type_name"), db.ModelType.id.label("type_id"))
            .outerjoin(db.ModelType, db.ModelType.id == db.Job.model_type_id)
            .where(*conditions).order_by(db.Job.created.desc(), db.Job.id.desc())
            .offset((page - 1) * size).limit(size)).all()
    return list(rows), total


def _job_list_page(request: Request, user: WebUser, kind: str, q: str, status: str, page: int) -> Response:
    ctx = _ctx(request)
    q, status = q.strip()[:255], status if status in STATUSES else ""
    rows, total = _list_jobs(ctx, kind, q, status, page)
    pages = _page_count(total, PAGE_SIZE)
    if page > pages and total:
        return RedirectResponse(KINDS[kind] + _qs(q=q, status=status, page=pages), status_code=303)
    word, plural, section = KIND_WORDS[kind]
    return render(request, "jobs.html", {
        "title": plural, "section": section, "kind": kind, "prefix": KINDS[kind], "rows": rows, "total": total,
        "page": page, "pages": pages, "q": q, "status": status, "statuses": STATUSES, "page_size": PAGE_SIZE,
        "word": word, "plural": plural,
        "link": lambda p: KINDS[kind] + _qs(q=q, status=status, page=p)}, user=user)


@router.get("/models")
def models_page(request: Request, q: str = "", status: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                user: WebUser = Depends(session_user)) -> Response:
    """Models, newest first, with search and paging."""
    return _job_list_page(request, user, "model", q, status, page)


@router.get("/testreports")
def reports_page(request: Request, q: str = "", status: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                 user: WebUser = Depends(session_user)) -> Response:
    """Test reports, newest first."""
    return _job_list_page(request, user, "report", q, status, page)


def _artifact_entries(ctx: ServerContext, job_id: str, folder: str = "") -> list[Any]:
    base = "artifacts" + (f"/{folder}" if folder else "")
    entries = ctx.storage.list(job_id, base) or []
    return sorted(entries, key=lambda e: (e.type != "directory", e.path.lower()))


def _read_json(ctx: ServerContext, job_id: str, path: str) -> Any:
    try:
        return json.loads(ctx.storage.read_bytes(job_id, path))
    except (FileNotFoundError, ValueError, OSError):
        return None


def _log_tail(ctx: ServerContext, job_id: str) -> str | None:
    info = ctx.storage.info(job_id, jobs.LOG_FILE)
    if info is None or info.type != "file":
        return None
    start = max(0, info.size - LOG_TAIL_BYTES)
    data = b"".join(ctx.storage.read_chunks(job_id, jobs.LOG_FILE, start, info.size - start))
    text = data.decode(errors="replace")
    return text.split("\n", 1)[-1] if start else text


def _job_view(ctx: ServerContext, job_id: str, kind: str) -> dict[str, Any]:
    """Everything the page of a model or test report shows."""
    with ctx.db.read() as session:
        job = jobs.get_job(session, job_id, kind)
        model_type = session.get(db.ModelType, job.model_type_id) if job.model_type_id else None
        datasets = [(dataset_id, session.get(db.Dataset, dataset_id)) for dataset_id in job.dataset_ids or []]
        tag_rows = {row.id: row for row in session.scalars(select(db.Tag))}
        parent = session.get(db.Job, job.parent_id) if job.parent_id else None
        report_types = list(session.scalars(select(db.ModelType).where(db.ModelType.kind == "report")
                                            .order_by(db.ModelType.name))) if kind == "model" else []
    reports, report_total = _list_jobs(ctx, "report", "", "", 1, 100, parent_id=job.id) if kind == "model" else ([], 0)
    root = _artifact_entries(ctx, job_id)
    html_reports = [entry.path.split("/", 1)[1] for entry in root
                    if entry.type == "file" and entry.path.lower().endswith((".html", ".htm"))]
    output = _read_json(ctx, job_id, "artifacts/output.json")
    output = output if isinstance(output, dict) else {}
    environment = output.get("environment") if isinstance(output.get("environment"), dict) else None
    results = output.get("output") if isinstance(output.get("output"), dict) else {}
    schema = model_type.settings_schema if model_type is not None else {}
    error = scrub(job.error) if isinstance(job.error, dict) else None  # old records may hold unencodable text
    show_log = job.status in ("failed", "killed", "lost") or error is not None
    tags = [(tag_id, tag_rows[tag_id].name if tag_id in tag_rows else None) for tag_id in job.tag_ids or []]
    return {
        "job": job, "model_type": model_type, "datasets": datasets, "tags": tags, "parent": parent,
        "reports": reports, "report_total": report_total, "report_types": report_types,
        "settings_rows": forms.settings_rows(schema, scrub(job.settings or {})),
        "charts": charts.load(ctx, job_id), "html_reports": html_reports,
        "ticket": report_ticket(ctx, job_id), "environment": environment, "results": results,
        "error": error, "log_tail": _log_tail(ctx, job_id) if show_log else None,
        "artifact_count": len(root), "active": job.status in jobs.ACTIVE, "terminal": job.status in jobs.TERMINAL,
    }


def _redirect_back(prefix: str, job_id: str) -> RedirectResponse:
    return RedirectResponse(f"{prefix}/{job_id}", status_code=303)


def _register_job_pages(kind: str) -> None:
    """The pages of one kind of job: ``/models/<id>...`` or ``/testreports/<id>...``."""
    prefix = KINDS[kind]
    word, plural, section = KIND_WORDS[kind]

    @router.get(prefix + "/{job_id}", name=f"{kind}_page")
    def job_page(request: Request, job_id: str, created: str | None = None,
                 user: WebUser = Depends(session_user)) -> Response:
        """A model's (or test report's) page: status, settings, progress, charts, reports, environment."""
        ctx = _ctx(request)
        view = _job_view(ctx, job_id, kind)
        key = take_once(ctx.db, created, job_id)
        return render(request, "job.html", {"title": f"{view['job'].name} · {word}", "section": section,
                                            "kind": kind, "prefix": prefix, "word": word, "plural": plural,
                                            "new_key": key, **view}, user=user)

    @router.get(prefix + "/{job_id}/live.json")
    def live(request: Request, job_id: str, query: ReadQuery = Depends(),
             user: WebUser = Depends(session_user)) -> Response:
        """What the page polls every second: status, times, and the metric points (downsampled, of a
        step range, or those after a cursor: the parameters of the metrics API)."""
        ctx = _ctx(request)
        with ctx.db.read() as session:
            job = jobs.get_job(session, job_id, kind)
        return JSONResponse({"status": job.status, "terminal": job.status in jobs.TERMINAL,
                             "started": _iso(job.started), "completed": _iso(job.completed),
                             **query.read(ctx.db, job_id)}, headers={"Cache-Control": "no-store"})

    @router.get(prefix + "/{job_id}/artifacts")
    def artifacts_page(request: Request, job_id: str, folder: str = "",
                       user: WebUser = Depends(session_user)) -> Response:
        """The artifacts browser: folders, sizes and downloads."""
        ctx = _ctx(request)
        folder = clean_path(folder)
        with ctx.db.read() as session:
            job = jobs.get_job(session, job_id, kind)
        entries = _artifact_entries(ctx, job_id, folder)
        if folder and not entries and ctx.storage.info(job_id, f"artifacts/{folder}") is None:
            raise PageError(404, f"There is no folder '{folder}' in the artifacts of this {word}.")
        rows = [{"name": entry.path.rsplit("/", 1)[-1], "path": entry.path.split("/", 1)[1],
                 "folder": entry.type == "directory", "size": entry.size, "mtime": entry.mtime,
                 "html": entry.path.lower().endswith((".html", ".htm"))} for entry in entries]
        crumbs = []
        parts = folder.split("/") if folder else []
        for index, part in enumerate(parts):
            crumbs.append((part, "/".join(parts[: index + 1])))
        return render(request, "artifacts.html", {
            "title": f"Artifacts of {job.name}", "section": section, "job": job, "prefix": prefix, "word": word,
            "folder": folder, "rows": rows, "crumbs": crumbs, "ticket": report_ticket(ctx, job_id),
            "total_size": sum(r["size"] for r in rows if not r["folder"])}, user=user)

    @router.get(prefix + "/{job_id}/download/{path:path}")
    def download(request: Request, job_id: str, path: str, user: WebUser = Depends(session_user)) -> Response:
        """An artifact (or the job log) as a download."""
        ctx = _ctx(request)
        with ctx.db.read() as session:
            jobs.get_job(session, job_id, kind)
        path = clean_path(path, allow_empty=False)
        if not (path.startswith("artifacts/") or path == jobs.LOG_FILE):
            raise PageError(404, "Only artifacts and the job log can be downloaded here.")
        return _serve_file(request, job_id, path, user.principal, attachment=True)

    @router.post(prefix + "/{job_id}/stop")
    async def stop(request: Request, job_id: str, user: WebUser = Depends(session_user)) -> Response:
        """Ask the job to stop."""
        await form_with_csrf(request, user)
        job = await run_in_threadpool(jobs.stop_job, _ctx(request), job_id, kind)
        response = _redirect_back(prefix, job_id)
        flash(response, "Asked the job to stop." if job.status in jobs.ACTIVE else f"The {word} is {job.status}.")
        return response

    @router.post(prefix + "/{job_id}/rerun")
    async def rerun(request: Request, job_id: str, user: WebUser = Depends(session_user)) -> Response:
        """A new job with the same type, settings, datasets and tags (and model), started at once."""
        await form_with_csrf(request, user)
        ctx = _ctx(request)

        def again() -> tuple[str, str, str | None]:
            with ctx.db.read() as session:
                job = jobs.get_job(session, job_id, kind)
            fields = {"name": job.name, "model_type_id": job.model_type_id, "settings": dict(job.settings or {}),
                      "dataset_ids": list(job.dataset_ids or []), "tag_ids": list(job.tag_ids or [])}
            if kind == "report":
                if not job.parent_id:
                    raise PageError(409, "The model this test report was about is deleted; it cannot run again.")
                body: ModelIn = ReportIn(parent_id=job.parent_id, **fields)
            else:
                body = ModelIn(**fields)
            new, key = jobs.create_job(ctx, kind, body)
            try:
                new, key = jobs.start_job(ctx, new.id, kind)
                problem = None
            except ApiError as exc:
                problem = str(exc.detail)
            return new.id, key, problem

        new_id, key, problem = await run_in_threadpool(again)
        reference = await run_in_threadpool(put_once, ctx.db, new_id, key)
        response = RedirectResponse(f"{prefix}/{new_id}?created={reference}", status_code=303)
        flash(response, f"Created a new {word} with the same settings" + (f", but it could not start: {problem}"
                                                                            if problem else " and started it."))
        return response

    @router.get(prefix + "/{job_id}/delete")
    def delete_confirm(request: Request, job_id: str, user: WebUser = Depends(session_user)) -> Response:
        """Ask before deleting."""
        ctx = _ctx(request)
        with ctx.db.read() as session:
            job = jobs.get_job(session, job_id, kind)
        return render(request, "confirm_delete.html", {
            "title": f"Delete {job.name}", "section": section, "what": word, "name": job.name,
            "action": f"{prefix}/{job_id}/delete", "cancel": f"{prefix}/{job_id}",
            "details": f"This stops the {word} if it runs and deletes its record, progress metrics, charts and "
                       f"every file of its job directory (artifacts, logs). It cannot be undone."}, user=user)

    @router.post(prefix + "/{job_id}/delete")
    async def delete(request: Request, job_id: str, user: WebUser = Depends(session_user)) -> Response:
        """Delete the job (stopped first) and its files."""
        await form_with_csrf(request, user)
        ctx = _ctx(request)

        def work() -> tuple[str, str | None]:
            with ctx.db.read() as session:
                job = jobs.get_job(session, job_id, kind)
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


# Files through the pages ------------------------------------------------------------------------------------------

def _serve_file(request: Request, rid: str, path: str, caller: Principal, attachment: bool,
                csp: str = FILE_CSP) -> Response:
    """A stored file through the files API's own reader (ETag, Range), with headers that keep it inert."""
    response = files_api.read_file(rid, path, request, caller, _ctx(request))
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    if attachment:
        name = path.rsplit("/", 1)[-1]
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        response.headers["Content-Disposition"] = (f'attachment; filename="{ascii_name}"; '
                                                   f"filename*=UTF-8''{urllib.parse.quote(name)}")
    return response


@router.get("/reports/{job_id}/{ticket}/{path:path}")
def sandboxed_report(request: Request, job_id: str, ticket: str, path: str) -> Response:
    """A file of a job's artifacts for the report iframe: signed ticket, no cookies, sandboxing CSP."""
    ctx = _ctx(request)
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
        response = files_api.read_file(job_id, f"artifacts/{inner}", request, Principal(job_id=job_id), ctx)
    except ApiError as exc:
        return PlainTextResponse(str(exc.detail), status_code=exc.status, headers=headers)
    for name, value in headers.items():
        response.headers[name] = value
    return response


# Model zoo -----------------------------------------------------------------------------------------------------

def _tag_options(ctx: ServerContext) -> list[tuple[str, str, int]]:
    """Every tag as (id, name, depth), in tree order."""
    forest = views.tag_forest(tags_api.all_tags(ctx))
    found: list[tuple[str, str, int]] = []

    def walk(items: Iterable[Any], depth: int) -> None:
        for tag in items:
            found.append((tag.id, tag.name, depth))
            walk(tag.children, depth + 1)

    walk(forest, 0)
    return found


def _dataset_options(ctx: ServerContext, limit: int = 500) -> list[Any]:
    with ctx.db.read() as session:
        return list(session.execute(select(db.Dataset.id, db.Dataset.name, db.Dataset.created)
                                    .order_by(db.Dataset.created.desc()).limit(limit)))


@router.get("/zoo")
def zoo(request: Request, user: WebUser = Depends(session_user)) -> Response:
    """The model types, to create models (and test reports) from."""
    ctx = _ctx(request)
    with ctx.db.read() as session:
        types = list(session.scalars(select(db.ModelType).order_by(db.ModelType.kind, db.ModelType.name)))
        counts = dict(session.execute(select(db.Job.model_type_id, func.count()).group_by(db.Job.model_type_id)).all())
    return render(request, "zoo.html", {"title": "Model zoo", "section": "zoo", "types": types, "counts": counts},
                  user=user)


def _zoo_form(request: Request, user: WebUser, model_type: db.ModelType, *, values: dict[str, Any],
              raw: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
              general: list[str] | None = None, name: str = "", dataset_ids: Iterable[str] = (),
              tag_ids: Iterable[str] = (), parent: Any = None, status: int = 200) -> Response:
    ctx = _ctx(request)
    schema = model_type.settings_schema or {}
    form = forms.build_form(schema, values, raw, errors)
    return render(request, "zoo_form.html", {
        "title": f"New {'test report' if model_type.kind == 'report' else 'model'}: {model_type.name}",
        "section": "zoo", "model_type": model_type, "form": form, "general": general or [],
        "errors": errors or {}, "name": name, "datasets": _dataset_options(ctx), "tags": _tag_options(ctx),
        "chosen_datasets": set(dataset_ids), "chosen_tags": set(tag_ids), "parent": parent,
        "presets": sorted((schema.get("presets") or {}).keys())}, status=status, user=user)


def _model_type(ctx: ServerContext, type_id: str) -> db.ModelType:
    with ctx.db.read() as session:
        row = session.get(db.ModelType, type_id)
    if row is None:
        raise PageError(404, f"There is no model type '{type_id}'.")
    return row


def _parent_model(ctx: ServerContext, parent_id: str | None) -> Any:
    if not parent_id:
        raise PageError(400, "A test report is made from a model's page: open the model, then “New test report”.")
    with ctx.db.read() as session:
        parent = session.get(db.Job, parent_id)
    if parent is None or parent.kind != "model":
        raise PageError(404, f"There is no model '{parent_id}'.")
    return parent


@router.get("/zoo/{type_id}")
def zoo_form(request: Request, type_id: str, preset: str | None = None, parent: str | None = None,
             user: WebUser = Depends(session_user)) -> Response:
    """The create form of a model type, drawn from its settings schema."""
    ctx = _ctx(request)
    model_type = _model_type(ctx, type_id)
    parent_row = _parent_model(ctx, parent) if model_type.kind == "report" else None
    schema = model_type.settings_schema or {}
    chosen = (schema.get("presets") or {}).get(preset) if preset else None
    values = forms.initial_values(schema, model_type.defaults, chosen if isinstance(chosen, dict) else None)
    name = f"{parent_row.name} report" if parent_row is not None else model_type.name
    return _zoo_form(request, user, model_type, values=values, name=name, parent=parent_row,
                     dataset_ids=parent_row.dataset_ids if parent_row is not None else ())


@router.post("/zoo/{type_id}")
async def zoo_create(request: Request, type_id: str, user: WebUser = Depends(session_user)) -> Response:
    """Create the model from the form (the server validates its settings), then start it."""
    form = await form_with_csrf(request, user)
    ctx = _ctx(request)
    model_type = await run_in_threadpool(_model_type, ctx, type_id)
    kind = model_type.kind
    parent = None
    if kind == "report":
        parent = await run_in_threadpool(_parent_model, ctx, str(form.get("parent_id") or ""))
    schema = model_type.settings_schema or {}
    settings, raw = forms.read_form(form, schema)
    name = str(form.get("name") or "").strip()
    dataset_ids = [str(v) for v in form.getlist("dataset_ids")]
    tag_ids = [str(v) for v in form.getlist("tag_ids")]
    start = form.get("action", "start") != "create"
    errors: dict[str, str] = {}
    general: list[str] = []
    if not name:
        errors["name"] = "Give the model a name."
    elif len(name) > 255:
        errors["name"] = "The name is too long (255 characters at most)."

    def create() -> tuple[db.Job, str, str | None]:
        fields = {"name": name or "-", "model_type_id": model_type.id, "settings": settings,
                  "dataset_ids": dataset_ids, "tag_ids": tag_ids}
        body: ModelIn = ReportIn(parent_id=parent.id, **fields) if parent is not None else ModelIn(**fields)
        if errors:  # still ask the server about the settings, so every problem shows at once
            problems = validate_settings(schema, deep_merge(model_type.defaults or {}, settings))
            raise ApiError(422, problems)
        job, key = jobs.create_job(ctx, kind, body)
        problem = None
        if start:
            try:
                job, key = jobs.start_job(ctx, job.id, kind)
            except ApiError as exc:
                problem = str(exc.detail)
        return job, key, problem

    try:
        job, key, problem = await run_in_threadpool(create)
    except ApiError as exc:
        if exc.status != 422:
            raise
        field_errors, general = forms.errors_by_field(exc.detail)
        errors.update(field_errors)
        return _zoo_form(request, user, model_type, values=settings, raw=raw, errors=errors, general=general,
                         name=name, dataset_ids=dataset_ids, tag_ids=tag_ids, parent=parent, status=422)
    prefix = KINDS[kind]
    reference = await run_in_threadpool(put_once, ctx.db, job.id, key)
    response = RedirectResponse(f"{prefix}/{job.id}?created={reference}", status_code=303)
    word = KIND_WORDS[kind][0]
    if problem:
        flash(response, f"Created the {word}, but it could not start: {problem}")
    else:
        flash(response, f"Created the {word}" + (" and started it." if start else "."))
    return response


# Datasets -------------------------------------------------------------------------------------------------------

@router.get("/datasets")
def datasets_page(request: Request, q: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                  user: WebUser = Depends(session_user)) -> Response:
    """Datasets, newest first, with search and paging."""
    ctx = _ctx(request)
    q = q.strip()[:255]
    conditions: list[Any] = []
    if q:
        conditions.append(or_(func.lower(db.Dataset.name).contains(q.lower(), autoescape=True), db.Dataset.id == q))
    with ctx.db.read() as session:
        total = session.scalar(select(func.count()).select_from(db.Dataset).where(*conditions)) or 0
        rows = list(session.scalars(select(db.Dataset).where(*conditions)
                                    .order_by(db.Dataset.created.desc(), db.Dataset.id.desc())
                                    .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
        tag_names = {row.id: row.name for row in session.scalars(select(db.Tag))}
    return render(request, "datasets.html", {
        "title": "Datasets", "section": "datasets", "rows": rows, "total": total, "page": page,
        "pages": _page_count(total, PAGE_SIZE), "q": q, "tag_names": tag_names, "page_size": PAGE_SIZE,
        "link": lambda p: "/datasets" + _qs(q=q, page=p)}, user=user)


@router.get("/datasets/new")
def dataset_new(request: Request, user: WebUser = Depends(session_user)) -> Response:
    """The form for a new dataset."""
    return render(request, "dataset_new.html", {"title": "New dataset", "section": "datasets", "name": "",
                                                "notes": "", "error": None, "tags": _tag_options(_ctx(request)),
                                                "chosen": set()}, user=user)


@router.post("/datasets/new")
async def dataset_create(request: Request, user: WebUser = Depends(session_user)) -> Response:
    """Create the dataset (the server's own create), then open it to upload files."""
    form = await form_with_csrf(request, user)
    ctx = _ctx(request)
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
            created = await run_in_threadpool(datasets_api.create_dataset,
                                              DatasetIn(name=name, notes=notes, tag_ids=chosen), ctx)
        except ApiError as exc:
            error = forms.errors_by_field(exc.detail)[1][0] if isinstance(exc.detail, list) else str(exc.detail)
        else:
            response = RedirectResponse(f"/datasets/{created.id}", status_code=303)
            flash(response, f"Created the dataset “{name}”. Upload its files below.")
            return response
    return render(request, "dataset_new.html", {"title": "New dataset", "section": "datasets", "name": name,
                                                "notes": notes, "error": error, "tags": _tag_options(ctx),
                                                "chosen": set(chosen)}, status=422, user=user)


def _dataset(ctx: ServerContext, dataset_id: str) -> db.Dataset:
    with ctx.db.read() as session:
        row = session.get(db.Dataset, dataset_id)
    if row is None:
        raise PageError(404, f"There is no dataset '{dataset_id}'.")
    return row


@router.get("/datasets/{dataset_id}")
def dataset_page(request: Request, dataset_id: str, folder: str = "", page: int = Query(1, ge=1, le=MAX_PAGE),
                 user: WebUser = Depends(session_user)) -> Response:
    """A dataset: its files (thumbnails for images), upload, tags."""
    ctx = _ctx(request)
    dataset = _dataset(ctx, dataset_id)
    folder = clean_path(folder)
    entries = sorted(ctx.storage.list(dataset_id, folder) or [], key=lambda e: (e.type != "directory", e.path.lower()))
    if folder and not entries and ctx.storage.info(dataset_id, folder) is None:
        raise PageError(404, f"There is no folder '{folder}' in this dataset.")
    total = len(entries)
    pages = _page_count(total, FILES_PAGE_SIZE)
    shown = entries[(page - 1) * FILES_PAGE_SIZE: page * FILES_PAGE_SIZE]
    rows = [{"name": e.path.rsplit("/", 1)[-1], "path": e.path, "folder": e.type == "directory", "size": e.size,
             "mtime": e.mtime, "image": e.path.lower().endswith(IMAGE_TYPES)} for e in shown]
    parts = folder.split("/") if folder else []
    crumbs = [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]
    tags = _tag_options(ctx)
    tag_names = {tag_id: name for tag_id, name, _ in tags}
    return render(request, "dataset.html", {
        "title": f"{dataset.name} · dataset", "section": "datasets", "dataset": dataset, "rows": rows,
        "folder": folder, "crumbs": crumbs, "total": total, "page": page, "pages": pages, "tags": tags,
        "tag_names": tag_names, "chosen": set(dataset.tag_ids or []),
        "link": lambda p: f"/datasets/{dataset_id}" + _qs(folder=folder, page=p)}, user=user)


@router.get("/datasets/{dataset_id}/files/{path:path}")
def dataset_file(request: Request, dataset_id: str, path: str, download: bool = False,
                 user: WebUser = Depends(session_user)) -> Response:
    """A dataset file for a logged-in person: images inline (thumbnails), anything else as a download."""
    ctx = _ctx(request)
    _dataset(ctx, dataset_id)
    path = clean_path(path, allow_empty=False)
    inline = path.lower().endswith(IMAGE_TYPES) and not download
    return _serve_file(request, dataset_id, path, user.principal, attachment=not inline)


@router.put("/datasets/{dataset_id}/files/{path:path}")
async def dataset_upload(request: Request, dataset_id: str, path: str,
                         user: WebUser = Depends(session_user)) -> Response:
    """Store an uploaded file (body: its bytes) with the files API's writer; CSRF token in a header."""
    check_csrf_header(request, user)
    ctx = _ctx(request)
    await run_in_threadpool(_dataset, ctx, dataset_id)
    stored = await files_api.write_file(dataset_id, path, request, user.principal, ctx)
    return JSONResponse(stored.model_dump(), status_code=201)


@router.post("/datasets/{dataset_id}/tags")
async def dataset_tags(request: Request, dataset_id: str, user: WebUser = Depends(session_user)) -> Response:
    """Set the dataset's tags."""
    form = await form_with_csrf(request, user)
    ctx = _ctx(request)
    chosen = list(dict.fromkeys(str(v) for v in form.getlist("tag_ids")))

    def save() -> None:
        with ctx.db.write() as session:
            row = session.get(db.Dataset, dataset_id)
            if row is None:
                raise PageError(404, f"There is no dataset '{dataset_id}'.")
            known = set(session.scalars(select(db.Tag.id).where(db.Tag.id.in_(chosen))))
            row.tag_ids = [tag_id for tag_id in chosen if tag_id in known]

    await run_in_threadpool(save)
    response = RedirectResponse(f"/datasets/{dataset_id}", status_code=303)
    flash(response, "Saved the dataset's tags.")
    return response


@router.get("/datasets/{dataset_id}/delete")
def dataset_delete_confirm(request: Request, dataset_id: str, user: WebUser = Depends(session_user)) -> Response:
    """Ask before deleting a dataset."""
    dataset = _dataset(_ctx(request), dataset_id)
    return render(request, "confirm_delete.html", {
        "title": f"Delete {dataset.name}", "section": "datasets", "what": "dataset", "name": dataset.name,
        "action": f"/datasets/{dataset_id}/delete", "cancel": f"/datasets/{dataset_id}",
        "details": "This deletes the dataset and every file in it. Models trained on it keep their own "
                   "artifacts. It cannot be undone."}, user=user)


@router.post("/datasets/{dataset_id}/delete")
async def dataset_delete(request: Request, dataset_id: str, user: WebUser = Depends(session_user)) -> Response:
    """Delete a dataset and its files (the server's own delete)."""
    await form_with_csrf(request, user)
    ctx = _ctx(request)
    dataset = await run_in_threadpool(_dataset, ctx, dataset_id)
    await run_in_threadpool(datasets_api.delete_dataset, dataset_id, ctx)
    response = RedirectResponse("/datasets", status_code=303)
    flash(response, f"Deleted the dataset “{dataset.name}”.")
    return response


# Tags ---------------------------------------------------------------------------------------------------------

@router.get("/tags")
def tags_page(request: Request, user: WebUser = Depends(session_user)) -> Response:
    """The tag tree, and a form for a new tag."""
    return render(request, "tags.html", {"title": "Tags", "section": "tags", "tags": _tag_options(_ctx(request)),
                                         "error": None, "name": ""}, user=user)


@router.post("/tags")
async def tags_create(request: Request, user: WebUser = Depends(session_user)) -> Response:
    """Create a tag (the server's own create)."""
    form = await form_with_csrf(request, user)
    ctx = _ctx(request)
    name = str(form.get("name") or "").strip()
    parent = str(form.get("parent_id") or "") or None
    if not name or len(name) > 255:
        return render(request, "tags.html", {"title": "Tags", "section": "tags", "tags": _tag_options(ctx),
                                             "error": "Give the tag a name (255 characters at most).",
                                             "name": name}, status=422, user=user)
    try:
        await run_in_threadpool(tags_api.create_tag, TagIn(name=name, parent_id=parent), ctx)
    except ApiError as exc:
        message = forms.errors_by_field(exc.detail)[1][0] if isinstance(exc.detail, list) else str(exc.detail)
        return render(request, "tags.html", {"title": "Tags", "section": "tags", "tags": _tag_options(ctx),
                                             "error": message, "name": name}, status=422, user=user)
    response = RedirectResponse("/tags", status_code=303)
    flash(response, f"Created the tag “{name}”.")
    return response
