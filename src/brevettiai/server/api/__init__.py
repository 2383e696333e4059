"""The HTTP API: one router per area, all under ``/api``."""

from __future__ import annotations

from fastapi import FastAPI


def include_routers(app: FastAPI) -> None:
    """Mount every router of the API on the app."""
    from brevettiai.server.api import archive, auth, datasets, files, jobs, models, modeltypes, tags

    # The job side first: routes are matched in order, and jobs call these most often.
    for module in (jobs, files, archive, auth, datasets, tags, modeltypes, models):
        for router in getattr(module, "routers", None) or [module.router]:
            app.include_router(router)
