"""The FastAPI application: startup (migrations, admin user, runner, supervisor), error answers, docs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from brevettiai._version import __version__
from brevettiai.server import auth, jobs, revocation
from brevettiai.server.api import CHECKED, include_routers
from brevettiai.server.api.fileslane import FilesFastLane
from brevettiai.server.auth import TokenCache
from brevettiai.server.config import ServerConfig
from brevettiai.server.context import ServerContext
from brevettiai.server.db.migrate import upgrade
from brevettiai.server.db.session import Database
from brevettiai.server.errors import ApiError, error_response, validation_errors
from brevettiai.server.limits import BodyLimits
from brevettiai.server.metrics import MetricsWriter
from brevettiai.server.openapi_errors import declare_error_answers
from brevettiai.server.readiness import WriteProbe
from brevettiai.server.revocation import RevocationWatch
from brevettiai.server.run_backfill import OutputBackfill
from brevettiai.server.runners import make_runner
from brevettiai.server.secret_key import server_secret_key
from brevettiai.server.storage import PathRejected, Storage
from brevettiai.server.supervisor import Supervisor
from brevettiai.server.throttle import LoginThrottle
from brevettiai.server.ui import routes as ui

log = logging.getLogger("brevettiai.server")

DOCS_PAGE = Path(__file__).with_name("static") / "docs.html"


def _log_generated_password(password: str) -> None:
    log.warning("Created user 'admin' with the generated password %s (shown this once)", password)


def prepare_database(config: ServerConfig, database: Database,
                     on_admin_password: Callable[[str], None] | None = None) -> bytes:
    """Migrate, create the admin user on the first start, and get the signing key; returns the key.

    Safe to run by several servers at once on one database: each step is.
    """
    upgrade(database.engine)
    generated = auth.ensure_admin(database, config.admin_password)
    if generated:
        (on_admin_password or _log_generated_password)(generated)
    revocation.ensure_counter(database)
    return server_secret_key(config, database)


def start_context(config: ServerConfig, on_admin_password: Callable[[str], None] | None = None,
                  secret_key: bytes | None = None) -> ServerContext:
    """Connect the database, storage and runner.

    Without `secret_key`, the database is prepared first (`prepare_database`); a caller that has
    done that already (`brevettiai.server.serve`) passes the key it got.
    """
    database = Database(config.database_url or "")
    if secret_key is None:
        secret_key = prepare_database(config, database, on_admin_password)
    return ServerContext(config=config, db=database, storage=Storage(config.storage or ""), runner=make_runner(config),
                         tokens=TokenCache(), metrics=MetricsWriter(database), secret_key=secret_key)


def stop_context(ctx: ServerContext) -> None:
    """Store queued metrics, stop the jobs the runner holds (recording them as killed), close the database."""
    ctx.metrics.close()
    for exited in ctx.runner.shutdown():
        try:
            jobs.job_exited(ctx, exited, server_shutdown=True)
        except Exception:
            log.exception("Could not record the end of job %s", exited.job_id)
    ctx.db.dispose()


def create_app(config: ServerConfig, on_admin_password: Callable[[str], None] | None = None,
               secret_key: bytes | None = None) -> FastAPI:
    """The platform's ASGI app for a resolved config (see `ServerConfig.resolved`).

    `secret_key`: the database is prepared already and this is its signing key (see `start_context`).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Start the context and the supervisor; stop both when the server stops."""
        ctx = await run_in_threadpool(start_context, config, on_admin_password, secret_key)
        app.state.context = ctx
        app.state.readiness = WriteProbe(ctx.db, ctx.storage)
        supervisor = Supervisor(ctx)
        supervisor.start()
        revocations = RevocationWatch(ctx.db, ctx.tokens)
        await run_in_threadpool(revocations.start)
        backfill = OutputBackfill(ctx)  # jobs from before the runs table: their output.json, in the background
        backfill.start()
        log.info("Storage %s, %s runner, jobs reach the server at %s", config.storage, ctx.runner.name,
                 config.public_url)
        try:
            yield
        finally:
            backfill.stop()
            revocations.stop()
            supervisor.stop()
            await run_in_threadpool(stop_context, ctx)

    app = FastAPI(title="Brevetti AI platform", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, description="The Job API of a self-hosted Brevetti AI platform. "
                  "Send `Authorization: Bearer <user token or job key>`.")

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(ApiError(422, validation_errors(exc.errors())))  # never the input itself

    @app.exception_handler(PathRejected)
    async def path_rejected(_: Request, exc: PathRejected) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal server error: {type(exc).__name__}"}, status_code=500)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """Readiness: the server answers and its database takes writes (else 503 naming what failed)."""
        problem = app.state.readiness.problem()
        if problem is not None:
            return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API description as a self-contained page (it reads /openapi.json)."""
        return HTMLResponse(DOCS_PAGE.read_text(encoding="utf-8"))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """The website (its pages send visitors without a session to the login page)."""
        return RedirectResponse("/models")

    include_routers(app)
    app.include_router(ui.router, dependencies=CHECKED)
    app.mount("/ui/static", ui.static_files, name="ui-static")
    app.add_middleware(FilesFastLane)
    app.add_middleware(BodyLimits)  # outermost: no body reaches anything else unbounded
    app.state.login_throttle = LoginThrottle()
    declare_error_answers(app)
    return app
