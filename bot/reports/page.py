"""What a report page shows, built from the digest's and the trends' own functions.

The figures are the chat digest's (`build_digest`), the team lines the trends' (`build_trends`),
so a page, its downloads and the digest in chat always agree; k is applied by them, and
again here to every weekly count a trend line draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.build import (
    SERIES_WEEKS,
    Scope,
    build_digest,
    build_trends,
    people_by_cohort,
    programme_zone,
    theme_trends,
    theme_window,
    written_themes,
)
from bot.digest.groups import ReportingGroups, reporting_groups, team_cell_shown
from bot.digest.model import CohortTrend, Digest
from bot.digest.report import theme_label
from bot.digest.scrub import scrub
from bot.digest.weeks import IsoWeek, last_complete_week, weeks_ending
from bot.reports.links import ReportScope
from bot.themes.placing import Placement
from bot.themes.view import in_window
from bot.wording import Wording
from storage.instance import is_demo
from storage.reports import Window, category_counts, category_people, theme_updates
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


PeopleByTeam = Mapping[str, AbstractSet[int]]


def _team_weekly(
    weekly: Sequence[PeopleByTeam], groups: Sequence[ReportingGroups], team: str
) -> tuple[int | None, ...]:
    """A team's count of a measure per week, where the week's reporting groups allow it.

    A week that merges the team with others, or whose count of the team would single
    out fewer than k people beside the other groups' and the programme's, is a gap.
    """
    values: list[int | None] = []
    for people, week_groups in zip(weekly, groups, strict=True):
        mine = len(people.get(team, ()))
        if not week_groups.shows_alone(team):
            values.append(None)
        elif mine == 0 or team_cell_shown(people, week_groups, team):
            values.append(mine)
        else:
            values.append(None)
    return tuple(values)


@dataclass(frozen=True)
class _TeamWeeks:
    """Each week's reporting groups and who is in each theme, for a team's trend lines."""

    team: str
    groups: list[ReportingGroups]
    written: list[dict[int | None, dict[str, set[int]]]]
    """Per week, each written theme's writers by team."""
    fixed: list[dict[tuple[str, str], dict[str, set[int]]]]
    """Per week, each fixed answer's people by team."""

    def written_line(self, theme_id: int) -> tuple[int | None, ...]:
        return _team_weekly(
            [week.get(theme_id, {}) for week in self.written], self.groups, self.team
        )

    def fixed_line(self, family: str, category: str) -> tuple[int | None, ...]:
        weekly = [week.get((family, category), {}) for week in self.fixed]
        return _team_weekly(weekly, self.groups, self.team)


async def _team_weeks(
    session: AsyncSession,
    programme_id: str,
    team: str,
    windows: Sequence[Window],
    placement: Placement,
    k: int,
) -> _TeamWeeks:
    groups = await reporting_groups(session, programme_id, windows, k)
    written: list[dict[int | None, dict[str, set[int]]]] = []
    fixed: list[dict[tuple[str, str], dict[str, set[int]]]] = []
    for window in windows:
        texts = in_window(placement.texts, window, None)
        themes = {item.theme_id for item in texts}
        written.append(
            {
                theme: people_by_cohort([item for item in texts if item.theme_id == theme])
                for theme in themes
            }
        )
        pickers: dict[tuple[str, str], dict[str, set[int]]] = {}
        for row in await category_people(session, programme_id, window):
            cohorts = pickers.setdefault((row.family, row.category), {})
            cohorts.setdefault(row.cohort_id, set()).add(row.person_id)
        fixed.append(pickers)
    return _TeamWeeks(team, groups, written, fixed)


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
    windows = [week_.window(zone) for week_ in weeks]
    written_weekly = {
        series.slug: _k_applied(series.people, k)
        for series in theme_trends(placement, written, weeks, zone, digest_scope.cohorts)
    }
    fixed_weekly = {
        key: _k_applied(counts, k)
        for key, counts in (await _fixed_weekly(session, digest_scope, windows)).items()
    }
    if scope.cohort_id is not None:
        # A team's lines are its cells of the programme's weeks: shown only where the
        # programme's figures minus the team's cannot single anyone out.
        team = await _team_weeks(
            session, scope.programme_id, scope.cohort_id, windows, placement, k
        )
        written_weekly = {theme.slug: team.written_line(theme.id) for theme in digest.written}
        fixed_weekly = {
            (theme.family, theme.category): team.fixed_line(theme.family, theme.category)
            for theme in digest.themes
        }
    gaps: tuple[int | None, ...] = (0,) * len(weeks)
    themes = [
        ThemeLine(
            slug=theme.slug,
            label=theme.label,
            family="written",
            people=theme.people,
            times=theme.texts,
            quotes=theme.quotes,
            weekly=written_weekly.get(theme.slug, gaps),
            flag=flags.get(theme.slug, ""),
            sources=theme.sources,
        )
        for theme in digest.written
    ]
    themes += [
        ThemeLine(
            slug=theme.slug,
            label=theme_label(theme, w),
            family=theme.family,
            people=theme.contributors,
            times=theme.mentions,
            quotes=theme.quotes,
            weekly=fixed_weekly.get((theme.family, theme.category), gaps),
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
