"""Dialect-aware INSERT … ON CONFLICT helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def _insert(session: AsyncSession, model: type[SQLModel]) -> Any:
    table = model.__table__  # type: ignore[attr-defined]
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def insert_ignore(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], unique: Sequence[str]
) -> bool:
    """Insert a row unless one with the same unique key exists.

    Returns:
        True when this call inserted the row; False when it was already there.
    """
    # RETURNING rather than rowcount: psycopg's async cursor reports -1 for this.
    statement = (
        _insert(session, model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(literal_column("1"))
    )
    result = await session.exec(statement)
    return result.first() is not None


async def upsert(
    session: AsyncSession,
    model: type[SQLModel],
    values: dict[str, Any],
    unique: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert a row, or update `update` columns of the row with the same unique key."""
    statement = _insert(session, model).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=list(unique),
        set_={column: statement.excluded[column] for column in update},
    )
    await session.exec(statement)
