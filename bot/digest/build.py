"""Builds the anonymised digest and trends data from SQL aggregates."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.anonymity import effective_k
from bot.digest.groups import ReportingGroup, ReportingGroups, reporting_groups, team_cell_shown
from bot.digest.known_people import scrubber_for
from bot.digest.model import (
    CohortRow,
    CohortTrend,
    Digest,
    DigestTheme,
    Indispensability,
    ThemeTrend,
    TimelineMark,
    Trends,
    UpdateNote,
    WeekPoint,
)
from bot.digest.themes import ThemeGroup, all_themes, pick_quotes
from bot.digest.weeks import IsoWeek, weeks_ending
from bot.themes.changes import (
    BASELINE_WEEKS,
    Change,
    ChangeKind,
    Marker,
    TeamSeries,
    ThemeSeries,
    load_statistics,
    ranked,
    team_changes,
    theme_changes,
)
from bot.themes.placing import PLACE_WEEKS, PlacedText, Placement, update_themes
from bot.themes.view import ThemeWindow, WrittenTheme, in_window, summarise
from storage.reports import (
    FreeText,
    OutcomeCounts,
    Window,
    category_counts,
    category_people,
    day30_counts,
    day30_people,
    free_texts,
    theme_updates,
)
from storage.themes import (
    newest_theme_texts,
    releases,
    theme_people_by_week,
    theme_tallies,
    themes_of,
    unplaced_count,
    writers_outside,
)
from storage.week_counts import week_counts

SERIES_WEEKS = 12
"""Weeks in a digest's trend chart."""
THEME_WEEKS = 4
"""Themes gather four weeks of answers: one week rarely has k people on a theme."""


def programme_zone(config: LastmileConfig, programme_id: str) -> ZoneInfo:
    """The time zone a programme's weeks are read in."""
    return ZoneInfo(config.programmes[programme_id].timezone)


def cohort_name(config: LastmileConfig, cohort_id: str) -> str:
    """A cohort's display name (its id when the config gives none)."""
    cohort = config.cohorts.get(cohort_id)
    return (cohort.name or cohort_id) if cohort else cohort_id


def programme_cohorts(config: LastmileConfig, programme_id: str) -> list[str]:
    """The ids of a programme's cohorts in the config."""
    return sorted(cid for cid, cohort in config.cohorts.items() if cohort.programme == programme_id)


def theme_window(week: IsoWeek, zone: ZoneInfo) -> Window:
    """The weeks a digest's themes are gathered over, ending with its own week."""
    first = week.shifted(1 - THEME_WEEKS)
    return Window(first.window(zone).start, week.window(zone).end)


@dataclass(frozen=True)
class Scope:
    """What a digest covers: a programme, or one cohort of it."""

    programme_id: str
    cohort_id: str | None = None

    @property
    def cohorts(self) -> list[str] | None:
        """The cohort filter for the queries (None: the whole programme)."""
        return None if self.cohort_id is None else [self.cohort_id]


async def scope_themes(
    session: AsyncSession, config: LastmileConfig, scope: Scope, window: Window
) -> list[ThemeGroup]:
    """The fixed answers of a window with at least k contributors."""
    k = effective_k(config.settings.anonymity_k)
    counts = await category_counts(session, scope.programme_id, window, scope.cohorts)
    shown = {(c.family, c.category) for c in counts if c.contributors >= k}
    newest: dict[tuple[str, str], list[FreeText]] = {}
    for text in sorted(
        await free_texts(session, scope.programme_id, window, scope.cohorts),
        key=lambda text: text.created_at,
        reverse=True,
    ):
        kept = newest.setdefault((text.family, text.category), [])
        if (text.family, text.category) in shown and len(kept) < QUOTE_TEXTS:
            kept.append(text)
    scrubber = await scrubber_for(session, config)
    # Known names and identifiers leave the words before any is quoted; only the
    # newest words of the answers shown can be quoted, so only they are scrubbed.
    texts = scrubber.texts([text for kept in newest.values() for text in kept])
    return all_themes(counts, texts, k)


async def written_themes(
    session: AsyncSession, config: LastmileConfig, scope: Scope, window: Window
) -> tuple[Placement, ThemeWindow]:
    """Bring the programme's themes up to the window's end; the window's themes."""
    k = effective_k(config.settings.anonymity_k)
    placement = await update_themes(session, config, scope.programme_id, window.end)
    return placement, summarise(placement, window, scope.cohorts, k)


QUOTE_TEXTS = 50
"""A theme's quotes are picked from its newest texts of the window, this many at most."""


async def counted_themes(
    session: AsyncSession, config: LastmileConfig, programme_id: str, window: Window
) -> ThemeWindow:
    """A programme's written themes of the window, counted in SQL.

    Texts not placed yet (the minute job places them soon after they are written) are
    placed first; then only the counts are read, and the words of each shown theme's
    newest texts to quote, never the whole pool of the last weeks.
    """
    span = Window(window.end - timedelta(weeks=PLACE_WEEKS), window.end)
    if await unplaced_count(session, programme_id, span):
        await update_themes(session, config, programme_id, window.end)
    k = effective_k(config.settings.anonymity_k)
    live = {
        theme.id: theme
        for theme in await themes_of(session, programme_id)
        if theme.id is not None and theme.merged_into is None
    }
    scrubber = await scrubber_for(session, config)
    themes: list[WrittenTheme] = []
    for tally in await theme_tallies(session, programme_id, window):
        theme = live[tally.theme_id]
        quotes: tuple[str, ...] = ()
        if tally.people >= k:
            newest = scrubber.texts(
                await newest_theme_texts(session, programme_id, tally.theme_id, window, QUOTE_TEXTS)
            )
            quotes = pick_quotes([(t.person_id, t.text) for t in newest], exclude=theme.label)
        themes.append(
            WrittenTheme(
                tally.theme_id,
                theme.slug,
                theme.label,
                tally.people,
                tally.texts,
                tally.sources,
                quotes,
            )
        )
    themes.sort(key=lambda theme: (-theme.people, -theme.texts, theme.slug))
    shown = tuple(theme for theme in themes if theme.people >= k)
    outside = await writers_outside(session, programme_id, window, [t.id for t in shown])
    below = tuple(theme for theme in themes if theme.people < k)
    return ThemeWindow(shown=shown, below=below, ungrouped=(), outside_people=outside)


async def counted_trends(
    session: AsyncSession,
    programme_id: str,
    shown: ThemeWindow,
    weeks: Sequence[IsoWeek],
    zone: ZoneInfo,
) -> list[ThemeSeries]:
    """People per week in each shown theme of the programme, counted in SQL."""
    windows = [week.window(zone) for week in weeks]
    ids = [theme.id for theme in shown.shown]
    people = await theme_people_by_week(session, programme_id, windows, ids)
    return [
        ThemeSeries(
            theme.slug,
            theme.label,
            tuple(people.get((index, theme.id), 0) for index in range(len(weeks))),
        )
        for theme in shown.shown
    ]


def _load_statistics() -> asyncio.Future[None] | None:
    """Start importing the change tests' statistics in a thread, beside the SQL."""
    if "scipy.stats" in sys.modules:
        return None
    return asyncio.ensure_future(asyncio.to_thread(load_statistics))


def _complete(weeks: Sequence[IsoWeek], now: datetime | None, zone: ZoneInfo) -> int:
    """How many of the weeks had ended by `now` (all of them when `now` is not given)."""
    if now is None:
        return len(weeks)
    return sum(1 for week in weeks if week.window(zone).end <= now)


async def _timeline(
    session: AsyncSession, programme_id: str, weeks: Sequence[IsoWeek], zone: ZoneInfo
) -> tuple[list[Marker], tuple[TimelineMark, ...]]:
    """Releases and updates in the weeks: for the change tests and for the chart."""
    span = Window(weeks[0].window(zone).start, weeks[-1].window(zone).end)
    position = {str(week): index for index, week in enumerate(weeks)}
    markers: list[Marker] = []
    marks: list[TimelineMark] = []
    for release in await releases(session, programme_id, span):
        week = str(IsoWeek.containing(release.released_at, zone))
        markers.append(Marker(position[week], release.version))
        marks.append(TimelineMark(week, release.version, "release"))
    for update in await theme_updates(session, programme_id, span):
        week = str(IsoWeek.containing(update.created_at, zone))
        day = update.created_at.astimezone(zone).date().isoformat()
        markers.append(Marker(position[week], day, update.theme))
        marks.append(TimelineMark(week, update.theme, "update"))
    return markers, tuple(marks)


def theme_trends(
    placement: Placement,
    shown: ThemeWindow,
    weeks: Sequence[IsoWeek],
    zone: ZoneInfo,
    cohorts: Sequence[str] | None,
) -> list[ThemeSeries]:
    """People per week in each shown theme."""
    per_week = [in_window(placement.texts, week.window(zone), cohorts) for week in weeks]
    return [
        ThemeSeries(
            theme.slug,
            theme.label,
            tuple(
                len({item.text.person_id for item in texts if item.theme_id == theme.id})
                for texts in per_week
            ),
        )
        for theme in shown.shown
    ]


_FLAGS = {
    ChangeKind.THEME_NEW: "new",
    ChangeKind.THEME_RISING: "rising",
    ChangeKind.THEME_FALLING: "falling",
}


def _flags(changes: Sequence[Change]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for change in changes:
        slug = str(change.values.get("slug", ""))
        if change.kind in _FLAGS:
            flags[slug] = _FLAGS[change.kind]
        elif change.kind in (ChangeKind.THEME_SINCE_RELEASE, ChangeKind.THEME_SINCE_UPDATE):
            flags.setdefault(slug, "rising" if change.values["direction"] == "rose" else "falling")
    return flags


_SUMMED = ("sent", "answered", "helped", "partly", "no", "not_used", "not_now")


class _WeekCounter:
    """A programme's counts per week, with each week's reporting groups decided once."""

    def __init__(
        self, session: AsyncSession, programme_id: str, windows: Sequence[Window], k: int
    ) -> None:
        self.session = session
        self.programme_id = programme_id
        self.windows = windows
        self.k = k
        self.totals: dict[tuple[int, str], OutcomeCounts] = {}
        self.by_cohort: dict[tuple[int, str], OutcomeCounts] = {}
        self.groups: list[ReportingGroups] = []

    async def load(self) -> None:
        programme = self.programme_id
        self.totals, self.by_cohort = await week_counts(self.session, programme, self.windows)
        self.groups = await reporting_groups(
            self.session,
            programme,
            self.windows,
            self.k,
            by_cohort=self.by_cohort,
            totals=self.totals,
        )

    def total(self, index: int) -> OutcomeCounts:
        return self.totals.get((index, ""), OutcomeCounts())

    def visible_total(self, index: int) -> OutcomeCounts | None:
        return self.total(index) if self.groups[index].shown else None

    def cohort(self, index: int, cohort_id: str) -> OutcomeCounts:
        return self.by_cohort.get((index, cohort_id), OutcomeCounts())

    def team_point(self, index: int, cohort_id: str) -> OutcomeCounts | None:
        """A team's counts for the week, only in a week that shows it alone."""
        shown = self.groups[index].shows_alone(cohort_id)
        return self.cohort(index, cohort_id) if shown else None

    async def merged(self, index: int) -> tuple[ReportingGroup, OutcomeCounts] | None:
        """The week's "Other teams" group and its counts, when the week shows one."""
        group = self.groups[index].merged
        if group is None:
            return None
        # The group's counts add up from its teams'; its respondents (distinct people,
        # so someone who moved between its teams is one) were counted to choose it.
        teams = [self.cohort(index, cohort_id) for cohort_id in group.cohorts]
        summed = {name: sum(getattr(counts, name) for counts in teams) for name in _SUMMED}
        return group, OutcomeCounts(**summed, respondents=group.people)

    def series(self, weeks: Sequence[IsoWeek]) -> tuple[WeekPoint, ...]:
        return tuple(WeekPoint(str(week), self.visible_total(i)) for i, week in enumerate(weeks))

    def team_series(self, weeks: Sequence[IsoWeek], cohort_id: str) -> tuple[WeekPoint, ...]:
        return tuple(
            WeekPoint(str(week), self.team_point(i, cohort_id), (cohort_id,))
            for i, week in enumerate(weeks)
        )


def digest_theme(theme: ThemeGroup) -> DigestTheme:
    """A theme as the digest shows it: without the people behind it."""
    return DigestTheme(
        family=theme.family,
        slug=theme.slug,
        category=theme.category,
        mentions=theme.mentions,
        contributors=theme.contributors,
        quotes=theme.quotes,
    )


@dataclass(frozen=True)
class _TeamView:
    """What a team digest may show of its window beside every other output of the week."""

    themes: tuple[DigestTheme, ...] = ()
    written: tuple[WrittenTheme, ...] = ()
    outside_people: int | None = None
    indispensability: Indispensability | None = None


def people_by_cohort(items: Sequence[PlacedText]) -> dict[str, set[int]]:
    """The people who wrote the texts, by their team then."""
    people: dict[str, set[int]] = {}
    for item in items:
        people.setdefault(item.text.cohort_id, set()).add(item.text.person_id)
    return people


async def _team_view(
    session: AsyncSession,
    config: LastmileConfig,
    scope: Scope,
    window: Window,
    groups: ReportingGroups,
    placement: Placement,
    programme_written: ThemeWindow,
) -> _TeamView:
    """A team's themes, words and day-30 answers: each count only where it is a safe cell.

    A team's count of a theme is shown only when the team is shown alone this week
    and the count passes `team_cell_shown` against every other group's count of
    the same theme (so the programme's count minus the team's cannot single out
    fewer than k people).
    """
    team = scope.cohort_id
    assert team is not None
    if not groups.shows_alone(team):
        return _TeamView()
    k = groups.k
    pickers: dict[tuple[str, str], dict[str, set[int]]] = {}
    for row in await category_people(session, scope.programme_id, window):
        cohorts = pickers.setdefault((row.family, row.category), {})
        cohorts.setdefault(row.cohort_id, set()).add(row.person_id)
    themes = tuple(
        digest_theme(theme)
        for theme in await scope_themes(session, config, scope, window)
        if team_cell_shown(pickers.get((theme.family, theme.category), {}), groups, team)
    )
    texts = in_window(placement.texts, window, None)
    own = summarise(placement, window, scope.cohorts, k)
    written = tuple(
        theme
        for theme in own.shown
        if team_cell_shown(
            people_by_cohort([item for item in texts if item.theme_id == theme.id]), groups, team
        )
    )
    # Outside: words in none of the programme's shown themes, so the team's count is
    # a part of the programme's and the same cell rule applies.
    shown_ids = {theme.id for theme in programme_written.shown}
    outside = people_by_cohort([item for item in texts if item.theme_id not in shown_ids])
    mine = len(outside.get(team, set()))
    outside_people = mine if mine < k or team_cell_shown(outside, groups, team) else None
    answered: dict[str, set[int]] = {}
    for cohort, person in await day30_people(session, scope.programme_id, window.end):
        answered.setdefault(cohort, set()).add(person)
    indispensability = None
    if team_cell_shown(answered, groups, team):
        day30 = await day30_counts(session, scope.programme_id, window.end, scope.cohorts)
        indispensability = Indispensability(day30.answers, day30.very, day30.people)
    return _TeamView(themes, written, outside_people, indispensability)


def _team_theme_changes(
    placement: Placement,
    shown: Sequence[WrittenTheme],
    weeks: Sequence[IsoWeek],
    zone: ZoneInfo,
    groups: Sequence[ReportingGroups],
    team: str,
    markers: Sequence[Marker],
) -> list[Change]:
    """A team's theme changes, over the latest run of weeks that each show its count safely.

    A week whose groups merge the team, or whose team count of the theme is withheld
    beside the other groups', ends the run: a change line prints its counts.
    """
    per_week = [in_window(placement.texts, week.window(zone), None) for week in weeks]
    changes: list[Change] = []
    for theme in shown:
        values: list[int | None] = []
        for texts, week_groups in zip(per_week, groups, strict=False):
            people = people_by_cohort([item for item in texts if item.theme_id == theme.id])
            mine = len(people.get(team, set()))
            usable = week_groups.shows_alone(team) and (
                # Under k a change line says "fewer than k", never the number.
                mine < week_groups.k or team_cell_shown(people, week_groups, team)
            )
            values.append(mine if usable else None)
        start = len(values)
        while start > 0 and values[start - 1] is not None:
            start -= 1
        run = tuple(value for value in values[start:] if value is not None)
        if len(run) < 2:
            continue
        moved = [Marker(m.week - start, m.name, m.theme) for m in markers if m.week >= start]
        labels = [str(week) for week in weeks[start:]]
        changes += theme_changes([ThemeSeries(theme.slug, theme.label, run)], labels, moved)
    return changes


async def _cohort_rows(
    counter: _WeekCounter, current: int, previous: int, config: LastmileConfig
) -> list[CohortRow]:
    """The week's per-team breakdown: the teams shown alone, then "Other teams"."""
    rows = [
        CohortRow(
            cohort_id,
            cohort_name(config, cohort_id),
            counter.cohort(current, cohort_id),
            counter.team_point(previous, cohort_id),
            (cohort_id,),
        )
        for cohort_id in counter.groups[current].alone
    ]
    merged = await counter.merged(current)
    if merged is not None:
        group, counts = merged
        rows.append(CohortRow(None, "", counts, None, group.cohorts))
    return rows


async def build_digest(
    session: AsyncSession,
    config: LastmileConfig,
    scope: Scope,
    week: IsoWeek,
    now: datetime | None = None,
) -> Digest:
    """One week of a programme or cohort, with k applied to every breakdown.

    Every figure follows the week's reporting groups (`bot.digest.groups`): a team
    digest shows its team's numbers only in weeks that show the team alone, and its
    theme counts only where they are safe beside every other group's.

    Args:
        session: an open session.
        config: the programmes, cohorts and anonymity_k.
        scope: the programme, or one of its cohorts.
        week: the ISO week, read in the programme's time zone.
        now: the moment it is built; weeks not over by then are no result in
            "what changed" (without it every week counts as over).

    Returns:
        The digest data, with nothing in it that identifies a person.
    """
    statistics = _load_statistics()
    k = effective_k(config.settings.anonymity_k)
    programme = config.programmes[scope.programme_id]
    zone = programme_zone(config, scope.programme_id)
    weeks = weeks_ending(week, SERIES_WEEKS)
    counter = _WeekCounter(session, scope.programme_id, [w.window(zone) for w in weeks], k)
    await counter.load()
    current, previous = len(weeks) - 1, len(weeks) - 2
    groups = counter.groups[current]
    themes_in = theme_window(week, zone)
    team = scope.cohort_id
    placement: Placement | None = None
    if team is None:
        programme_written = await counted_themes(session, config, scope.programme_id, themes_in)
    else:
        placement, programme_written = await written_themes(
            session, config, Scope(scope.programme_id), themes_in
        )
    if team is None:
        rows = await _cohort_rows(counter, current, previous, config)
        counts, before = counter.visible_total(current), counter.visible_total(previous)
        series = counter.series(weeks)
        day30 = await day30_counts(session, scope.programme_id, themes_in.end)
        view = _TeamView(
            themes=tuple(
                digest_theme(theme)
                for theme in await scope_themes(session, config, scope, themes_in)
            ),
            written=programme_written.shown,
            outside_people=programme_written.outside_people,
            indispensability=(
                Indispensability(answers=day30.answers, very=day30.very, people=day30.people)
                if day30.people >= k
                else None
            ),
        )
    else:
        assert placement is not None
        rows = []
        counts, before = counter.team_point(current, team), counter.team_point(previous, team)
        series = counter.team_series(weeks, team)
        view = await _team_view(
            session, config, scope, themes_in, groups, placement, programme_written
        )
    updates = await theme_updates(session, scope.programme_id, week.window(zone))
    complete = weeks[: _complete(weeks, now, zone)]
    changes: list[Change] = []
    marks: tuple[TimelineMark, ...] = ()
    if statistics is not None:
        await statistics
    if len(complete) >= 2:
        markers, marks = await _timeline(session, scope.programme_id, weeks, zone)
        labels = [str(w) for w in complete]
        if team is None:
            series_of = await counted_trends(
                session, scope.programme_id, programme_written, complete, zone
            )
            changes = theme_changes(series_of, labels, markers)
            teams = _team_series(counter, complete, config)
            totals = [counter.visible_total(i) for i in range(len(complete))]
            changes += team_changes(teams, totals, labels, markers, k)
        elif groups.shows_alone(team):
            assert placement is not None
            changes = _team_theme_changes(
                placement, view.written, complete, zone, counter.groups, team, markers
            )
    return Digest(
        programme_id=scope.programme_id,
        programme_name=programme.name,
        tool=programme.tool,
        timezone=programme.timezone,
        cohort_id=team,
        cohort_name=cohort_name(config, team) if team else "",
        week=str(week),
        week_start=week.monday,
        week_end=week.sunday,
        k=k,
        counts=counts,
        previous=before,
        cohorts=tuple(rows),
        themes=view.themes,
        theme_start=week.shifted(1 - THEME_WEEKS).monday,
        theme_end=week.sunday,
        indispensability=view.indispensability,
        updates=tuple(UpdateNote(u.theme, u.message, u.created_at) for u in updates),
        series=series,
        written=view.written,
        outside_people=view.outside_people,
        changes=tuple(ranked(changes)),
        marks=marks,
        merged=(
            team is not None
            and groups.shown
            and not groups.shows_alone(team)
            and counter.cohort(current, team).respondents >= k
        ),
    )


def _team_series(
    counter: _WeekCounter, weeks: Sequence[IsoWeek], config: LastmileConfig
) -> list[TeamSeries]:
    """Teams shown alone per week (None in the weeks they were merged or below k)."""
    shown: dict[str, list[OutcomeCounts | None]] = {}
    # The tests look at the latest week and the three before it only.
    for index in range(max(0, len(weeks) - BASELINE_WEEKS - 1), len(weeks)):
        for cohort_id in counter.groups[index].alone:
            shown.setdefault(cohort_id, [None] * len(weeks))[index] = counter.cohort(
                index, cohort_id
            )
    return [
        TeamSeries(cohort_name(config, cohort_id), tuple(points))
        for cohort_id, points in sorted(shown.items())
    ]


async def build_trends(
    session: AsyncSession, config: LastmileConfig, programme_id: str, last: IsoWeek, count: int
) -> Trends:
    """Several complete weeks of a programme, overall, per team and per theme, k applied.

    Each week's columns follow that week's reporting groups, the same ones its
    digests use.

    Args:
        last: the last week shown: callers pass the last complete one, so the
            unfinished week is never reported as a result.
    """
    statistics = _load_statistics()
    k = effective_k(config.settings.anonymity_k)
    programme = config.programmes[programme_id]
    zone = programme_zone(config, programme_id)
    weeks = weeks_ending(last, count)
    counter = _WeekCounter(session, programme_id, [w.window(zone) for w in weeks], k)
    await counter.load()
    named: dict[str, list[WeekPoint]] = {}
    other: list[WeekPoint] = []
    for index, week in enumerate(weeks):
        alone = counter.groups[index].alone
        merged = await counter.merged(index)
        if merged is None:
            other.append(WeekPoint(str(week), None))
        else:
            other.append(WeekPoint(str(week), merged[1], merged[0].cohorts))
        for cohort_id in alone:
            named.setdefault(cohort_id, [])
        for cohort_id, points in named.items():
            points.append(WeekPoint(str(week), counter.team_point(index, cohort_id), (cohort_id,)))
    trends = [
        CohortTrend(cohort_id, cohort_name(config, cohort_id), tuple(_pad(points, weeks)))
        for cohort_id, points in sorted(
            named.items(), key=lambda item: cohort_name(config, item[0])
        )
    ]
    if any(point.counts is not None for point in other):
        trends.append(CohortTrend(None, "", tuple(other)))
    written = await counted_themes(session, config, programme_id, theme_window(last, zone))
    markers, marks = await _timeline(session, programme_id, weeks, zone)
    labels = [str(week) for week in weeks]
    series = await counted_trends(session, programme_id, written, weeks, zone)
    if statistics is not None:
        await statistics
    changes = theme_changes(series, labels, markers)
    teams = [
        TeamSeries(cohort.name, tuple(point.counts for point in cohort.points))
        for cohort in trends
        if cohort.cohort_id is not None
    ]
    totals = [counter.visible_total(index) for index in range(len(weeks))]
    changes += team_changes(teams, totals, labels, markers, k)
    flags = _flags(changes)
    return Trends(
        programme_id=programme_id,
        programme_name=programme.name,
        tool=programme.tool,
        k=k,
        series=counter.series(weeks),
        cohorts=tuple(trends),
        themes=tuple(
            ThemeTrend(theme.slug, theme.label, theme.people, flags.get(theme.slug, ""))
            for theme in series
        ),
        changes=tuple(ranked(changes)),
        marks=marks,
    )


def _pad(points: list[WeekPoint], weeks: Sequence[IsoWeek]) -> list[WeekPoint]:
    """Weeks before a team was first shown, as gaps, so every row has every week."""
    missing = len(weeks) - len(points)
    return [WeekPoint(str(week), None) for week in weeks[:missing]] + points
