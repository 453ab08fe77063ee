"""The aiohttp application `lastmile serve` runs: health check plus each platform's routes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import text

from adapters.usage import mount_usage_api
from bot.runtime import Runtime
from bot.scheduling.service import BackgroundJobs

logger = logging.getLogger(__name__)

RUNTIME_KEY: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
PLATFORMS_KEY: web.AppKey[list[str]] = web.AppKey("platforms", list[str])
JOBS_KEY: web.AppKey[BackgroundJobs] = web.AppKey("jobs", BackgroundJobs)

# Each mount adds its routes when its platform is configured and returns its name.
Mount = Callable[[web.Application, Runtime], str | None]


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 when the process is up and the database answers, 503 otherwise."""
    runtime = request.app[RUNTIME_KEY]
    try:
        async with runtime.db.session() as session:
            await (await session.connection()).execute(text("SELECT 1"))
    except Exception as error:
        logger.warning("health check: database unreachable: %s", error)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response(
        {"status": "ok", "database": "ok", "platforms": request.app[PLATFORMS_KEY]}
    )


def platform_mounts() -> list[Mount]:
    """The platform adapters that can be mounted (each decides if it is configured)."""
    from adapters.slack.mount import mount_slack
    from adapters.teams.mount import mount_teams

    return [mount_slack, mount_teams]


def build_app(
    runtime: Runtime, mounts: list[Mount] | None = None, *, run_jobs: bool = False
) -> web.Application:
    """The web application, with every configured platform mounted.

    Args:
        runtime: the built runtime.
        mounts: platform mounts to try; all known ones when None.
        run_jobs: start the scheduler and the outbox delivery loop with the app
            (`lastmile serve` does; tests that only need the routes do not).

    Returns:
        An aiohttp application with `GET /healthz`, `POST /api/v1/usage` and the
        platforms' routes.
    """
    app = web.Application(client_max_size=1024 * 1024)
    app[RUNTIME_KEY] = runtime
    app.router.add_get("/healthz", healthz)
    jobs = BackgroundJobs(runtime) if run_jobs else None
    if jobs is not None:
        app[JOBS_KEY] = jobs
        app.on_startup.append(jobs.on_startup)
        app.on_cleanup.append(jobs.on_cleanup)
    mount_usage_api(app, runtime, wake=jobs.delivery.wake if jobs is not None else None)
    platforms: list[str] = []
    for mount in platform_mounts() if mounts is None else mounts:
        name = mount(app, runtime)
        if name:
            platforms.append(name)
    app[PLATFORMS_KEY] = platforms
    return app
