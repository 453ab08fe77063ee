"""`trends [weeks]`: owners see the rates move week by week, overall and per team, k applied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.replies import Report, Text
from bot.runtime import Runtime
from tests.conftest import FakeClock
from tests.digest_seed import MONDAY_W48, running, say

pytestmark = pytest.mark.sql


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = MONDAY_W48
    async for runtime in running(database_url, tmp_path, clock):
        yield runtime


def _sections(report: Report) -> dict[str, tuple[str, ...]]:
    return {section.heading: section.lines for section in report.sections}


async def test_owner_sees_weeks_teams_and_a_summary(pilot: Runtime) -> None:
    (report,) = await say(pilot, "olu", "trends")
    assert isinstance(report, Report)
    # Complete weeks only: on Monday of W48 the trends end with W47.
    assert report.title == "RoutePilot trends: Route planner pilot, 2026-W40 to 2026-W47"
    sections = _sections(report)
    assert list(sections) == [
        "What changed",
        "Summary",
        "All teams",
        "North depot",
        "South depot",
        "Other teams",
        "Themes, people per week",
    ]
    assert sections["What changed"] == (
        "New theme: “scanner lost signal, wrote it down; mail [email] or [phone]” "
        "[scanner-lost], 5 people in 2026-W47.",
    )
    (scanner,) = sections["Themes, people per week"]
    assert scanner.startswith("scanner lost signal") and scanner.endswith(
        "[scanner-lost]: 0 · 0 · 0 · 0 · 0 · 0 · 0 · 5 (new)"
    )
    assert sections["Summary"][:2] == (
        "Response rate went from 100% in 2026-W46 to 84% in 2026-W47.",
        "Helped went from 60% in 2026-W46 to 52% in 2026-W47.",
    )
    overall = sections["All teams"]
    assert len(overall) == 8
    assert overall[0] == "2026-W40: too few answers"
    assert overall[6] == (
        "2026-W46: response 100% · helped 60% · partly 20% · no 20% · not used 17% (6 people)"
    )
    assert overall[7] == (
        "2026-W47: response 84% · helped 52% · partly 24% · no 24% · not used 14% (17 people)"
    )
    assert sections["North depot"][6:8] == (
        "2026-W46: response 100% · helped 60% · partly 20% · no 20% · not used 17% (6 people)",
        "2026-W47: response 79% · helped 56% · partly 22% · no 22% · not used 10% (6 people)",
    )
    # South and the fold reach k only in week 47; before, they are gaps.
    assert sections["South depot"][6] == "2026-W46: too few answers"
    assert sections["Other teams"][7] == (
        "2026-W47: response 83% · helped 50% · partly 25% · no 25% · not used 20% (6 people)"
    )
    assert report.chart is not None and report.chart.png.startswith(b"\x89PNG")
    assert "Latest week shown, 2026-W47: response 84%, helped 52%" in report.chart.alt_text
    everything = repr(report)
    for hidden in ("East yard", "West hub"):
        assert hidden not in everything


async def test_weeks_are_chosen_within_bounds_by_owners_only(pilot: Runtime) -> None:
    (report,) = await say(pilot, "olu", "trends 12")
    assert isinstance(report, Report)
    assert report.title.endswith("2026-W36 to 2026-W47")
    assert len(_sections(report)["All teams"]) == 12
    usage = [Text("Try trends or trends 12 (between 2 and 12 weeks).")]
    assert await say(pilot, "olu", "trends 40") == usage
    assert await say(pilot, "olu", "trends triage") == usage  # not olu's programme
    # Only owners and admins get trends.
    assert await say(pilot, "n1", "trends") == [
        Text("Sorry, that is only for team leads and programme owners.")
    ]
    assert await say(pilot, "lee", "trends") == [
        Text("Sorry, trends are for programme owners. Type digest for your team's week.")
    ]
    assert len(await say(pilot, "ada", "trends 4")) == 2
    (triage,) = await say(pilot, "ada", "trends triage")
    assert isinstance(triage, Report) and _sections(triage)["Summary"] == (
        "Not enough weeks with 5 or more people to compare yet.",
    )
