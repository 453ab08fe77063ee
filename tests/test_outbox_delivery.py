"""The outbox delivery loop on SQLite and PostgreSQL: every message exactly once through 500s,
429s and a kill mid-delivery (issue 5, acceptance 5)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.delivery_loop import DeliveryLoop, RetryPolicy
from bot.outgoing import payload_of
from bot.replies import Text
from bot.runtime import Runtime
from bot.scheduling.checkins import queue_due_checkins
from storage.models import CheckIn, OutboxMessage, Person
from storage.outbox import enqueue
from tests.conftest import FakeClock
from tests.helpers import enqueue_notice, rows
from tests.scheduling_support import (
    RecordingSender,
    deliver_all,
    flaky,
    loop_for,
    start_runtime,
    write_config,
)

pytestmark = pytest.mark.sql

TUESDAY_1530 = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    built = await start_runtime(database_url, write_config(tmp_path), clock)
    yield built
    await built.close()


async def person_ids(runtime: Runtime) -> dict[str, int]:
    return {
        person.platform_user_id: person.id
        for person in await rows(runtime, Person)
        if person.id is not None
    }


async def queue_notices(runtime: Runtime, count: int) -> list[int]:
    """`count` notices, alternating between two people, plus one to a channel."""
    people = await person_ids(runtime)
    now = runtime.clock()
    async with runtime.db.session() as session:
        for number in range(count):
            person_id = people["ULON" if number % 2 else "UCHI"]
            await enqueue_notice(session, number, now, person_id=person_id)
        await enqueue(
            session,
            dedupe_key="digest:routing:2026-W46",
            platform="slack",
            purpose="digest",
            payload=payload_of([Text("digest")]),
            now=now,
            destination="CDIGEST",
        )
    return [row.id for row in await rows(runtime, OutboxMessage) if row.id is not None]


def assert_each_once(sender: RecordingSender, ids: list[int]) -> None:
    counts = Counter(sender.message_ids())
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}


async def test_every_message_once_through_500s_and_429s(runtime: Runtime, clock: FakeClock) -> None:
    ids = await queue_notices(runtime, 12)
    pattern = ["500", "429", "500", "ok", "500", "500", "429", "ok", "429", "500"] * 2
    sender = RecordingSender(fail=flaky(pattern))
    await deliver_all(loop_for(runtime, sender), clock)
    assert_each_once(sender, ids)
    stored = await rows(runtime, OutboxMessage)
    assert {row.status for row in stored} == {"delivered"}
    assert sum(row.attempts for row in stored) == pattern.count("500") + pattern.count("429")


async def test_retry_after_is_honoured_and_500s_back_off(
    runtime: Runtime, clock: FakeClock
) -> None:
    (first, digest) = await queue_notices(runtime, 1)
    sender = RecordingSender(fail=lambda m: flaky(["429" if m.message_id == first else "500"])(m))
    await loop_for(runtime, sender).deliver_due()
    limited = await rows(runtime, OutboxMessage, id=first)
    failed = await rows(runtime, OutboxMessage, id=digest)
    assert (limited[0].status, limited[0].attempts) == ("pending", 1)
    assert limited[0].not_before == clock.now + timedelta(seconds=30)
    assert "429" in limited[0].last_error
    # First retry of a 500: between 1 and 2 seconds (half the 2 s step, plus jitter).
    assert clock.now + timedelta(seconds=1) <= failed[0].not_before
    assert failed[0].not_before <= clock.now + timedelta(seconds=2)
    policy, rng = RetryPolicy(), random.Random(7)
    waits = [policy.delay(attempt, None, rng) for attempt in range(14)]
    assert all(earlier / 2 <= later for earlier, later in itertools.pairwise(waits))
    assert 450 <= waits[-1] <= 900  # capped at 15 minutes
    assert policy.delay(5, 12.5, rng) == 12.5


async def test_undeliverable_marks_failed_and_person_unreachable(
    runtime: Runtime, clock: FakeClock
) -> None:
    (first, digest) = await queue_notices(runtime, 1)
    sender = RecordingSender(fail=flaky(["gone"]))
    await loop_for(runtime, sender).deliver_due()
    assert [m.message_id for m in sender.sent] == [digest]
    (row,) = await rows(runtime, OutboxMessage, id=first)
    assert (row.status, row.last_error) == ("failed", "user_not_found")
    (uchi,) = await rows(runtime, Person, platform_user_id="UCHI")
    assert uchi.unreachable
    clock.now = datetime(2026, 11, 17, 21, 30, tzinfo=UTC)  # 15:30 in Chicago
    assert await queue_due_checkins(runtime, clock.now) == 0


async def test_a_delivered_checkin_is_marked_sent_with_its_message_ref(
    runtime: Runtime, clock: FakeClock
) -> None:
    await queue_due_checkins(runtime, TUESDAY_1530)
    sender = RecordingSender()
    await loop_for(runtime, sender).deliver_due()
    (checkin,) = await rows(runtime, CheckIn)
    assert (checkin.status, checkin.sent_at) == ("sent", clock.now)
    assert checkin.message_ref == {"channel": "D-ULON", "ts": "1.0001"}
    (message,) = sender.sent
    assert message.recipient is not None and message.recipient.user_id == "ULON"
    assert message.checkin_id == checkin.id


async def test_rows_for_platforms_without_a_sender_stay_pending(
    runtime: Runtime, clock: FakeClock
) -> None:
    await queue_notices(runtime, 2)
    sender = RecordingSender(platform="teams")
    assert await loop_for(runtime, sender).deliver_due() == 0
    assert {row.status for row in await rows(runtime, OutboxMessage)} == {"pending"}


async def test_paused_person_and_quiet_hours_hold_checkins_back(
    runtime: Runtime, clock: FakeClock
) -> None:
    await queue_due_checkins(runtime, TUESDAY_1530)
    await queue_due_checkins(runtime, TUESDAY_1530 + timedelta(hours=6))  # Chicago's 15:30
    async with runtime.db.session() as session:
        await session.exec(
            update(Person)
            .where(col(Person.platform_user_id) == "UCHI")
            .values(status="paused", paused_until=TUESDAY_1530 + timedelta(days=3))
        )
    # The platform was down until 21:35 London time (15:35 in Chicago): too late to
    # ask in London, and the Chicago member has paused meanwhile.
    clock.now = TUESDAY_1530 + timedelta(hours=6, minutes=5)
    sender = RecordingSender()
    await loop_for(runtime, sender).deliver_due()
    assert sender.sent == []
    by_person = {row.person_id: row for row in await rows(runtime, OutboxMessage)}
    people = await person_ids(runtime)
    london, chicago = by_person[people["ULON"]], by_person[people["UCHI"]]
    assert (london.status, london.last_error) == ("pending", "waiting: quiet hours")
    assert london.not_before == datetime(2026, 11, 18, 8, 0, tzinfo=UTC)
    assert (chicago.status, chicago.last_error) == ("failed", "dropped: person paused")


async def test_loop_wakes_at_once_when_something_is_queued(
    runtime: Runtime, clock: FakeClock
) -> None:
    sender = RecordingSender()
    loop = loop_for(runtime, sender, interval=3600)
    loop.start()
    try:
        await asyncio.sleep(0)
        await queue_notices(runtime, 1)
        loop.wake()
        async with asyncio.timeout(10):
            await sender.wait_for(2)
    finally:
        await loop.stop()
    assert len(sender.sent) == 2


async def _kill_mid_delivery(
    runtime: Runtime, clock: FakeClock, sender: RecordingSender
) -> tuple[list[int], list[int]]:
    """Run a loop until the sender holds message 4, kill it, restart after the lease."""
    ids = await queue_notices(runtime, 8)
    held = ids[3]
    first = loop_for(runtime, sender, concurrency=1, lease=timedelta(minutes=5))
    first.start()
    async with asyncio.timeout(10):
        await sender.holding.wait()
    await first.stop(grace=0)  # killed: no time to finish
    before_restart = sender.message_ids()
    sender.hold_after_send = sender.hold_before_send = None
    second = DeliveryLoop(runtime, limiter=first.limiter)
    # Within the lease the claimed messages are left alone...
    await second.deliver_due()
    leftover = {row.id for row in await rows(runtime, OutboxMessage) if row.status == "pending"}
    assert held in leftover
    # ...and once it runs out they go out.
    clock.advance(minutes=6)
    await deliver_all(second, clock)
    assert {row.status for row in await rows(runtime, OutboxMessage)} == {"delivered"}
    return ids, before_restart


async def test_killed_before_the_platform_answered_every_message_goes_once(
    runtime: Runtime, clock: FakeClock
) -> None:
    sender = RecordingSender()
    sender.hold_before_send = lambda message: message.message_id == 4
    ids, before_restart = await _kill_mid_delivery(runtime, clock, sender)
    assert 4 not in before_restart
    assert_each_once(sender, ids)
    # Delivered before the kill: never again.
    assert sender.message_ids()[: len(before_restart)] == before_restart


async def test_killed_after_the_platform_accepted_only_that_message_repeats(
    runtime: Runtime, clock: FakeClock
) -> None:
    """The documented window: a send accepted just before the crash, not yet marked."""
    sender = RecordingSender()
    sender.hold_after_send = lambda message: message.message_id == 4
    ids, before_restart = await _kill_mid_delivery(runtime, clock, sender)
    counts = Counter(sender.message_ids())
    assert counts[4] == 2
    assert sorted(counts) == sorted(ids)
    assert {count for message_id, count in counts.items() if message_id != 4} == {1}
    assert sender.message_ids()[: len(before_restart)] == before_restart
