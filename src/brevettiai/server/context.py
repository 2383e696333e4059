"""What every request handler needs: settings, database, storage and the job runner; and the server's own
state (the dispatcher's wake-up, the kept metrics answers), so two servers in one process share nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from brevettiai.server.answer_cache import ANSWER_ROWS, AnswerCache
from brevettiai.server.config import ServerConfig
from brevettiai.server.db.session import Database
from brevettiai.server.storage import Storage

if TYPE_CHECKING:
    from brevettiai.server.auth import TokenCache
    from brevettiai.server.metrics import MetricsWriter
    from brevettiai.server.runners import Runner


@dataclass
class ServerContext:
    """The running server's shared parts."""

    config: ServerConfig
    db: Database
    storage: Storage
    runner: Runner
    tokens: TokenCache
    metrics: MetricsWriter
    secret_key: bytes = field(repr=False)  # signs report links; the same in every replica
    dispatch_wake: threading.Event = field(default_factory=threading.Event, repr=False)  # see `dispatch.wake`
    metric_answers: AnswerCache = field(default_factory=lambda: AnswerCache(ANSWER_ROWS), repr=False)


async def get_context(request: Request) -> ServerContext:
    """FastAPI dependency: the context of the app serving the request (async: no thread hop)."""
    return request.app.state.context
