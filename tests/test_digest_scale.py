"""Digests at scale (issue 13): counted in SQL, equal to counting every row in Python.

The bench (`bench/digest_build.py`) shows the time and memory at 1,000,000 answers;
these tests hold the numbers: random check-ins and answers (late ones, `Not now`,
people who moved team, a send time never recorded) counted by `week_counts` against
a naive count of every stored row, and the written themes counted in SQL against
the placement every text is loaded for.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, text
from sqlmodel import col, select

from bot.digest import report as digest_report_module
from bot.digest.build import Scope, counted_themes, counted_trends, theme_trends, theme_window
from bot.digest.build import written_themes as placed_themes
from bot.digest.weeks import IsoWeek, weeks_ending
from bot.replies import Report
from bot.runtime import Runtime
from storage.checkins import create_checkin, save_answer, set_checkin_status
from storage.models import Answer, CheckIn, Person, WeekCount
from storage.people import forget_person
from storage.reports import OutcomeCounts, Window
from storage.week_counts import outcome_counts, week_counts
from tests.conftest import FakeClock
from tests.digest_seed import running, say

pytestmark = pytest.mark.sql

ZONE = ZoneInfo("Europe/London")
W47 = IsoWeek(2026, 47)
OUTCOMES = ("helped", "partly", "no", "not_used", "not_now")


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async for runtime in running(database_url, tmp_path, clock):
        yield runtime


async def _random_answers(runtime: Runtime, seed: int) -> None:
    """Check-ins over five weeks around the three counted, some odd on purpose."""
    rng = random.Random(seed)
    async with runtime.db.session() as session:
        people = [
            (person.id, person.cohort_id or "")
            for person in (await session.exec(select(Person))).all()
        ]
        first = max(row.id or 0 for row in (await session.exec(select(CheckIn))).all()) + 1
    start = W47.shifted(-3).window(ZONE).start
    checkins: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for n in range(first, first + 400):
        person, cohort = rng.choice(people)
        if rng.random() < 0.1:
            cohort = rng.choice(["north", "south", "east", "west", ""])  # moved team
        asked = start + timedelta(minutes=rng.randrange(5 * 7 * 24 * 60))
        answered = asked + timedelta(days=rng.choice([0, 0, 0, 3, 9]))  # some late
        unsent = rng.random() < 0.05  # the send time was never recorded
        checkins.append(
            {
                "id": n,
                "person_id": person,
                "programme_id": "routing",
                "cohort_id": cohort,
                "kind": rng.choice(["scheduled"] * 9 + ["day30"]),
                "slot": f"random:{n}",
                "status": "sent",
                "context": "",
                "scheduled_for": asked,
                "sent_at": None if unsent else asked,
                "answered_at": answered,
                "message_ref": {},
            }
        )
        if rng.random() < 0.8:
            answers.append(
                {
                    "checkin_id": n,
                    "person_id": person,
                    "outcome": rng.choice(OUTCOMES),
                    "not_used_reason": "",
                    "not_used_text": "",
                    "answered_at": answered,
                }
            )
    async with runtime.db.session() as session:
        await session.exec(insert(CheckIn.__table__), params=checkins)  # type: ignore[attr-defined]
        await session.exec(insert(Answer.__table__), params=answers)  # type: ignore[attr-defined]
        if not runtime.db.is_sqlite:
            # Ids were given explicitly: move the sequence past them.
            moved = text("SELECT setval('checkin_id_seq', (SELECT max(id) FROM checkin))")
            await (await session.connection()).execute(moved)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


async def _naive(
    runtime: Runtime, weeks: Sequence[Window], cohorts: Sequence[str] | None = None
) -> tuple[dict[tuple[int, str], OutcomeCounts], dict[tuple[int, str], OutcomeCounts]]:
    """Every check-in and answer loaded into Python and counted there."""
    async with runtime.db.session() as session:
        stored = (await session.exec(select(CheckIn))).all()
        answer_of = {a.checkin_id: a for a in (await session.exec(select(Answer))).all()}
    numbers: dict[tuple[int, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    people: dict[tuple[int, str | None], set[int]] = defaultdict(set)
    for checkin in stored:
        asked = _aware(checkin.sent_at) or _aware(checkin.answered_at)
        if checkin.programme_id != "routing" or checkin.kind == "day30" or asked is None:
            continue
        if cohorts is not None and checkin.cohort_id not in cohorts:
            continue
        week = next((i for i, w in enumerate(weeks) if w.start <= asked < w.end), None)
        if week is None:
            continue
        answer = answer_of.get(checkin.id or 0)
        # None: the whole programme; a cohort id ("" for check-ins with no team).
        for key in ((week, None), (week, checkin.cohort_id)):
            numbers[key]["sent"] += 1
            if answer is not None:
                numbers[key]["answered"] += 1
                numbers[key][answer.outcome] += 1
                if answer.outcome != "not_now":
                    people[key].add(answer.person_id)
    counted = {
        key: OutcomeCounts(
            sent=n["sent"],
            answered=n["answered"],
            **{outcome: n[outcome] for outcome in OUTCOMES},
            respondents=len(people[key]),
        )
        for key, n in numbers.items()
    }
    totals = {(week, ""): value for (week, cohort), value in counted.items() if cohort is None}
    teams = {
        (week, cohort): value for (week, cohort), value in counted.items() if cohort is not None
    }
    return totals, teams


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_week_counts_equal_a_count_of_every_row(pilot: Runtime, seed: int) -> None:
    await _random_answers(pilot, seed)
    weeks = [week.window(ZONE) for week in weeks_ending(W47, 3)]
    expected_totals, expected_teams = await _naive(pilot, weeks)
    async with pilot.db.session() as session:
        totals, teams = await week_counts(session, "routing", weeks)
        by_cohort = await outcome_counts(session, "routing", weeks, by_cohort=True)
        some = await outcome_counts(session, "routing", weeks, cohorts=["north", "east"])
    assert totals == expected_totals
    assert teams == expected_teams
    assert by_cohort == teams
    assert some == (await _naive(pilot, weeks, ["north", "east"]))[0]
    # Someone who moved team in a week is one person in its total.
    assert any(
        totals[(week, "")].respondents
        < sum(c.respondents for (w, _), c in teams.items() if w == week)
        for week in range(3)
    )


async def test_kept_week_counts_follow_late_answers_forget_and_past_check_ins(
    pilot: Runtime,
) -> None:
    await _random_answers(pilot, 7)
    weeks = [week.window(ZONE) for week in weeks_ending(W47, 3)]

    async def counted() -> tuple[dict[tuple[int, str], OutcomeCounts], ...]:
        async with pilot.db.session() as session:
            return await week_counts(session, "routing", weeks)

    assert await counted() == await _naive(pilot, weeks)
    async with pilot.db.session() as session:
        kept = (await session.exec(select(WeekCount))).all()
        unanswered = (
            await session.exec(
                select(CheckIn).where(
                    col(CheckIn.programme_id) == "routing",
                    col(CheckIn.kind) != "day30",
                    col(CheckIn.sent_at) >= weeks[0].start,
                    col(CheckIn.sent_at) < weeks[0].end,
                    col(CheckIn.id).not_in(select(Answer.checkin_id)),
                )
            )
        ).first()
    assert len(kept) == 3
    assert unanswered is not None and unanswered.sent_at is not None
    # A late answer to a check-in of the first week, ten days on.
    async with pilot.db.session() as session:
        await save_answer(session, unanswered, "helped", unanswered.sent_at + timedelta(days=10))
    assert await counted() == await _naive(pilot, weeks)
    # Someone forgotten: their check-ins and answers leave every week.
    async with pilot.db.session() as session:
        await forget_person(session, unanswered.person_id)
    assert await counted() == await _naive(pilot, weeks)
    # A check-in stored for a past week (an import), answered.
    async with pilot.db.session() as session:
        person = (
            await session.exec(select(Person).where(col(Person.cohort_id) == "south"))
        ).first()
        assert person is not None and person.id is not None
        moment = weeks[1].start + timedelta(hours=30)
        checkin = await create_checkin(
            session,
            person_id=person.id,
            programme_id="routing",
            cohort_id="south",
            kind="scheduled",
            slot="import:1",
            scheduled_for=moment,
            expires_at=None,
        )
        assert checkin is not None and checkin.id is not None
        await set_checkin_status(session, checkin.id, "sent", sent_at=moment)
        await save_answer(session, checkin, "no", moment)
    assert await counted() == await _naive(pilot, weeks)
    # An answer of a past week changed in place (its row, not its check-in).
    async with pilot.db.session() as session:
        in_first_week = select(CheckIn.id).where(
            col(CheckIn.sent_at) >= weeks[0].start, col(CheckIn.sent_at) < weeks[0].end
        )
        answer = (
            await session.exec(
                select(Answer).where(
                    col(Answer.outcome) == "no", col(Answer.checkin_id).in_(in_first_week)
                )
            )
        ).first()
        assert answer is not None
        answer.outcome = "helped"
        session.add(answer)
    assert await counted() == await _naive(pilot, weeks)


async def test_written_themes_counted_in_sql_equal_the_placement_of_every_text(
    pilot: Runtime,
) -> None:
    window = theme_window(W47, ZONE)
    weeks = weeks_ending(W47, 2)
    async with pilot.db.session() as session:
        placement, loaded = await placed_themes(session, pilot.config, Scope("routing"), window)
        counted = await counted_themes(session, pilot.config, "routing", window)
        series = await counted_trends(session, "routing", counted, weeks, ZONE)
    assert loaded.shown, "the pilot's words form a theme"

    def figures(found: Any) -> list[tuple[Any, ...]]:
        return [(t.slug, t.people, t.texts, t.sources, t.quotes) for t in found]

    assert figures(counted.shown) == figures(loaded.shown)
    assert [(t.slug, t.people, t.texts) for t in counted.below] == [
        (t.slug, t.people, t.texts) for t in loaded.below
    ]
    assert counted.outside_people == loaded.outside_people
    assert series == theme_trends(placement, loaded, weeks, ZONE, None)


async def test_the_digest_command_draws_its_chart_off_the_event_loop(
    pilot: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn_in: list[str] = []
    draw = digest_report_module.chart_image

    def recording(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            drawn_in.append("event loop")
        except RuntimeError:
            drawn_in.append(threading.current_thread().name)
        return draw(*args, **kwargs)

    monkeypatch.setattr(digest_report_module, "chart_image", recording)
    replies = await say(pilot, "olu", "digest")
    assert isinstance(replies[0], Report) and replies[0].chart is not None
    assert drawn_in and "event loop" not in drawn_in
    drawn_in.clear()
    replies = await say(pilot, "olu", "trends")
    assert isinstance(replies[0], Report)
    assert drawn_in and "event loop" not in drawn_in
