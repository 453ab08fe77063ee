"""The trend chart: five rates over the last weeks, drawn headless with matplotlib (Agg)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from bot.digest.model import RATE_NAMES, TimelineMark, WeekPoint, percent, rates
from bot.replies import Image
from bot.wording import Wording, require

require(
    "digest.chart_title",
    "digest.chart_alt",
    "digest.chart_alt_none",
    "digest.chart_rate.response",
    "digest.chart_rate.help",
    "digest.chart_rate.partly",
    "digest.chart_rate.no",
    "digest.chart_rate.not_used",
    "digest.chart_too_few",
    "digest.chart_release",
    "digest.chart_update",
    "digest.chart_alt_marks",
)

# Colour-blind-safe (Okabe–Ito) and told apart by marker too, so a grey print still reads.
_STYLE = {
    "response": ("#000000", "o", "-"),
    "help": ("#009E73", "s", "-"),
    "partly": ("#E69F00", "^", "--"),
    "no": ("#D55E00", "v", "--"),
    "not_used": ("#0072B2", "D", ":"),
}


def alt_text(points: Sequence[WeekPoint], w: Wording) -> str:
    """Describe the chart for people who cannot see it: the span and the latest values."""
    shown = [point for point in points if point.counts is not None]
    if not shown:
        return w("digest.chart_alt_none", weeks=len(points))
    latest = shown[-1]
    assert latest.counts is not None
    values = rates(latest.counts)
    return w(
        "digest.chart_alt",
        weeks=len(points),
        first=points[0].week,
        last=points[-1].week,
        week=latest.week,
        response=percent(values["response"]),
        help=percent(values["help"]),
        partly=percent(values["partly"]),
        no=percent(values["no"]),
        not_used=percent(values["not_used"]),
    )


def _mark_name(mark: TimelineMark, w: Wording) -> str:
    key = "digest.chart_release" if mark.kind == "release" else "digest.chart_update"
    return w(key, name=mark.label)


def _draw_marks(
    axes: Any, points: Sequence[WeekPoint], marks: Sequence[TimelineMark], w: Wording
) -> None:
    """A dashed line at each release (grey) and update (purple) week, named at the top."""
    position = {point.week: index for index, point in enumerate(points)}
    stacked: dict[int, int] = {}
    for mark in marks:
        if mark.week not in position:
            continue
        x = position[mark.week]
        colour = "#555555" if mark.kind == "release" else "#CC79A7"
        axes.axvline(x, color=colour, linestyle="--", linewidth=1.2, zorder=0)
        level = stacked.get(x, 0)
        stacked[x] = level + 1
        axes.text(
            x + 0.05,
            100 - 7 * level,
            _mark_name(mark, w),
            color=colour,
            fontsize=7,
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )


def rates_figure(
    points: Sequence[WeekPoint],
    title: str,
    w: Wording,
    marks: Sequence[TimelineMark] = (),
) -> Any:
    """The rates per week as a matplotlib figure (weeks with fewer than k people are gaps),
    for the chat's PNG and the report page's SVG."""
    # The object API (Figure + Agg canvas) keeps no global pyplot state and needs no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    positions = list(range(len(points)))
    for name in RATE_NAMES:
        colour, marker, line = _STYLE[name]
        values = [
            float("nan")
            if p.counts is None or rates(p.counts)[name] is None
            else 100 * (rates(p.counts)[name] or 0.0)
            for p in points
        ]
        axes.plot(
            positions,
            values,
            color=colour,
            marker=marker,
            linestyle=line,
            linewidth=2,
            markersize=5,
            label=w(f"digest.chart_rate.{name}"),
        )
    # A little room above 100% and below 0% so markers on the edges are not clipped.
    axes.set_ylim(-3, 103)
    axes.set_yticks([0, 25, 50, 75, 100])
    axes.set_yticklabels([f"{tick}%" for tick in (0, 25, 50, 75, 100)])
    axes.set_xticks(positions)
    axes.set_xticklabels([p.week.split("-", 1)[-1] for p in points], fontsize=8)
    axes.grid(axis="y", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_title(title, fontsize=11, loc="left")
    _draw_marks(axes, points, marks, w)
    if all(p.counts is None for p in points):
        axes.text(0.5, 0.5, w("digest.chart_too_few"), transform=axes.transAxes, ha="center")
    else:
        axes.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=5, fontsize=8, frameon=False
        )
    # Fixed margins: tight_layout would measure every label and doubles the drawing time.
    figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2)
    return figure


def render_png(
    points: Sequence[WeekPoint],
    title: str,
    w: Wording,
    marks: Sequence[TimelineMark] = (),
) -> bytes:
    """Draw the rates per week as a small PNG (weeks with fewer than k people are gaps)."""
    figure = rates_figure(points, title, w, marks)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def chart_image(
    points: Sequence[WeekPoint], title: str, w: Wording, marks: Sequence[TimelineMark] = ()
) -> Image:
    """The chart as a reply image with its alt text (releases and updates named in both)."""
    alt = alt_text(points, w)
    shown = [mark for mark in marks if any(point.week == mark.week for point in points)]
    if shown:
        names = ", ".join(f"{_mark_name(m, w)} ({m.week})" for m in shown)
        alt += " " + w("digest.chart_alt_marks", marks=names)
    return Image(png=render_png(points, title, w, shown), title=title, alt_text=alt)
