"""Repository functions for programmes and cohorts (mirrored from the config file)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Cohort, Programme
from storage.sql import insert_rows


async def save_programmes(session: AsyncSession, programmes: Sequence[Programme]) -> None:
    """Insert or update programmes, in one statement."""
    await _save(session, Programme, [programme.model_dump() for programme in programmes])


async def save_cohorts(session: AsyncSession, cohorts: Sequence[Cohort]) -> None:
    """Insert or update cohorts, in one statement."""
    await _save(session, Cohort, [cohort.model_dump() for cohort in cohorts])


async def _save(
    session: AsyncSession, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> None:
    if rows:
        changing = [name for name in rows[0] if name != "id"]
        await insert_rows(session, model, rows, unique=("id",), update=changing)


async def get_programme(session: AsyncSession, programme_id: str) -> Programme | None:
    """The programme with this id."""
    return await session.get(Programme, programme_id)


async def get_cohort(session: AsyncSession, cohort_id: str) -> Cohort | None:
    """The cohort with this id."""
    return await session.get(Cohort, cohort_id)


async def cohorts_of(session: AsyncSession, programme_id: str) -> list[Cohort]:
    """A programme's cohorts."""
    statement = select(Cohort).where(Cohort.programme_id == programme_id).order_by(col(Cohort.id))
    return list((await session.exec(statement)).all())
