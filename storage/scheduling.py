"""Repository functions for the scheduler: due check-ins, caps, reminders, expiry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, and_, false, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from storage.models import CheckIn, ConversationState, Person


async def timezones_in_cohort(session: AsyncSession, cohort_id: str) -> list[str]:
    """The distinct platform time zones of a cohort's people ("" when unknown)."""
    statement = select(Person.timezone).where(Person.cohort_id == cohort_id).distinct()
    return list((await session.exec(statement)).all())


async def people_in_zones(
    session: AsyncSession, cohort_id: str, zones: Sequence[str]
) -> list[Person]:
    """A cohort's people whose platform time zone is one of `zones`, by id."""
    statement = (
        select(Person)
        .where(Person.cohort_id == cohort_id, col(Person.timezone).in_(zones))
        .order_by(col(Person.id))
    )
    return list((await session.exec(statement)).all())


def _ids_in_zones(cohort_id: str, zones: Sequence[str]) -> SelectOfScalar[int | None]:
    # A subquery, not a list of ids: the statement stays the same size for any cohort.
    return select(col(Person.id)).where(
        Person.cohort_id == cohort_id, col(Person.timezone).in_(zones)
    )


async def checkins_in_slots(
    session: AsyncSession, cohort_id: str, zones: Sequence[str], slots: Sequence[str]
) -> set[tuple[int, str]]:
    """Which (person, slot) pairs of a cohort's people in `zones` already have a check-in."""
    statement = select(CheckIn.person_id, CheckIn.slot).where(
        col(CheckIn.person_id).in_(_ids_in_zones(cohort_id, zones)), col(CheckIn.slot).in_(slots)
    )
    return {(person_id, slot) for person_id, slot in (await session.exec(statement)).all()}


async def day30_moments(
    session: AsyncSession, cohort_id: str, zones: Sequence[str]
) -> dict[int, datetime]:
    """When the day-30 check of each of a cohort's people in `zones` was scheduled, if made."""
    statement = select(CheckIn.person_id, CheckIn.scheduled_for).where(
        col(CheckIn.person_id).in_(_ids_in_zones(cohort_id, zones)), CheckIn.kind == "day30"
    )
    return dict((await session.exec(statement)).all())


async def first_sent(
    session: AsyncSession, cohort_id: str, zones: Sequence[str]
) -> dict[int, datetime]:
    """When the first check-in (other than a day-30 check) of each of a cohort's people in
    `zones` was sent, for those who have had one."""
    statement = (
        select(CheckIn.person_id, func.min(CheckIn.sent_at))
        .where(
            col(CheckIn.person_id).in_(_ids_in_zones(cohort_id, zones)),
            CheckIn.kind != "day30",
            col(CheckIn.sent_at).is_not(None),
        )
        .group_by(col(CheckIn.person_id))
    )
    return {
        person_id: moment
        for person_id, moment in (await session.exec(statement)).all()
        if moment is not None
    }


def _asked(kinds: Sequence[str]) -> tuple[ColumnElement[bool], ...]:
    # A check-in the person asked for themselves (slot `self:…`) does not count: the bot
    # did not ask.
    return (col(CheckIn.kind).in_(kinds), col(CheckIn.slot).not_like("self:%"))


def _asked_at() -> ColumnElement[datetime]:
    return func.coalesce(CheckIn.sent_at, CheckIn.scheduled_for)


async def counts_asked_in_weeks(
    session: AsyncSession,
    cohort_id: str,
    weeks: Mapping[str, tuple[datetime, datetime]],
    kinds: Sequence[str],
) -> dict[int, int]:
    """Check-ins of `kinds` sent (or still queued to go) to each of a cohort's people in
    their own zone's week, in one grouped query.

    Args:
        session: the session to run in.
        cohort_id: the cohort.
        weeks: for each platform time zone ("" when unknown), the UTC range [start, end)
            of its local week; people in other zones are left out.
        kinds: the check-in kinds to count.

    Returns:
        The count for each person with at least one.
    """
    moment = _asked_at()
    in_week = [
        and_(col(Person.timezone) == zone, moment >= start, moment < end)
        for zone, (start, end) in weeks.items()
    ]
    statement = (
        select(CheckIn.person_id, func.count())
        .join(Person, col(Person.id) == col(CheckIn.person_id))
        .where(Person.cohort_id == cohort_id, or_(false(), *in_week), *_asked(kinds))
        .group_by(col(CheckIn.person_id))
    )
    return {person_id: int(count) for person_id, count in (await session.exec(statement)).all()}


async def counts_asked(
    session: AsyncSession,
    person_ids: Sequence[int],
    kinds: Sequence[str],
    start: datetime,
    end: datetime,
) -> dict[int, int]:
    """Check-ins of `kinds` sent (or still queued to go) to each person in [start, end).

    People with none are absent from the answer.
    """
    moment = _asked_at()
    statement = (
        select(CheckIn.person_id, func.count())
        .where(
            col(CheckIn.person_id).in_(list(person_ids)),
            moment >= start,
            moment < end,
            *_asked(kinds),
        )
        .group_by(col(CheckIn.person_id))
    )
    return {person_id: int(count) for person_id, count in (await session.exec(statement)).all()}


async def count_asked(
    session: AsyncSession,
    person_id: int,
    kinds: Sequence[str],
    start: datetime,
    end: datetime,
) -> int:
    """Check-ins of `kinds` sent (or still queued to go) to one person in [start, end)."""
    return (await counts_asked(session, [person_id], kinds, start, end)).get(person_id, 0)


async def reminders_due(
    session: AsyncSession, sent_before: datetime, now: datetime
) -> list[CheckIn]:
    """Sent, unanswered, unreminded check-ins sent before `sent_before` and still open at `now`."""
    statement = (
        select(CheckIn)
        .where(
            CheckIn.status == "sent",
            col(CheckIn.reminded_at).is_(None),
            col(CheckIn.sent_at) <= sent_before,
            col(CheckIn.expires_at) > now,
        )
        .order_by(col(CheckIn.id))
    )
    return list((await session.exec(statement)).all())


async def claim_reminder(session: AsyncSession, checkin_id: int, now: datetime) -> bool:
    """Mark the check-in reminded, unless another process did.

    Returns:
        True for the one caller that may queue the reminder.
    """
    result = await session.exec(
        update(CheckIn)
        .where(
            col(CheckIn.id) == checkin_id,
            col(CheckIn.reminded_at).is_(None),
            col(CheckIn.status) == "sent",
        )
        .values(reminded_at=now)
        .returning(col(CheckIn.id))
    )
    return result.first() is not None


async def expire_due(session: AsyncSession, now: datetime) -> list[tuple[int, bool]]:
    """Close every open check-in whose expiry has come.

    Returns:
        (check-in id, whether it had been sent) for each check-in this call closed;
        a concurrent caller gets the others, never the same ones.
    """
    result = await session.exec(
        update(CheckIn)
        .where(
            col(CheckIn.status).in_(("scheduled", "sent")),
            col(CheckIn.expires_at) <= now,
        )
        .values(status="expired")
        .returning(col(CheckIn.id), col(CheckIn.sent_at))
    )
    closed: list[tuple[int, bool]] = [
        (cast(int, checkin_id), sent_at is not None) for checkin_id, sent_at in result.all()
    ]
    return closed


async def checkin_statuses(session: AsyncSession, checkin_ids: Sequence[int]) -> dict[int, str]:
    """The status of each check-in, by id (missing when erased)."""
    statement = select(CheckIn.id, CheckIn.status).where(col(CheckIn.id).in_(checkin_ids))
    return {
        checkin_id: status
        for checkin_id, status in (await session.exec(statement)).all()
        if checkin_id is not None
    }


async def people_with_open_checkins(
    session: AsyncSession, cohort_id: str, zones: Sequence[str], now: datetime
) -> set[int]:
    """Which of a cohort's people in `zones` have a check-in queued or sent, unanswered and
    not yet expired at `now` (they are not asked another meanwhile)."""
    statement = select(CheckIn.person_id).where(
        col(CheckIn.person_id).in_(_ids_in_zones(cohort_id, zones)),
        col(CheckIn.status).in_(("scheduled", "sent")),
        col(CheckIn.expires_at) > now,
    )
    return set((await session.exec(statement)).all())


async def flows_past_expiry(session: AsyncSession, now: datetime) -> list[ConversationState]:
    """People's places in check-ins whose expiry has come (answered part-way, or offering
    to add a few words)."""
    statement = (
        select(ConversationState)
        .join(CheckIn, col(CheckIn.id) == col(ConversationState.checkin_id))
        .where(col(CheckIn.expires_at) <= now)
        .order_by(col(ConversationState.person_id))
    )
    return list((await session.exec(statement)).all())
