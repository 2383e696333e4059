"""Which role each route needs: one table, checked once per request before the route runs.

`TABLE` maps (method, path template) to the least role a user needs (`brevettiai.server.roles`), or
`PUBLIC`. Routes it does not name need `default_role`: viewer for GET/HEAD, member for anything else
(so a new page or endpoint is never open to viewers for changes by accident). `enforce` is added to
every router where the app includes them; it authenticates the caller (the bearer token for the API,
the login cookie for pages), sets the audit log's actor for the request, and answers 403 when the
user's role (narrowed by its token) is below the route's. Job keys pass through to each route's own
rules (`brevettiai.server.auth`). The job side's fast lane (metrics, heartbeats) and the direct
transfer's PUT URLs call `require` themselves. docs/platform-api.md prints this table with a column per role.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from brevettiai.server import audit, auth
from brevettiai.server.auth import Principal
from brevettiai.server.errors import ApiError
from brevettiai.server.roles import ADMIN, MEMBER, PUBLIC, VIEWER, at_least
from brevettiai.server.throttle import client_address

READS = frozenset({"GET", "HEAD"})

_JOB = "/api/jobs/{job_id}"
_FILES = "/api/files/{rid}/{path:path}"

TABLE: dict[tuple[str, str], str] = {
    # The app's own routes
    ("GET", "/openapi.json"): PUBLIC, ("HEAD", "/openapi.json"): PUBLIC,
    ("GET", "/healthz"): PUBLIC, ("GET", "/docs"): PUBLIC, ("GET", "/"): PUBLIC,
    ("GET", "/ui/static"): PUBLIC,  # the pages' CSS and JavaScript (a mount: no dependency runs there)
    # Job side (a job key uses its own job's; a user needs these roles)
    ("POST", f"{_JOB}/heartbeat"): MEMBER, ("POST", f"{_JOB}/metrics"): MEMBER,
    ("GET", f"{_JOB}/info"): VIEWER, ("POST", f"{_JOB}/state"): MEMBER, ("POST", f"{_JOB}/claim"): MEMBER,
    ("POST", f"{_JOB}/exit"): MEMBER, ("POST", f"{_JOB}/remotemonitor"): MEMBER,
    ("PUT", f"{_JOB}/charts/{{name}}"): MEMBER, ("GET", f"{_JOB}/roottags"): VIEWER,
    # Files
    ("GET", _FILES): VIEWER, ("HEAD", _FILES): VIEWER, ("PUT", _FILES): MEMBER, ("DELETE", _FILES): MEMBER,
    ("GET", "/api/ls/{rid}/{path:path}"): VIEWER, ("GET", "/api/ls/{rid}"): VIEWER,
    ("PUT", "/api/archive/{rid}"): MEMBER, ("PUT", "/api/archive/{rid}/{folder:path}"): MEMBER,
    ("POST", "/api/transfer/{rid}"): VIEWER,  # GET URLs; PUT URLs need member (checked in the route)
    # Sign-in, own account, own tokens
    ("POST", "/api/auth/token"): PUBLIC, ("GET", "/api/auth/me"): VIEWER, ("POST", "/api/auth/logout"): VIEWER,
    ("POST", "/api/auth/password"): VIEWER,
    ("GET", "/api/tokens"): VIEWER, ("POST", "/api/tokens"): VIEWER, ("DELETE", "/api/tokens/{token_id}"): VIEWER,
    # Users and the audit log
    ("GET", "/api/users"): ADMIN, ("POST", "/api/users"): ADMIN, ("PATCH", "/api/users/{user_id}"): ADMIN,
    ("POST", "/api/users/{user_id}/password"): ADMIN, ("GET", "/api/audit"): ADMIN,
    # Datasets, tags, model types
    ("GET", "/api/datasets"): VIEWER, ("GET", "/api/datasets/{dataset_id}"): VIEWER,
    ("POST", "/api/datasets"): MEMBER, ("DELETE", "/api/datasets/{dataset_id}"): MEMBER,
    ("GET", "/api/tags"): VIEWER, ("GET", "/api/tags/{tag_id}"): VIEWER,
    ("POST", "/api/tags"): MEMBER, ("DELETE", "/api/tags/{tag_id}"): MEMBER,
    ("GET", "/api/modeltypes"): VIEWER, ("GET", "/api/modeltypes/{type_id}"): VIEWER,
    ("POST", "/api/modeltypes"): MEMBER, ("DELETE", "/api/modeltypes/{type_id}"): MEMBER,
    # Pages: sign-in, own profile, admin
    ("GET", "/login"): PUBLIC, ("POST", "/login"): PUBLIC, ("POST", "/logout"): VIEWER, ("GET", "/ui"): VIEWER,
    ("GET", "/reports/{job_id}/{ticket}/{path:path}"): PUBLIC,  # the signed ticket in the URL is the access
    ("GET", "/profile"): VIEWER, ("POST", "/profile/password"): VIEWER, ("POST", "/profile/tokens"): VIEWER,
    ("POST", "/profile/tokens/{token_id}/revoke"): VIEWER,
    ("GET", "/admin"): ADMIN, ("POST", "/admin/users"): ADMIN, ("POST", "/admin/users/{user_id}/role"): ADMIN,
    ("POST", "/admin/users/{user_id}/password"): ADMIN, ("POST", "/admin/users/{user_id}/disable"): ADMIN,
    ("POST", "/admin/users/{user_id}/enable"): ADMIN,
    # Pages: datasets, model zoo, tags
    ("GET", "/datasets"): VIEWER, ("GET", "/datasets/new"): MEMBER, ("POST", "/datasets/new"): MEMBER,
    ("GET", "/datasets/{dataset_id}"): VIEWER, ("GET", "/datasets/{dataset_id}/files/{path:path}"): VIEWER,
    ("PUT", "/datasets/{dataset_id}/files/{path:path}"): MEMBER, ("POST", "/datasets/{dataset_id}/tags"): MEMBER,
    ("GET", "/datasets/{dataset_id}/delete"): MEMBER, ("POST", "/datasets/{dataset_id}/delete"): MEMBER,
    ("GET", "/zoo"): VIEWER, ("GET", "/zoo/{type_id}"): VIEWER, ("POST", "/zoo/{type_id}"): MEMBER,
    ("GET", "/tags"): VIEWER, ("POST", "/tags"): MEMBER,
    # Comparing runs
    ("GET", "/api/compare"): VIEWER, ("GET", "/compare"): VIEWER, ("GET", "/compare/data.json"): VIEWER,
}

# Models and reports: the same routes under each kind's prefix (API and pages).
for _api in ("/api/models", "/api/reports"):
    TABLE.update({("POST", _api): MEMBER, ("GET", _api): VIEWER, ("GET", f"{_api}/{{job_id}}"): VIEWER,
                  ("POST", f"{_api}/{{job_id}}/start"): MEMBER, ("POST", f"{_api}/{{job_id}}/stop"): MEMBER,
                  ("DELETE", f"{_api}/{{job_id}}"): MEMBER, ("GET", f"{_api}/{{job_id}}/artifacts"): VIEWER,
                  ("GET", f"{_api}/{{job_id}}/metrics"): VIEWER, ("GET", f"{_api}/{{job_id}}/charts"): VIEWER,
                  ("GET", f"{_api}/{{job_id}}/log"): VIEWER, ("PATCH", f"{_api}/{{job_id}}"): MEMBER})
for _page in ("/models", "/testreports"):
    TABLE.update({("GET", _page): VIEWER, ("GET", f"{_page}/{{job_id}}"): VIEWER,
                  ("POST", f"{_page}/columns"): VIEWER,  # the user's own choice of columns
                  ("GET", f"{_page}/{{job_id}}/live.json"): VIEWER, ("GET", f"{_page}/{{job_id}}/artifacts"): VIEWER,
                  ("GET", f"{_page}/{{job_id}}/download/{{path:path}}"): VIEWER,
                  ("POST", f"{_page}/{{job_id}}/stop"): MEMBER, ("POST", f"{_page}/{{job_id}}/rerun"): MEMBER,
                  ("GET", f"{_page}/{{job_id}}/delete"): MEMBER, ("POST", f"{_page}/{{job_id}}/delete"): MEMBER,
                  ("GET", f"{_page}/{{job_id}}/log.json"): VIEWER,
                  ("GET", f"{_page}/{{job_id}}/preview/{{path:path}}"): VIEWER,
                  ("GET", f"{_page}/{{job_id}}/inline/artifacts/{{path:path}}"): VIEWER,
                  ("POST", f"{_page}/{{job_id}}/start"): MEMBER, ("POST", f"{_page}/{{job_id}}/notes"): MEMBER,
                  ("POST", f"{_page}/{{job_id}}/tags"): MEMBER})


def default_role(method: str) -> str:
    """What a route the table does not name needs: viewer to read, member for anything else."""
    return VIEWER if method.upper() in READS else MEMBER


def required(method: str, path: str) -> str:
    """The least role for `method` on the route with path template `path` (or `PUBLIC`)."""
    return TABLE.get((method.upper(), path), default_role(method))


def allows(role: str, method: str, path: str) -> bool:
    """True when `role` may call `method` on the route `path` (a template the table names; others: KeyError).

    The pages ask it before drawing a control, so a viewer sees no button whose route would refuse them.
    """
    needed = TABLE.get((method.upper(), path))
    if needed is None:
        raise KeyError(f"the access table has no row for {method.upper()} {path}")
    return at_least(role, needed)


def require(caller: Principal, needed: str) -> None:
    """403 unless the caller is a job key (its own rules apply) or a user whose role is at least `needed`."""
    if caller.is_user and not at_least(caller.role, needed):
        raise ApiError(403, f"this needs the {needed} role; {caller.username or 'this user'} is {caller.role}"
                            + (" (through a read-only token)" if needed != VIEWER and caller.role == VIEWER else ""))


async def enforce(request: Request) -> None:
    """Dependency of every included router: authenticate, set the request's actor, check the table."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path  # building request.url costs more than the check
    needed = required(request.method, path)
    address = client_address(request.client)
    if needed == PUBLIC:
        audit.set_actor(audit.Actor(None, "anonymous", address))
        return
    from brevettiai.server.ui.web import PageRoute, signed_in_user

    if isinstance(route, PageRoute):
        caller = (await signed_in_user(request)).principal  # not signed in: the page route sends it to the login page
    else:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        caller = await auth.caller_of(request.app.state.context, token.strip() if scheme.lower() == "bearer" else None)
    if not caller.is_user:
        audit.set_actor(audit.Actor(None, f"job {caller.job_id}", address))
        return
    audit.set_actor(audit.Actor(caller.user_id, caller.username, address))
    try:
        require(caller, needed)
    except ApiError:
        if request.method not in READS:
            await run_in_threadpool(audit.record, request.app.state.context.db, f"{request.method} {path}",
                                    request.url.path, audit.DENIED, f"needs {needed}, is {caller.role}")
        raise
