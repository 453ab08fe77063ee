"""Telling the people behind a theme what was done ("you said, we did"), each of them once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.build import Scope, digest_theme, programme_zone, scope_themes, theme_window
from bot.digest.report import theme_label
from bot.digest.themes import ThemeGroup
from bot.digest.weeks import IsoWeek, last_complete_week
from bot.outgoing import payload_of
from bot.replies import Text
from bot.wording import Wording, require
from storage.outbox import enqueue
from storage.people import people_by_id
from storage.reports import Window, add_theme_update, category_contributors

logger = logging.getLogger(__name__)

require("updates.notice")


@dataclass(frozen=True)
class ResolvedTheme:
    """A theme an owner named, with the people who raised it (never shown to anyone)."""

    programme_id: str
    theme: ThemeGroup
    person_ids: tuple[int, ...]


def update_windows(config: LastmileConfig, programme_id: str, now: datetime) -> list[Window]:
    """Where a theme is looked for: the latest weekly digest's weeks, then up to this week."""
    zone = programme_zone(config, programme_id)
    return [
        theme_window(last_complete_week(now, zone), zone),
        theme_window(IsoWeek.containing(now, zone), zone),
    ]


async def current_themes(
    session: AsyncSession, config: LastmileConfig, programme_id: str, now: datetime
) -> list[tuple[Window, list[ThemeGroup]]]:
    """The themes (k or more people) an owner can post an update on, per window."""
    scope = Scope(programme_id)
    return [
        (window, await scope_themes(session, config, scope, window))
        for window in update_windows(config, programme_id, now)
    ]


async def resolve_theme(
    session: AsyncSession, config: LastmileConfig, programme_id: str, slug: str, now: datetime
) -> ResolvedTheme | None:
    """The theme with this slug in the latest digest (or this week so far), and its people."""
    for window, themes in await current_themes(session, config, programme_id, now):
        for theme in themes:
            if theme.slug != slug:
                continue
            if theme.source == "free_text":
                people = sorted(theme.person_ids)
            else:
                people = await category_contributors(
                    session, programme_id, window, theme.family, theme.category
                )
            return ResolvedTheme(programme_id, theme, tuple(people))
    return None


async def post_update(
    session: AsyncSession,
    config: LastmileConfig,
    w: Wording,
    resolved: ResolvedTheme,
    message: str,
    author_person_id: int | None,
    now: datetime,
) -> int:
    """Store the update and queue one direct message to each person who raised the theme.

    Each notice names only the theme, the tool and the owner's message, never who
    else raised it. People who stopped check-ins or cannot be reached are skipped.

    Returns:
        How many people were notified.
    """
    update = await add_theme_update(
        session, resolved.programme_id, resolved.theme.slug, message, author_person_id, now
    )
    tool = config.programmes[resolved.programme_id].tool
    label = theme_label(digest_theme(resolved.theme), w)
    notice = payload_of([Text(w("updates.notice", theme=label, tool=tool, message=message))])
    notified = 0
    for person in await people_by_id(session, resolved.person_ids):
        if person.status == "stopped" or person.unreachable:
            continue
        queued = await enqueue(
            session,
            dedupe_key=f"update:{update.id}:{person.id}",
            platform=person.platform,
            purpose="update",
            payload=notice,
            now=now,
            person_id=person.id,
        )
        notified += int(queued)
    logger.info(
        "theme update posted",
        extra={"programme_id": resolved.programme_id, "theme": update.theme, "notified": notified},
    )
    return notified
