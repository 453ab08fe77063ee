"""Digest renderings for people and programs: plain text, Markdown and JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.digest.model import Digest, WeekPoint, rates
from bot.digest.report import change_line, theme_label
from bot.digest.scrub import scrub
from bot.replies import Report, as_plain_text
from bot.wording import Wording
from storage.reports import OutcomeCounts

JSON_FORMAT = "lastmile.digest/1"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def to_text(report: Report) -> str:
    """The report as plain text, with the chart's description."""
    text = as_plain_text(report)
    if report.chart is not None:
        text += f"\n\n[{report.chart.title}] {report.chart.alt_text}"
    return text + "\n"


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def to_markdown(report: Report, chart_path: str = "") -> str:
    """The report as Markdown, every user-visible string escaped.

    Args:
        report: the digest or trends report.
        chart_path: where the chart PNG was written; without it the chart is
            described in words.
    """
    lines = [f"# {_md(report.title)}", ""]
    for section in report.sections:
        lines += [f"## {_md(section.heading)}", ""]
        lines += [f"- **{_md(label)}:** {_md(value)}" for label, value in section.facts]
        lines += [f"- {_md(line.strip())}" for line in section.lines]
        lines.append("")
    if report.chart is not None:
        if chart_path:
            lines += [f"![{_md(report.chart.alt_text)}]({chart_path})", ""]
        else:
            lines += [f"*{_md(report.chart.alt_text)}*", ""]
    if report.footer:
        lines += [f"_{_md(report.footer)}_", ""]
    return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _counts(counts: OutcomeCounts) -> dict[str, Any]:
    return {
        "sent": counts.sent,
        "answered": counts.answered,
        "respondents": counts.respondents,
        "helped": counts.helped,
        "partly": counts.partly,
        "no": counts.no,
        "not_used": counts.not_used,
        "not_now": counts.not_now,
        **{f"{name}_rate": _round(value) for name, value in rates(counts).items()},
    }


def _point(point: WeekPoint) -> dict[str, Any]:
    if point.counts is None:
        return {"week": point.week, "too_few_answers": True}
    return {"week": point.week, "too_few_answers": False, **_counts(point.counts)}


def to_json_data(digest: Digest, w: Wording) -> dict[str, Any]:
    """The digest as JSON-ready data (format `lastmile.digest/1`, documented in docs/digest.md)."""
    data: dict[str, Any] = {
        "format": JSON_FORMAT,
        "programme": {
            "id": digest.programme_id,
            "name": digest.programme_name,
            "tool": digest.tool,
            "timezone": digest.timezone,
        },
        "cohort": (
            None
            if digest.cohort_id is None
            else {"id": digest.cohort_id, "name": digest.cohort_name}
        ),
        "week": digest.week,
        "week_start": digest.week_start.isoformat(),
        "week_end": digest.week_end.isoformat(),
        "k": digest.k,
        "too_few_answers": digest.counts is None,
    }
    empty = {f"{name}_rate": None for name in rates(OutcomeCounts())}
    data.update(_counts(digest.counts) if digest.counts is not None else empty)
    data["previous_week"] = _counts(digest.previous) if digest.previous is not None else None
    data["cohorts"] = [
        {
            "id": row.cohort_id,
            "name": row.name if row.cohort_id is not None else w("digest.other_teams"),
            "other_teams": row.cohort_id is None,
            **_counts(row.counts),
            "previous_week": _counts(row.previous) if row.previous is not None else None,
        }
        for row in digest.cohorts
    ]
    data["themes_from"] = digest.theme_start.isoformat()
    data["themes_to"] = digest.theme_end.isoformat()
    data["themes"] = [
        {
            "slug": theme.slug,
            "family": theme.family,
            "source": "category",
            "category": theme.category,
            "label": theme_label(theme, w),
            "contributors": theme.contributors,
            "mentions": theme.mentions,
            "quotes": list(theme.quotes),
        }
        for theme in digest.themes
    ]
    data["written_themes"] = [
        {
            "slug": theme.slug,
            "label": theme.label,
            "people": theme.people,
            "texts": theme.texts,
            "sources": dict(theme.sources),
            "quotes": list(theme.quotes),
        }
        for theme in digest.written
    ]
    outside = digest.outside_people
    data["not_grouped"] = outside if outside is not None and outside >= digest.k else None
    data["counted_with_other_teams"] = digest.merged
    data["changes"] = (
        [change_line(change, digest.k, w) for change in digest.changes]
        if digest.counts is not None
        else []
    )
    day30 = digest.indispensability
    data["indispensability"] = (
        None
        if day30 is None
        else {
            "answers": day30.answers,
            "very_disappointed": day30.very,
            "people": day30.people,
            "share": _round(day30.share),
        }
    )
    data["updates"] = [
        {"theme": u.theme, "message": scrub(u.message), "posted_at": u.posted_at.isoformat()}
        for u in digest.updates
    ]
    data["series"] = [_point(point) for point in digest.series]
    return data


def to_json(digest: Digest, w: Wording) -> str:
    """The digest as indented JSON text."""
    return json.dumps(to_json_data(digest, w), indent=2, ensure_ascii=False) + "\n"
