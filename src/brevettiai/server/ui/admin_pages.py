"""The admin page: users (add, set role, reset password, disable, enable) and the audit log, for admins.

Which role a page needs is in `brevettiai.server.access`; the work is `brevettiai.server.users`'.
A generated password is shown on the page the form's answer is, once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from brevettiai.server import audit, auth, roles, security, users
from brevettiai.server.schemas import MAX_PAGE
from brevettiai.server.ui.common import page_count, query_string
from brevettiai.server.ui.web import PageRoute, WebUser, ctx_of, flash, form_with_csrf, render, signed_in_user

router = APIRouter(route_class=PageRoute, include_in_schema=False)

AUDIT_PAGE_SIZE = 50


def _admin(request: Request, user: WebUser, page: int = 1, action: str = "", status: int = 200,
           **extra: Any) -> Response:
    ctx = ctx_of(request)
    events, total = audit.events(ctx.db, (page - 1) * AUDIT_PAGE_SIZE, AUDIT_PAGE_SIZE, action or None)
    values = {"title": "Admin", "section": "admin", "users": users.list_users(ctx.db), "roles": roles.ROLES,
              "events": events, "page": page, "pages": page_count(total, AUDIT_PAGE_SIZE), "total": total,
              "page_size": AUDIT_PAGE_SIZE, "action": action, "error": None, "shown_password": None,
              "new_username": "", "link": lambda p: "/admin" + query_string(action=action, page=p) + "#audit"}
    values.update(extra)
    return render(request, "admin.html", values, status=status, user=user)


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}."


@router.get("/admin")
def admin_page(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE), action: str = Query("", max_length=64),
               user: WebUser = Depends(signed_in_user)) -> Response:
    """Users and the audit log (newest first, paged, optionally one action)."""
    return _admin(request, user, page, action)


@router.post("/admin/users")
async def add_user(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """Add a user; without a password one is generated and shown on the answer's page."""
    form = await form_with_csrf(request, user)
    name, role = str(form.get("username") or "").strip(), str(form.get("role") or roles.MEMBER)
    password = str(form.get("password") or "")
    generated = "" if password else security.new_password()
    ctx = ctx_of(request)
    try:
        await run_in_threadpool(users.add_user, ctx.db, name, role, password or generated)
    except users.UserError as exc:
        return _admin(request, user, status=exc.status, error=_sentence(exc), new_username=name)
    if generated:
        return _admin(request, user, status=201, shown_password=(name, generated))
    response = RedirectResponse("/admin", status_code=303)
    flash(response, f"Added {name} ({role}).")
    return response


async def _change(request: Request, user: WebUser, work: Any, done: str) -> Response:
    """Run a change of a user; a refused one is shown on the admin page, a done one flashed."""
    ctx = ctx_of(request)
    try:
        result = await run_in_threadpool(work, ctx.db)
    except users.UserError as exc:
        return _admin(request, user, status=exc.status, error=_sentence(exc))
    await run_in_threadpool(auth.apply_revocations, ctx)
    if isinstance(result, tuple):  # a generated password: shown on this answer only
        return _admin(request, user, status=200, shown_password=result)
    response = RedirectResponse("/admin", status_code=303)
    flash(response, done.format(name=result.username, role=result.role))
    return response


@router.post("/admin/users/{user_id}/role")
async def set_role(request: Request, user_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Give a user another role."""
    form = await form_with_csrf(request, user)
    role = str(form.get("role") or "")
    return await _change(request, user, lambda database: users.set_role(database, user_id, role),
                         "{name} is now {role}.")


@router.post("/admin/users/{user_id}/password")
async def reset_password(request: Request, user_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Give a user a new, generated password (shown once); its sessions end."""
    await form_with_csrf(request, user)
    password = security.new_password()

    def reset(database: Any) -> tuple[str, str]:
        return users.reset_password(database, user_id, password).username, password

    return await _change(request, user, reset, "")


@router.post("/admin/users/{user_id}/disable")
async def disable(request: Request, user_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Disable a user: its sessions and tokens stop working at once."""
    await form_with_csrf(request, user)
    return await _change(request, user, lambda database: users.set_disabled(database, user_id, True),
                         "{name} is disabled: its sessions and tokens no longer work.")


@router.post("/admin/users/{user_id}/enable")
async def enable(request: Request, user_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Enable a disabled user again."""
    await form_with_csrf(request, user)
    return await _change(request, user, lambda database: users.set_disabled(database, user_id, False),
                         "{name} is enabled again.")
