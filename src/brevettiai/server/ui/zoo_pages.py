"""The model zoo: the model types, and the create form drawn from a type's settings schema."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from brevettiai.contract.forms import deep_merge, validate_settings
from brevettiai.server import access, model_types, runs
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError
from brevettiai.server.once import put_once
from brevettiai.server.roles import ROLES
from brevettiai.server.schemas import ModelIn, ReportIn
from brevettiai.server.ui import forms
from brevettiai.server.ui.common import (
    KIND_WORDS,
    KINDS,
    dataset_options,
    tag_options,
)
from brevettiai.server.ui.web import (
    PageError,
    PageRoute,
    WebUser,
    can,
    ctx_of,
    flash,
    form_with_csrf,
    render,
    signed_in_user,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CREATE_ROUTE = "/zoo/{type_id}"


@router.get("/zoo")
def zoo(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """The model types, to create models (and test reports) from."""
    ctx = ctx_of(request)
    types, counts = model_types.zoo(ctx)
    return render(request, "zoo.html", {"title": "Model zoo", "section": "zoo", "types": types, "counts": counts},
                  user=user)


def _zoo_form(request: Request, user: WebUser, model_type: db.ModelType, *, values: dict[str, Any],
              raw: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
              general: list[str] | None = None, name: str = "", dataset_ids: Iterable[str] = (),
              tag_ids: Iterable[str] = (), parent: Any = None, source: Any = None, status: int = 200) -> Response:
    ctx = ctx_of(request)
    schema = model_type.settings_schema or {}
    if not can(user, "POST", CREATE_ROUTE):  # the settings to read, and who may create, instead of a dead form
        return render(request, "zoo_form.html", {
            "title": f"{'Test report' if model_type.kind == 'report' else 'Model'} type: {model_type.name}",
            "section": "zoo", "model_type": model_type, "parent": parent, "source": source,
            "description": forms.describe_form(schema, values), "creators": _roles_allowed("POST", CREATE_ROUTE),
            "presets": sorted((schema.get("presets") or {}).keys())}, status=status, user=user)
    form = forms.build_form(schema, values, raw, errors)
    return render(request, "zoo_form.html", {
        "title": f"New {'test report' if model_type.kind == 'report' else 'model'}: {model_type.name}",
        "section": "zoo", "model_type": model_type, "form": form, "general": general or [],
        "errors": errors or {}, "name": name, "datasets": dataset_options(ctx), "tags": tag_options(ctx),
        "chosen_datasets": set(dataset_ids), "chosen_tags": set(tag_ids), "parent": parent, "source": source,
        "presets": sorted((schema.get("presets") or {}).keys())}, status=status, user=user)


def _roles_allowed(method: str, path: str) -> list[str]:
    """The roles the access table lets call a route, least first."""
    return [role for role in ROLES if access.allows(role, method, path)]


def _model_type(ctx: ServerContext, type_id: str) -> db.ModelType:
    row = model_types.find(ctx, type_id)
    if row is None:
        raise PageError(404, f"There is no model type '{type_id}'.")
    return row


def _parent_model(ctx: ServerContext, parent_id: str | None) -> Any:
    if not parent_id:
        raise PageError(400, "A test report is made from a model's page: open the model, then “New test report”.")
    parent = model_types.find_job(ctx, parent_id)
    if parent is None or parent.kind != "model":
        raise PageError(404, f"There is no model '{parent_id}'.")
    return parent


def unused_name(ctx: ServerContext, base: str) -> str:
    """A default name no job has yet: `base #N`, N one more than the jobs named `base` or `base #...`."""
    return model_types.unused_name(ctx, base)


@router.get("/zoo/{type_id}")
def zoo_form(request: Request, type_id: str, preset: str | None = None, parent: str | None = None,
             source: str | None = Query(None, alias="from", description="a job to prefill the form from"),
             user: WebUser = Depends(signed_in_user)) -> Response:
    """The create form of a model type, drawn from its settings schema (``?from=<job id>``: prefilled from
    that run's settings, datasets and tags: "Run again with changes")."""
    ctx = ctx_of(request)
    model_type = _model_type(ctx, type_id)
    if source:
        return _clone_form(request, user, model_type, source)
    parent_row = _parent_model(ctx, parent) if model_type.kind == "report" else None
    schema = model_type.settings_schema or {}
    chosen = (schema.get("presets") or {}).get(preset) if preset else None
    values = forms.initial_values(schema, model_type.defaults, chosen if isinstance(chosen, dict) else None)
    name = unused_name(ctx, f"{parent_row.name} report" if parent_row is not None else model_type.name)
    return _zoo_form(request, user, model_type, values=values, name=name, parent=parent_row,
                     dataset_ids=parent_row.dataset_ids if parent_row is not None else ())


def _clone_form(request: Request, user: WebUser, model_type: db.ModelType, source_id: str) -> Response:
    """The form prefilled from an earlier run of this model type; what it creates is validated as any new run."""
    ctx = ctx_of(request)
    source = model_types.find_job(ctx, source_id)
    if source is None or source.model_type_id != model_type.id:
        raise PageError(404, f"There is no run '{source_id}' of the model type “{model_type.name}” to start from.")
    parent = _parent_model(ctx, source.parent_id) if source.kind == "report" else None
    schema = model_type.settings_schema or {}
    values = forms.initial_values(schema, deep_merge(model_type.defaults or {}, dict(source.settings or {})))
    return _zoo_form(request, user, model_type, values=values, name=model_types.next_run_name(ctx, source.name),
                     parent=parent,
                     dataset_ids=source.dataset_ids or (), tag_ids=source.tag_ids or (), source=source)


@router.post("/zoo/{type_id}")
async def zoo_create(request: Request, type_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Create the model from the form (the server validates its settings), then start it."""
    form = await form_with_csrf(request, user)
    ctx = ctx_of(request)
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
        body = ModelIn(name=name or "-", model_type_id=model_type.id, settings=settings, dataset_ids=dataset_ids,
                       tag_ids=tag_ids)
        if parent is not None:
            body = ReportIn(parent_id=parent.id, **body.model_dump())
        if errors:  # still ask the server about the settings, so every problem shows at once
            problems = validate_settings(schema, deep_merge(model_type.defaults or {}, settings))
            raise ApiError(422, problems)
        return runs.create_and_start(ctx, kind, body, start)

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


