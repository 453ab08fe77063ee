"""What operators watch: `GET /readyz`, `GET /metrics` and each request's latency by route."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.metrics import Metrics
from bot.runtime import Runtime
from storage.migrate import schema_revision, shipped_head
from storage.queues import queue_depths

logger = logging.getLogger(__name__)

READY_TIMEOUT = 2.0
"""Seconds the readiness check waits for the database: a probe must answer, not hang."""
UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404): never its path."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods labelled as themselves; any other a client invents is labelled "other"."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def readiness(runtime: Runtime) -> str:
    """Why this process should not be sent traffic now ("" when it should).

    Ready means the database answers and its schema is the one this code ships: a
    replica started before `lastmile db upgrade`, or left behind by a newer release's
    upgrade, says so instead of failing requests one by one.
    """
    try:
        current = await asyncio.wait_for(schema_revision(runtime.db), READY_TIMEOUT)
    except Exception as error:
        logger.warning("readiness: database unreachable: %s", type(error).__name__)
        return "database unreachable"
    head = await asyncio.to_thread(shipped_head)
    if current != head:
        return f"database schema is at {current or 'nothing'}, this code needs {head}"
    return ""


def mount_observe(app: web.Application, runtime: Runtime) -> None:
    """Add `GET /readyz` and `GET /metrics` for `runtime` to `app`."""

    async def readyz(_request: web.Request) -> web.Response:
        reason = await readiness(runtime)
        if reason:
            return web.json_response({"status": "unavailable", "reason": reason}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics(_request: web.Request) -> web.Response:
        try:
            async with runtime.db.session() as session:
                depths = await asyncio.wait_for(
                    queue_depths(session, runtime.clock()), READY_TIMEOUT
                )
        except Exception as error:
            logger.warning("metrics: queues not read: %s", type(error).__name__)
            depths = None
        runtime.metrics.queues_read(depths)
        return web.Response(
            body=runtime.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def route_of(request: web.Request) -> str:
    """The matched route's pattern (`/reports/{token}`), so ids never become labels."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def latency_middleware(
    metrics: Metrics,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Time every request, refused ones included, by route pattern and method."""

    @web.middleware
    async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            method = request.method if request.method in METHODS else "other"
            metrics.request_seconds.labels(route_of(request), method).observe(
                time.perf_counter() - started
            )

    return timed
