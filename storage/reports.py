"""SQL aggregation for digests and trends: counts per week, cohort and category, never row by row.

Week boundaries are computed in Python (a programme's ISO weeks in its own time
zone) and passed in as UTC ranges, so the same statements run on SQLite and
PostgreSQL without dialect-specific date functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, and_, case, distinct, false, func, true
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Answer,
    CheckIn,
    Cohort,
    Day30Response,
    Note,
    Override,
    Person,
    ThemeUpdate,
    Workaround,
)

OUTCOME_COLUMNS = ("helped", "partly", "no", "not_used", "not_now")


@dataclass(frozen=True)
class Window:
    """A half-open UTC time range [start, end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class OutcomeCounts:
    """Check-ins asked and answered in one week (for one cohort, a set of them, or all).

    `respondents` counts distinct people who gave an answer other than *Not now*:
    the people whose answers the rates are made of, and the number the anonymity
    threshold is compared with.
    """

    sent: int = 0
    answered: int = 0
    helped: int = 0
    partly: int = 0
    no: int = 0
    not_used: int = 0
    not_now: int = 0
    respondents: int = 0


@dataclass(frozen=True)
class CategoryCount:
    """How often a fixed answer (a workaround kind, an override or not-used reason) came up."""

    family: str  # workaround | override | not_used
    category: str
    mentions: int
    contributors: int


@dataclass(frozen=True)
class FreeText:
    """Words someone wrote, to be grouped into themes and quoted anonymously."""

    family: str  # workaround | override | not_used
    category: str  # the fixed category it came with ("other" for notes)
    person_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Day30Counts:
    """Day-30 answers by feeling, and how many people gave them."""

    very: int = 0
    somewhat: int = 0
    not_disappointed: int = 0
    dont_use: int = 0
    people: int = 0

    @property
    def answers(self) -> int:
        """All day-30 answers."""
        return self.very + self.somewhat + self.not_disappointed + self.dont_use


async def aggregate_rows(session: AsyncSession, statement: Executable) -> list[tuple[Any, ...]]:
    # Aggregates run on the session's connection (same transaction): sqlmodel's
    # typed select() stops at four columns and is made for whole-model queries.
    connection = await session.connection()
    return [tuple(row) for row in (await connection.execute(statement)).all()]


def week_index(column: Any, weeks: Sequence[Window]) -> Any:
    """The index of the week `column` falls in (-1: in none of them), as SQL."""
    return case(
        *[
            (and_(column >= week.start, column < week.end), index)
            for index, week in enumerate(weeks)
        ],
        else_=-1,
    )


def in_cohorts(column: Any, cohorts: Sequence[str] | None) -> Any:
    return true() if cohorts is None else col(column).in_(list(cohorts)) if cohorts else false()


def _checkin_scope(programme_id: str, cohorts: Sequence[str] | None) -> list[Any]:
    return [col(CheckIn.programme_id) == programme_id, in_cohorts(CheckIn.cohort_id, cohorts)]


def _category_sources() -> list[tuple[str, Any, Any, Any, list[Any]]]:
    """Each family of fixed answers: its table, category column, time column and filters."""
    return [
        ("workaround", Workaround, col(Workaround.kind), col(Workaround.created_at), []),
        (
            "override",
            Override,
            col(Override.reason),
            col(Override.created_at),
            [col(Override.overridden).is_(True), col(Override.reason) != ""],
        ),
        (
            "not_used",
            Answer,
            col(Answer.not_used_reason),
            col(Answer.answered_at),
            [col(Answer.outcome) == "not_used", col(Answer.not_used_reason) != ""],
        ),
    ]


async def category_counts(
    session: AsyncSession, programme_id: str, window: Window, cohorts: Sequence[str] | None = None
) -> list[CategoryCount]:
    """Workaround kinds, override reasons and not-used reasons, with distinct contributors.

    Free-text-only answers ("other" with nothing chosen) are left to the theme
    grouping, which reads their words.
    """
    scope = _checkin_scope(programme_id, cohorts)
    counts: list[CategoryCount] = []
    for family, model, category, created, extra in _category_sources():
        statement = (
            select_columns(category, func.count(), func.count(distinct(model.person_id)))
            .select_from(model)
            .join(CheckIn, col(CheckIn.id) == model.checkin_id)
            .where(created >= window.start, created < window.end, *scope, *extra)
            .group_by(category)
        )
        for name, mentions, people in await aggregate_rows(session, statement):
            counts.append(CategoryCount(family, str(name), int(mentions), int(people)))
    return counts


@dataclass(frozen=True)
class CategoryPerson:
    """Someone who gave a fixed answer in a window, with the team of the check-in."""

    family: str
    category: str
    cohort_id: str
    person_id: int


async def category_people(
    session: AsyncSession, programme_id: str, window: Window
) -> list[CategoryPerson]:
    """Who gave each fixed answer in the window, by team: for splitting its count by group."""
    found: list[CategoryPerson] = []
    for family, model, category, created, extra in _category_sources():
        statement = (
            select_columns(category, col(CheckIn.cohort_id), model.person_id)
            .distinct()
            .select_from(model)
            .join(CheckIn, col(CheckIn.id) == model.checkin_id)
            .where(
                col(CheckIn.programme_id) == programme_id,
                created >= window.start,
                created < window.end,
                *extra,
            )
        )
        for name, cohort, person in await aggregate_rows(session, statement):
            found.append(CategoryPerson(family, str(name), str(cohort or ""), int(person)))
    return found


async def category_contributors(
    session: AsyncSession,
    programme_id: str,
    window: Window,
    family: str,
    category: str,
    cohorts: Sequence[str] | None = None,
) -> list[int]:
    """The distinct people who gave one fixed answer in the window (to tell them of an update)."""
    scope = _checkin_scope(programme_id, cohorts)
    columns: dict[str, tuple[Any, Any, list[Any]]] = {
        "workaround": (
            Workaround,
            col(Workaround.created_at),
            [col(Workaround.kind) == category],
        ),
        "override": (
            Override,
            col(Override.created_at),
            [col(Override.overridden).is_(True), col(Override.reason) == category],
        ),
        "not_used": (
            Answer,
            col(Answer.answered_at),
            [col(Answer.outcome) == "not_used", col(Answer.not_used_reason) == category],
        ),
    }
    model, created, extra = columns[family]
    statement = (
        select_columns(model.person_id)
        .distinct()
        .select_from(model)
        .join(CheckIn, col(CheckIn.id) == model.checkin_id)
        .where(created >= window.start, created < window.end, *scope, *extra)
        .order_by(model.person_id)
    )
    return [int(row[0]) for row in await aggregate_rows(session, statement)]


async def free_texts(
    session: AsyncSession,
    programme_id: str,
    window: Window,
    cohorts: Sequence[str] | None = None,
    limit: int = 1000,
) -> list[FreeText]:
    """What people wrote in the window: workaround, override and not-used words, and notes.

    Only the written words are read (at most `limit` of the most recent per
    source), because grouping them into themes needs the text itself.
    """
    scope = _checkin_scope(programme_id, cohorts)
    sources: list[tuple[str, Any, Any, Any, Any, list[Any]]] = [
        (
            "workaround",
            Workaround,
            col(Workaround.kind),
            col(Workaround.text),
            col(Workaround.created_at),
            [],
        ),
        (
            "override",
            Override,
            col(Override.reason),
            col(Override.text),
            col(Override.created_at),
            [col(Override.overridden).is_(True)],
        ),
        (
            "not_used",
            Answer,
            col(Answer.not_used_reason),
            col(Answer.not_used_text),
            col(Answer.answered_at),
            [col(Answer.outcome) == "not_used"],
        ),
    ]
    found: list[FreeText] = []
    for family, model, category, text, created, extra in sources:
        statement = (
            select_columns(category, model.person_id, text, created)
            .select_from(model)
            .join(CheckIn, col(CheckIn.id) == model.checkin_id)
            .where(created >= window.start, created < window.end, text != "", *scope, *extra)
            .order_by(created.desc(), model.id.desc())
            .limit(limit)
        )
        for name, person_id, words, moment in await aggregate_rows(session, statement):
            found.append(FreeText(family, str(name) or "other", int(person_id), words, moment))
    # Notes carry no check-in: the person's cohort places them in a programme.
    notes = (
        select_columns(col(Note.kind), col(Note.person_id), col(Note.text), col(Note.created_at))
        .select_from(Note)
        .join(Person, col(Person.id) == col(Note.person_id))
        .join(Cohort, col(Cohort.id) == col(Person.cohort_id))
        .where(
            col(Cohort.programme_id) == programme_id,
            in_cohorts(Person.cohort_id, cohorts),
            col(Note.kind).in_(["workaround", "override"]),
            col(Note.created_at) >= window.start,
            col(Note.created_at) < window.end,
        )
        .order_by(col(Note.created_at).desc(), col(Note.id).desc())
        .limit(limit)
    )
    for kind, person_id, words, moment in await aggregate_rows(session, notes):
        found.append(FreeText(kind, "other", int(person_id), words, moment))
    return found


async def day30_counts(
    session: AsyncSession, programme_id: str, until: datetime, cohorts: Sequence[str] | None = None
) -> Day30Counts:
    """Every day-30 answer given before `until`, by feeling."""
    scope = [col(Day30Response.created_at) < until, *_checkin_scope(programme_id, cohorts)]
    by_feeling = select_columns(col(Day30Response.feeling), func.count()).select_from(Day30Response)
    people = select_columns(func.count(distinct(col(Day30Response.person_id)))).select_from(
        Day30Response
    )
    joined = col(CheckIn.id) == col(Day30Response.checkin_id)
    counts = {
        str(feeling): int(count)
        for feeling, count in await aggregate_rows(
            session,
            by_feeling.join(CheckIn, joined).where(*scope).group_by(col(Day30Response.feeling)),
        )
    }
    (total,) = (await aggregate_rows(session, people.join(CheckIn, joined).where(*scope)))[0]
    return Day30Counts(
        very=counts.get("very", 0),
        somewhat=counts.get("somewhat", 0),
        not_disappointed=counts.get("not", 0),
        dont_use=counts.get("dont_use", 0),
        people=int(total),
    )


async def day30_people(
    session: AsyncSession, programme_id: str, until: datetime
) -> list[tuple[str, int]]:
    """(team, person) of everyone who gave a day-30 answer before `until`."""
    statement = (
        select_columns(col(CheckIn.cohort_id), col(Day30Response.person_id))
        .distinct()
        .select_from(Day30Response)
        .join(CheckIn, col(CheckIn.id) == col(Day30Response.checkin_id))
        .where(col(Day30Response.created_at) < until, col(CheckIn.programme_id) == programme_id)
    )
    return [
        (str(cohort or ""), int(person))
        for cohort, person in await aggregate_rows(session, statement)
    ]


async def add_theme_update(
    session: AsyncSession,
    programme_id: str,
    theme: str,
    message: str,
    author_person_id: int | None,
    now: datetime,
) -> ThemeUpdate:
    """Store a "you said, we did" update."""
    update = ThemeUpdate(
        programme_id=programme_id,
        theme=theme,
        message=message,
        author_person_id=author_person_id,
        created_at=now,
    )
    session.add(update)
    await session.flush()
    return update


async def theme_updates(
    session: AsyncSession, programme_id: str, window: Window
) -> list[ThemeUpdate]:
    """The updates posted on a programme's themes in the window, oldest first."""
    statement = (
        select(ThemeUpdate)
        .where(
            col(ThemeUpdate.programme_id) == programme_id,
            col(ThemeUpdate.created_at) >= window.start,
            col(ThemeUpdate.created_at) < window.end,
        )
        .order_by(col(ThemeUpdate.created_at), col(ThemeUpdate.id))
    )
    return list((await session.exec(statement)).all())
