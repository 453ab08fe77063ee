"""Repository functions for the outbox: every outbound message is a row before it is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CheckIn, OutboxMessage
from storage.sql import insert_ignore, insert_rows, rows_source


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    platform: str,
    purpose: str,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
    person_id: int | None = None,
    destination: str = "",
    checkin_id: int | None = None,
    inbox_id: int | None = None,
) -> bool:
    """Write an outbound message unless one with the same dedupe key exists.

    Returns:
        True when this call queued it; False when it was queued before.
    """
    values = {
        "inbox_id": inbox_id,
        "claimed_by": "",
        "dedupe_key": dedupe_key,
        "platform": platform,
        "person_id": person_id,
        "destination": destination,
        "checkin_id": checkin_id,
        "purpose": purpose,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "not_before": not_before or now,
        "last_error": "",
        "created_at": now,
    }
    return await insert_ignore(session, OutboxMessage, values, ("dedupe_key",))


@dataclass(frozen=True)
class NewMessage:
    """An outbound message to queue with `enqueue_many` (the fields `enqueue` takes)."""

    dedupe_key: str
    platform: str
    purpose: str
    payload: dict[str, Any]
    not_before: datetime
    person_id: int | None = None
    destination: str = ""
    checkin_id: int | None = None
    inbox_id: int | None = None
    """The inbound event it answers (its replies wait for the platform's own answer)."""


async def enqueue_many(
    session: AsyncSession, messages: Sequence[NewMessage], now: datetime
) -> set[str]:
    """Write many outbound messages in one statement, each unless its dedupe key exists.

    Returns:
        The dedupe keys this call queued.
    """
    written = await insert_rows(
        session,
        OutboxMessage,
        [
            {
                **vars(message),
                "status": "pending",
                "attempts": 0,
                "last_error": "",
                "created_at": now,
            }
            for message in messages
        ],
        unique=("dedupe_key",),
        returning=("dedupe_key",),
    )
    return {dedupe_key for (dedupe_key,) in written}


async def claim_due(
    session: AsyncSession,
    now: datetime,
    *,
    platforms: Sequence[str],
    lease: timedelta,
    limit: int = 100,
    person_id: int | None = None,
    destination: str | None = None,
    owner: str = "",
) -> list[OutboxMessage]:
    """Claim up to `limit` due pending messages, oldest first.

    The due ids are selected first (on PostgreSQL with FOR UPDATE SKIP LOCKED, so
    replicas claiming at once take disjoint rows without waiting for each other;
    SQLite runs under its single writer lock), then leased in one UPDATE … RETURNING.
    Two statements, not an `IN (subquery … LIMIT)`: PostgreSQL may run such a locking
    subquery once per row and claim far more than `limit`. A claim whose holder died
    runs out after `lease` unless its `owner` renews it. `person_id` and `destination`
    keep the claim to one person's messages (the terminal chat shows its own).
    """
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    free = or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
    due = (
        select(table.c.id)
        .where(
            table.c.status == "pending",
            table.c.platform.in_(platforms),
            table.c.not_before <= now,
            free,
        )
        .order_by(table.c.not_before, table.c.id)
        .limit(limit)
    )
    mine = []
    if person_id is not None:
        mine.append(table.c.person_id == person_id)
    if destination is not None:
        mine.append(table.c.destination == destination)
    if mine:
        due = due.where(or_(*mine))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await session.exec(due)).all())
    if not ids:
        return []
    statement = (
        table.update()
        .where(table.c.id.in_(ids), table.c.status == "pending", free)
        .values(claimed_until=now + lease, claimed_by=owner)
        .returning(*table.c)
    )
    result = await session.exec(statement)
    claimed = [OutboxMessage.model_validate(dict(row._mapping)) for row in result.all()]
    return sorted(claimed, key=lambda row: (row.not_before, row.id or 0))


async def record_delivery(
    session: AsyncSession,
    message_id: int,
    now: datetime,
    *,
    sent_checkin_id: int | None = None,
    message_ref: dict[str, Any] | None = None,
    forget_contents: bool = False,
) -> None:
    """Mark a message delivered (never sent again) and, for a check-in's question, the
    check-in sent with the reference of the platform message that carries it.
    `forget_contents` drops what was said and where (a reply is not needed again).
    """
    delivered = Delivered(message_id, sent_checkin_id, message_ref, forget_contents)
    await record_deliveries(session, [delivered], now)


@dataclass(frozen=True)
class Delivered:
    """A message the platform accepted, for `record_deliveries` (`record_delivery`'s fields)."""

    message_id: int
    sent_checkin_id: int | None = None
    message_ref: dict[str, Any] | None = None
    forget_contents: bool = False


async def record_deliveries(
    session: AsyncSession, deliveries: Sequence[Delivered], now: datetime
) -> None:
    """Mark many messages delivered in one transaction: what `record_delivery` does for one.

    At most three statements: the outbox rows (those whose contents are forgotten
    apart), and the check-ins sent, each with its own message reference from a row set.
    """
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    done: dict[str, Any] = {"status": "delivered", "delivered_at": now, "claimed_until": None}
    for forget in (False, True):
        ids = [item.message_id for item in deliveries if item.forget_contents is forget]
        if ids:
            values = {**done, **({"payload": {}, "destination": ""} if forget else {})}
            await session.exec(outbox.update().where(outbox.c.id.in_(ids)).values(**values))
    sent = [
        {"id": item.sent_checkin_id, "message_ref": item.message_ref or {}}
        for item in deliveries
        if item.sent_checkin_id is not None
    ]
    if not sent:
        return
    checkins = CheckIn.__table__  # type: ignore[attr-defined]
    refs = rows_source(session, CheckIn, sent, ["id", "message_ref"])
    await session.exec(
        checkins.update()
        .where(checkins.c.id == refs.table.c.id, checkins.c.status == "scheduled")
        .values(status="sent", sent_at=now, message_ref=refs.table.c.message_ref),
        params=refs.params,
    )


async def renew_claims(
    session: AsyncSession, ids: Sequence[int], owner: str, until: datetime
) -> None:
    """Extend the lease on messages this owner is still sending."""
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    await session.exec(
        outbox.update()
        .where(
            outbox.c.id.in_(list(ids)), outbox.c.claimed_by == owner, outbox.c.status == "pending"
        )
        .values(claimed_until=until)
    )


async def release_replies(session: AsyncSession, inbox_id: int, now: datetime) -> None:
    """Let the replies to an inbound event go now (its platform has had its answer)."""
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    await session.exec(
        outbox.update()
        .where(
            outbox.c.inbox_id == inbox_id, outbox.c.status == "pending", outbox.c.not_before > now
        )
        .values(not_before=now)
    )


async def mark_retry(
    session: AsyncSession,
    message_id: int,
    not_before: datetime,
    error: str,
    *,
    payload: dict[str, Any] | None = None,
) -> None:
    """Sending failed for a passing reason: try again at `not_before`.

    `payload` replaces what is left to send when part of the message already went out.
    """
    values: dict[str, Any] = {
        "not_before": not_before,
        "claimed_until": None,
        "attempts": OutboxMessage.attempts + 1,
        "last_error": error[:500],
    }
    if payload is not None:
        values["payload"] = payload
    await session.exec(
        update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values)
    )


async def mark_failed(session: AsyncSession, message_id: int, error: str) -> None:
    """Sending cannot succeed (e.g. the person blocked the bot); stop trying."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(
            status="failed",
            claimed_until=None,
            attempts=OutboxMessage.attempts + 1,
            last_error=error[:500],
        )
    )


async def pending_count(session: AsyncSession) -> int:
    """How many messages wait to be sent."""
    statement = select(func.count()).where(col(OutboxMessage.status) == "pending")
    return int((await session.exec(statement)).one())


async def is_queued(session: AsyncSession, dedupe_key: str) -> bool:
    """True when an outbox message with this dedupe key exists (a digest already queued)."""
    statement = select(func.count()).where(col(OutboxMessage.dedupe_key) == dedupe_key)
    return bool((await session.exec(statement)).one())


async def drop_pending(session: AsyncSession, checkin_id: int, reason: str) -> None:
    """Stop a check-in's undelivered question and reminder from going out."""
    await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.checkin_id) == checkin_id,
            col(OutboxMessage.status) == "pending",
            col(OutboxMessage.purpose).in_(("checkin", "reminder")),
        )
        .values(status="failed", claimed_until=None, last_error=reason)
    )


async def defer(session: AsyncSession, message_id: int, not_before: datetime, reason: str) -> None:
    """Put a claimed message back to wait until `not_before` (not a failed attempt)."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(not_before=not_before, claimed_until=None, last_error=reason)
    )
