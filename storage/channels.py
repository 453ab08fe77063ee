"""Repository functions for channel addresses: how to post to a channel, team or group chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ChannelAddress
from storage.sql import upsert


async def save_channel_address(
    session: AsyncSession, platform: str, channel_id: str, data: dict[str, Any], now: datetime
) -> None:
    """Remember (or refresh) how to post to a channel."""
    values = {"platform": platform, "channel_id": channel_id, "data": data, "updated_at": now}
    await upsert(
        session, ChannelAddress, values, ("platform", "channel_id"), ("data", "updated_at")
    )


async def get_channel_address(
    session: AsyncSession, platform: str, channel_id: str
) -> ChannelAddress | None:
    """How to post to this channel, if known."""
    return await session.get(ChannelAddress, (platform, channel_id))


async def channel_addresses(session: AsyncSession, platform: str) -> list[ChannelAddress]:
    """Every known channel of a platform, most recently refreshed first."""
    statement = (
        select(ChannelAddress)
        .where(col(ChannelAddress.platform) == platform)
        .order_by(col(ChannelAddress.updated_at).desc(), col(ChannelAddress.channel_id))
    )
    return list((await session.exec(statement)).all())
