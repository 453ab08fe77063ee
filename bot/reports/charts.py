"""The report page's charts as inline SVG, drawn with matplotlib on this machine.

Text stays text (`svg.fonttype = none`): the page's own font draws it, it scales on a
phone, and nothing is fetched from anywhere. Every count drawn has k applied already.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.digest.chart import rates_figure
from bot.digest.model import CohortRow, rates
from bot.reports.page import ReportPage
from bot.wording import Wording, require

require(
    "reports.chart_teams",
    "reports.chart_team_people",
    "reports.chart_below_k",
    "digest.chart_rate.help",
    "digest.chart_rate.partly",
    "digest.chart_rate.no",
    "digest.chart_rate.not_used",
)

_SHARES = (
    ("help", "#009E73"),
    ("partly", "#E69F00"),
    ("no", "#D55E00"),
    ("not_used", "#0072B2"),
)
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_SIZE = re.compile(r'(<svg[^>]*?)\s(?:width|height)="[^"]*"')


@dataclass(frozen=True)
class Charts:
    """The page's drawings: the rates, the teams, and one small line per theme."""

    rates: str
    teams: str
    themes: dict[str, str]


def _svg(figure: Any, label: str, kind: str = "wide") -> str:
    """The figure as an inline `<svg>` that fills its box's width."""
    import matplotlib

    # Text as text, not paths: a quarter of the size and readable by a screen reader.
    # (An SVG-only setting: the chat's PNG charts drawn meanwhile do not read it.)
    matplotlib.rcParams["svg.fonttype"] = "none"
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _PROLOGUE.sub("", buffer.getvalue(), count=1)
    for _ in range(2):
        svg = _SIZE.sub(r"\1", svg, count=1)
    safe = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{safe}" class="chart {kind}" ', 1)


def _team_name(row: CohortRow, w: Wording) -> str:
    return row.name if row.cohort_id is not None else w("digest.other_teams")


def teams_svg(rows: Sequence[CohortRow], w: Wording) -> str:
    """This week's answers per team as stacked shares, each team with its people (n)."""
    if not rows:
        return ""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 0.9 + 0.55 * len(rows)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    names = [
        w("reports.chart_team_people", name=_team_name(row, w), people=row.counts.respondents)
        for row in rows
    ]
    positions = list(range(len(rows)))[::-1]
    left = [0.0] * len(rows)
    for name, colour in _SHARES:
        values = []
        for row in rows:
            counts = row.counts
            said = counts.helped + counts.partly + counts.no + counts.not_used
            part = {"help": counts.helped, "partly": counts.partly, "no": counts.no}.get(
                name, counts.not_used
            )
            values.append(100 * part / said if said else 0.0)
        axes.barh(positions, values, left=left, color=colour, label=w(f"digest.chart_rate.{name}"))
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(positions)
    axes.set_yticklabels(names, fontsize=9)
    axes.set_xlim(0, 100)
    axes.set_xticks([0, 25, 50, 75, 100])
    axes.set_xticklabels([f"{tick}%" for tick in (0, 25, 50, 75, 100)], fontsize=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_title(w("reports.chart_teams"), fontsize=11, loc="left")
    axes.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 / max(1, len(rows) / 3)),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    figure.subplots_adjust(left=0.3, right=0.98, top=0.82, bottom=0.3 / max(1, len(rows) / 3))
    return _svg(figure, w("reports.chart_teams"))


def sparkline_svg(
    weekly: Sequence[int | None], weeks: Sequence[str], k: int, label: str, w: Wording
) -> str:
    """People per week in one theme: weeks with fewer than k are drawn as a band, not a count."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.8, 1.1), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    positions = list(range(len(weekly)))
    values = [float("nan") if value is None else float(value) for value in weekly]
    top = max([k, *[value for value in weekly if value is not None]])
    axes.axhspan(0.5, k - 0.5, color="#eeeeee", zorder=0)
    below = [index for index, value in enumerate(weekly) if value is None]
    if below:
        axes.scatter(below, [(k - 1) / 2 + 0.25] * len(below), marker="|", color="#999999", s=40)
    axes.plot(positions, values, color="#332288", marker="o", markersize=3, linewidth=1.6)
    axes.set_ylim(-0.3, top * 1.15 + 0.5)
    axes.set_yticks([0, k])
    axes.set_yticklabels(["0", str(k)], fontsize=7)
    axes.set_xticks([0, len(weekly) - 1])
    axes.set_xticklabels([weeks[0].split("-", 1)[-1], weeks[-1].split("-", 1)[-1]], fontsize=7)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.text(
        len(weekly) - 1,
        k - 0.5,
        w("reports.chart_below_k", k=k),
        fontsize=6,
        color="#777777",
        ha="right",
        va="top",
    )
    figure.subplots_adjust(left=0.08, right=0.98, top=0.95, bottom=0.22)
    return _svg(figure, label, "spark")


def draw_charts(page: ReportPage, w: Wording, title: str) -> Charts:
    """Every chart of a page (CPU work: call it off the event loop)."""
    digest = page.digest
    shown = [point for point in digest.series if point.counts is not None]
    rates_label = title
    if shown:
        latest = shown[-1]
        assert latest.counts is not None
        rates_label += ": " + ", ".join(
            f"{name} {round(100 * value)}%"
            for name, value in rates(latest.counts).items()
            if value is not None
        )
    return Charts(
        rates=_svg(rates_figure(digest.series, title, w, digest.marks), rates_label),
        teams=teams_svg(digest.cohorts, w),
        themes={
            f"{theme.family}:{theme.slug}": sparkline_svg(
                theme.weekly, page.weeks, digest.k, theme.label, w
            )
            for theme in page.themes
        },
    )
