"""What changed: themes new, rising or falling, teams that moved or diverge, named by test.

Pure functions over complete weeks only (the unfinished week is never a result).

- A theme's people in the latest week against the three weeks before: the exact
  conditional test of two Poisson counts (a binomial test of the latest weeks' count
  given the total, `scipy.stats.binomtest`), p < 0.05.
- Since a release or a "you said, we did" update: the complete weeks after the
  marker's week against up to three weeks before it, the same test.
- A team's help rate since the latest release against the weeks before it (without a
  release: the latest week against the three before), and against the other teams in
  the latest week: Fisher's exact test on helped / not helped
  (`scipy.stats.fisher_exact`), p < 0.05, only with k people on each side.

The most important change is the one an owner can act on first: a change after a
release, then one after an update, then the rest, each group by p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from storage.reports import OutcomeCounts

SIGNIFICANCE = 0.05
BASELINE_WEEKS = 3


class ChangeKind(StrEnum):
    """The kinds of change a summary names (each has its wording key)."""

    THEME_NEW = "theme_new"
    THEME_RISING = "theme_rising"
    THEME_FALLING = "theme_falling"
    THEME_SINCE_RELEASE = "theme_since_release"
    THEME_SINCE_UPDATE = "theme_since_update"
    TEAM_HELP = "team_help"
    TEAM_DIVERGES = "team_diverges"


@dataclass(frozen=True)
class ThemeSeries:
    """People per complete week in one shown theme, oldest first."""

    slug: str
    label: str
    people: tuple[int, ...]


@dataclass(frozen=True)
class TeamSeries:
    """A named team's counts per complete week (None: fewer than k that week)."""

    name: str
    weeks: tuple[OutcomeCounts | None, ...]


@dataclass(frozen=True)
class Marker:
    """A release or an update, at the index of the week it happened in."""

    week: int
    name: str
    theme: str = ""
    """The theme an update was about (its slug); empty for a release."""


@dataclass(frozen=True)
class Change:
    """One change worth naming, with the values its wording needs."""

    kind: ChangeKind
    p_value: float
    rank: int
    values: dict[str, str | int] = field(default_factory=dict)


def load_statistics() -> None:
    """Import scipy.stats: about 2 s and 50 MB the first time, so callers run it in a
    worker thread (`asyncio.to_thread`), never on the event loop; then it is loaded."""
    import scipy.stats  # type: ignore[import-untyped,unused-ignore]  # noqa: F401


def _poisson_p(count: int, others: int, share: float) -> float:
    """p-value of `count` out of count + others when its expected share is `share`."""
    from scipy.stats import binomtest  # type: ignore[import-untyped,unused-ignore]

    total = count + others
    if total == 0:
        return 1.0
    return float(binomtest(count, total, share).pvalue)


def _fisher_p(helped: int, used: int, other_helped: int, other_used: int) -> float:
    from scipy.stats import fisher_exact  # type: ignore[import-untyped,unused-ignore]

    table = [[helped, used - helped], [other_helped, other_used - other_helped]]
    return float(fisher_exact(table).pvalue)


def _around(series: Sequence[int], week: int, last: int) -> tuple[Sequence[int], Sequence[int]]:
    """The weeks before a marker's week (up to three) and the complete weeks after it."""
    return series[max(0, week - BASELINE_WEEKS) : week], series[week + 1 : last + 1]


def _compare(before: Sequence[int], after: Sequence[int]) -> float:
    """p-value that the weekly rate after differs from before (exact conditional test)."""
    return _poisson_p(sum(after), sum(before), len(after) / (len(after) + len(before)))


def theme_changes(
    themes: Sequence[ThemeSeries], weeks: Sequence[str], markers: Sequence[Marker]
) -> list[Change]:
    """Per theme: new, rising or falling in the latest week; moved since a release or update."""
    changes: list[Change] = []
    last = len(weeks) - 1
    if last < 1:
        return changes
    for theme in themes:
        now = theme.people[last]
        names: dict[str, str | int] = {"theme": theme.label, "slug": theme.slug, "now": now}
        if now and not any(theme.people[:last]):
            changes.append(Change(ChangeKind.THEME_NEW, 0.0, 2, {**names, "week": weeks[last]}))
            continue
        named_with_marker = False
        for marker in markers:
            if marker.theme and marker.theme != theme.slug:
                continue
            before, after = _around(theme.people, marker.week, last)
            if not before or not after:
                continue
            p = _compare(before, after)
            then, since = sum(before) / len(before), sum(after) / len(after)
            rising = since > then
            if p >= SIGNIFICANCE or (marker.theme and rising):
                continue
            kind = ChangeKind.THEME_SINCE_UPDATE if marker.theme else ChangeKind.THEME_SINCE_RELEASE
            changes.append(
                Change(
                    kind,
                    p,
                    1 if marker.theme else 0,
                    {
                        **names,
                        "then": round(then),
                        "now": round(since),
                        "direction": "rose" if rising else "fell",
                        "marker": marker.name,
                        "week": weeks[marker.week],
                    },
                )
            )
            named_with_marker = True
        before = theme.people[max(0, last - BASELINE_WEEKS) : last]
        if named_with_marker or not before:
            continue
        p = _compare(before, [now])
        mean = sum(before) / len(before)
        if p < SIGNIFICANCE and now != mean:
            kind = ChangeKind.THEME_RISING if now > mean else ChangeKind.THEME_FALLING
            changes.append(Change(kind, p, 2, {**names, "then": round(mean)}))
    return changes


def _help(counts: OutcomeCounts) -> tuple[int, int]:
    return counts.helped, counts.helped + counts.partly + counts.no


def _pooled(points: Sequence[OutcomeCounts | None]) -> OutcomeCounts | None:
    shown = [point for point in points if point is not None]
    if not shown:
        return None
    return OutcomeCounts(
        helped=sum(p.helped for p in shown),
        partly=sum(p.partly for p in shown),
        no=sum(p.no for p in shown),
        respondents=min(p.respondents for p in shown),
    )


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def team_changes(
    teams: Sequence[TeamSeries],
    total: Sequence[OutcomeCounts | None],
    weeks: Sequence[str],
    markers: Sequence[Marker],
    k: int,
) -> list[Change]:
    """Teams whose help rate moved beyond chance, or differs from the other teams."""
    changes: list[Change] = []
    last = len(weeks) - 1
    releases = [m for m in markers if not m.theme]
    release = next((m for m in reversed(releases) if 0 < m.week < last), None)
    for team in teams:
        now = team.weeks[last] if last >= 0 else None
        if now is None:
            continue
        helped, used = _help(now)
        if release is not None:
            # Around a release: the complete weeks since it against the weeks before it.
            after = _pooled(team.weeks[release.week + 1 : last + 1])
            baseline = _pooled(team.weeks[max(0, release.week - BASELINE_WEEKS) : release.week])
        else:
            after = now
            baseline = _pooled(team.weeks[max(0, last - BASELINE_WEEKS) : last])
        if after is not None and baseline is not None and baseline.respondents >= k:
            after_helped, after_used = _help(after)
            then_helped, then_used = _help(baseline)
            if then_used and after_used:
                p = _fisher_p(after_helped, after_used, then_helped, then_used)
                if p < SIGNIFICANCE:
                    rose = after_helped * then_used > then_helped * after_used
                    changes.append(
                        Change(
                            ChangeKind.TEAM_HELP,
                            p,
                            0 if release is not None else 2,
                            {
                                "team": team.name,
                                "then": _percent(then_helped, then_used),
                                "now": _percent(after_helped, after_used),
                                "direction": "rose" if rose else "fell",
                                "marker": release.name if release is not None else "",
                                "p": f"{p:.3f}",
                            },
                        )
                    )
        whole = total[last] if last >= 0 else None
        if whole is None:
            continue
        rest = OutcomeCounts(
            helped=whole.helped - now.helped,
            partly=whole.partly - now.partly,
            no=whole.no - now.no,
            respondents=whole.respondents - now.respondents,
        )
        rest_helped, rest_used = _help(rest)
        if rest.respondents >= k and rest_used and used:
            p = _fisher_p(helped, used, rest_helped, rest_used)
            if p < SIGNIFICANCE:
                changes.append(
                    Change(
                        ChangeKind.TEAM_DIVERGES,
                        p,
                        2,
                        {
                            "team": team.name,
                            "now": _percent(helped, used),
                            "others": _percent(rest_helped, rest_used),
                            "p": f"{p:.3f}",
                        },
                    )
                )
    return changes


def ranked(changes: Sequence[Change]) -> list[Change]:
    """Most important first: after a release, after an update, then the rest; by p-value."""
    return sorted(changes, key=lambda change: (change.rank, change.p_value, change.kind.value))
