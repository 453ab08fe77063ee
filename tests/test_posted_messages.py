"""Where questions were posted: stored per platform and token, replaced, and cleaned up."""

from __future__ import annotations

from datetime import timedelta

from bot.runtime import Runtime
from bot.scheduling.checkins import POSTED_MESSAGES_KEPT, expire_checkins
from storage.messages import find_message, forget_messages_before, remember_message
from storage.models import PostedMessage
from tests.conftest import FakeClock
from tests.helpers import rows


async def test_a_token_keeps_the_latest_message_per_platform(
    runtime: Runtime, clock: FakeClock
) -> None:
    async with runtime.db.session() as session:
        await remember_message(session, "slack", "checkin:1:first", None, {"ts": "1"}, clock.now)
        await remember_message(session, "teams", "checkin:1:first", None, {"id": "a"}, clock.now)
        await remember_message(session, "slack", "checkin:1:first", None, {"ts": "2"}, clock.now)
    async with runtime.db.session() as session:
        slack = await find_message(session, "slack", "checkin:1:first")
        teams = await find_message(session, "teams", "checkin:1:first")
        unknown = await find_message(session, "slack", "checkin:2:first")
    assert slack is not None and slack.ref == {"ts": "2"}
    assert teams is not None and teams.ref == {"id": "a"}
    assert unknown is None


async def test_old_records_are_dropped_by_the_expiry_job(
    runtime: Runtime, clock: FakeClock
) -> None:
    old, recent = clock.now - POSTED_MESSAGES_KEPT - timedelta(hours=1), clock.now
    async with runtime.db.session() as session:
        await remember_message(session, "slack", "note:1:kind", None, {"ts": "1"}, old)
        await remember_message(session, "slack", "note:2:kind", None, {"ts": "2"}, recent)
        await forget_messages_before(session, old - timedelta(seconds=1))
    assert len(await rows(runtime, PostedMessage)) == 2

    await expire_checkins(runtime, clock.now)

    assert [m.token for m in await rows(runtime, PostedMessage)] == ["note:2:kind"]
