"""Tags: the tag tree and a form for a new tag."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from brevettiai.server import tags
from brevettiai.server.errors import ApiError
from brevettiai.server.ui import forms
from brevettiai.server.ui.common import (
    tag_options,
)
from brevettiai.server.ui.web import (
    PageRoute,
    WebUser,
    ctx_of,
    flash,
    form_with_csrf,
    render,
    signed_in_user,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)



@router.get("/tags")
def tags_page(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """The tag tree, and a form for a new tag."""
    return render(request, "tags.html", {"title": "Tags", "section": "tags", "tags": tag_options(ctx_of(request)),
                                         "error": None, "name": ""}, user=user)


@router.post("/tags")
async def tags_create(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """Create a tag (the server's own create)."""
    form = await form_with_csrf(request, user)
    ctx = ctx_of(request)
    name = str(form.get("name") or "").strip()
    parent = str(form.get("parent_id") or "") or None
    if not name or len(name) > 255:
        return render(request, "tags.html", {"title": "Tags", "section": "tags", "tags": tag_options(ctx),
                                             "error": "Give the tag a name (255 characters at most).",
                                             "name": name}, status=422, user=user)
    try:
        await run_in_threadpool(tags.create, ctx, name, parent)
    except ApiError as exc:
        message = forms.errors_by_field(exc.detail)[1][0] if isinstance(exc.detail, list) else str(exc.detail)
        return render(request, "tags.html", {"title": "Tags", "section": "tags", "tags": tag_options(ctx),
                                             "error": message, "name": name}, status=422, user=user)
    response = RedirectResponse("/tags", status_code=303)
    flash(response, f"Created the tag “{name}”.")
    return response
