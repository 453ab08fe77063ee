"""`lastmile digest`: a digest on the command line, as text, Markdown, JSON or the chart PNG."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.digest.build import Scope, build_digest, programme_zone
from bot.digest.model import Digest
from bot.digest.render import to_json, to_markdown, to_text
from bot.digest.report import digest_report
from bot.digest.weeks import IsoWeek, last_complete_week
from bot.replies import Report
from bot.reports.links import ReportScope, with_report_link
from bot.wording import Wording

if TYPE_CHECKING:
    from bot.runtime import Runtime


def _fail(message: str) -> int:
    print(f"lastmile digest: {message}", file=sys.stderr)
    return 2


async def run_digest(runtime: Runtime, args: argparse.Namespace, stdout: TextIO) -> int:
    """Build and print (or write) one digest as an admin sees it.

    Returns:
        The exit status: 0, or 2 when the programme, cohort or week is wrong.
    """
    config = runtime.config
    if args.programme not in config.programmes:
        known = ", ".join(sorted(config.programmes)) or "none"
        return _fail(f"there is no programme {args.programme!r} (known: {known})")
    if args.cohort is not None:
        cohort = config.cohorts.get(args.cohort)
        if cohort is None or cohort.programme != args.programme:
            known = ", ".join(
                sorted(cid for cid, c in config.cohorts.items() if c.programme == args.programme)
            )
            return _fail(
                f"programme {args.programme} has no cohort {args.cohort!r} (known: {known})"
            )
    zone = programme_zone(config, args.programme)
    week = last_complete_week(runtime.clock(), zone)
    if args.week:
        parsed = IsoWeek.parse(args.week)
        if parsed is None:
            return _fail(f"{args.week!r} is not an ISO week: write it like 2026-W47")
        week = parsed
    async with runtime.db.session() as session:
        digest = await build_digest(
            session, config, Scope(args.programme, args.cohort), week, runtime.clock()
        )
    w = runtime.wordings.get(config.programme_locale(args.programme))
    async with runtime.db.session() as session:
        report = await with_report_link(
            digest_report(digest, w),
            runtime.links,
            ReportScope(args.programme, args.cohort),
            w,
            session,
        )
    out = Path(args.out) if args.out else None
    rendered = RENDERERS[args.format](digest, report, w, out)
    if isinstance(rendered, bytes):
        if out is not None:
            out.write_bytes(rendered)
        else:
            stdout.flush()
            stdout.buffer.write(rendered)
            stdout.buffer.flush()
    elif out is not None:
        out.write_text(rendered, encoding="utf-8")
    else:
        stdout.write(rendered)
    return 0


def _png(_digest: Digest, report: Report, _w: Wording, _out: Path | None) -> bytes:
    assert report.chart is not None
    return report.chart.png


def _json(digest: Digest, _report: Report, w: Wording, _out: Path | None) -> str:
    return to_json(digest, w)


def _markdown(_digest: Digest, report: Report, _w: Wording, out: Path | None) -> str:
    chart_path = ""
    if out is not None and report.chart is not None:
        # The chart goes beside the Markdown file so the image link works.
        chart = out.with_suffix(".png")
        chart.write_bytes(report.chart.png)
        chart_path = chart.name
    return to_markdown(report, chart_path)


def _text(_digest: Digest, report: Report, _w: Wording, _out: Path | None) -> str:
    return to_text(report)


Renderer = Callable[[Digest, Report, Wording, Path | None], str | bytes]
RENDERERS: dict[str, Renderer] = {
    "text": _text,
    "markdown": _markdown,
    "json": _json,
    "png": _png,
}
