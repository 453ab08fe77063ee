"""The weekly digest: built for the last complete week, queued once for the programme."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.digest.build import Scope, build_digest, programme_zone
from bot.digest.report import digest_report
from bot.digest.weeks import last_complete_week
from bot.outgoing import payload_of
from bot.reports.links import ReportScope, with_report_link
from storage.outbox import enqueue, is_queued

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)


def digest_key(programme_id: str, week: str) -> str:
    """The outbox dedupe key of a programme's weekly digest."""
    return f"digest:{programme_id}:{week}"


async def queue_weekly_digest(runtime: Runtime, programme_id: str, now: datetime) -> bool:
    """Queue the digest of the last complete ISO week for the programme's destination.

    Every replica may call this on the programme's digest schedule: the outbox's
    unique dedupe key lets one row through, so the channel gets one post.

    Args:
        runtime: the running bot.
        programme_id: the programme.
        now: the moment the schedule fired.

    Returns:
        True when this call queued the digest; False when it was queued before, or
        the programme has no digest destination.
    """
    programme = runtime.config.programmes[programme_id]
    platform, _, destination = programme.digest_destination.partition(":")
    if not destination:
        logger.warning("programme %s has no digest_destination; digest not sent", programme_id)
        return False
    week = last_complete_week(now, programme_zone(runtime.config, programme_id))
    key = digest_key(programme_id, str(week))
    async with runtime.db.session() as session:
        # Building is the slow part; a replica that finds the row queued skips it.
        if await is_queued(session, key):
            return False
        digest = await build_digest(session, runtime.config, Scope(programme_id), week, now)
        # The programme's channel reads it in the programme's language.
        w = runtime.wordings.get(runtime.config.programme_locale(programme_id))
        # Drawing the chart is CPU work (and imports matplotlib the first time): a thread.
        drawn = await asyncio.to_thread(digest_report, digest, w)
        report = await with_report_link(drawn, runtime.links, ReportScope(programme_id), w, session)
        queued = await enqueue(
            session,
            dedupe_key=key,
            platform=platform,
            purpose="digest",
            payload=payload_of([report], w.locale),
            now=now,
            destination=destination,
        )
    if queued:
        logger.info("weekly digest queued", extra={"programme_id": programme_id, "week": str(week)})
    return queued
