"""The Slack outbox sender: exactly-once check-ins through rate limits, errors mapped for retry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from bot.delivery import Outbound, Recipient, RetryLater, Undeliverable
from bot.outgoing import payload_of
from bot.replies import Answered, Image, Report, Section, Text
from storage.models import CheckIn, OutboxMessage, SentMessage
from storage.outbox import enqueue
from tests.conftest import FakeClock
from tests.fakes.slack_api import UPLOAD, FailureKind
from tests.slack_support import DANA, Harness, running

PNG = b"\x89PNG\r\n\x1a\n-a-trend-chart-"


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(database_url, clock, "http") as harness:
        yield harness


@pytest.fixture
def slack_direct(slack: Harness) -> Harness:
    """Slack for tests that call the sender directly."""
    return slack


def to_dana(*replies: Text | Report, message_id: int = 1) -> Outbound:
    return Outbound(
        message_id=message_id,
        purpose="notice",
        replies=replies,
        recipient=Recipient(person_id=1, platform="slack", user_id=DANA),
    )


async def test_a_checkin_ratelimited_once_arrives_exactly_once(slack: Harness) -> None:
    slack.fake.fail_next("chat.postMessage", FailureKind.RATELIMITED, retry_after=1)

    checkin_id = await slack.queue_checkin(DANA)
    outcomes = await slack.deliver_outbox()

    assert outcomes == ["delivered"]
    attempts = slack.fake.calls("chat.postMessage", include_failed=True)
    # lastmile's welcome (its first message to Dana), then the question.
    assert [a.failure for a in attempts] == [FailureKind.RATELIMITED, None, None]
    welcome, posted = slack.posts_to(DANA)
    assert "Hi, I'm lastmile" in welcome.params["text"]
    assert "Did RoutePilot help you" in posted.params["text"]
    [checkin] = [c for c in await slack.rows(CheckIn) if c.id == checkin_id]
    assert checkin.message_ref == {
        "channel": posted.response["channel"],
        "ts": posted.response["ts"],
    }  # type: ignore[index]
    assert await slack.deliver_outbox() == []  # delivered rows are never sent again
    assert len(slack.posts_to(DANA)) == 2


async def test_a_long_rate_limit_goes_back_to_the_outbox(slack: Harness) -> None:
    slack.fake.fail_next("chat.postMessage", FailureKind.RATELIMITED, retry_after=30)
    await slack.queue_checkin(DANA)

    assert await slack.deliver_outbox() == ["retry"]
    [row] = await slack.rows(OutboxMessage)
    assert row.status == "pending" and row.last_error == "ratelimited"
    assert (row.not_before - slack.clock.now).total_seconds() == 30
    assert await slack.deliver_outbox() == []  # not before Slack's Retry-After

    slack.clock.advance(seconds=31)
    assert await slack.deliver_outbox() == ["delivered"]
    assert len(slack.posts_to(DANA)) == 2  # the welcome and the question, once each


async def test_server_errors_and_dropped_connections_are_retried(slack_direct: Harness) -> None:
    slack_direct.fake.fail_next("chat.postMessage", FailureKind.SERVER_ERROR)
    slack_direct.fake.fail_next("chat.postMessage", FailureKind.DROP)

    ref = await slack_direct.sender.deliver(to_dana(Text("Still there?")))

    assert ref["channel"] == slack_direct.fake.dm_channel_for(DANA)
    assert len(slack_direct.posts_to(DANA)) == 1


async def test_persistent_server_errors_ask_to_retry_later(slack_direct: Harness) -> None:
    slack_direct.fake.fail_next("chat.postMessage", FailureKind.SERVER_ERROR, times=2)

    with pytest.raises(RetryLater):
        await slack_direct.sender.deliver(to_dana(Text("Still there?")))

    assert slack_direct.posts_to(DANA) == []


@pytest.mark.parametrize(
    ("method", "error"),
    [
        ("chat.postMessage", "user_not_found"),
        ("chat.postMessage", "user_disabled"),
        ("chat.postMessage", "cannot_dm_bot"),
        ("chat.postMessage", "channel_not_found"),
    ],
)
async def test_a_person_who_cannot_be_reached_is_undeliverable(
    slack_direct: Harness, method: str, error: str
) -> None:
    slack_direct.fake.fail_next(method, FailureKind.API_ERROR, error=error)

    with pytest.raises(Undeliverable) as raised:
        await slack_direct.sender.deliver(to_dana(Text("Hello")))

    assert str(raised.value) == error
    assert raised.value.person_unreachable is True


async def test_a_deactivated_bot_token_retries_slowly_and_blames_nobody(
    slack_direct: Harness,
) -> None:
    slack_direct.fake.fail_next("chat.postMessage", FailureKind.API_ERROR, error="account_inactive")

    with pytest.raises(RetryLater) as raised:
        await slack_direct.sender.deliver(to_dana(Text("Hello")))

    assert raised.value.after is not None and raised.value.after >= 60


async def test_a_missing_channel_is_undeliverable_but_no_person_is_blamed(
    slack_direct: Harness,
) -> None:
    slack_direct.fake.fail_next(
        "chat.postMessage", FailureKind.API_ERROR, error="channel_not_found"
    )
    digest = Outbound(
        message_id=7, purpose="digest", replies=(Text("Weekly digest"),), destination="C0GONE"
    )

    with pytest.raises(Undeliverable) as raised:
        await slack_direct.sender.deliver(digest)

    assert raised.value.person_unreachable is False


async def test_a_report_goes_to_its_channel_with_the_chart_uploaded(slack_direct: Harness) -> None:
    report = Report(
        title="RoutePilot, week 47",
        sections=(
            Section(
                heading="North depot",
                facts=(("Help rate", "62%"), ("Response rate", "71%")),
                lines=("“The <b> tag *moved* & nobody told us”",),
            ),
        ),
        chart=Image(
            png=PNG, title="Help rate, 12 weeks", alt_text="Help rate rose from 40% to 62%"
        ),
        footer="Shown only for groups of 5 or more.",
    )
    digest = Outbound(message_id=9, purpose="digest", replies=(report,), destination="C0PILOTS01")

    ref = await slack_direct.sender.deliver(digest)

    posted = slack_direct.fake.last_call("chat.postMessage")
    assert ref == {"channel": "C0PILOTS01", "ts": posted.response["ts"]}  # type: ignore[index]
    blocks = posted.params["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "RoutePilot, week 47", "emoji": True},
    }
    fields = next(b["fields"] for b in blocks if "fields" in b)
    assert [f["text"] for f in fields] == ["*Help rate*\n62%", "*Response rate*\n71%"]
    quote = next(b["text"] for b in blocks if "moved" in str(b))
    assert quote == {
        "type": "plain_text",
        "text": "• “The &lt;b&gt; tag *moved* &amp; nobody told us”",
        "emoji": True,
    }
    [chart] = slack_direct.fake.files.values()
    assert (chart.content, chart.title, chart.channel_id, chart.completed) == (
        PNG,
        "Help rate, 12 weeks",
        "C0PILOTS01",
        True,
    )
    assert slack_direct.fake.last_call("files.getUploadURLExternal").params["alt_txt"] == (
        "Help rate rose from 40% to 62%"
    )


async def test_a_failed_chart_after_the_report_is_not_sent_twice(slack_direct: Harness) -> None:
    slack_direct.fake.fail_next(UPLOAD, FailureKind.SERVER_ERROR, times=3)
    report = Report(
        title="Week 47",
        sections=(Section(heading="All teams", facts=(("Help rate", "62%"),)),),
        chart=Image(png=PNG, title="Trend", alt_text="Help rate over 12 weeks"),
    )

    with pytest.raises(RetryLater) as later:
        await slack_direct.sender.deliver(to_dana(report))

    # The digest text is out: the report counts as sent, so a retry does not post it again.
    assert later.value.sent == 1
    assert len(slack_direct.posts_to(DANA)) == 1


async def test_an_expiry_notice_replaces_the_checkin_buttons_even_after_a_restart(
    slack: Harness,
) -> None:
    checkin_id = await slack.queue_checkin(DANA)
    assert await slack.deliver_outbox() == ["delivered"]
    question = slack.last_post(DANA)
    # A question posted before lastmile kept posted messages in the database.
    async with slack.runtime.db.session() as session:
        await session.exec(delete(SentMessage))
    [checkin] = [c for c in await slack.rows(CheckIn) if c.id == checkin_id]
    async with slack.runtime.db.session() as session:
        await enqueue(
            session,
            dedupe_key=f"expired:{checkin_id}",
            platform="slack",
            purpose="notice",
            payload=payload_of(
                (Answered(f"checkin:{checkin_id}:first", "This check-in has closed."),)
            ),
            now=slack.clock.now,
            person_id=checkin.person_id,
            checkin_id=checkin_id,
        )

    assert await slack.deliver_outbox() == ["delivered"]

    [update] = slack.fake.calls("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (
        question.response["channel"],  # type: ignore[index]
        question.response["ts"],  # type: ignore[index]
    )
    assert update.params["blocks"] == [
        {
            "type": "context",
            "elements": [
                {"type": "plain_text", "text": "✓ This check-in has closed.", "emoji": True}
            ],
        }
    ]
    assert (
        len(slack.posts_to(DANA)) == 2
    )  # the welcome and the question: replaced, not posted again
