"""Repository functions for programmes and cohorts (mirrored from the config file)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Cohort, Programme
from storage.sql import upsert


async def save_programme(session: AsyncSession, programme: Programme) -> None:
    """Insert or update a programme."""
    values = programme.model_dump()
    await upsert(session, Programme, values, ("id",), [k for k in values if k != "id"])


async def save_cohort(session: AsyncSession, cohort: Cohort) -> None:
    """Insert or update a cohort."""
    values = cohort.model_dump()
    await upsert(session, Cohort, values, ("id",), [k for k in values if k != "id"])


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
