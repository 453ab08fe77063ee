"""Three replicas on one database fire the same schedule: one check-in per person per slot, one
reminder, one expiry notice, one weekly digest, each message sent once (issue 5, acceptance 2)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime import Runtime
from bot.scheduling.checkins import expire_checkins, queue_due_checkins, send_reminders
from bot.scheduling.digests import queue_due_digests
from lastmile.server import JOBS_KEY, build_app
from storage.models import CheckIn, OutboxMessage
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.scheduling_support import (
    RecordingSender,
    connect_sender,
    loop_for,
    start_runtime,
    write_config,
)

pytestmark = pytest.mark.sql

REPLICAS = 3
TUESDAY_1530 = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)  # London; Chicago's is 21:30 UTC
MONDAY_0900 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
async def replicas(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[list[Runtime]]:
    config = write_config(tmp_path, schedule=("tue 15:30", "mon 09:00"))
    built = [await start_runtime(database_url, config, clock) for _ in range(REPLICAS)]
    yield built
    for runtime in built:
        await runtime.close()


async def on_all(
    replicas: list[Runtime], job: Callable[[Runtime, datetime], Awaitable[int]], now: datetime
) -> int:
    """Fire one job on every replica at once; how many actions they took in total."""
    return sum(await asyncio.gather(*(job(runtime, now) for runtime in replicas)))


async def test_one_checkin_reminder_and_expiry_per_person_per_slot(
    replicas: list[Runtime], clock: FakeClock
) -> None:
    slots = (TUESDAY_1530, TUESDAY_1530 + timedelta(hours=6))
    for slot in slots:
        for minutes in (0, 1, 2):
            clock.now = slot + timedelta(minutes=minutes)
            await on_all(replicas, queue_due_checkins, clock.now)
    checkins = await rows(replicas[0], CheckIn)
    assert sorted(c.slot for c in checkins) == [
        "2026-11-17T15:30 America/Chicago",
        "2026-11-17T15:30 Europe/London",
    ]
    sender = RecordingSender()
    loops = [loop_for(runtime, sender) for runtime in replicas]
    for slot in slots:
        clock.now = slot
        await asyncio.gather(*(loop.deliver_due() for loop in loops))
    for slot in slots:
        clock.now = slot + timedelta(minutes=90)
        assert await on_all(replicas, send_reminders, clock.now) == 1
        assert await on_all(replicas, send_reminders, clock.now + timedelta(minutes=1)) == 0
        await asyncio.gather(*(loop.deliver_due() for loop in loops))
    assert await on_all(replicas, expire_checkins, slots[1] + timedelta(hours=4)) == 2
    clock.now = slots[1] + timedelta(hours=4)
    await asyncio.gather(*(loop.deliver_due() for loop in loops))
    purposes = Counter(message.purpose for message in sender.sent)
    assert purposes == {"checkin": 2, "reminder": 2, "notice": 2}
    assert set(Counter(sender.message_ids()).values()) == {1}


async def test_weekly_digest_is_queued_once(replicas: list[Runtime], clock: FakeClock) -> None:
    async def digests(runtime: Runtime, now: datetime) -> int:
        return await queue_due_digests(runtime, now)

    for minutes in (0, 1, 5):
        clock.now = MONDAY_0900 + timedelta(minutes=minutes)
        await on_all(replicas, digests, clock.now)
    (digest,) = await rows(replicas[0], OutboxMessage, purpose="digest")
    assert (digest.platform, digest.destination) == ("slack", "CDIGEST")
    assert digest.dedupe_key == "digest:routing:2026-W46"


async def test_three_serve_apps_send_each_message_once(
    replicas: list[Runtime], clock: FakeClock
) -> None:
    """Three `build_app(run_jobs=True)` apps: real schedulers and delivery loops, one database."""
    clock.now = MONDAY_0900
    sender = RecordingSender()
    apps = []
    for runtime in replicas:
        connect_sender(runtime, sender)
        apps.append(build_app(runtime, {}, run_jobs=True))
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(TestClient(TestServer(app)))
        async with asyncio.timeout(20):
            for app in apps:
                await app[JOBS_KEY].scheduler.wait_for_runs(1)
            # London's Monday 09:00 check-in and the programme's weekly digest.
            await sender.wait_for(2)
            for app in apps:
                await app[JOBS_KEY].delivery.deliver_due()
    assert Counter(message.purpose for message in sender.sent) == {"checkin": 1, "digest": 1}
    assert len(await rows(replicas[0], CheckIn)) == 1
    assert [row.status for row in await rows(replicas[0], OutboxMessage)] == ["delivered"] * 2
