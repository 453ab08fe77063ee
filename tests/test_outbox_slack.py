"""The delivery loop with the real Slack sender against the fake Slack Web API: every message
once through 500s and 429s, and after a kill mid-delivery (issue 5, acceptance 5)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import SlackPlugin
from bot.delivery import Outbound, Sender
from bot.delivery_loop import DeliveryLoop
from bot.digest.weekly import queue_weekly_digest
from bot.runtime import Runtime
from bot.scheduling.checkins import queue_due_checkins
from lastmile.server import connect
from storage.models import OutboxMessage, Person
from tests.conftest import FakeClock
from tests.fakes.slack_api import FailureKind, FakeSlackApi
from tests.helpers import enqueue_notice, rows
from tests.scheduling_support import connect_sender, deliver_all, start_runtime, write_config
from tests.slack_support import slack_settings
from tests.support import delivery_loop

TUESDAY_1530 = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)


@dataclass
class Slack:
    fake: FakeSlackApi
    runtime: Runtime

    def loop(self, sender: Sender | None = None, **options: Any) -> DeliveryLoop:
        if sender is not None:
            connect_sender(self.runtime, sender)
        return delivery_loop(self.runtime, **options)

    def posted_texts(self) -> list[str]:
        return [str(call.params.get("text", "")) for call in self.fake.calls("chat.postMessage")]


@pytest.fixture
async def slack(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Slack]:
    async with FakeSlackApi() as fake:
        fake.set_user("ULON", tz="Europe/London")
        fake.set_user("UCHI", tz="America/Chicago")
        runtime = await start_runtime(database_url, write_config(tmp_path), clock)
        plugin = SlackPlugin(slack_settings(fake, http=True, socket=False))
        try:
            assert connect(runtime, None, {"slack": plugin}) == ["slack"]
            yield Slack(fake, runtime)
        finally:
            await runtime.close()


async def queue_notices(runtime: Runtime, count: int) -> None:
    people = {p.platform_user_id: p.id for p in await rows(runtime, Person)}
    async with runtime.db.session() as session:
        for number in range(count):
            person_id = people["ULON" if number % 2 else "UCHI"]
            await enqueue_notice(session, number, runtime.clock(), person_id=person_id)


async def test_real_sender_delivers_each_message_once_through_500s_and_429s(
    slack: Slack, clock: FakeClock
) -> None:
    clock.now = TUESDAY_1530
    await queue_due_checkins(slack.runtime, clock.now)
    await queue_weekly_digest(slack.runtime, "routing", clock.now)
    await queue_notices(slack.runtime, 6)
    fake = slack.fake
    fake.fail_next("chat.postMessage", FailureKind.SERVER_ERROR, times=2)
    fake.fail_next("chat.postMessage", FailureKind.RATELIMITED, times=2, retry_after=30)
    fake.fail_next("chat.postMessage", FailureKind.SERVER_ERROR, times=2)
    fake.fail_next("chat.postMessage", FailureKind.RATELIMITED, times=1, retry_after=30)
    await deliver_all(slack.loop(), clock)
    assert {row.status for row in await rows(slack.runtime, OutboxMessage)} == {"delivered"}
    texts = Counter(slack.posted_texts())
    assert set(texts.values()) == {1}
    assert {f"notice {n}" for n in range(6)} <= set(texts)
    assert sum(1 for text in texts if "Did RoutePilot help you" in text) == 1
    digest_posts = [c for c in fake.calls("chat.postMessage") if c.params["channel"] == "CDIGEST"]
    assert len(digest_posts) == 1
    failed = [c.failure for c in fake.calls(include_failed=True) if c.failure is not None]
    assert Counter(failed) == {FailureKind.RATELIMITED: 3, FailureKind.SERVER_ERROR: 4}


@dataclass
class HeldSender:
    """The real sender, except that one message hangs before reaching Slack."""

    inner: Sender
    hold_id: int
    holding: asyncio.Event
    platform: str = "slack"

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        if message.message_id == self.hold_id:
            self.holding.set()
            await asyncio.Event().wait()
        return await self.inner.deliver(message)


async def test_real_sender_after_a_kill_sends_the_rest_once_and_nothing_twice(
    slack: Slack, clock: FakeClock
) -> None:
    await queue_notices(slack.runtime, 8)
    real = slack.runtime.platforms["slack"].sender
    assert real is not None
    held = HeldSender(real, hold_id=5, holding=asyncio.Event())
    first = slack.loop(held, concurrency=1)
    first.start()
    async with asyncio.timeout(10):
        await held.holding.wait()
    await first.stop(grace=0)  # the process dies with message 5 in flight
    before = slack.posted_texts()
    assert "notice 4" not in before and before
    clock.advance(seconds=31)  # past the dead process's lease
    await deliver_all(slack.loop(real), clock)
    texts = slack.posted_texts()
    assert texts[: len(before)] == before
    assert sorted(texts) == sorted(f"notice {n}" for n in range(8))
    assert {row.status for row in await rows(slack.runtime, OutboxMessage)} == {"delivered"}
