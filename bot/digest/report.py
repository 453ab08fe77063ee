"""Turns digest and trends data into a platform-neutral `Report` with its chart."""

from __future__ import annotations

from collections.abc import Sequence

from bot.digest.chart import chart_image
from bot.digest.model import (
    RATE_NAMES,
    CohortRow,
    Digest,
    DigestTheme,
    Trends,
    WeekPoint,
    percent,
    rate_parts,
    rates,
)
from bot.digest.scrub import scrub
from bot.replies import Report, Section
from bot.themes.changes import Change
from bot.themes.view import WrittenTheme
from bot.wording import Wording, require
from storage.reports import OutcomeCounts

require(
    "digest.title",
    "digest.scope_cohort",
    "digest.this_week",
    "digest.too_few",
    "digest.merged",
    "digest.response",
    "digest.help",
    "digest.partly",
    "digest.no",
    "digest.not_used",
    "digest.people",
    "digest.of",
    "digest.with_change",
    "digest.up",
    "digest.down",
    "digest.same",
    "digest.teams",
    "digest.team_line",
    "digest.other_teams",
    "digest.workaround",
    "digest.override",
    "digest.not_used_reasons",
    "digest.theme_line",
    "digest.quote_line",
    "digest.no_themes",
    "digest.day30",
    "digest.day30_fact",
    "digest.day30_value",
    "digest.updates",
    "digest.update_line",
    "digest.footer",
    "trends.title",
    "trends.overall",
    "trends.week_line",
    "trends.week_too_few",
    "trends.summary",
    "trends.moved",
    "trends.no_span",
    "written.heading",
    "written.line",
    "written.mostly",
    "written.source.workaround",
    "written.source.override",
    "written.source.not_used",
    "written.source.note",
    "written.source.day30",
    "written.none",
    "written.outside",
    "written.outside_few",
    "written.outside_withheld",
    "changes.heading",
    "changes.details",
    "changes.none",
    "changes.fewer_than",
    "changes.since",
    "changes.theme_new",
    "changes.theme_rising",
    "changes.theme_falling",
    "changes.theme_since_release.rose",
    "changes.theme_since_release.fell",
    "changes.theme_since_update.fell",
    "changes.team_help.rose",
    "changes.team_help.fell",
    "changes.team_diverges",
    "trends.themes",
    "trends.theme_line",
    "trends.flag.new",
    "trends.flag.rising",
    "trends.flag.falling",
)

LEADING_CHANGES = 3

FAMILY_HEADINGS = {
    "workaround": "digest.workaround",
    "override": "digest.override",
    "not_used": "digest.not_used_reasons",
}


def theme_label(theme: DigestTheme, w: Wording) -> str:
    """A fixed answer's name, as people saw it on the button."""
    return w(f"{theme.family}.{theme.category}").rstrip("…")


def _count(value: int, k: int, w: Wording) -> str:
    return str(value) if value >= k else w("changes.fewer_than", k=k)


def change_line(change: Change, k: int, w: Wording) -> str:
    """One change in words; counts of people under k are not given exactly."""
    values = dict(change.values)
    for key in ("now", "then"):
        if isinstance(values.get(key), int):
            values[key] = _count(int(values[key]), k, w)
    key = f"changes.{change.kind.value}"
    if "direction" in values:
        key = f"{key}.{values['direction']}"
    if "theme" in values:
        values["theme"] = scrub(str(values["theme"]))
    if "team" in values:
        values["team"] = scrub(str(values["team"]))
    marker = str(values.get("marker", ""))
    values["since"] = w("changes.since", marker=marker) if marker else ""
    return w(key, **values)


def change_sections(changes: tuple[Change, ...], k: int, w: Wording) -> list[Section]:
    """The three most important changes, then the details."""
    if not changes:
        return [Section(w("changes.heading"), lines=(w("changes.none"),))]
    lines = [change_line(change, k, w) for change in changes]
    sections = [Section(w("changes.heading"), lines=tuple(lines[:LEADING_CHANGES]))]
    if len(lines) > LEADING_CHANGES:
        sections.append(Section(w("changes.details"), lines=tuple(lines[LEADING_CHANGES:])))
    return sections


def written_lines(themes: Sequence[WrittenTheme], w: Wording) -> list[str]:
    """Each shown theme of written words: label, slug, people, main source, quotes."""
    lines: list[str] = []
    for theme in themes:
        source = theme.main_source
        mostly = w("written.mostly", source=w(f"written.source.{source}")) if source else ""
        lines.append(
            w(
                "written.line",
                label=theme.label,
                slug=theme.slug,
                people=theme.people,
                times=theme.texts,
                mostly=mostly,
            )
        )
        lines.extend(w("digest.quote_line", quote=quote) for quote in theme.quotes)
    return lines


def _change(now: float | None, before: float | None, w: Wording) -> str:
    if now is None or before is None:
        return ""
    points = round(now * 100) - round(before * 100)
    if points > 0:
        return w("digest.up", points=points)
    if points < 0:
        return w("digest.down", points=-points)
    return w("digest.same")


def _with_change(value: str, change: str, w: Wording) -> str:
    return w("digest.with_change", value=value, change=change) if change else value


def _week_facts(
    counts: OutcomeCounts, previous: OutcomeCounts | None, w: Wording
) -> tuple[tuple[str, str], ...]:
    now, before = rates(counts), rates(previous) if previous else {}
    parts = rate_parts(counts)
    facts = []
    for name in RATE_NAMES:
        part, whole = parts[name]
        value = w("digest.of", percent=percent(now[name]), part=part, whole=whole)
        facts.append(
            (w(f"digest.{name}"), _with_change(value, _change(now[name], before.get(name), w), w))
        )
    facts.append((w("digest.people"), str(counts.respondents)))
    return tuple(facts)


def _rate_values(counts: OutcomeCounts) -> dict[str, str]:
    return {name: percent(value) for name, value in rates(counts).items()}


def _team_line(row: CohortRow, w: Wording) -> str:
    name = row.name if row.cohort_id is not None else w("digest.other_teams")
    return w(
        "digest.team_line",
        name=scrub(name),
        people=row.counts.respondents,
        **_rate_values(row.counts),
    )


def _theme_lines(themes: Sequence[DigestTheme], w: Wording) -> tuple[str, ...]:
    lines: list[str] = []
    for theme in themes:
        lines.append(
            w(
                "digest.theme_line",
                label=theme_label(theme, w),
                slug=theme.slug,
                people=theme.contributors,
                times=theme.mentions,
            )
        )
        lines.extend(w("digest.quote_line", quote=quote) for quote in theme.quotes)
    return tuple(lines)


def scope_title(digest: Digest, w: Wording) -> str:
    """The programme's name, or the cohort's with its programme."""
    if digest.cohort_id is None:
        return digest.programme_name
    return w("digest.scope_cohort", cohort=digest.cohort_name, programme=digest.programme_name)


def digest_report(digest: Digest, w: Wording) -> Report:
    """The digest as a report: this week, teams, themes, day-30, updates and the chart.

    Args:
        digest: anonymised digest data.
        w: the wording of the audience's locale.

    Returns:
        A report every adapter can render (Block Kit, Adaptive Card, text).
    """
    scope = scope_title(digest, w)
    sections: list[Section] = []
    if digest.merged:
        # The team's numbers this week are only in the programme's "Other teams".
        line = w("digest.merged", team=scrub(digest.cohort_name), k=digest.k)
        sections.append(Section(w("digest.this_week"), lines=(line,)))
        sections.extend(_update_sections(digest, w))
        return _digest_report(digest, scope, sections, w)
    if digest.counts is None:
        sections.append(Section(w("digest.this_week"), lines=(w("digest.too_few", k=digest.k),)))
    else:
        sections.append(
            Section(w("digest.this_week"), facts=_week_facts(digest.counts, digest.previous, w))
        )
    if digest.cohorts:
        sections.append(
            Section(w("digest.teams"), lines=tuple(_team_line(r, w) for r in digest.cohorts))
        )
    start, end = digest.theme_start.isoformat(), digest.theme_end.isoformat()
    if digest.counts is not None:
        sections.extend(change_sections(digest.changes, digest.k, w))
    written = written_lines(digest.written, w) or [w("written.none", k=digest.k)]
    outside = digest.outside_people
    if outside is None:
        written.append(w("written.outside_withheld", k=digest.k))
    elif outside >= digest.k:
        written.append(w("written.outside", people=outside))
    else:
        written.append(w("written.outside_few", k=digest.k))
    sections.append(Section(w("written.heading", start=start, end=end), lines=tuple(written)))
    for family, heading in FAMILY_HEADINGS.items():
        themes = [theme for theme in digest.themes if theme.family == family]
        lines = _theme_lines(themes, w) or (w("digest.no_themes", k=digest.k),)
        sections.append(Section(w(heading, start=start, end=end), lines=lines))
    if digest.indispensability is not None:
        day30 = digest.indispensability
        value = w("digest.day30_value", percent=percent(day30.share), answers=day30.answers)
        sections.append(
            Section(w("digest.day30", tool=digest.tool), facts=((w("digest.day30_fact"), value),))
        )
    sections.extend(_update_sections(digest, w))
    return _digest_report(digest, scope, sections, w)


def _update_sections(digest: Digest, w: Wording) -> list[Section]:
    if not digest.updates:
        return []
    lines = tuple(
        w("digest.update_line", theme=update.theme, message=scrub(update.message))
        for update in digest.updates
    )
    return [Section(w("digest.updates"), lines=lines)]


def _digest_report(digest: Digest, scope: str, sections: list[Section], w: Wording) -> Report:
    return Report(
        title=w(
            "digest.title",
            tool=digest.tool,
            scope=scope,
            week=digest.week,
            start=digest.week_start.isoformat(),
            end=digest.week_end.isoformat(),
        ),
        sections=tuple(sections),
        chart=chart_image(digest.series, w("digest.chart_title", scope=scope), w, digest.marks),
        footer=w("digest.footer", k=digest.k),
    )


def _trend_line(point: WeekPoint, w: Wording) -> str:
    if point.counts is None:
        return w("trends.week_too_few", week=point.week)
    return w(
        "trends.week_line",
        week=point.week,
        people=point.counts.respondents,
        **_rate_values(point.counts),
    )


def _theme_trend_lines(trends: Trends, w: Wording) -> tuple[str, ...]:
    return tuple(
        w(
            "trends.theme_line",
            label=theme.label,
            slug=theme.slug,
            weeks=" · ".join(_count(n, trends.k, w) if n else "0" for n in theme.people),
            flag=w(f"trends.flag.{theme.flag}") if theme.flag else "",
        )
        for theme in trends.themes
    )


def _summary(series: Sequence[WeekPoint], k: int, w: Wording) -> tuple[str, ...]:
    shown = [point for point in series if point.counts is not None]
    if len(shown) < 2:
        return (w("trends.no_span", k=k),)
    first, last = shown[0], shown[-1]
    assert first.counts is not None and last.counts is not None
    start, end = rates(first.counts), rates(last.counts)
    return tuple(
        w(
            "trends.moved",
            rate=w(f"digest.{name}"),
            start=percent(start[name]),
            first=first.week,
            end=percent(end[name]),
            last=last.week,
        )
        for name in RATE_NAMES
    )


def trends_report(trends: Trends, w: Wording) -> Report:
    """A trend summary: how each rate moved, week by week, overall and per team."""
    weeks = [point.week for point in trends.series]
    sections = change_sections(trends.changes, trends.k, w)
    sections += [
        Section(w("trends.summary"), lines=_summary(trends.series, trends.k, w)),
        Section(w("trends.overall"), lines=tuple(_trend_line(p, w) for p in trends.series)),
    ]
    for cohort in trends.cohorts:
        name = cohort.name if cohort.cohort_id is not None else w("digest.other_teams")
        sections.append(Section(scrub(name), lines=tuple(_trend_line(p, w) for p in cohort.points)))
    if trends.themes:
        sections.append(Section(w("trends.themes"), lines=_theme_trend_lines(trends, w)))
    return Report(
        title=w(
            "trends.title",
            tool=trends.tool,
            programme=trends.programme_name,
            first=weeks[0],
            last=weeks[-1],
        ),
        sections=tuple(sections),
        chart=chart_image(
            trends.series,
            w("digest.chart_title", scope=trends.programme_name),
            w,
            trends.marks,
        ),
        footer=w("digest.footer", k=trends.k),
    )
