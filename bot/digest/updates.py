"""Telling the people behind a theme what was done ("you said, we did"), each of them once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.build import (
    Scope,
    digest_theme,
    programme_zone,
    scope_themes,
    theme_window,
    written_themes,
)
from bot.digest.report import theme_label
from bot.digest.themes import FIXED_SLUGS
from bot.digest.weeks import IsoWeek, last_complete_week
from bot.outgoing import payload_of
from bot.replies import Text
from bot.wording import Wording, require
from storage.outbox import enqueue
from storage.people import people_by_id
from storage.reports import Window, add_theme_update, category_contributors
from storage.themes import theme_person_ids

EVER = Window(datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
_FIXED_BY_SLUG = {slug: key for key, slug in FIXED_SLUGS.items()}

logger = logging.getLogger(__name__)

require("updates.notice")


@dataclass(frozen=True)
class ShownTheme:
    """A theme an owner can post an update on: a fixed answer or a theme of written words."""

    slug: str
    label: str
    family: str = ""
    category: str = ""
    theme_id: int | None = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResolvedTheme:
    """A theme an owner named, with the people who raised it (never shown to anyone)."""

    programme_id: str
    theme: ShownTheme
    person_ids: tuple[int, ...]


def update_windows(config: LastmileConfig, programme_id: str, now: datetime) -> list[Window]:
    """Where a theme is looked for: the latest weekly digest's weeks, then up to this week."""
    zone = programme_zone(config, programme_id)
    return [
        theme_window(last_complete_week(now, zone), zone),
        theme_window(IsoWeek.containing(now, zone), zone),
    ]


async def current_themes(
    session: AsyncSession, config: LastmileConfig, programme_id: str, now: datetime, w: Wording
) -> list[tuple[Window, list[ShownTheme]]]:
    """The themes (k or more people) an owner can post an update on, per window."""
    scope = Scope(programme_id)
    found: list[tuple[Window, list[ShownTheme]]] = []
    for window in update_windows(config, programme_id, now):
        fixed = [
            ShownTheme(
                theme.slug, theme_label(digest_theme(theme), w), theme.family, theme.category
            )
            for theme in await scope_themes(session, config, scope, window)
        ]
        placement, written = await written_themes(session, config, scope, window)
        words = [
            ShownTheme(t.slug, t.label, theme_id=t.id, links=placement.themes[t.id].links)
            for t in written.shown
        ]
        found.append((window, fixed + words))
    return found


async def resolve_theme(
    session: AsyncSession,
    config: LastmileConfig,
    programme_id: str,
    slug: str,
    now: datetime,
    w: Wording,
) -> ResolvedTheme | None:
    """The theme with this slug in the latest digest (or this week so far), and its people.

    For a theme of written words that is everyone with a text in it, and everyone who
    picked a fixed answer the owner linked to it; for a fixed answer, its pickers in
    the window.
    """
    for window, themes in await current_themes(session, config, programme_id, now, w):
        for theme in themes:
            if theme.slug != slug:
                continue
            people: set[int] = set()
            if theme.theme_id is not None:
                people.update(await theme_person_ids(session, theme.theme_id))
                for linked in theme.links:
                    if linked in _FIXED_BY_SLUG:
                        family, category = _FIXED_BY_SLUG[linked]
                        people.update(
                            await category_contributors(
                                session, programme_id, EVER, family, category
                            )
                        )
            else:
                people.update(
                    await category_contributors(
                        session, programme_id, window, theme.family, theme.category
                    )
                )
            return ResolvedTheme(programme_id, theme, tuple(sorted(people)))
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
    label = resolved.theme.label
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
