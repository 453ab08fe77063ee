"""What a report page shows, built from the digest's and the trends' own functions.

The figures are the chat digest's (`build_digest`), the team lines the trends' (`build_trends`),
so a page, its downloads and the digest in chat always agree; k is applied by them, and
again here to every weekly count a trend line draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.build import (
    SERIES_WEEKS,
    Scope,
    build_digest,
    build_trends,
    programme_zone,
    theme_trends,
    theme_window,
    written_themes,
)
from bot.digest.model import CohortTrend, Digest
from bot.digest.report import theme_label
from bot.digest.scrub import scrub
from bot.digest.weeks import IsoWeek, last_complete_week, weeks_ending
from bot.reports.links import ReportScope
from bot.wording import Wording
from storage.instance import is_demo
from storage.reports import Window, category_counts, theme_updates
from storage.themes import releases


@dataclass(frozen=True)
class ThemeLine:
    """A theme the page shows (k or more people), with its people per week.

    `weekly` holds None for a week with fewer than k people in the theme (but some):
    a trend line never draws a count under k.
    """

    slug: str
    label: str
    family: str
    """`written` for a theme of what people wrote, else the fixed answer's family."""
    people: int
    times: int
    quotes: tuple[str, ...]
    weekly: tuple[int | None, ...]
    flag: str = ""
    sources: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    """A release of the tool or a "you said, we did" update, on the page's timeline."""

    week: str
    day: date
    kind: str  # release | update
    name: str
    message: str = ""


@dataclass(frozen=True)
class ReportPage:
    """Everything one report page shows, already anonymised and with k applied."""

    scope: ReportScope
    digest: Digest
    weeks: tuple[str, ...]
    """The weeks of every trend line, oldest first, ending with the page's week."""
    teams: tuple[CohortTrend, ...]
    """Each named team's weeks (and Other teams); empty on a team's page."""
    themes: tuple[ThemeLine, ...]
    timeline: tuple[TimelineEntry, ...]
    choosable_weeks: tuple[str, ...]
    demo: bool
    built_at: datetime


def page_week(
    config: LastmileConfig, programme_id: str, now: datetime, asked: str
) -> IsoWeek | None:
    """The week a page shows: the one asked for (not after this week), else the last complete.

    Returns:
        None when `asked` is not an ISO week or is in the future.
    """
    zone = programme_zone(config, programme_id)
    if not asked:
        return last_complete_week(now, zone)
    week = IsoWeek.parse(asked)
    if week is None or week > IsoWeek.containing(now, zone):
        return None
    return week


def _k_applied(counts: Sequence[int], k: int) -> tuple[int | None, ...]:
    return tuple(None if 0 < count < k else count for count in counts)


async def _fixed_weekly(
    session: AsyncSession,
    scope: Scope,
    windows: Sequence[Window],
) -> dict[tuple[str, str], list[int]]:
    """People per week who gave each fixed answer."""
    weekly: dict[tuple[str, str], list[int]] = {}
    for index, window in enumerate(windows):
        for count in await category_counts(session, scope.programme_id, window, scope.cohorts):
            row = weekly.setdefault((count.family, count.category), [0] * len(windows))
            row[index] = count.contributors
    return weekly


async def _timeline(
    session: AsyncSession, programme_id: str, weeks: Sequence[IsoWeek], config: LastmileConfig
) -> tuple[TimelineEntry, ...]:
    zone = programme_zone(config, programme_id)
    span = Window(weeks[0].window(zone).start, weeks[-1].window(zone).end)
    entries = [
        TimelineEntry(
            str(IsoWeek.containing(release.released_at, zone)),
            release.released_at.astimezone(zone).date(),
            "release",
            release.version,
        )
        for release in await releases(session, programme_id, span)
    ]
    entries += [
        TimelineEntry(
            str(IsoWeek.containing(update.created_at, zone)),
            update.created_at.astimezone(zone).date(),
            "update",
            update.theme,
            scrub(update.message),
        )
        for update in await theme_updates(session, programme_id, span)
    ]
    return tuple(sorted(entries, key=lambda entry: (entry.day, entry.kind, entry.name)))


async def build_page(
    session: AsyncSession,
    config: LastmileConfig,
    w: Wording,
    scope: ReportScope,
    week: IsoWeek,
    now: datetime,
) -> ReportPage:
    """The report of a programme (or one of its teams) for a week, k applied throughout.

    Args:
        session: an open session.
        config: the programmes, cohorts and k.
        w: the wording fixed answers are named in.
        scope: what the link opens.
        week: the week shown (its trend lines end with it).
        now: the moment it is built (an unfinished week is no result in "what changed").
    """
    digest_scope = Scope(scope.programme_id, scope.cohort_id)
    digest = await build_digest(session, config, digest_scope, week, now)
    zone = programme_zone(config, scope.programme_id)
    weeks = weeks_ending(week, SERIES_WEEKS)
    k = digest.k
    teams: tuple[CohortTrend, ...] = ()
    flags: dict[str, str] = {}
    if scope.cohort_id is None:
        # Trends are over complete weeks: the week under way is no result yet.
        last = min(week, last_complete_week(now, zone))
        trends = await build_trends(session, config, scope.programme_id, last, SERIES_WEEKS)
        if last == week:
            teams = trends.cohorts
            flags = {theme.slug: theme.flag for theme in trends.themes}
    placement, written = await written_themes(
        session, config, digest_scope, theme_window(week, zone)
    )
    written_weekly = {
        series.slug: series.people
        for series in theme_trends(placement, written, weeks, zone, digest_scope.cohorts)
    }
    themes = [
        ThemeLine(
            slug=theme.slug,
            label=theme.label,
            family="written",
            people=theme.people,
            times=theme.texts,
            quotes=theme.quotes,
            weekly=_k_applied(written_weekly.get(theme.slug, ()), k),
            flag=flags.get(theme.slug, ""),
            sources=theme.sources,
        )
        for theme in digest.written
    ]
    fixed_weekly = await _fixed_weekly(session, digest_scope, [w_.window(zone) for w_ in weeks])
    themes += [
        ThemeLine(
            slug=theme.slug,
            label=theme_label(theme, w),
            family=theme.family,
            people=theme.contributors,
            times=theme.mentions,
            quotes=theme.quotes,
            weekly=_k_applied(
                fixed_weekly.get((theme.family, theme.category), [0] * len(weeks)), k
            ),
        )
        for theme in digest.themes
    ]
    this_week = IsoWeek.containing(now, zone)
    return ReportPage(
        scope=scope,
        digest=digest,
        weeks=tuple(str(week_) for week_ in weeks),
        teams=teams,
        themes=tuple(themes),
        timeline=await _timeline(session, scope.programme_id, weeks, config),
        choosable_weeks=tuple(
            str(week_) for week_ in reversed(weeks_ending(this_week, SERIES_WEEKS))
        ),
        demo=await is_demo(session),
        built_at=now,
    )
