"""The anonymity threshold applied to the per-team breakdown of a week."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from storage.reports import OutcomeCounts

MINIMUM_K = 3

FoldCounter = Callable[[Sequence[str]], Awaitable[OutcomeCounts]]


def effective_k(configured: int) -> int:
    """The threshold in force: the configured k, never below 3."""
    return max(MINIMUM_K, configured)


@dataclass(frozen=True)
class Breakdown:
    """Which teams a week shows by name, and the "Other teams" row (None: not shown)."""

    shown: tuple[str, ...]
    other: OutcomeCounts | None


async def split_cohorts(
    per_cohort: Mapping[str, OutcomeCounts], k: int, fold: FoldCounter
) -> Breakdown:
    """Decide which teams a week may show.

    A team is shown by name only with at least k respondents; the others are
    folded into "Other teams". When that fold has fewer than k people, the
    smallest named team joins it too, until it has k or nothing is named: a
    reader could otherwise subtract the named teams from the programme total and
    learn the small teams' answers. A breakdown that names nobody is left out (its
    only row would repeat the total).

    Args:
        per_cohort: the week's counts by cohort id ("" for check-ins with no cohort).
        k: the threshold.
        fold: counts several cohorts together (distinct people across them).

    Returns:
        The named cohorts (largest first) and the fold, if it may be shown.
    """
    shown = sorted(
        (cohort for cohort, counts in per_cohort.items() if cohort and counts.respondents >= k),
        key=lambda cohort: (-per_cohort[cohort].respondents, cohort),
    )
    folded = sorted(cohort for cohort in per_cohort if cohort not in shown)
    other: OutcomeCounts | None = None
    while folded:
        other = per_cohort[folded[0]] if len(folded) == 1 else await fold(folded)
        if other.respondents >= k or not shown:
            break
        folded.append(shown.pop())
        folded.sort()
    if not shown:
        return Breakdown((), None)
    if other is not None and other.respondents < k:
        other = None
    return Breakdown(tuple(shown), other)
