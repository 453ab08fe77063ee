"""Raw answers for an admin's export: every check-in of a programme with what was said."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Answer,
    CheckIn,
    Cohort,
    Day30Response,
    Note,
    Override,
    Person,
    Workaround,
)


@dataclass(frozen=True)
class RawCheckIn:
    """One check-in and everything its person answered (empty where nothing was)."""

    checkin_id: int
    person_id: int
    cohort_id: str
    kind: str
    status: str
    asked_at: datetime | None
    answered_at: datetime | None
    outcome: str
    not_used_reason: str
    not_used_text: str
    workaround: str
    workaround_text: str
    overridden: bool | None
    override_reason: str
    override_text: str
    day30_feeling: str
    day30_change_first: str


@dataclass(frozen=True)
class RawNote:
    """A note someone wrote outside a check-in."""

    note_id: int
    person_id: int
    cohort_id: str
    kind: str
    text: str
    created_at: datetime


async def _rows(session: AsyncSession, statement: Any) -> list[tuple[Any, ...]]:
    connection = await session.connection()
    return [tuple(row) for row in (await connection.execute(statement)).all()]


async def raw_checkins(session: AsyncSession, programme_id: str) -> list[RawCheckIn]:
    """Every check-in of the programme, oldest first, joined with its answers."""
    statement = (
        select_columns(
            col(CheckIn.id),
            col(CheckIn.person_id),
            col(CheckIn.cohort_id),
            col(CheckIn.kind),
            col(CheckIn.status),
            func.coalesce(col(CheckIn.sent_at), col(CheckIn.scheduled_for)),
            col(CheckIn.answered_at),
            col(Answer.outcome),
            col(Answer.not_used_reason),
            col(Answer.not_used_text),
            col(Workaround.kind),
            col(Workaround.text),
            col(Override.overridden),
            col(Override.reason),
            col(Override.text),
            col(Day30Response.feeling),
            col(Day30Response.change_first),
        )
        .select_from(CheckIn)
        .outerjoin(Answer, col(Answer.checkin_id) == col(CheckIn.id))
        .outerjoin(Workaround, col(Workaround.checkin_id) == col(CheckIn.id))
        .outerjoin(Override, col(Override.checkin_id) == col(CheckIn.id))
        .outerjoin(Day30Response, col(Day30Response.checkin_id) == col(CheckIn.id))
        .where(col(CheckIn.programme_id) == programme_id)
        .order_by(col(CheckIn.id))
    )
    return [
        RawCheckIn(
            checkin_id=int(row[0]),
            person_id=int(row[1]),
            cohort_id=str(row[2] or ""),
            kind=str(row[3]),
            status=str(row[4]),
            asked_at=row[5],
            answered_at=row[6],
            outcome=str(row[7] or ""),
            not_used_reason=str(row[8] or ""),
            not_used_text=str(row[9] or ""),
            workaround=str(row[10] or ""),
            workaround_text=str(row[11] or ""),
            overridden=None if row[12] is None else bool(row[12]),
            override_reason=str(row[13] or ""),
            override_text=str(row[14] or ""),
            day30_feeling=str(row[15] or ""),
            day30_change_first=str(row[16] or ""),
        )
        for row in await _rows(session, statement)
    ]


async def raw_notes(session: AsyncSession, programme_id: str) -> list[RawNote]:
    """Notes by the programme's people (placed by their cohort), oldest first."""
    statement = (
        select_columns(
            col(Note.id),
            col(Note.person_id),
            col(Person.cohort_id),
            col(Note.kind),
            col(Note.text),
            col(Note.created_at),
        )
        .select_from(Note)
        .join(Person, col(Person.id) == col(Note.person_id))
        .join(Cohort, col(Cohort.id) == col(Person.cohort_id))
        .where(col(Cohort.programme_id) == programme_id)
        .order_by(col(Note.id))
    )
    return [
        RawNote(int(r[0]), int(r[1]), str(r[2] or ""), str(r[3]), str(r[4]), r[5])
        for r in await _rows(session, statement)
    ]


async def identities(session: AsyncSession, person_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Each person's platform identity and display name (only for `--with-identities`)."""
    if not person_ids:
        return {}
    statement = select_columns(
        col(Person.id), col(Person.platform), col(Person.platform_user_id), col(Person.display_name)
    ).where(col(Person.id).in_(person_ids))
    return {
        int(pid): (f"{platform}:{user}", str(name or ""))
        for pid, platform, user, name in await _rows(session, statement)
    }
