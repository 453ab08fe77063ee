"""Signed requests only, stale ones refused, redeliveries handled once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from storage.models import Answer, Note
from tests.conftest import FakeClock
from tests.fakes.slack_signing import interactive_body, new_event_id, signed_headers
from tests.slack_support import DANA, SIGNING_SECRET, Harness, HttpTransport, running


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(database_url, clock, "http") as harness:
        yield harness


@pytest.fixture
async def socket_slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(database_url, clock, "socket") as harness:
        yield harness


def http(harness: Harness) -> HttpTransport:
    assert isinstance(harness.transport, HttpTransport)
    return harness.transport


async def test_bad_missing_or_stale_signatures_get_401_and_change_nothing(slack: Harness) -> None:
    question = await slack.checkin_message(DANA)
    body = interactive_body(slack.click_payload(question, "helped"))
    before = await slack.table_counts()
    calls_before = len(slack.fake.requests)
    stale = int(time.time()) - 6 * 60
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}

    answers = [
        await http(slack).post(body, signed_headers("not-the-signing-secret", body)),
        await http(slack).post(body, signed_headers(SIGNING_SECRET, body, timestamp=stale)),
        await http(slack).post(body, unsigned),
        await http(slack).post(body + "&x=1", signed_headers(SIGNING_SECRET, body)),
    ]
    await slack.settle()

    assert [answer.status for answer in answers] == [401, 401, 401, 401]
    assert await slack.table_counts() == before
    assert len(slack.fake.requests) == calls_before  # nothing was said or updated

    accepted = await http(slack).post(body, signed_headers(SIGNING_SECRET, body))
    await slack.settle()
    assert accepted.status == 200
    assert [a.outcome for a in await slack.rows(Answer)] == ["helped"]


async def test_a_redelivered_event_is_handled_once(slack: Harness) -> None:
    payload = slack.dm_payload("The route missed the new one-way street", event_id=new_event_id())

    first = await slack.send("events", payload)
    after_first = await slack.table_counts()
    retried = await slack.send("events", payload, retry=1)
    again = await slack.send("events", payload, retry=2)

    assert [first.status, retried.status, again.status] == [200, 200, 200]
    assert [note.text for note in await slack.rows(Note)] == [
        "The route missed the new one-way street"
    ]
    assert await slack.table_counts() == after_first
    assert len(slack.posts_to(DANA)) == 1  # one "kept that note", not three


async def test_a_replayed_click_stores_one_answer_and_updates_once(slack: Harness) -> None:
    question = await slack.checkin_message(DANA)
    click = slack.click_payload(question, "partly")

    await slack.send("interactive", click)
    posts = len(slack.posts_to(DANA))
    await slack.send("interactive", click)

    assert [a.outcome for a in await slack.rows(Answer)] == ["partly"]
    assert len(slack.fake.calls("chat.update")) == 1
    assert len(slack.posts_to(DANA)) == posts  # no second workaround question


async def test_a_second_click_on_another_button_cannot_count_twice(slack: Harness) -> None:
    question = await slack.checkin_message(DANA)

    await slack.click(question, "helped")
    await slack.click(question, "no")  # a stale copy of the message, clicked again

    assert [a.outcome for a in await slack.rows(Answer)] == ["helped"]
    assert slack.last_post(DANA).params["text"] == "You already answered this one, thank you."


async def test_socket_mode_retry_attempts_are_handled_once(socket_slack: Harness) -> None:
    payload = socket_slack.dm_payload("Used the paper map today", event_id=new_event_id())

    acks = [
        await socket_slack.send("events", payload),
        await socket_slack.send("events", payload, retry=1),
    ]

    assert all(set(ack.body) == {"envelope_id"} for ack in acks)
    assert len(await socket_slack.rows(Note)) == 1
    assert len(socket_slack.posts_to(DANA)) == 1
