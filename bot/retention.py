"""The retention period: a daily job erases free text older than each programme's
`retention_days`, and every count of every past digest stays the same."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.digest.build import programme_cohorts
from bot.themes.placing import PLACE_WEEKS, update_themes
from storage.reports import Window
from storage.retention import Erased, erase_free_text
from storage.themes import unplaced_count

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

EVERY = timedelta(days=1)


async def apply_retention(runtime: Runtime, now: datetime) -> dict[str, Erased]:
    """Erase, in every programme with a retention period, the free text older than it.

    Each text about to be erased is first given its place in a theme (as the weekly
    digest would), so the theme counts of past weeks are the same before and after.

    Returns:
        What was erased, by programme.
    """
    config = runtime.config
    periods = {pid: p.retention_days for pid, p in config.programmes.items() if p.retention_days}
    shortest = min(periods.values(), default=None)
    erased: dict[str, Erased] = {}
    for programme_id, days in sorted(periods.items()):
        before = now - timedelta(days=days)
        async with runtime.db.session() as session:
            placing = Window(before - timedelta(weeks=PLACE_WEEKS), before)
            if await unplaced_count(session, programme_id, placing):
                await update_themes(session, config, programme_id, before)
            erased[programme_id] = found = await erase_free_text(
                session,
                programme_id,
                programme_cohorts(config, programme_id),
                before,
                now,
                notes_without_cohort=days == shortest,
            )
        if found.total or found.theme_texts or found.sent_messages:
            logger.info(
                "retention: free text older than %d days erased",
                days,
                extra={
                    "programme_id": programme_id,
                    "texts": found.total,
                    "theme_texts": found.theme_texts,
                    "sent_messages": found.sent_messages,
                },
            )
    return erased


def daily_retention() -> Callable[[Runtime, datetime], Awaitable[int]]:
    """The scheduler's tick: runs `apply_retention` at start and then once a day.

    Every replica may run it: erasing what is already erased changes nothing.
    """
    last: list[datetime] = []

    async def tick(runtime: Runtime, now: datetime) -> int:
        if last and now - last[0] < EVERY:
            return 0
        await apply_retention(runtime, now)
        last[:] = [now]
        return 0

    return tick
