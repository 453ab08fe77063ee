"""The delivery loop with the real Teams sender against the fake Bot Connector: every message
once through 500s and 429s, and after a kill mid-delivery (issue 5, acceptance 5)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.config import Settings
from bot.delivery import Outbound, Sender
from bot.delivery_loop import DeliveryLoop
from storage.models import OutboxMessage
from tests.conftest import FakeClock
from tests.fakes.teams_activities import PERSONAL_CONVERSATION_ID, USER_ID
from tests.helpers import enqueue_notice, person, rows
from tests.scheduling_support import connect_sender, deliver_all
from tests.support import delivery_loop
from tests.teams_support import TeamsBotUnderTest, teams_bot, teams_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return teams_settings(database_url)


@pytest.fixture
async def bot(settings: Settings, clock: FakeClock) -> AsyncIterator[TeamsBotUnderTest]:
    async with teams_bot(settings, clock) as running:
        assert (await running.post("conversation_update_members_added_personal")).status == 200
        running.connector.calls.clear()
        yield running


def loop(bot: TeamsBotUnderTest, **options: Any) -> DeliveryLoop:
    return delivery_loop(bot.runtime, **options)


async def queue_notices(bot: TeamsBotUnderTest, count: int) -> None:
    megan = await person(bot.runtime, USER_ID, platform="teams")
    async with bot.runtime.db.session() as session:
        for number in range(count):
            await enqueue_notice(session, number, bot.runtime.clock(), "teams", person_id=megan.id)


def texts(bot: TeamsBotUnderTest) -> list[str]:
    return [str(a.get("text", "")) for a in bot.connector.activities(PERSONAL_CONVERSATION_ID)]


async def test_real_sender_delivers_each_message_once_through_500s_and_429s(
    bot: TeamsBotUnderTest, clock: FakeClock
) -> None:
    await bot.queue_checkin(USER_ID)
    await queue_notices(bot, 6)
    bot.connector.fail_next(PERSONAL_CONVERSATION_ID, 500, times=2)
    bot.connector.throttle_next(PERSONAL_CONVERSATION_ID, times=2, retry_after=30)
    bot.connector.fail_next(PERSONAL_CONVERSATION_ID, 503, times=1)
    await deliver_all(loop(bot), clock)
    assert {row.status for row in await rows(bot.runtime, OutboxMessage)} == {"delivered"}
    sent = Counter(texts(bot))
    assert {f"notice {n}" for n in range(6)} <= set(sent)
    assert set(sent.values()) == {1}
    assert len(bot.connector.activities(PERSONAL_CONVERSATION_ID)) == 7  # and the check-in card
    refused = Counter(c.status for c in bot.connector.requests("send") if not c.succeeded)
    assert refused == {500: 2, 429: 2, 503: 1}


@dataclass
class HeldSender:
    """The real sender, except that one message hangs before reaching Teams."""

    inner: Sender
    hold_id: int
    holding: asyncio.Event
    platform: str = "teams"

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        if message.message_id == self.hold_id:
            self.holding.set()
            await asyncio.Event().wait()
        return await self.inner.deliver(message)


async def test_real_sender_after_a_kill_sends_the_rest_once_and_nothing_twice(
    bot: TeamsBotUnderTest, clock: FakeClock
) -> None:
    await queue_notices(bot, 8)
    real = bot.sender
    held = HeldSender(real, hold_id=5, holding=asyncio.Event())
    connect_sender(bot.runtime, held)
    first = loop(bot)
    first.start()
    async with asyncio.timeout(10):
        await held.holding.wait()
    await first.stop(grace=0)  # the process dies with message 5 in flight
    before = texts(bot)
    assert before and "notice 4" not in before
    connect_sender(bot.runtime, real)
    clock.advance(seconds=31)  # past the dead process's lease
    await deliver_all(loop(bot), clock)
    after = texts(bot)
    assert after[: len(before)] == before
    assert sorted(after) == sorted(f"notice {n}" for n in range(8))
