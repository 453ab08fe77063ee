"""Bad input at the edge, on both databases (issue 8, acceptance 5): a note with NUL and control
characters, a 10,000-character note, and bodies that are not what they claim to be."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from adapters.local.chat import LocalChat
from bot.runtime import Runtime
from storage.models import Note
from tests.conftest import FakeClock
from tests.fakes.slack_signing import sign
from tests.fakes.teams_activities import post_activity
from tests.helpers import rows
from tests.slack_support import SIGNING_SECRET, Harness, HttpTransport, running
from tests.teams_support import TeamsBotUnderTest, teams_bot, teams_settings

pytestmark = pytest.mark.sql


async def test_control_characters_go_and_a_long_note_is_kept_shortened(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    await chat.send("Handheld\x00 lost\x1b signal\r\nat the gate")
    told = await chat.send("y" * 10_000)

    notes = sorted(await rows(runtime, Note), key=lambda note: note.id or 0)
    assert [note.text for note in notes] == ["Handheld lost signal\nat the gate", "y" * 4000]
    assert any("I kept the first 4000 characters" in line for line in told)


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(database_url, clock) as harness:
        yield harness


@pytest.mark.parametrize(
    ("body", "content_type", "unsigned_status"),
    [
        ('{"type": "event_callback", "event": ', "application/json", 401),  # cut short
        ("[1, 2, 3]", "application/json", 401),  # JSON, not an object
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded", 401),
        # Bodies no route reads are refused at the edge, before any signature is checked.
        ("\udcff".encode("utf-8", "surrogateescape").decode("latin-1"), "application/json", 400),
        ("{" * 5000 + "}" * 5000, "application/json", 400),  # deeply nested
    ],
)
async def test_a_signed_body_that_is_not_a_payload_gets_400_and_changes_nothing(
    slack: Harness, body: str, content_type: str, unsigned_status: int
) -> None:
    assert isinstance(slack.transport, HttpTransport)
    raw = body.encode("latin-1")
    before = await slack.table_counts()
    stamp = int(time.time())
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(SIGNING_SECRET, raw, stamp),
    }

    signed = await slack.transport.client.post("/slack/events", data=raw, headers=headers)
    unsigned = await slack.transport.client.post(
        "/slack/events", data=raw, headers={"Content-Type": content_type}
    )

    assert (signed.status, unsigned.status) == (400, unsigned_status)
    assert await slack.table_counts() == before


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[TeamsBotUnderTest]:
    async with teams_bot(teams_settings(database_url), clock) as running_bot:
        yield running_bot


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "message", "text": ',
        b"[]",
        b'{"text": "no type"}',
        b"\xff\xfe not utf-8",
        b"[" * 5000 + b"]" * 5000,
    ],
)
async def test_a_teams_body_that_is_not_an_activity_gets_400(
    bot: TeamsBotUnderTest, body: bytes
) -> None:
    answer = await bot.client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    )

    assert answer.status == 400
    assert await rows(bot.runtime, Note) == []


async def test_a_real_activity_still_works_after_bad_ones(bot: TeamsBotUnderTest) -> None:
    await bot.client.post("/api/messages", data=b"{", headers={"Content-Type": "application/json"})
    result = await post_activity(bot.client, bot.activity("message_personal", text="help"))
    assert result.status == 200
