"""The per-team breakdown: teams under k fold into Other teams, and nothing can be subtracted."""

from __future__ import annotations

from collections.abc import Sequence

from bot.digest.anonymity import Breakdown, effective_k, split_cohorts
from storage.reports import OutcomeCounts


def _people(count: int) -> OutcomeCounts:
    return OutcomeCounts(sent=count, answered=count, helped=count, respondents=count)


async def _split(sizes: dict[str, int], k: int = 5) -> Breakdown:
    counts = {cohort: _people(size) for cohort, size in sizes.items()}

    async def fold(cohorts: Sequence[str]) -> OutcomeCounts:
        return _people(sum(sizes[cohort] for cohort in cohorts))

    return await split_cohorts(counts, k, fold)


async def test_small_teams_fold_into_other_teams() -> None:
    result = await _split({"north": 6, "south": 5, "east": 3, "west": 3})
    assert result == Breakdown(("north", "south"), _people(6))


async def test_a_fold_under_k_takes_the_smallest_named_team_with_it() -> None:
    # East alone (2) would be total - north - south: south joins it.
    result = await _split({"north": 9, "south": 6, "east": 2})
    assert result == Breakdown(("north",), _people(8))


async def test_nothing_named_when_every_team_would_be_folded() -> None:
    assert await _split({"north": 6, "east": 2}) == Breakdown((), None)
    assert await _split({"east": 3, "west": 3}) == Breakdown((), None)
    assert await _split({}) == Breakdown((), None)


async def test_teams_with_no_respondents_still_fold() -> None:
    # A team that was asked but answered nothing is folded, not named as 0%, and
    # is not left alone in the fold either: its response count could be subtracted.
    result = await _split({"north": 7, "south": 5, "quiet": 0, "east": 6})
    assert result == Breakdown(("north", "east"), _people(5))
    result = await _split({"north": 7, "south": 6, "quiet": 0, "east": 1})
    assert result == Breakdown(("north",), _people(7))


async def test_checkins_without_a_team_are_never_named() -> None:
    assert await _split({"north": 6, "south": 6, "": 9}) == Breakdown(
        ("north", "south"), _people(9)
    )


async def test_the_fold_counts_people_not_rows() -> None:
    counts = {"north": _people(8), "east": _people(3), "west": _people(3)}

    async def fold(cohorts: Sequence[str]) -> OutcomeCounts:
        # The same three people answered in east and in west (they moved team).
        return _people(3)

    result = await split_cohorts(counts, 5, fold)
    assert result == Breakdown((), None)


def test_k_is_never_below_three() -> None:
    assert effective_k(1) == 3
    assert effective_k(5) == 5
