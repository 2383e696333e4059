"""The HTTP API: one router per area, all under ``/api``."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from brevettiai.server.access import enforce

CHECKED = [Depends(enforce)]  # the roles of brevettiai.server.access, on every route of every router


def include_routers(app: FastAPI) -> None:
    """Mount every router of the API on the app, each route checked against the access table."""
    from brevettiai.server.api import (
        archive,
        auth,
        compare,
        datasets,
        files,
        jobs,
        models,
        modeltypes,
        runs,
        tags,
        users,
    )

    # The job side first: routes are matched in order, and jobs call these most often.
    for module in (jobs, files, archive, auth, users, datasets, tags, modeltypes, models, runs, compare):
        for router in getattr(module, "routers", None) or [module.router]:
            app.include_router(router, dependencies=CHECKED)
