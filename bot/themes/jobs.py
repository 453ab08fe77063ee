"""The scheduler's theme job: new texts are encoded and placed soon after they are written.

So the weekly digest (and a lead's digest) finds nearly every text already placed,
with its vector stored, and does not pay for encoding a week of words at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.themes.placing import PLACE_WEEKS, update_themes
from storage.reports import Window
from storage.themes import unplaced_count

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

JOB_TEXTS = 1000
"""Texts one run encodes and places at most (about 5 s on two cores): a programme with a
long history not placed yet (just upgraded) is caught up over a few minutes of runs, each
with bounded time and memory, instead of in one long transaction."""


async def place_new_texts(runtime: Runtime, now: datetime) -> int:
    """Place what was written since the last run, in every programme with something new.

    Returns:
        How many programmes had new texts.
    """
    updated = 0
    span = Window(now - timedelta(weeks=PLACE_WEEKS), now)
    for programme_id in sorted(runtime.config.programmes):
        async with runtime.db.session() as session:
            if not await unplaced_count(session, programme_id, span):
                continue
            await update_themes(session, runtime.config, programme_id, now, limit=JOB_TEXTS)
        updated += 1
    return updated
