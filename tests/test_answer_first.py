"""The platform hears first, then everything else goes through the outbox (issue 8, acceptance 4):
a Teams Action.Execute gets its card before any follow-up is sent; a Slack reply that gets a
500 after the acknowledgement reaches the person later, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.teams.cards import VERB
from bot.config import Settings
from tests.conftest import FakeClock
from tests.fakes.slack_api import FailureKind
from tests.fakes.teams_activities import USER_ID, post_activity
from tests.slack_support import DANA, Harness, running
from tests.support import delivery_loop
from tests.teams_support import TeamsBotUnderTest, card_texts, cards_in, teams_bot, teams_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return teams_settings(database_url)


@pytest.fixture
async def bot(settings: Settings, clock: FakeClock) -> AsyncIterator[TeamsBotUnderTest]:
    async with teams_bot(settings, clock) as running_bot:
        yield running_bot


async def test_an_action_execute_is_answered_before_any_follow_up_is_sent(
    bot: TeamsBotUnderTest,
) -> None:
    assert (await bot.post("conversation_update_members_added_personal")).status == 200
    checkin = await bot.queue_checkin(USER_ID)
    assert await bot.deliver() == 1
    calls_before = len(bot.connector.requests())
    # The delivery loop runs on its own, as in `serve`, woken by anything queued.
    loop = delivery_loop(bot.runtime, interval=0.05)
    bot.runtime.inbox.worker.on_replies = loop.wake
    loop.start()
    try:
        # Tapped on a copy the invoke names (its replyToId): the card the person sees
        # changes in the invoke's answer; the check-in's own message follows from the outbox.
        invoke = bot.activity("invoke_adaptive_card_action", reply_to_id="1715675470021")
        data = {"token": f"checkin:{checkin.id}:first", "value": "partly"}
        invoke["value"] = {"action": {"type": "Action.Execute", "verb": VERB, "data": data}}
        answer = await post_activity(bot.client, invoke)
        calls_when_answered = len(bot.connector.requests())
        after = await bot.connector.wait_for_requests(calls_before + 1)
    finally:
        await loop.stop()

    assert answer.status == 200
    assert "What did you do instead?" in card_texts(answer.body["value"])
    assert calls_when_answered == calls_before  # nothing went out before the invoke's answer
    follow_up = after[calls_before]
    assert follow_up.operation == "update"
    assert "What did you do instead?" in card_texts(cards_in(follow_up.body)[0])


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(database_url, clock) as harness:
        yield harness


async def test_a_slack_reply_that_fails_after_the_ack_arrives_later_exactly_once(
    slack: Harness, clock: FakeClock
) -> None:
    # Slack answers 500 more often than the client's own retry covers.
    slack.fake.fail_next("chat.postMessage", FailureKind.SERVER_ERROR, times=3)

    delivered = await slack.send("events", slack.dm_payload("The van's scanner froze"))

    assert delivered.status == 200
    assert slack.posts_to(DANA) == []  # not yet: it waits in the outbox
    for _ in range(4):
        clock.advance(minutes=5)
        await slack.settle()
    texts = [call.params["text"] for call in slack.posts_to(DANA)]
    assert texts == ["Thanks, I've kept that note. Is it about…"]
