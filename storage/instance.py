"""This database's own row: the key report links are signed with, and the demo mark."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Instance
from storage.sql import insert_ignore


async def instance(session: AsyncSession, now: datetime, *, demo: bool = False) -> Instance:
    """The database's row, made on first use with a random key.

    Every replica sharing the database reads the same row; the first to ask writes it.

    Args:
        session: an open session.
        now: when it is made, if it is.
        demo: the mark a row made now gets (`lastmile demo` makes its database's row).
    """
    await insert_ignore(
        session,
        Instance,
        {"id": 1, "secret": secrets.token_urlsafe(48), "demo": demo, "created_at": now},
        ("id",),
    )
    found = await session.get(Instance, 1)
    assert found is not None
    return found


async def is_demo(session: AsyncSession) -> bool:
    """True when `lastmile demo` made this database."""
    found = await session.get(Instance, 1)
    return found is not None and found.demo
