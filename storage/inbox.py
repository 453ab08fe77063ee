"""Repository functions for the inbox: inbound payloads stored before they are acknowledged."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboxEvent

INBOX = InboxEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewEvent:
    """One inbound payload as an adapter hands it over, before it is stored."""

    platform: str
    event_id: str
    person_key: str
    payload: dict[str, Any]


async def store_events(
    session: AsyncSession, events: Sequence[NewEvent], now: datetime
) -> dict[tuple[str, str], tuple[int, bool]]:
    """Insert the events, ignoring any the inbox already holds.

    Returns:
        For each (platform, event_id): the row id and True when this call stored it,
        False when it was there before (a redelivery).
    """
    if not events:
        return {}
    values = [
        {
            "platform": event.platform,
            "event_id": event.event_id,
            "person_key": event.person_key,
            "payload": event.payload,
            "received_at": now,
            "status": "pending",
            "attempts": 0,
            "claimed_by": "",
            "result": {},
            "last_error": "",
        }
        for event in events
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(INBOX)
        .values(values)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(INBOX.c.id, INBOX.c.platform, INBOX.c.event_id)
    )
    stored = {
        (row.platform, row.event_id): (int(row.id), True)
        for row in (await session.exec(statement)).all()
    }
    missing = [(e.platform, e.event_id) for e in events if (e.platform, e.event_id) not in stored]
    if missing:
        keys = or_(*(and_(INBOX.c.platform == p, INBOX.c.event_id == i) for p, i in missing))
        found = await session.exec(
            select(INBOX.c.id, INBOX.c.platform, INBOX.c.event_id).where(keys)
        )
        for row_id, platform, event_id in found.all():
            stored[(platform, event_id)] = (int(row_id), False)
    return stored


def _claimable(now: datetime) -> Any:
    return or_(INBOX.c.claimed_until.is_(None), INBOX.c.claimed_until < now)


async def claim_heads(
    session: AsyncSession,
    now: datetime,
    *,
    owner: str,
    lease: timedelta,
    platforms: Sequence[str],
    limit: int = 100,
    person_key: str | None = None,
) -> list[InboxEvent]:
    """Lease each person's oldest pending event, for up to `limit` people, oldest first.

    Only a person's oldest pending row can be claimed, so one person's events are
    handled in the order they arrived whichever process handles them; different
    people's events are claimed together. On PostgreSQL the rows are selected FOR
    UPDATE SKIP LOCKED (a row another replica is claiming is skipped, and its person's
    later rows are not heads); on SQLite one UPDATE does it under the writer lock.
    """
    earlier = INBOX.alias("earlier")
    heads = (
        select(INBOX.c.id)
        .where(
            INBOX.c.status == "pending",
            INBOX.c.platform.in_(platforms),
            _claimable(now),
            ~exists().where(
                earlier.c.person_key == INBOX.c.person_key,
                earlier.c.status == "pending",
                earlier.c.id < INBOX.c.id,
            ),
        )
        .order_by(INBOX.c.id)
        .limit(limit)
    )
    if person_key is not None:
        heads = heads.where(INBOX.c.person_key == person_key)
    lease_values = {"claimed_until": now + lease, "claimed_by": owner}
    if session.get_bind().dialect.name == "postgresql":
        ids = list((await session.exec(heads.with_for_update(skip_locked=True))).all())
        if not ids:
            return []
        claim = update(INBOX).where(
            INBOX.c.id.in_(ids), INBOX.c.status == "pending", _claimable(now)
        )
    else:
        claim = update(INBOX).where(INBOX.c.id.in_(heads.scalar_subquery()))
    result = await session.exec(claim.values(**lease_values).returning(*INBOX.c))
    claimed = [InboxEvent.model_validate(dict(row._mapping)) for row in result.all()]
    return sorted(claimed, key=lambda row: row.id or 0)


async def renew_leases(
    session: AsyncSession, ids: Sequence[int], owner: str, until: datetime
) -> None:
    """Extend the lease on rows this owner is still working on."""
    if ids:
        await session.exec(
            update(INBOX)
            .where(
                INBOX.c.id.in_(list(ids)), INBOX.c.claimed_by == owner, INBOX.c.status == "pending"
            )
            .values(claimed_until=until)
        )


@dataclass(frozen=True)
class Finished:
    """An event handled: the answer its platform waits for, and whether the person's
    key is dropped (someone lastmile keeps nothing about)."""

    event_id: int
    result: dict[str, Any] = field(default_factory=dict)
    forget_person: bool = False


async def finish(
    session: AsyncSession, events: Sequence[Finished], owner: str, now: datetime
) -> bool:
    """Mark events handled, in the same transaction as what handling them stored.

    The payload is dropped (what a person wrote now lives in the answer tables, which
    `forget` erases); the row stays as the record that makes a redelivery a no-op.
    Events that end the same way are marked in one statement (a group's taps and notes
    all carry an empty result).

    Returns:
        False when this owner no longer holds the lease on one of them (another
        process took it over): the caller must roll back, or it would count twice.
    """
    alike: dict[tuple[str, bool], list[int]] = {}
    for event in events:
        shape = (json.dumps(event.result, sort_keys=True), event.forget_person)
        alike.setdefault(shape, []).append(event.event_id)
    for (result, forget_person), ids in alike.items():
        values: dict[str, Any] = {
            "status": "done",
            "handled_at": now,
            "claimed_until": None,
            "payload": {},
            "result": json.loads(result),
        }
        if forget_person:
            values["person_key"] = ""
        statement = (
            update(INBOX)
            .where(INBOX.c.id.in_(ids), INBOX.c.claimed_by == owner, INBOX.c.status == "pending")
            .values(**values)
            .returning(INBOX.c.id)
        )
        if len((await session.exec(statement)).all()) != len(ids):
            return False
    return True


async def record_failure(
    session: AsyncSession,
    event_id: int,
    owner: str,
    error: str,
    *,
    counted: bool = True,
    give_up: bool,
    now: datetime,
    retry_at: datetime,
) -> None:
    """Handling raised: try again after `retry_at`, or stop (a payload that can never work).

    An attempt that is not `counted` (the database was away) leaves the count as it was.
    """
    values: dict[str, Any] = {
        "attempts": INBOX.c.attempts + int(counted),
        "last_error": error[:500],
        "claimed_until": retry_at,
    }
    if give_up:
        values.update(status="failed", payload={}, claimed_until=None, handled_at=now)
    await session.exec(
        update(INBOX).where(INBOX.c.id == event_id, INBOX.c.claimed_by == owner).values(**values)
    )


async def outcome(session: AsyncSession, event_id: int) -> tuple[str, dict[str, Any]] | None:
    """The event's status and the answer its platform is waiting for, if any."""
    row = (
        await session.exec(select(INBOX.c.status, INBOX.c.result).where(INBOX.c.id == event_id))
    ).first()
    if row is None:
        return None
    status, result = row
    return str(status), dict(result or {})


async def purge_handled(session: AsyncSession, before: datetime) -> None:
    """Drop handled rows older than `before`: platforms stop redelivering within minutes."""
    await session.exec(
        delete(INBOX).where(INBOX.c.status != "pending", INBOX.c.handled_at < before)
    )
