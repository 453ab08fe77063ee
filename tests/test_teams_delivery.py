"""Proactive Teams delivery through the outbox: throttling, blocking, rosters, channels
(acceptance 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import pytest

from bot.config import Settings
from bot.delivery import Outbound, Recipient, RetryLater, Undeliverable
from bot.outgoing import payload_of
from bot.replies import Answered, Image, Report, Section, Text
from storage.models import CheckIn, ConversationAddress, OutboxMessage
from storage.outbox import enqueue
from tests.conftest import FakeClock
from tests.fakes.teams_activities import (
    CHANNEL_ID,
    PERSONAL_CONVERSATION_ID,
    TENANT_ID,
    USER_ID,
)
from tests.helpers import person, rows
from tests.teams_support import (
    ALEX,
    TeamsBotUnderTest,
    card_actions,
    card_texts,
    cards_in,
    teams_bot,
    teams_settings,
)

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201e5273f5a0000000049454e44ae426082"
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return teams_settings(database_url)


@pytest.fixture
async def bot(settings: Settings, clock: FakeClock) -> AsyncIterator[TeamsBotUnderTest]:
    async with teams_bot(settings, clock) as running:
        yield running


async def installed(bot: TeamsBotUnderTest) -> None:
    assert (await bot.post("conversation_update_members_added_personal")).status == 200


async def outbox(bot: TeamsBotUnderTest) -> list[OutboxMessage]:
    return sorted(await rows(bot.runtime, OutboxMessage), key=lambda row: row.id or 0)


async def test_throttled_checkin_waits_for_retry_after_then_arrives_once(
    bot: TeamsBotUnderTest, clock: FakeClock
) -> None:
    await installed(bot)
    checkin = await bot.queue_checkin(USER_ID)
    bot.connector.throttle_next(PERSONAL_CONVERSATION_ID, retry_after=3)
    assert await bot.deliver() == 1
    [row] = [r for r in await outbox(bot) if r.checkin_id == checkin.id]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.not_before.replace(tzinfo=UTC) == clock.now + timedelta(seconds=3)
    assert await bot.deliver() == 0  # not before Retry-After has passed
    clock.advance(seconds=3)
    assert await bot.deliver() == 1
    assert await bot.deliver() == 0
    card_posts = [c for c in bot.connector.requests("send") if c.body and cards_in(c.body)]
    assert [c.status for c in card_posts] == [429, 201]
    cards = [a for a in bot.connector.activities(PERSONAL_CONVERSATION_ID) if cards_in(a)]
    assert len(cards) == 1
    [stored] = await rows(bot.runtime, CheckIn, id=checkin.id)
    assert stored.status == "sent"


@pytest.mark.parametrize("error", ["MessageWritesBlocked", "ConversationBlockedByUser"])
async def test_a_blocked_conversation_stops_sends_to_that_person(
    bot: TeamsBotUnderTest, error: str
) -> None:
    await installed(bot)
    bot.connector.block(PERSONAL_CONVERSATION_ID, times=5, error=error)
    first = await bot.queue_checkin(USER_ID, slot="test:1")
    assert await bot.deliver() == 1
    megan = await person(bot.runtime, USER_ID, platform="teams")
    assert megan.unreachable
    [row] = [r for r in await outbox(bot) if r.checkin_id == first.id]
    assert row.status == "failed" and error in row.last_error
    await bot.queue_checkin(USER_ID, slot="test:2")
    await bot.deliver()
    # One refused attempt, then nothing more is sent to her.
    card_posts = [c for c in bot.connector.requests("send") if c.body and cards_in(c.body)]
    assert [c.status for c in card_posts] == [403]
    # Until she adds the app again.
    assert (await bot.post("installation_update_add_personal")).status == 200
    assert not (await person(bot.runtime, USER_ID, platform="teams")).unreachable


async def outbound_to_megan(bot: TeamsBotUnderTest, *replies: object) -> Outbound:
    megan = await person(bot.runtime, USER_ID, platform="teams")
    [address] = await rows(bot.runtime, ConversationAddress, person_id=megan.id)
    assert megan.id is not None
    return Outbound(
        message_id=1,
        purpose="notice",
        replies=tuple(replies) or (Text("hello"),),  # type: ignore[arg-type]
        recipient=Recipient(megan.id, "teams", USER_ID, TENANT_ID, dict(address.data)),
    )


async def test_the_sender_classifies_connector_errors(bot: TeamsBotUnderTest) -> None:
    await installed(bot)
    message = await outbound_to_megan(bot)
    failures: dict[str, Exception] = {}
    for status in (412, 429, 500, 502, 503, 504):
        bot.connector.fail_next(PERSONAL_CONVERSATION_ID, status, retry_after=7)
        with pytest.raises(RetryLater) as retry:
            await bot.sender.deliver(message)
        failures[str(status)] = retry.value
    assert {name: error.after for name, error in failures.items()} == dict.fromkeys(failures, 7.0)
    bot.connector.fail_next(PERSONAL_CONVERSATION_ID, 503)
    with pytest.raises(RetryLater) as without_header:
        await bot.sender.deliver(message)
    assert without_header.value.after is None  # the outbox backs off by itself
    bot.connector.block(PERSONAL_CONVERSATION_ID, error="MessageWritesBlocked")
    with pytest.raises(Undeliverable) as blocked:
        await bot.sender.deliver(message)
    assert blocked.value.person_unreachable
    bot.connector.fail_next(PERSONAL_CONVERSATION_ID, 400)
    with pytest.raises(Undeliverable) as bad:
        await bot.sender.deliver(message)
    assert not bad.value.person_unreachable
    assert len(bot.connector.activities()) == 1  # only the welcome got through


async def test_a_member_of_a_known_team_gets_a_new_personal_chat(bot: TeamsBotUnderTest) -> None:
    assert (await bot.post("conversation_update_members_added_team")).status == 200
    await bot.queue_checkin(ALEX.id, slot="test:1")
    assert await bot.deliver() == 1
    [created] = bot.connector.created_conversations()
    assert created["members"] == [{"id": ALEX.id}]
    assert created["tenantID"] == TENANT_ID
    assert created["channelData"] == {"tenant": {"id": TENANT_ID}}
    [card] = cards_in(bot.connector.activities(created["id"])[0])
    # Alex never installed the app: lastmile's first message starts with its welcome.
    assert card_texts(card)[0].startswith("Hi, I'm lastmile.")
    assert card_texts(card)[-1].startswith("Did RoutePilot help you")
    alex = await person(bot.runtime, ALEX.id, platform="teams")
    [address] = await rows(bot.runtime, ConversationAddress, person_id=alex.id)
    assert address.data["conversation"]["id"] == created["id"]
    # The next check-in uses the stored chat: no second conversation.
    await bot.queue_checkin(ALEX.id, slot="test:2")
    assert await bot.deliver() == 1
    assert len(bot.connector.created_conversations()) == 1
    assert len(bot.connector.activities(created["id"])) == 2


async def test_someone_in_no_known_chat_or_team_is_undeliverable_not_unreachable(
    bot: TeamsBotUnderTest,
) -> None:
    checkin = await bot.queue_checkin(ALEX.id)
    await bot.deliver()
    [row] = [r for r in await outbox(bot) if r.checkin_id == checkin.id]
    assert row.status == "failed" and "no known team roster" in row.last_error
    assert not (await person(bot.runtime, ALEX.id, platform="teams")).unreachable
    assert bot.connector.calls == []


async def test_a_digest_goes_to_its_channel_as_a_card(bot: TeamsBotUnderTest) -> None:
    assert (await bot.post("conversation_update_members_added_team")).status == 200
    report = Report(
        title="Route planner pilot, week 2026-W47",
        sections=(Section("This week", facts=(("Help rate", "62%"), ("Answers", "41"))),),
        chart=Image(png=PNG, title="Rates", alt_text="Help rate rose from 55% to 62%."),
    )
    other_channel = "19:ffeeddccbbaa@thread.tacv2"
    async with bot.runtime.db.session() as session:
        for number, destination in enumerate((CHANNEL_ID, other_channel)):
            await enqueue(
                session,
                dedupe_key=f"digest:{number}",
                platform="teams",
                purpose="digest",
                payload=payload_of((report,)),
                now=bot.runtime.clock(),
                destination=destination,
            )
    assert await bot.deliver() == 2
    for destination in (CHANNEL_ID, other_channel):
        [digest] = [a for a in bot.connector.activities(destination) if cards_in(a)]
        card = cards_in(digest)[0]
        assert card_texts(card)[:2] == ["Route planner pilot, week 2026-W47", "This week"]
        [facts] = [e for e in card["body"] if e["type"] == "FactSet"]
        assert facts["facts"][0] == {"title": "Help rate", "value": "62%"}
        [image] = [e for e in card["body"] if e["type"] == "Image"]
        assert image["url"].startswith("data:image/png;base64,")
    assert {r.status for r in await outbox(bot)} == {"delivered"}


async def test_an_expired_checkin_card_loses_its_buttons(bot: TeamsBotUnderTest) -> None:
    await installed(bot)
    checkin = await bot.queue_checkin(USER_ID)
    await bot.deliver()
    [stored] = await rows(bot.runtime, CheckIn, id=checkin.id)
    async with bot.runtime.db.session() as session:
        await enqueue(
            session,
            dedupe_key="expired:1",
            platform="teams",
            purpose="notice",
            payload=payload_of((Answered(f"checkin:{checkin.id}:first", "This one has closed."),)),
            now=bot.runtime.clock(),
            person_id=stored.person_id,
            checkin_id=checkin.id,
        )
    assert await bot.deliver() == 1
    [update] = bot.connector.requests("update")
    assert update.activity_id == stored.message_ref["activity_id"]
    [card] = cards_in(update.body)
    assert card_texts(card) == ["✓ This one has closed."] and card_actions(card) == []
