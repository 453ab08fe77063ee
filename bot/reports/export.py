"""A report's figures as CSV and JSON: what the page shows, k applied, nothing more.

The columns are documented in docs/reports.md; the JSON's `digest` member is the
digest's own documented format (`lastmile.digest/1`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from bot.digest.model import RATE_NAMES, WeekPoint, rate_parts
from bot.digest.render import to_json_data as digest_json_data
from bot.digest.report import change_line
from bot.reports.page import ReportPage
from bot.wording import Wording
from storage.reports import OutcomeCounts

CSV_COLUMNS = ("section", "week", "team", "item", "people", "count", "total", "rate", "text")
JSON_FORMAT = "lastmile.report/1"

Row = dict[str, Any]


def _rate(part: int, whole: int) -> float | str:
    return round(part / whole, 4) if whole else ""


def _rates(
    section: str, week: str, team: str, counts: OutcomeCounts | None, k: int
) -> Iterator[Row]:
    if counts is None:
        yield {
            "section": section,
            "week": week,
            "team": team,
            "item": "too_few_answers",
            "text": f"fewer than {k} people answered",
        }
        return
    parts = rate_parts(counts)
    for name in RATE_NAMES:
        part, whole = parts[name]
        yield {
            "section": section,
            "week": week,
            "team": team,
            "item": name,
            "people": counts.respondents,
            "count": part,
            "total": whole,
            "rate": _rate(part, whole),
        }


def _series(section: str, team: str, points: tuple[WeekPoint, ...], k: int) -> Iterator[Row]:
    for point in points:
        yield from _rates(section, point.week, team, point.counts, k)


def report_rows(page: ReportPage, w: Wording) -> list[Row]:
    """Every figure of the page as rows of `CSV_COLUMNS`."""
    digest, k = page.digest, page.digest.k
    scope_team = digest.cohort_name if digest.cohort_id is not None else ""
    rows = list(_rates("week", digest.week, scope_team, digest.counts, k))
    for row in digest.cohorts:
        name = row.name if row.cohort_id is not None else w("digest.other_teams")
        rows += _rates("team", digest.week, name, row.counts, k)
    rows += _series("series", scope_team, digest.series, k)
    for team in page.teams:
        name = team.name if team.cohort_id is not None else w("digest.other_teams")
        rows += _series("team_series", name, team.points, k)
    for theme in page.themes:
        item = f"{theme.family}:{theme.slug}"
        rows.append(
            {
                "section": "theme",
                "week": digest.week,
                "team": scope_team,
                "item": item,
                "people": theme.people,
                "count": theme.times,
                "text": theme.label,
            }
        )
        for week, people in zip(page.weeks, theme.weekly, strict=True):
            rows.append(
                {
                    "section": "theme_week",
                    "week": week,
                    "team": scope_team,
                    "item": item,
                    "people": "" if people is None else people,
                    "text": f"fewer than {k}" if people is None else "",
                }
            )
        rows += [
            {
                "section": "quote",
                "week": digest.week,
                "team": scope_team,
                "item": item,
                "text": quote,
            }
            for quote in theme.quotes
        ]
    day30 = digest.indispensability
    if day30 is not None:
        rows.append(
            {
                "section": "day30",
                "week": digest.week,
                "team": scope_team,
                "item": "very_disappointed",
                "people": day30.people,
                "count": day30.very,
                "total": day30.answers,
                "rate": _rate(day30.very, day30.answers),
            }
        )
    if digest.counts is not None:
        rows += [
            {
                "section": "change",
                "week": digest.week,
                "team": scope_team,
                "text": change_line(change, k, w),
            }
            for change in digest.changes
        ]
    for entry in page.timeline:
        rows.append(
            {
                "section": entry.kind,
                "week": entry.week,
                "team": "",
                "item": entry.name,
                "text": entry.message or entry.day.isoformat(),
            }
        )
    return rows


def to_csv(page: ReportPage, w: Wording) -> str:
    """The page's figures as CSV (UTF-8, one header row, columns `CSV_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(report_rows(page, w))
    return buffer.getvalue()


def report_json_data(page: ReportPage, w: Wording) -> dict[str, Any]:
    """The page's figures as JSON-ready data (`lastmile.report/1`)."""
    digest = page.digest
    return {
        "format": JSON_FORMAT,
        "scope": {"programme": page.scope.programme_id, "cohort": page.scope.cohort_id},
        "demo": page.demo,
        "digest": digest_json_data(digest, w),
        "weeks": list(page.weeks),
        "teams_by_week": [
            {
                "id": team.cohort_id,
                "name": team.name if team.cohort_id is not None else w("digest.other_teams"),
                "weeks": [
                    {
                        "week": point.week,
                        "too_few_answers": point.counts is None,
                        "people": None if point.counts is None else point.counts.respondents,
                        "rates": None
                        if point.counts is None
                        else {
                            name: round(part / whole, 4) if whole else None
                            for name, (part, whole) in rate_parts(point.counts).items()
                        },
                    }
                    for point in team.points
                ],
            }
            for team in page.teams
        ],
        "themes": [
            {
                "slug": theme.slug,
                "family": theme.family,
                "label": theme.label,
                "people": theme.people,
                "times": theme.times,
                "people_per_week": list(theme.weekly),
                "quotes": list(theme.quotes),
            }
            for theme in page.themes
        ],
        "timeline": [
            {
                "week": entry.week,
                "day": entry.day.isoformat(),
                "kind": entry.kind,
                "name": entry.name,
                "message": entry.message,
            }
            for entry in page.timeline
        ],
    }


def to_json(page: ReportPage, w: Wording) -> str:
    """The page's figures as indented JSON text."""
    return json.dumps(report_json_data(page, w), indent=2, ensure_ascii=False) + "\n"
