"""Issue 5, points 4 and 6: a seeded pilot's digest, by hand; k everywhere; who may see what."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.digest.build import Scope, build_digest
from bot.digest.render import to_json, to_json_data, to_markdown, to_text
from bot.digest.report import digest_report
from bot.digest.weekly import queue_weekly_digest
from bot.digest.weeks import IsoWeek
from bot.replies import Report, Text, as_plain_text, reply_from_dict
from bot.runtime import Runtime
from lastmile.cli import main
from storage.models import OutboxMessage
from tests.conftest import FakeClock
from tests.digest_seed import MONDAY_W48, running, say

pytestmark = pytest.mark.sql

W47 = IsoWeek(2026, 47)

# Teams and themes under k = 5 in the seeded pilot: none may be named anywhere.
BELOW_K = [
    r"East yard",
    r"West hub",
    r"\beast\b",
    r"\bwest\b",
    r"Did it by hand",
    r"by-hand",
    r"It was wrong",
    r"\[wrong\]",
    r"closed road",
    r"Didn't trust it",
    r"distrust",
    r"printer",
    r"jammed",
    r"froze",
    r"Asked a colleague",
]
MENTION = re.compile(r"<[@#!]|@\w|<at>", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+\s*(@|\(at\)|\bat\b)\s*[\w-]+\s*(\.|\bdot\b)\s*\w+", re.IGNORECASE)
PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = MONDAY_W48
    async for runtime in running(database_url, tmp_path, clock):
        yield runtime


async def _digest_json(runtime: Runtime, cohort: str | None = None) -> dict[str, Any]:
    async with runtime.db.session() as session:
        digest = await build_digest(session, runtime.config, Scope("routing", cohort), W47)
    return to_json_data(digest, runtime.wording)


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("sent", "answered", "respondents", "helped", "partly", "no", "not_used", "not_now")
    rates = ("response_rate", "help_rate", "partly_rate", "no_rate", "not_used_rate")
    return {key: row[key] for key in keys} | {key: row[key] for key in rates}


async def test_numbers_match_the_hand_count(pilot: Runtime) -> None:
    data = await _digest_json(pilot)
    # Week 47. Sent: north 14 + south 12 + east 6 + west 6 = 38. Answered 32 of them:
    # helped 13, partly 6, no 6, not used 4, not now 3. People with an answer other
    # than "not now": north 6 (n7 never answered), south 5 (s6 only said not now),
    # east 3, west 3 = 17.
    assert _rates(data) == {
        "sent": 38,
        "answered": 32,
        "respondents": 17,
        "helped": 13,
        "partly": 6,
        "no": 6,
        "not_used": 4,
        "not_now": 3,
        "response_rate": 0.8421,  # 32 / 38
        "help_rate": 0.52,  # 13 / (13 + 6 + 6)
        "partly_rate": 0.24,  # 6 / 25
        "no_rate": 0.24,  # 6 / 25
        "not_used_rate": 0.1379,  # 4 / (25 + 4)
    }
    # Week 46: six north people answered once each: 3 helped, 1 partly, 1 no, 1 not used.
    assert data["previous_week"]["help_rate"] == 0.6
    assert data["previous_week"]["respondents"] == 6
    rows = {row["name"]: _rates(row) for row in data["cohorts"]}
    assert list(rows) == ["North depot", "South depot", "Other teams"]
    assert rows["North depot"] == {
        "sent": 14,
        "answered": 11,
        "respondents": 6,
        "helped": 5,
        "partly": 2,
        "no": 2,
        "not_used": 1,
        "not_now": 1,
        "response_rate": 0.7857,  # 11 / 14
        "help_rate": 0.5556,  # 5 / 9
        "partly_rate": 0.2222,
        "no_rate": 0.2222,
        "not_used_rate": 0.1,  # 1 / 10
    }
    assert rows["South depot"] == {
        "sent": 12,
        "answered": 11,
        "respondents": 5,
        "helped": 4,
        "partly": 2,
        "no": 2,
        "not_used": 1,
        "not_now": 2,
        "response_rate": 0.9167,  # 11 / 12
        "help_rate": 0.5,  # 4 / 8
        "partly_rate": 0.25,
        "no_rate": 0.25,
        "not_used_rate": 0.1111,  # 1 / 9
    }
    # East (3 people) and West (3 people) together: 6 people, k is met.
    assert rows["Other teams"] == {
        "sent": 12,
        "answered": 10,
        "respondents": 6,
        "helped": 4,
        "partly": 2,
        "no": 2,
        "not_used": 2,
        "not_now": 0,
        "response_rate": 0.8333,
        "help_rate": 0.5,
        "partly_rate": 0.25,
        "no_rate": 0.25,
        "not_used_rate": 0.2,
    }
    assert data["cohorts"][0]["previous_week"]["help_rate"] == 0.6  # north was shown in W46
    assert data["cohorts"][1]["previous_week"] is None
    themes = {theme["slug"]: theme for theme in data["themes"]}
    # old system: n2, n3, n4, s1, s2. slower: n2, n4, s1, s2, s3. too slow: n5, s3,
    # e3, w3 this week and n7 the week before. Nothing else reaches five people.
    assert list(themes) == ["old-system", "slower", "too-slow"]
    assert [(t["contributors"], t["mentions"]) for t in themes.values()] == [(5, 5)] * 3
    assert [t["family"] for t in themes.values()] == ["workaround", "override", "not_used"]
    # What people wrote is one pool now: the scanner words of s3, s5, e1, w2 (workarounds)
    # and e3's note are one theme, labelled with a phrase one of them wrote.
    (written,) = data["written_themes"]
    assert (written["people"], written["texts"]) == (5, 5)
    assert written["sources"] == {"workaround": 4, "note": 1}
    assert "scanner" in written["label"].lower() and "signal" in written["label"].lower()
    assert len(written["quotes"]) == 3
    # Day 30: n1 and n2 very, s1 and s4 somewhat, w1 does not use it: 2 of 5.
    assert data["indispensability"] == {
        "answers": 5,
        "very_disappointed": 2,
        "people": 5,
        "share": 0.4,
    }
    assert data["series"][-1]["week"] == "2026-W47"
    assert data["series"][-2]["help_rate"] == 0.6
    assert all(point["too_few_answers"] for point in data["series"][:-2])


async def _every_format(runtime: Runtime, tmp_path: Path) -> dict[str, str]:
    async with runtime.db.session() as session:
        digest = await build_digest(session, runtime.config, Scope("routing"), W47)
    report = digest_report(digest, runtime.wording)
    assert report.chart is not None
    return {
        "text": to_text(report),
        "markdown": to_markdown(report),
        "json": to_json(digest, runtime.wording),
        "alt text": report.chart.alt_text + report.chart.title,
        "plain": as_plain_text(report),
    }


async def test_nothing_below_k_is_named_and_quotes_are_scrubbed(
    pilot: Runtime, tmp_path: Path
) -> None:
    formats = await _every_format(pilot, tmp_path)
    for name, rendered in formats.items():
        for pattern in BELOW_K:
            assert not re.search(pattern, rendered), f"{pattern!r} appears in the {name} digest"
        assert "Other teams" in rendered or name == "alt text"
    data = json.loads(formats["json"])
    # The scanner theme's label (a phrase one person wrote) and its three quotes are the
    # only written words shown; every one of them is scrubbed.
    (written,) = data["written_themes"]
    quotes = [quote for theme in data["themes"] for quote in theme["quotes"]]
    assert quotes == [] and len(written["quotes"]) == 3
    shown = [written["label"], *written["quotes"]]
    for quote in shown:
        assert "scanner" in quote.lower()
        for pattern in (MENTION, EMAIL, PHONE, LINK):
            assert not pattern.search(quote), f"{quote!r} matches {pattern.pattern}"
    assert sum("[phone]" in quote for quote in shown) >= 2, shown
    assert any("[email]" in quote for quote in shown), shown


async def test_a_worker_cannot_get_a_digest(pilot: Runtime) -> None:
    for text in ("digest", "digest north", "digest routing 2026-W47", "trends", "update x y"):
        replies = await say(pilot, "n1", text)
        assert replies == [Text("Sorry, that is only for team leads and programme owners.")]


async def test_a_lead_gets_their_own_team_only(pilot: Runtime) -> None:
    (own,) = await say(pilot, "lee", "digest")
    assert isinstance(own, Report)
    assert own.title.startswith(
        "RoutePilot digest: North depot (Route planner pilot), week 2026-W47"
    )
    assert "Response rate: 79% (11 of 14)" in as_plain_text(own)
    assert "South depot" not in as_plain_text(own)
    refusal = [Text("Sorry, you can see the digest of your own team only (north).")]
    for other in ("digest south", "digest South depot 2026-W47", "digest east", "digest routing"):
        assert await say(pilot, "lee", other) == refusal
    assert await say(pilot, "lee", "digest nowhere") == refusal
    (by_week,) = await say(pilot, "lee", "digest north 2026-W46")
    assert isinstance(by_week, Report) and "week 2026-W46" in by_week.title


async def test_owners_see_their_programme_and_its_teams_only(pilot: Runtime) -> None:
    (programme,) = await say(pilot, "olu", "digest")
    assert isinstance(programme, Report)
    assert "Route planner pilot, week 2026-W47" in programme.title
    (small,) = await say(pilot, "olu", "digest east")
    assert isinstance(small, Report)
    text = as_plain_text(small)
    assert "Too few answers this week to show anything (fewer than 5 people answered)." in text
    assert "%" not in text.split("What people did instead")[0].split("This week")[1]
    refusal = await say(pilot, "tom", "digest north")
    assert refusal == [Text("Sorry, you can see the digest of your own team only (ward).")]
    assert len(await say(pilot, "ada", "digest")) == 2  # an admin: both programmes
    (future,) = await say(pilot, "olu", "digest 2026-W50")
    assert isinstance(future, Text) and "hasn't started yet" in future.text


async def test_weekly_digest_is_queued_once(pilot: Runtime, clock: FakeClock) -> None:
    results = [await queue_weekly_digest(pilot, "routing", clock.now) for _ in range(3)]
    clock.advance(minutes=5)
    results.append(await queue_weekly_digest(pilot, "routing", clock.now))
    assert results == [True, False, False, False]
    async with pilot.db.session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    assert [(row.dedupe_key, row.platform, row.destination, row.purpose) for row in rows] == [
        ("digest:routing:2026-W47", "slack", "C0DIGEST", "digest")
    ]
    (report,) = [reply_from_dict(item) for item in rows[0].payload["replies"]]
    assert isinstance(report, Report) and report.chart is not None
    assert "week 2026-W47" in report.title
    assert report.chart.png.startswith(b"\x89PNG") and len(report.chart.png) < 200_000


def test_cli_prints_every_format(
    pilot: Runtime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pilot.settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", pilot.settings.database_url)
    base = ["--config", str(pilot.config_path), "digest", "--programme", "routing"]
    base += ["--week", "2026-W47"]
    assert main([*base, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["week"], data["response_rate"], data["help_rate"]) == ("2026-W47", 0.8421, 0.52)
    assert [row["name"] for row in data["cohorts"]] == ["North depot", "South depot", "Other teams"]
    assert main([*base, "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "Response rate: 84% (32 of 38), down 16 pts on last week" in text
    assert "Used the old system [old-system]: 5 people, 5 times" in text
    markdown = tmp_path / "digest.md"
    assert main([*base, "--format", "markdown", "--out", str(markdown)]) == 0
    assert "](digest.png)" in markdown.read_text(encoding="utf-8")
    assert (tmp_path / "digest.png").read_bytes().startswith(b"\x89PNG")
    chart = tmp_path / "chart.png"
    assert main([*base, "--format", "png", "--out", str(chart), "--cohort", "north"]) == 0
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert main([*base, "--cohort", "ward"]) == 2
    assert "programme routing has no cohort 'ward'" in capsys.readouterr().err
