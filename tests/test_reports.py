"""Issue 10: report pages behind signed, expiring links; k on every figure, chart, quote and
download; the same numbers as the digest; the report command; exports on the command line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.digest.build import Scope, build_digest
from bot.digest.render import to_json_data
from bot.digest.weekly import queue_weekly_digest
from bot.digest.weeks import IsoWeek
from bot.replies import Report, Text, reply_from_dict
from bot.reports.links import ReportScope
from bot.runtime import Runtime
from lastmile.cli import main
from lastmile.server import build_app
from storage.models import OutboxMessage
from tests.conftest import FakeClock
from tests.digest_seed import MONDAY_W48, running, say
from tests.helpers import rows
from tests.test_digest_acceptance import BELOW_K

pytestmark = pytest.mark.sql

W47 = IsoWeek(2026, 47)
RATES = ("response", "help", "partly", "no", "not_used")
PARTS = {
    "response": ("answered", "sent"),
    "help": ("helped", None),
    "partly": ("partly", None),
    "no": ("no", None),
    "not_used": ("not_used", None),
}


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = MONDAY_W48
    async for runtime in running(database_url, tmp_path, clock):
        yield runtime


@pytest.fixture
async def client(pilot: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(build_app(pilot, {}))) as started:
        yield started


async def _token(runtime: Runtime, cohort: str | None = None, days: int = 7) -> str:
    return (await runtime.links.link(ReportScope("routing", cohort), days)).token


def _below_k(text: str) -> list[str]:
    return [pattern for pattern in BELOW_K if re.search(pattern, text, re.IGNORECASE)]


async def test_a_programme_link_opens_its_page_and_downloads(
    pilot: Runtime, client: TestClient[Any, Any]
) -> None:
    token = await _token(pilot)
    page = await client.get(f"/reports/{token}?week=2026-W47")
    html = await page.text()

    assert page.status == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src" not in page.headers["Content-Security-Policy"]  # no script at all
    assert "RoutePilot report: Route planner pilot" in html
    assert "84%" in html and "32 of 38" in html  # the digest's response rate
    assert html.count("<svg") >= 3  # the rates, the teams, a line per theme
    assert "North depot (n = 6)" in html and "South depot (n = 5)" in html
    assert f'href="/reports/{token}/team/north"' in html
    for path in ("report.csv", "report.json"):
        download = await client.get(f"/reports/{token}/{path}?week=2026-W47")
        assert download.status == 200
        assert "attachment" in download.headers["Content-Disposition"]


async def test_a_team_below_k_is_named_nowhere_on_the_page_or_in_its_downloads(
    pilot: Runtime, client: TestClient[Any, Any]
) -> None:
    token = await _token(pilot)
    for path in ("", "/report.csv", "/report.json"):
        answer = await client.get(f"/reports/{token}{path}?week=2026-W47")
        assert answer.status == 200
        text = await answer.text()
        assert _below_k(text) == [], path
        assert "Other teams" in text


async def test_no_link_a_changed_link_an_expired_link_and_another_team_get_403(
    pilot: Runtime, client: TestClient[Any, Any], clock: FakeClock
) -> None:
    programme = await _token(pilot)
    lead = await _token(pilot, "north")
    changed = programme[:-3] + ("aaa" if not programme.endswith("aaa") else "bbb")
    forbidden = [
        "/reports",
        "/reports/",
        "/reports/routing",
        f"/reports/{changed}",
        f"/reports/{changed}/report.csv",
        f"/reports/{lead}/team/south",  # a lead's link edited to another team
        f"/reports/{lead}/team/south/report.csv",
        f"/reports/{programme}/team/ward",  # a team of another programme
        f"/reports/{programme}/anything",
    ]
    for path in forbidden:
        answer = await client.get(path)
        assert answer.status == 403, path
        assert "This link does not open a report" in await answer.text()
    assert (await client.get(f"/reports/{lead}")).status == 200
    assert (await client.get(f"/reports/{lead}/team/north")).status == 200

    short = await _token(pilot, days=1)
    clock.advance(days=1, seconds=1)
    assert (await client.get(f"/reports/{short}")).status == 403
    clock.advance(days=6)
    assert (await client.get(f"/reports/{programme}")).status == 403  # seven days are over
    assert (await client.get(f"/reports/{programme}/report.json")).status == 403


async def test_a_lead_page_shows_their_team_only(
    pilot: Runtime, client: TestClient[Any, Any]
) -> None:
    token = await _token(pilot, "north")
    html = await (await client.get(f"/reports/{token}?week=2026-W47")).text()
    assert "North depot (Route planner pilot)" in html
    assert "79%" in html and "11 of 14" in html  # the team digest's response rate
    assert "South depot" not in html and 'id="teams"' not in html
    assert "/team/" not in html


async def test_csv_figures_equal_the_digest(pilot: Runtime, client: TestClient[Any, Any]) -> None:
    async with pilot.db.session() as session:
        digest = await build_digest(session, pilot.config, Scope("routing"), W47, pilot.clock())
    data = to_json_data(digest, pilot.wording)
    token = await _token(pilot)
    text = await (await client.get(f"/reports/{token}/report.csv?week=2026-W47")).text()
    rows = list(csv.DictReader(io.StringIO(text)))

    used = data["helped"] + data["partly"] + data["no"]
    wholes = {"help": used, "partly": used, "no": used, "not_used": used + data["not_used"]}

    def check(section: str, team: str, expected: dict[str, Any]) -> None:
        found = {r["item"]: r for r in rows if r["section"] == section and r["team"] == team}
        assert set(found) == set(RATES), (section, team)
        whole_used = expected["helped"] + expected["partly"] + expected["no"]
        for rate in RATES:
            row = found[rate]
            part_key, whole_key = PARTS[rate]
            whole = {
                "response": expected["sent"],
                "not_used": whole_used + expected["not_used"],
            }.get(rate, whole_used)
            if whole_key:
                assert int(row["total"]) == expected[whole_key]
            assert int(row["count"]) == expected[part_key]
            assert int(row["total"]) == whole
            assert int(row["people"]) == expected["respondents"]
            assert float(row["rate"]) == expected[f"{rate}_rate"]

    check("week", "", data)
    assert wholes["help"] == 25
    for team in data["cohorts"]:
        check("team", team["name"], team)
    assert [r["team"] for r in rows if r["section"] == "team" and r["item"] == "help"] == [
        "North depot",
        "South depot",
        "Other teams",
    ]
    series = {r["week"]: r for r in rows if r["section"] == "series" and r["item"] == "help"}
    for point in data["series"]:
        if point["too_few_answers"]:
            assert point["week"] not in series
        else:
            assert float(series[point["week"]]["rate"]) == point["help_rate"]
    day30 = [r for r in rows if r["section"] == "day30"]
    assert day30 == [] if data["indispensability"] is None else len(day30) == 1

    report = json.loads(
        await (await client.get(f"/reports/{token}/report.json?week=2026-W47")).text()
    )
    assert report["format"] == "lastmile.report/1"
    assert report["digest"] == json.loads(json.dumps(data))


async def test_theme_lines_never_draw_a_count_under_k(
    pilot: Runtime, client: TestClient[Any, Any]
) -> None:
    token = await _token(pilot)
    report = json.loads(
        await (await client.get(f"/reports/{token}/report.json?week=2026-W47")).text()
    )
    assert report["themes"], "the seeded pilot has themes with k people"
    for theme in report["themes"]:
        assert theme["people"] >= 5
        for people in theme["people_per_week"]:
            assert people is None or people == 0 or people >= 5, theme


async def test_the_report_command_and_the_digest_footer_link(pilot: Runtime) -> None:
    (owner,) = await say(pilot, "olu", "report")
    assert isinstance(owner, Text)
    match = re.search(r"http://127\.0\.0\.1:3978/reports/(\S+)", owner.text)
    assert match and "Route planner pilot" in owner.text
    assert await pilot.links.read(match[1], pilot.config) == ReportScope("routing")

    (lead,) = await say(pilot, "lee", "report")
    assert isinstance(lead, Text) and "North depot" in lead.text
    token = re.search(r"/reports/(\S+)", lead.text)
    assert token and await pilot.links.read(token[1], pilot.config) == ReportScope(
        "routing", "north"
    )
    refusal = [Text("Sorry, you can see the digest of your own team only (north).")]
    assert await say(pilot, "lee", "report south") == refusal
    assert await say(pilot, "lee", "report routing") == refusal
    (team,) = await say(pilot, "olu", "report north")
    assert isinstance(team, Text) and "North depot (Route planner pilot)" in team.text
    assert await say(pilot, "n1", "report") == [
        Text("Sorry, that is only for team leads and programme owners.")
    ]

    (digest,) = await say(pilot, "lee", "digest")
    assert isinstance(digest, Report)
    footer = re.search(r"/reports/(\S+)", digest.footer)
    assert footer and await pilot.links.read(footer[1], pilot.config) == ReportScope(
        "routing", "north"
    )


async def test_the_weekly_digest_ends_with_the_programme_report_link(
    pilot: Runtime, clock: FakeClock
) -> None:
    assert await queue_weekly_digest(pilot, "routing", clock.now)
    [row] = await rows(pilot, OutboxMessage, purpose="digest")
    (report,) = [reply_from_dict(item) for item in row.payload["replies"]]
    assert isinstance(report, Report)
    assert report.footer.startswith("Numbers are shown only for groups of 5 or more people")
    token = re.search(r"/reports/(\S+)", report.footer)
    assert token and await pilot.links.read(token[1], pilot.config) == ReportScope("routing")


def test_report_link_and_export_on_the_command_line(
    pilot: Runtime, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pilot.settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", pilot.settings.database_url)
    monkeypatch.setenv("LASTMILE_PUBLIC_URL", "https://pilots.example.org/")
    config = ["--config", str(pilot.config_path)]

    assert main([*config, "report", "link", "--programme", "routing", "--team", "north"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://pilots.example.org/reports/")
    assert main([*config, "report", "link", "--programme", "routing", "--team", "ward"]) == 2
    assert "programme routing has no team 'ward'" in capsys.readouterr().err

    week = ["--week", "2026-W47"]
    assert main([*config, "export", "--programme", "routing", "--format", "csv", *week]) == 0
    figures = capsys.readouterr().out
    assert figures.startswith("section,week,team,item,people,count,total,rate,text\n")
    assert "week,2026-W47,,response,17,32,38,0.8421," in figures
    assert _below_k(figures) == []

    assert main([*config, "export", "--programme", "routing", "--raw"]) == 0
    raw = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    checkins = [row for row in raw if row["record"] == "checkin"]
    assert len(checkins) == 38 + 6 + 5  # week 47, week 46, day-30
    assert all(re.fullmatch(r"p-[0-9a-f]{12}", row["person"]) for row in raw)
    assert "identity" not in raw[0] and not any("local:" in str(row) for row in raw)
    assert any(row["record"] == "note" and "Scanner signal died" in row["note"] for row in raw)

    assert main([*config, "export", "--programme", "routing", "--with-identities"]) == 2
    flags = ["--raw", "--with-identities", "--format", "json"]
    assert main([*config, "export", "--programme", "routing", *flags]) == 0
    named = json.loads(capsys.readouterr().out)
    assert named["format"] == "lastmile.raw/1" and named["identities"] is True
    assert {r["identity"] for r in named["records"]} >= {"local:n1", "local:s3"}
    pseudonyms = {r["identity"]: r["person"] for r in named["records"]}
    assert len(set(pseudonyms.values())) == len(pseudonyms)  # one pseudonym a person
