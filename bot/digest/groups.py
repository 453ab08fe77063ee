"""Reporting groups: which teams a week shows alone and which only together, in every output.

A reader who sees two figures can subtract them. If the programme digest folds a
4-person team with a 7-person team into "Other teams, 11 people" and the 7-person
team's own digest shows "7 people", then 11 - 7 is the small team. So the choice of
which teams are shown alone is made once per programme and week, here, and every
output of that week (programme digest, team digests, trends, theme counts, report
pages, exports) shows only the figures of those groups, or of the whole programme.

Two rules, as statistical agencies apply them to tables (primary and complementary
suppression):

1. Groups. A team is shown alone only with at least k respondents. The others form
   one merged group ("Other teams"); when that group has fewer than k people, the
   smallest team shown alone joins it, until it has k or nobody is shown alone.
   Every figure of the week is then the whole programme or one group, and every
   group has k or more people, so any sum or difference of figures is a union of
   groups: k or more people, or nobody.
2. Cells. A measure that splits people further (a theme, a fixed answer, day-30
   answers) is counted per group; a group's count is shown only when it has k or
   more people and the people it leaves unshown (programme count minus every shown
   group count) are nobody or k or more (`safe_parts`). Only teams shown alone have
   outputs of their own, so only their cells are ever shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.reports import OutcomeCounts, Window
from storage.week_counts import outcome_counts, week_counts

NO_TEAM = ""
"""The cohort id standing for check-ins with no team: never shown alone."""

FoldCounter = Callable[[Sequence[str]], Awaitable[int]]
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class ReportingGroup:
    """Teams whose figures are shown together (one team: shown alone)."""

    cohorts: tuple[str, ...]
    people: int
    """Distinct respondents of the week in these teams."""

    @property
    def alone(self) -> bool:
        """True for a single named team."""
        return len(self.cohorts) == 1 and self.cohorts[0] != NO_TEAM

    @property
    def cohort_id(self) -> str | None:
        """The team's id when it is shown alone, else None (the merged group)."""
        return self.cohorts[0] if self.alone else None


@dataclass(frozen=True)
class ReportingGroups:
    """One programme's week: every team with check-ins in exactly one group."""

    programme_id: str
    week: Window
    k: int
    people: int
    """Distinct respondents in the whole programme that week."""
    groups: tuple[ReportingGroup, ...]
    """Teams shown alone (most people first), then the merged group when there is one."""

    @property
    def shown(self) -> bool:
        """True when the week has k or more respondents: its figures may be shown at all."""
        return self.people >= self.k

    @property
    def alone(self) -> tuple[str, ...]:
        """The teams shown alone this week (none when the week is not shown)."""
        if not self.shown:
            return ()
        return tuple(group.cohorts[0] for group in self.groups if group.alone)

    @property
    def merged(self) -> ReportingGroup | None:
        """The "Other teams" group, when the week shows a breakdown with one."""
        if not self.alone:
            return None
        return next((group for group in self.groups if not group.alone), None)

    def group_of(self, cohort_id: str) -> ReportingGroup | None:
        """The group a team is counted in (None: it had no check-ins that week)."""
        return next((group for group in self.groups if cohort_id in group.cohorts), None)

    def shows_alone(self, cohort_id: str) -> bool:
        """True when the team's own figures may be shown for this week."""
        return cohort_id in self.alone


async def choose_groups(
    people: Mapping[str, int], k: int, fold: FoldCounter
) -> tuple[ReportingGroup, ...]:
    """Split teams into those shown alone and one merged group (primary, then complementary).

    Args:
        people: the week's distinct respondents by cohort id ("" for check-ins with no team).
        k: the threshold.
        fold: counts the distinct respondents of several cohorts together (a person
            who moved team in the week is one person).

    Returns:
        The teams shown alone (most people first), then the merged group if any
        team is left; a single merged group of every team when none can be alone.
    """
    alone = sorted(
        (cohort for cohort, count in people.items() if cohort != NO_TEAM and count >= k),
        key=lambda cohort: (-people[cohort], cohort),
    )
    folded = sorted(cohort for cohort in people if cohort not in alone)
    merged = 0
    while folded:
        merged = people[folded[0]] if len(folded) == 1 else await fold(folded)
        if merged >= k or not alone:
            break
        # Complementary suppression: the total minus the teams shown alone would be
        # the small teams, so the smallest team shown alone is merged too.
        folded.append(alone.pop())
        folded.sort()
    if not alone and folded:
        return (ReportingGroup(tuple(folded), merged),)
    groups = [ReportingGroup((cohort,), people[cohort]) for cohort in alone]
    if folded:
        groups.append(ReportingGroup(tuple(folded), merged))
    return tuple(groups)


async def reporting_groups(
    session: AsyncSession,
    programme_id: str,
    weeks: Sequence[Window],
    k: int,
    *,
    by_cohort: Mapping[tuple[int, str], OutcomeCounts] | None = None,
    totals: Mapping[tuple[int, str], OutcomeCounts] | None = None,
) -> list[ReportingGroups]:
    """The reporting groups of each week of a programme, decided from its respondents.

    Args:
        session: an open session.
        programme_id: the programme.
        weeks: the weeks, as UTC ranges.
        k: the threshold in force (`effective_k`).
        by_cohort: `outcome_counts(..., by_cohort=True)` of the same weeks, when the
            caller has it already.
        totals: `outcome_counts(...)` of the same weeks, likewise.

    Returns:
        One `ReportingGroups` per week, in the order given.
    """
    if by_cohort is None or totals is None:
        # One pass gives both breakdowns.
        counted_totals, counted_teams = await week_counts(session, programme_id, weeks)
        by_cohort = counted_teams if by_cohort is None else by_cohort
        totals = counted_totals if totals is None else totals
    result: list[ReportingGroups] = []
    for index, week in enumerate(weeks):
        people = {cid: c.respondents for (i, cid), c in by_cohort.items() if i == index}

        async def fold(cohorts: Sequence[str], week: Window = week) -> int:
            counted = await outcome_counts(session, programme_id, [week], cohorts=cohorts)
            return counted.get((0, ""), OutcomeCounts()).respondents

        total = totals.get((index, ""), OutcomeCounts()).respondents
        groups = await choose_groups(people, k, fold)
        result.append(ReportingGroups(programme_id, week, k, total, groups))
    return result


def safe_parts(total: int, parts: Mapping[Key, int], k: int) -> frozenset[Key]:
    """Which parts of a count may be shown beside it so that no subtraction isolates < k people.

    Each part is a disjoint share of the total (one reporting group's count of a
    theme, say). A part under k is not shown (primary suppression); then, while the
    people left unshown (total minus the shown parts) are between 1 and k - 1, the
    smallest shown part is withheld too (complementary suppression).

    Args:
        total: the whole programme's count (shown only when it is k or more).
        parts: each group's count.
        k: the threshold.

    Returns:
        The keys of the parts that may be shown.
    """
    if total < k:
        return frozenset()
    shown = sorted((key for key, count in parts.items() if count >= k), key=lambda key: parts[key])
    while shown and 0 < total - sum(parts[key] for key in shown) < k:
        shown.pop(0)
    return frozenset(shown)


def cell_counts(
    people: Mapping[str, AbstractSet[int]], groups: ReportingGroups
) -> tuple[int, dict[tuple[str, ...], int]]:
    """A measure's people per reporting group, and in the whole programme.

    Args:
        people: the people counted by the measure, per cohort id.
        groups: the week's groups; people of teams in no group count in the total only.

    Returns:
        The programme's count and each group's count (keyed by its cohorts).
    """
    everyone: set[int] = set()
    for counted in people.values():
        everyone |= counted
    per_group: dict[tuple[str, ...], int] = {}
    for group in groups.groups:
        members: set[int] = set()
        for cohort in group.cohorts:
            members |= people.get(cohort, set())
        per_group[group.cohorts] = len(members)
    return len(everyone), per_group


def team_cell_shown(
    people: Mapping[str, AbstractSet[int]],
    groups: ReportingGroups,
    cohort_id: str,
) -> bool:
    """True when a team's own count of a measure may be shown (it is alone and the cell is safe)."""
    if not groups.shows_alone(cohort_id):
        return False
    total, per_group = cell_counts(people, groups)
    # The merged group's cells are shown nowhere: its people are part of what is left.
    alone = {cohorts: count for cohorts, count in per_group.items() if cohorts[0] in groups.alone}
    return (cohort_id,) in safe_parts(total, alone, groups.k)
