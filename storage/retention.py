"""Erasing free text past a programme's retention period, keeping every row that is counted.

What people wrote is blanked in place (the row, its choice and its time stay), and each
written text's theme row keeps its theme but loses its vector: counts of answers,
workarounds, overrides, themes and people in every past week stay exactly the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Answer,
    CheckIn,
    Day30Response,
    Note,
    OutboxMessage,
    Override,
    Person,
    ThemeText,
    Workaround,
)

ANSWER_TEXTS: tuple[tuple[str, Any, str, str], ...] = (
    ("workarounds", Workaround, "text", "created_at"),
    ("overrides", Override, "text", "created_at"),
    ("not_used", Answer, "not_used_text", "answered_at"),
    ("day30", Day30Response, "change_first", "created_at"),
)
"""Words kept beside a check-in's answers: (name, table, words column, time column)."""


@dataclass(frozen=True)
class Erased:
    """How many texts one run erased, by where they were kept."""

    workarounds: int = 0
    overrides: int = 0
    not_used: int = 0
    day30: int = 0
    notes: int = 0
    theme_texts: int = 0
    sent_messages: int = 0

    @property
    def total(self) -> int:
        """Every text erased."""
        return self.workarounds + self.overrides + self.not_used + self.day30 + self.notes


async def _count(session: AsyncSession, statement: Any) -> int:
    # RETURNING rather than rowcount: psycopg's async cursor reports -1 for some statements.
    connection = await session.connection()
    return len((await connection.execute(statement.returning(statement.table.c.id))).all())


def _of_programme(model: Any, programme_id: str) -> Any:
    checkins = select_columns(col(CheckIn.id)).where(col(CheckIn.programme_id) == programme_id)
    return col(model.checkin_id).in_(checkins)


async def erase_free_text(
    session: AsyncSession,
    programme_id: str,
    cohorts: Sequence[str],
    before: datetime,
    now: datetime,
    *,
    notes_without_cohort: bool = False,
) -> Erased:
    """Blank every text of the programme written before `before`.

    Args:
        session: an open session.
        programme_id: the programme whose retention period ran out.
        cohorts: its cohorts (notes carry no check-in: their writer's cohort places them).
        before: texts written before this moment are erased.
        now: when they are erased (kept on each theme row).
        notes_without_cohort: also erase notes of people in no cohort (the shortest
            retention period of all programmes applies to them).

    Returns:
        How many texts were erased where.
    """
    blank = ""
    erased: dict[str, int] = {}
    for name, model, words, written in ANSWER_TEXTS:
        erased[name] = await _count(
            session,
            update(model)
            .where(
                _of_programme(model, programme_id),
                col(getattr(model, written)) < before,
                col(getattr(model, words)) != blank,
            )
            .values({words: blank}),
        )
    writers: Any = col(Person.cohort_id).in_(list(cohorts))
    if notes_without_cohort:
        writers = or_(writers, col(Person.cohort_id).is_(None))
    notes = await _count(
        session,
        update(Note)
        .where(
            col(Note.person_id).in_(select_columns(col(Person.id)).where(writers)),
            col(Note.created_at) < before,
            col(Note.text) != blank,
        )
        .values(text=blank),
    )
    theme_texts = await _count(
        session,
        update(ThemeText)
        .where(
            col(ThemeText.programme_id) == programme_id,
            col(ThemeText.created_at) < before,
            col(ThemeText.erased_at).is_(None),
        )
        .values(vector=None, encoder=blank, erased_at=now),
    )
    sent = await _count(
        session,
        update(OutboxMessage)
        .where(
            col(OutboxMessage.status) != "pending",
            col(OutboxMessage.created_at) < before,
            or_(
                col(OutboxMessage.dedupe_key).startswith(f"digest:{programme_id}:"),
                and_(
                    col(OutboxMessage.purpose) == "update",
                    col(OutboxMessage.person_id).in_(
                        select_columns(col(Person.id)).where(
                            col(Person.cohort_id).in_(list(cohorts))
                        )
                    ),
                ),
            ),
            # JSON has no equality on PostgreSQL: compare its text ("{}" once erased).
            func.length(cast(col(OutboxMessage.payload), String)) > 2,
        )
        .values(payload={}),
    )
    return Erased(
        erased["workarounds"],
        erased["overrides"],
        erased["not_used"],
        erased["day30"],
        notes,
        theme_texts,
        sent,
    )
