"""Repository functions for shared send budgets: token buckets every replica reserves from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import RateBucket


@dataclass(frozen=True)
class Draw:
    """Take `count` tokens from the bucket `key` (created full with `capacity` when new)."""

    key: str
    capacity: float
    rate: float
    count: int


@dataclass(frozen=True)
class Balance:
    """A bucket right after a reservation: tokens left (negative: in debt) and any pause."""

    tokens: float
    paused_until: float


async def reserve(session: AsyncSession, draws: Sequence[Draw], now: float) -> dict[str, Balance]:
    """Refill each bucket for the time since it was last counted, then take the tokens.

    One INSERT … ON CONFLICT DO UPDATE … RETURNING for the whole batch: the row lock makes
    each bucket's read-refill-take atomic across replicas. Keys are written in sorted order
    so two replicas reserving overlapping batches lock rows in the same order.

    Returns:
        Each key's balance after this reservation.
    """
    if not draws:
        return {}
    table = RateBucket.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "key": draw.key,
            "capacity": draw.capacity,
            "rate": draw.rate,
            "taken": float(draw.count),
            "tokens": draw.capacity - draw.count,
            "stamp": now,
            "paused_until": 0.0,
        }
        for draw in sorted(draws, key=lambda draw: draw.key)
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(rows)
    new = statement.excluded
    # A replica whose clock is behind never takes refill back.
    elapsed = case((new.stamp > table.c.stamp, new.stamp - table.c.stamp), else_=0.0)
    refilled = table.c.tokens + elapsed * new.rate
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "tokens": case((refilled > new.capacity, new.capacity), else_=refilled) - new.taken,
            "stamp": case((new.stamp > table.c.stamp, new.stamp), else_=table.c.stamp),
            "capacity": new.capacity,
            "rate": new.rate,
            "taken": new.taken,
        },
    ).returning(table.c.key, table.c.tokens, table.c.paused_until)
    result = await session.exec(statement)
    return {key: Balance(tokens, paused_until) for key, tokens, paused_until in result.all()}


async def pause(session: AsyncSession, keys: Sequence[str], until: float) -> None:
    """Hold these buckets until `until` (Unix seconds), unless already held longer."""
    if not keys:
        return
    held = col(RateBucket.paused_until)
    await session.exec(
        update(RateBucket)
        .where(col(RateBucket.key).in_(sorted(keys)))
        .values(paused_until=case((held < until, until), else_=held))
    )


async def paused(session: AsyncSession, now: float) -> list[tuple[str, float]]:
    """The buckets held past `now`, and until when."""
    statement = select(RateBucket.key, RateBucket.paused_until).where(
        col(RateBucket.paused_until) > now
    )
    return [(key, until) for key, until in (await session.exec(statement)).all()]


async def forget_full(session: AsyncSession, now: float) -> None:
    """Delete buckets that have refilled and are not paused: a missing bucket is a full one."""
    refilled_at = col(RateBucket.stamp) + (col(RateBucket.capacity) - col(RateBucket.tokens)) / col(
        RateBucket.rate
    )
    await session.exec(
        delete(RateBucket).where(
            refilled_at < now,
            col(RateBucket.paused_until) < now,
        )
    )
