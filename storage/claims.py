"""Who holds claims on the inbox and the outbox, and ending the claims of the dead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def _running(table: Any, now: datetime) -> Any:
    return (table.c.status == "pending") & (table.c.claimed_until >= now)


async def claim_holders(session: AsyncSession, model: type[SQLModel], now: datetime) -> list[str]:
    """The owners of the pending rows whose claims still run (an InboxEvent or an
    OutboxMessage table)."""
    table = model.__table__  # type: ignore[attr-defined]
    statement = table.select().with_only_columns(table.c.claimed_by).distinct()
    result = await session.exec(statement.where(_running(table, now)))
    return [str(owner) for owner in result.scalars().all()]


async def end_claims(
    session: AsyncSession, model: type[SQLModel], owners: Sequence[str], now: datetime
) -> int:
    """End these owners' running claims now, so any process may take the rows.

    Returns:
        How many rows were freed.
    """
    if not owners:
        return 0
    table = model.__table__  # type: ignore[attr-defined]
    statement = (
        table.update()
        .where(_running(table, now), table.c.claimed_by.in_(list(owners)))
        .values(claimed_until=None)
        .returning(table.c.id)
    )
    return len((await session.exec(statement)).all())


async def end_own_claims(
    session: AsyncSession, model: type[SQLModel], ids: Sequence[int], owner: str
) -> None:
    """End `owner`'s claims on these pending rows (work it gave up on), so any process,
    itself included, may take them at once."""
    if not ids:
        return
    table = model.__table__  # type: ignore[attr-defined]
    await session.exec(
        table.update()
        .where(table.c.id.in_(list(ids)), table.c.claimed_by == owner, table.c.status == "pending")
        .values(claimed_until=None)
    )
