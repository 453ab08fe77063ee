"""The real AsyncIOScheduler fires the jobs, and `build_app(run_jobs=True)` (what `lastmile serve`
runs) starts the scheduler and the delivery loop with the app and stops them with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime import Runtime
from bot.scheduling.scheduler import CheckinScheduler
from lastmile.server import JOBS_KEY, build_app
from storage.models import CheckIn
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.scheduling_support import RecordingSender, connect_sender, start_runtime, write_config

TUESDAY_1530 = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = TUESDAY_1530
    built = await start_runtime(database_url, write_config(tmp_path), clock)
    yield built
    await built.close()


async def test_the_scheduler_fires_every_job(runtime: Runtime) -> None:
    queued = asyncio.Event()
    scheduler = CheckinScheduler(runtime, on_queued=queued.set)
    scheduler.start()
    try:
        async with asyncio.timeout(10):
            await queued.wait()
            await scheduler.wait_for_runs(1)
        jobs = ["checkins", "digests", "expiry", "inbox", "reminders", "retention", "themes"]
        assert sorted(scheduler.job_names()) == jobs
    finally:
        await scheduler.stop()
    assert not scheduler.scheduler.running
    (checkin,) = await rows(runtime, CheckIn)
    assert checkin.slot == "2026-11-17T15:30 Europe/London"


async def test_serve_app_runs_the_scheduler_and_delivers(runtime: Runtime) -> None:
    sender = RecordingSender()
    connect_sender(runtime, sender)
    app = build_app(runtime, {}, run_jobs=True)
    client: TestClient[Any, Any]
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        async with asyncio.timeout(10):
            await sender.wait_for(1)
        jobs = app[JOBS_KEY]
    assert not jobs.scheduler.scheduler.running
    (message,) = sender.sent
    assert message.recipient is not None and message.recipient.user_id == "ULON"
    (checkin,) = await rows(runtime, CheckIn)
    assert checkin.status == "sent"


async def test_routes_only_app_starts_no_jobs(runtime: Runtime) -> None:
    sender = RecordingSender()
    connect_sender(runtime, sender)
    app = build_app(runtime, {})
    assert JOBS_KEY not in app
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
    assert await rows(runtime, CheckIn) == []
