"""The record of sent copies: every message showing a question, on any platform, until answered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.runtime import Runtime
from bot.scheduling.checkins import POSTED_MESSAGES_KEPT, expire_checkins
from bot.sent import SentCopies
from storage.models import SentMessage
from tests.conftest import FakeClock
from tests.helpers import rows

pytestmark = pytest.mark.sql


async def test_every_copy_is_kept_per_platform_and_taken_once(
    runtime: Runtime, clock: FakeClock
) -> None:
    slack = SentCopies(runtime.db, clock, "slack")
    teams = SentCopies(runtime.db, clock, "teams")
    await slack.remember("checkin:1:first", {"ts": "1"}, None)
    await slack.remember("checkin:1:first", {"ts": "2"}, None)  # the reminder's copy
    await teams.remember("checkin:1:first", {"activity_id": "a"}, None)

    assert await slack.find("checkin:1:first") == [{"ts": "1"}, {"ts": "2"}]
    assert await slack.take("checkin:1:first") == [{"ts": "1"}, {"ts": "2"}]
    assert await slack.take("checkin:1:first") == []
    assert await teams.find("checkin:1:first") == [{"activity_id": "a"}]


async def test_a_question_keeps_its_four_newest_copies(runtime: Runtime, clock: FakeClock) -> None:
    copies = SentCopies(runtime.db, clock, "slack")
    for ts in range(6):
        await copies.remember("note:1:kind", {"ts": str(ts)}, None)

    assert [ref["ts"] for ref in await copies.find("note:1:kind")] == ["2", "3", "4", "5"]


async def test_old_records_are_dropped_by_the_expiry_job(
    runtime: Runtime, clock: FakeClock
) -> None:
    old = FakeClock(clock.now - POSTED_MESSAGES_KEPT - timedelta(hours=1))
    await SentCopies(runtime.db, old, "slack").remember("note:1:kind", {"ts": "1"}, None)
    await SentCopies(runtime.db, clock, "slack").remember("note:2:kind", {"ts": "2"}, None)

    await expire_checkins(runtime, clock.now)

    assert [m.token for m in await rows(runtime, SentMessage)] == ["note:2:kind"]
