"""The usage API's idempotency keys: which report each key stood for, for a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import UsageKey
from storage.sql import insert_ignore

KEPT_FOR = timedelta(hours=24)
"""How long a key stands for its first report (then it may be used again)."""


async def claim_usage_key(
    session: AsyncSession, programme_id: str, key: str, fingerprint: str, now: datetime
) -> bool:
    """Tie an Idempotency-Key to a report, unless it already stands for another one.

    Args:
        session: the request's session (the claim commits with its check-in).
        programme_id: the programme whose API key sent it.
        key: the Idempotency-Key (as the check-in's slot uses it).
        fingerprint: SHA-256 of the report.
        now: the request's time.

    Returns:
        True when the key is new, or stands for this same report; False when it was
        used for a different one.
    """
    # Keys older than a day are forgotten, so the table holds about a day of reports.
    await session.exec(delete(UsageKey).where(col(UsageKey.created_at) < now - KEPT_FOR))
    values = {
        "programme_id": programme_id,
        "key": key,
        "fingerprint": fingerprint,
        "created_at": now,
    }
    if await insert_ignore(session, UsageKey, values, ("programme_id", "key")):
        return True
    first = await session.exec(
        select(UsageKey.fingerprint).where(
            col(UsageKey.programme_id) == programme_id, col(UsageKey.key) == key
        )
    )
    return first.one() == fingerprint
