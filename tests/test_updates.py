""" "You said, we did": each person behind a theme hears once, and the next digest shows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.digest.build import Scope, build_digest
from bot.digest.render import to_json_data
from bot.digest.weekly import queue_weekly_digest
from bot.digest.weeks import IsoWeek
from bot.replies import Report, Text, as_plain_text, reply_from_dict
from bot.runtime import Runtime
from storage.models import OutboxMessage, Person, ThemeUpdate
from tests.conftest import FakeClock
from tests.digest_seed import THU_W47, record, running, said, say

pytestmark = pytest.mark.sql

TUESDAY_W48 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MONDAY_W49 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MESSAGE = "From next week RoutePilot imports the old system's delivery codes."


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = TUESDAY_W48
    async for runtime in running(database_url, tmp_path, clock):
        yield runtime


async def _notices(runtime: Runtime) -> list[tuple[str, str]]:
    """(user id, text) of every update notice queued, in order."""
    async with runtime.db.session() as session:
        statement = (
            select(OutboxMessage, Person)
            .join(Person, col(Person.id) == col(OutboxMessage.person_id))
            .where(OutboxMessage.purpose == "update")
            .order_by(col(OutboxMessage.id))
        )
        rows = (await session.exec(statement)).all()
    found = []
    for message, person in rows:
        (reply,) = [reply_from_dict(item) for item in message.payload["replies"]]
        assert isinstance(reply, Text)
        assert message.platform == "local" and message.status == "pending"
        found.append((person.platform_user_id, reply.text))
    return found


async def test_each_contributor_hears_once_and_nobody_else_is_named(pilot: Runtime) -> None:
    # n2 used the old system twice: still one message for n2.
    async with pilot.db.session() as session:
        again = said("partly", workaround="old_system", override="no")
        await record(session, "n2", "north", THU_W47.replace(hour=11), again, "routing")
    replies = await say(pilot, "olu", f"update old-system {MESSAGE}")
    assert replies == [
        Text(
            "Posted. The 5 people who raised old-system will hear from me directly, "
            "and it will be in the next digest."
        )
    ]
    notices = await _notices(pilot)
    assert sorted(user for user, _ in notices) == ["n2", "n3", "n4", "s1", "s2"]
    expected = (
        'You told us about "Used the old system" when using RoutePilot. The programme team '
        f"says: {MESSAGE}\nThank you, this is what your answers are for."
    )
    # One text for everyone: nothing in it says who else raised the theme.
    assert {text for _, text in notices} == {expected}
    async with pilot.db.session() as session:
        updates = (await session.exec(select(ThemeUpdate))).all()
    assert [(u.programme_id, u.theme, u.message) for u in updates] == [
        ("routing", "old-system", MESSAGE)
    ]


async def test_a_free_text_theme_reaches_the_people_who_wrote_it(pilot: Runtime) -> None:
    # The theme's slug and label come from a phrase one of them wrote (scrubbed).
    replies = await say(pilot, "olu", "update scanner-lost New scanners with offline mode.")
    assert len(replies) == 1 and "The 5 people who raised scanner-lost" in str(replies[0])
    notices = await _notices(pilot)
    # s3, s5, e1 and w2 wrote it as a workaround, e3 as a note.
    assert sorted(user for user, _ in notices) == ["e1", "e3", "s3", "s5", "w2"]
    label = "scanner lost signal, wrote it down; mail [email] or [phone]"
    assert all(f'You told us about "{label}"' in text for _, text in notices)


async def test_people_who_stopped_are_not_messaged(pilot: Runtime) -> None:
    assert await say(pilot, "s1", "stop")
    await say(pilot, "olu", f"update old-system {MESSAGE}")
    assert sorted(user for user, _ in await _notices(pilot)) == ["n2", "n3", "n4", "s2"]


async def test_the_next_digest_says_what_was_done(pilot: Runtime, clock: FakeClock) -> None:
    await say(pilot, "olu", f"update old-system {MESSAGE}")
    async with pilot.db.session() as session:
        week_47 = await build_digest(session, pilot.config, Scope("routing"), IsoWeek(2026, 47))
        week_48 = await build_digest(session, pilot.config, Scope("routing"), IsoWeek(2026, 48))
    assert week_47.updates == ()
    assert to_json_data(week_48, pilot.wording)["updates"] == [
        {"theme": "old-system", "message": MESSAGE, "posted_at": "2026-11-24T10:00:00+00:00"}
    ]
    clock.now = MONDAY_W49
    assert await queue_weekly_digest(pilot, "routing", clock.now)
    async with pilot.db.session() as session:
        row = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.purpose == "digest"))
        ).one()
    (report,) = [reply_from_dict(item) for item in row.payload["replies"]]
    assert isinstance(report, Report)
    assert f"You said, we did\n• [old-system] {MESSAGE}" in as_plain_text(report)


async def test_themes_below_k_and_unknown_ones_are_refused(pilot: Runtime) -> None:
    for theme in ("by-hand", "printer-jammed", "nonsense"):
        (reply,) = await say(pilot, "olu", f"update {theme} We fixed it.")
        assert reply == Text(
            f"There is no theme {theme} in the latest digest. Themes you can update: "
            "old-system, slower, too-slow, scanner-lost"
        )
    (usage,) = await say(pilot, "olu", "update old-system")
    assert isinstance(usage, Text) and usage.text.startswith("Write update THEME MESSAGE")
    (other_programme,) = await say(pilot, "tom", f"update old-system {MESSAGE}")
    assert other_programme == Text(
        "There is no theme old-system in the latest digest. Themes you can update: none yet"
    )
    assert await say(pilot, "lee", f"update old-system {MESSAGE}") == [
        Text("Sorry, only programme owners can post updates.")
    ]
    assert await _notices(pilot) == []


async def test_an_admin_names_the_programme_when_needed(pilot: Runtime) -> None:
    (reply,) = await say(pilot, "ada", f"update routing:Old_System {MESSAGE}")
    assert isinstance(reply, Text) and reply.text.startswith("Posted. The 5 people")
    assert len(await _notices(pilot)) == 5
