"""Builds the anonymised digest and trends data from SQL aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.anonymity import Breakdown, effective_k, split_cohorts
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
from bot.digest.themes import ThemeGroup, all_themes
from bot.digest.weeks import IsoWeek, weeks_ending
from bot.themes.changes import (
    BASELINE_WEEKS,
    Change,
    ChangeKind,
    Marker,
    TeamSeries,
    ThemeSeries,
    ranked,
    team_changes,
    theme_changes,
)
from bot.themes.placing import Placement, update_themes
from bot.themes.view import ThemeWindow, in_window, summarise
from storage.reports import (
    OutcomeCounts,
    Window,
    category_counts,
    day30_counts,
    free_texts,
    outcome_counts,
    theme_updates,
)
from storage.themes import releases

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
    texts = await free_texts(session, scope.programme_id, window, scope.cohorts)
    scrubber = await scrubber_for(session, config)
    # Known names and identifiers leave the words before any is quoted.
    return all_themes(counts, scrubber.texts(texts), k)


async def written_themes(
    session: AsyncSession, config: LastmileConfig, scope: Scope, window: Window
) -> tuple[Placement, ThemeWindow]:
    """Bring the programme's themes up to the window's end; the window's themes."""
    k = effective_k(config.settings.anonymity_k)
    placement = await update_themes(session, config, scope.programme_id, window.end)
    return placement, summarise(placement, window, scope.cohorts, k)


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


class _WeekCounter:
    """Counts per week for one scope, with the per-team breakdown decided once per week."""

    def __init__(
        self, session: AsyncSession, scope: Scope, windows: Sequence[Window], k: int
    ) -> None:
        self.session = session
        self.scope = scope
        self.windows = windows
        self.k = k
        self.totals: dict[tuple[int, str], OutcomeCounts] = {}
        self.by_cohort: dict[tuple[int, str], OutcomeCounts] = {}

    async def load(self, with_cohorts: bool) -> None:
        programme, cohorts = self.scope.programme_id, self.scope.cohorts
        self.totals = await outcome_counts(self.session, programme, self.windows, cohorts=cohorts)
        if with_cohorts:
            self.by_cohort = await outcome_counts(
                self.session, programme, self.windows, cohorts=cohorts, by_cohort=True
            )

    def total(self, index: int) -> OutcomeCounts:
        return self.totals.get((index, ""), OutcomeCounts())

    def visible_total(self, index: int) -> OutcomeCounts | None:
        counts = self.total(index)
        return counts if counts.respondents >= self.k else None

    def cohort(self, index: int, cohort_id: str) -> OutcomeCounts:
        return self.by_cohort.get((index, cohort_id), OutcomeCounts())

    async def breakdown(self, index: int) -> Breakdown:
        if self.visible_total(index) is None:
            return Breakdown((), None)
        per_cohort = {
            cid: counts for (week, cid), counts in self.by_cohort.items() if week == index
        }

        async def fold(cohorts: Sequence[str]) -> OutcomeCounts:
            window = self.windows[index]
            counted = await outcome_counts(
                self.session, self.scope.programme_id, [window], cohorts=cohorts
            )
            return counted.get((0, ""), OutcomeCounts())

        return await split_cohorts(per_cohort, self.k, fold)

    def series(self, weeks: Sequence[IsoWeek]) -> tuple[WeekPoint, ...]:
        return tuple(WeekPoint(str(week), self.visible_total(i)) for i, week in enumerate(weeks))


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


async def build_digest(
    session: AsyncSession,
    config: LastmileConfig,
    scope: Scope,
    week: IsoWeek,
    now: datetime | None = None,
) -> Digest:
    """One week of a programme or cohort, with k applied to every breakdown.

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
    k = effective_k(config.settings.anonymity_k)
    programme = config.programmes[scope.programme_id]
    zone = programme_zone(config, scope.programme_id)
    weeks = weeks_ending(week, SERIES_WEEKS)
    counter = _WeekCounter(session, scope, [w.window(zone) for w in weeks], k)
    await counter.load(with_cohorts=scope.cohort_id is None)
    current, previous = len(weeks) - 1, len(weeks) - 2
    rows: list[CohortRow] = []
    if scope.cohort_id is None:
        this_week, last_week = await counter.breakdown(current), await counter.breakdown(previous)
        for cohort_id in this_week.shown:
            before = counter.cohort(previous, cohort_id) if cohort_id in last_week.shown else None
            rows.append(
                CohortRow(
                    cohort_id,
                    cohort_name(config, cohort_id),
                    counter.cohort(current, cohort_id),
                    before,
                )
            )
        if this_week.other is not None:
            rows.append(CohortRow(None, "", this_week.other))
    themes_in = theme_window(week, zone)
    themes = await scope_themes(session, config, scope, themes_in)
    placement, written = await written_themes(session, config, scope, themes_in)
    day30 = await day30_counts(session, scope.programme_id, themes_in.end, scope.cohorts)
    updates = await theme_updates(session, scope.programme_id, week.window(zone))
    complete = weeks[: _complete(weeks, now, zone)]
    changes: list[Change] = []
    marks: tuple[TimelineMark, ...] = ()
    if len(complete) >= 2:
        markers, marks = await _timeline(session, scope.programme_id, weeks, zone)
        changes = theme_changes(
            theme_trends(placement, written, complete, zone, scope.cohorts),
            [str(w) for w in complete],
            markers,
        )
        if scope.cohort_id is None:
            teams = await _team_series(counter, complete, config)
            totals = [counter.visible_total(i) for i in range(len(complete))]
            changes += team_changes(teams, totals, [str(w) for w in complete], markers, k)
    return Digest(
        programme_id=scope.programme_id,
        programme_name=programme.name,
        tool=programme.tool,
        timezone=programme.timezone,
        cohort_id=scope.cohort_id,
        cohort_name=cohort_name(config, scope.cohort_id) if scope.cohort_id else "",
        week=str(week),
        week_start=week.monday,
        week_end=week.sunday,
        k=k,
        counts=counter.visible_total(current),
        previous=counter.visible_total(previous),
        cohorts=tuple(rows),
        themes=tuple(digest_theme(theme) for theme in themes),
        theme_start=week.shifted(1 - THEME_WEEKS).monday,
        theme_end=week.sunday,
        indispensability=(
            Indispensability(answers=day30.answers, very=day30.very, people=day30.people)
            if day30.people >= k
            else None
        ),
        updates=tuple(UpdateNote(u.theme, u.message, u.created_at) for u in updates),
        series=counter.series(weeks),
        written=written.shown,
        outside_people=written.outside_people,
        changes=tuple(ranked(changes)),
        marks=marks,
    )


async def _team_series(
    counter: _WeekCounter, weeks: Sequence[IsoWeek], config: LastmileConfig
) -> list[TeamSeries]:
    """Named teams per week (None in the weeks they were folded or below k)."""
    shown: dict[str, list[OutcomeCounts | None]] = {}
    # The tests look at the latest week and the three before it only.
    for index in range(max(0, len(weeks) - BASELINE_WEEKS - 1), len(weeks)):
        breakdown = await counter.breakdown(index)
        for cohort_id in breakdown.shown:
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

    Args:
        last: the last week shown: callers pass the last complete one, so the
            unfinished week is never reported as a result.
    """
    k = effective_k(config.settings.anonymity_k)
    programme = config.programmes[programme_id]
    zone = programme_zone(config, programme_id)
    weeks = weeks_ending(last, count)
    counter = _WeekCounter(session, Scope(programme_id), [w.window(zone) for w in weeks], k)
    await counter.load(with_cohorts=True)
    named: dict[str, list[WeekPoint]] = {}
    other: list[WeekPoint] = []
    for index, week in enumerate(weeks):
        breakdown = await counter.breakdown(index)
        for cohort_id in breakdown.shown:
            named.setdefault(cohort_id, [])
        other.append(WeekPoint(str(week), breakdown.other))
        for cohort_id in breakdown.shown:
            named[cohort_id].append(WeekPoint(str(week), counter.cohort(index, cohort_id)))
        for cohort_id in named:
            if cohort_id not in breakdown.shown:
                named[cohort_id].append(WeekPoint(str(week), None))
    trends = [
        CohortTrend(cohort_id, cohort_name(config, cohort_id), tuple(_pad(points, weeks)))
        for cohort_id, points in sorted(
            named.items(), key=lambda item: cohort_name(config, item[0])
        )
    ]
    if any(point.counts is not None for point in other):
        trends.append(CohortTrend(None, "", tuple(other)))
    placement, written = await written_themes(
        session, config, Scope(programme_id), theme_window(last, zone)
    )
    markers, marks = await _timeline(session, programme_id, weeks, zone)
    labels = [str(week) for week in weeks]
    series = theme_trends(placement, written, weeks, zone, None)
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
