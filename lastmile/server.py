"""The aiohttp application `lastmile serve` runs: health check, usage API and every platform."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import text

from adapters.reports import mount_reports
from adapters.usage import mount_usage_api
from adapters.usage.api import MAX_BODY as USAGE_MAX_BODY
from adapters.usage.api import PATH as USAGE_PATH
from bot.config import Settings
from bot.engine import Clock, utc_now
from bot.platform import PlatformPlugin
from bot.runtime import Runtime, build_runtime
from bot.safe_logs import quiet_payload_loggers
from bot.scheduling.service import BackgroundJobs
from lastmile.edge import edge_middleware
from lastmile.observe import latency_middleware, mount_observe
from lastmile.platforms import PLATFORMS, facts

logger = logging.getLogger(__name__)

RUNTIME_KEY: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
JOBS_KEY: web.AppKey[BackgroundJobs] = web.AppKey("jobs", BackgroundJobs)

MAX_BODY = 1024 * 1024


async def runtime_for(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    plugins: dict[str, PlatformPlugin] | None = None,
    prepare_schema: bool = True,
) -> Runtime:
    """A runtime checked against the registered platforms (names in the config, wording)."""
    quiet_payload_loggers()
    return await build_runtime(
        settings, clock=clock, prepare_schema=prepare_schema, platforms=facts(plugins)
    )


def connect(
    runtime: Runtime, app: web.Application | None, plugins: dict[str, PlatformPlugin] | None = None
) -> list[str]:
    """Connect every configured platform to the runtime (and its routes to `app`).

    Returns:
        The names of the platforms connected.
    """
    for name, plugin in (PLATFORMS if plugins is None else plugins).items():
        connection = plugin.mount(app, runtime)
        if connection is not None:
            runtime.platforms[name] = connection
            logger.info("%s connected: %s", name, connection.description)
    return sorted(runtime.platforms)


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 when the process is up and the database answers, 503 otherwise."""
    runtime = request.app[RUNTIME_KEY]
    try:
        async with runtime.db.session() as session:
            await (await session.connection()).execute(text("SELECT 1"))
    except Exception as error:
        logger.warning("health check: database unreachable: %s", type(error).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response(
        {"status": "ok", "database": "ok", "platforms": sorted(runtime.platforms)}
    )


def build_app(
    runtime: Runtime,
    plugins: dict[str, PlatformPlugin] | None = None,
    *,
    run_jobs: bool = False,
) -> web.Application:
    """The web application, with every configured platform connected.

    Args:
        runtime: the built runtime.
        plugins: the platforms to try; the whole table when None.
        run_jobs: start the inbox worker, the scheduler and the outbox delivery loop
            with the app (`lastmile serve` does; tests that drive them by hand do not).

    Returns:
        An aiohttp application with `GET /healthz`, `/readyz` and `/metrics`,
        `POST /api/v1/usage`, the report pages under `/reports/` and the platforms' routes.
    """
    limits = {USAGE_PATH: USAGE_MAX_BODY}
    middlewares = [latency_middleware(runtime.metrics), edge_middleware(limits, MAX_BODY)]
    app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
    app[RUNTIME_KEY] = runtime
    app.router.add_get("/healthz", healthz)
    mount_observe(app, runtime)
    jobs = BackgroundJobs(runtime) if run_jobs else None
    if jobs is not None:
        app[JOBS_KEY] = jobs
        app.on_startup.append(jobs.on_startup)
        app.on_cleanup.append(jobs.on_cleanup)
    mount_usage_api(app, runtime, wake=jobs.delivery.wake if jobs is not None else None)
    mount_reports(app, runtime)
    connect(runtime, app, plugins)
    return app
