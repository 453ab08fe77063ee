"""Reporting groups: teams under k are merged, and nothing can be subtracted to find them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.digest.anonymity import effective_k
from bot.digest.groups import (
    ReportingGroup,
    ReportingGroups,
    choose_groups,
    safe_parts,
    team_cell_shown,
)
from storage.reports import Window

WEEK = Window(datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))


async def _split(sizes: dict[str, int], k: int = 5) -> tuple[tuple[str, ...], int | None]:
    """The teams shown alone, and the merged group's people (None: no breakdown or no merge)."""

    async def fold(cohorts: Sequence[str]) -> int:
        return sum(sizes[cohort] for cohort in cohorts)

    groups = ReportingGroups("p", WEEK, k, sum(sizes.values()), await choose_groups(sizes, k, fold))
    merged = groups.merged
    return groups.alone, merged.people if merged is not None else None


async def test_small_teams_are_merged_into_other_teams() -> None:
    assert await _split({"north": 6, "south": 5, "east": 3, "west": 3}) == (("north", "south"), 6)


async def test_a_merged_group_under_k_takes_the_smallest_team_shown_alone_with_it() -> None:
    # East alone (2) would be total - north - south: south joins it.
    assert await _split({"north": 9, "south": 6, "east": 2}) == (("north",), 8)


async def test_the_issue_example_merges_the_seven_with_the_four() -> None:
    # 8, 7 and 4 people with k = 5: "Other teams, 11 people" is the 7 and the 4, and the
    # 7-person team is not shown alone anywhere that week, so 11 - 7 is never on show.
    sizes = {"eight": 8, "seven": 7, "four": 4}

    async def fold(cohorts: Sequence[str]) -> int:
        return sum(sizes[cohort] for cohort in cohorts)

    groups = ReportingGroups("p", WEEK, 5, 19, await choose_groups(sizes, 5, fold))
    assert groups.alone == ("eight",)
    assert groups.group_of("seven") == ReportingGroup(("four", "seven"), 11)
    assert not groups.shows_alone("seven") and not groups.shows_alone("four")


async def test_nothing_alone_when_every_team_would_be_merged() -> None:
    assert await _split({"north": 6, "east": 2}) == ((), None)
    assert await _split({"east": 3, "west": 3}) == ((), None)
    assert await _split({}) == ((), None)


async def test_teams_with_no_respondents_are_merged_too() -> None:
    # A team that was asked but answered nothing is merged, not named as 0%, and is
    # not left alone in the merged group either: its response count could be subtracted.
    assert await _split({"north": 7, "south": 5, "quiet": 0, "east": 6}) == (("north", "east"), 5)
    assert await _split({"north": 7, "south": 6, "quiet": 0, "east": 1}) == (("north",), 7)


async def test_checkins_without_a_team_are_never_alone() -> None:
    assert await _split({"north": 6, "south": 6, "": 9}) == (("north", "south"), 9)


async def test_the_merged_group_counts_people_not_rows() -> None:
    async def fold(cohorts: Sequence[str]) -> int:
        # The same three people answered in east and in west (they moved team).
        return 3

    groups = await choose_groups({"north": 8, "east": 3, "west": 3}, 5, fold)
    assert groups == (ReportingGroup(("east", "north", "west"), 3),)


async def test_a_week_under_k_shows_nothing_alone() -> None:
    async def fold(cohorts: Sequence[str]) -> int:
        return 4

    groups = ReportingGroups("p", WEEK, 5, 4, await choose_groups({"north": 4}, 5, fold))
    assert not groups.shown and groups.alone == () and groups.merged is None


def test_safe_parts_withholds_a_second_part_when_the_rest_would_be_small() -> None:
    # 11 people on a theme: a 7-person part and a 4-person part. The 4 is under k; the
    # 7 would leave 11 - 7 = 4, so it is withheld too.
    assert safe_parts(11, {"a": 7, "b": 4}, 5) == frozenset()
    # Two parts under k that add up to 5 or more may stay withheld alone.
    assert safe_parts(18, {"a": 7, "b": 3, "c": 6, "d": 2}, 5) == {"a", "c"}
    # 7 + 6 shown would leave 4: the 6 is withheld too.
    assert safe_parts(17, {"a": 7, "b": 4, "c": 6}, 5) == {"a"}
    assert safe_parts(4, {"a": 4}, 5) == frozenset()
    assert safe_parts(12, {"a": 12}, 5) == {"a"}


def test_a_team_cell_needs_the_team_alone_and_a_safe_remainder() -> None:
    groups = ReportingGroups(
        "p",
        WEEK,
        5,
        25,
        (
            ReportingGroup(("north",), 10),
            ReportingGroup(("south",), 9),
            ReportingGroup(("east", "west"), 6),
        ),
    )
    theme = {"north": set(range(6)), "south": set(range(10, 15)), "east": {20, 21}}
    # 13 people on the theme; north 6 and south 5 shown would leave east's 2: the
    # smaller (south) is withheld, leaving 7.
    assert team_cell_shown(theme, groups, "north")
    assert not team_cell_shown(theme, groups, "south")
    # The merged group's count is shown nowhere, so east is never shown alone.
    assert not team_cell_shown({"east": set(range(30, 40))}, groups, "east")


def test_k_is_never_below_three() -> None:
    assert effective_k(1) == 3
    assert effective_k(5) == 5
