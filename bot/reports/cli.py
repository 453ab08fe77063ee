"""`lastmile report link` and `lastmile export`: report links and exports for admins."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.reports.export import to_csv, to_json
from bot.reports.links import MAX_DAYS, ReportScope, expiry_text
from bot.reports.page import build_page, page_week
from bot.reports.raw import raw_csv, raw_json, raw_records

if TYPE_CHECKING:
    from bot.runtime import Runtime


def _fail(command: str, message: str) -> int:
    print(f"lastmile {command}: {message}", file=sys.stderr)
    return 2


def _scope(runtime: Runtime, programme: str, team: str | None) -> ReportScope | str:
    """The scope asked for, or what is wrong with it."""
    config = runtime.config
    if programme not in config.programmes:
        known = ", ".join(sorted(config.programmes)) or "none"
        return f"there is no programme {programme!r} (known: {known})"
    scope = ReportScope(programme, team)
    if team is not None and not scope.may_see_team(config, team):
        known = ", ".join(sorted(c for c, v in config.cohorts.items() if v.programme == programme))
        return f"programme {programme} has no team {team!r} (known: {known})"
    return scope


async def run_report_link(runtime: Runtime, args: argparse.Namespace, stdout: TextIO) -> int:
    """Print a signed link to a programme's (or one team's) report.

    Returns:
        0, or 2 when the programme, team or number of days is wrong.
    """
    scope = _scope(runtime, args.programme, args.team)
    if isinstance(scope, str):
        return _fail("report link", scope)
    if not 1 <= args.days <= MAX_DAYS:
        return _fail("report link", f"--days must be between 1 and {MAX_DAYS}")
    link = await runtime.links.link(scope, args.days)
    print(link.url, file=stdout)
    print(f"works until {expiry_text(link.expires_at)}", file=sys.stderr)
    return 0


async def run_export(runtime: Runtime, args: argparse.Namespace, stdout: TextIO) -> int:
    """Write a report's figures (k applied), or with `--raw` every answer, as CSV or JSON.

    Returns:
        0, or 2 when an argument is wrong.
    """
    if args.with_identities and not args.raw:
        return _fail("export", "--with-identities goes with --raw (the figures name nobody)")
    scope = _scope(runtime, args.programme, args.team)
    if isinstance(scope, str):
        return _fail("export", scope)
    now = runtime.clock()
    async with runtime.db.session() as session:
        if args.raw:
            if args.team is not None or args.week:
                return _fail(
                    "export", "--raw exports the whole programme: leave out --team and --week"
                )
            records = await raw_records(
                session, runtime.links, args.programme, args.with_identities
            )
            if args.format == "csv":
                text = raw_csv(records, args.with_identities)
            else:
                text = raw_json(records, args.programme, args.with_identities)
        else:
            week = page_week(runtime.config, args.programme, now, args.week or "")
            if week is None:
                return _fail(
                    "export", f"{args.week!r} is not an ISO week up to this one (2026-W47)"
                )
            page = await build_page(session, runtime.config, runtime.wording, scope, week, now)
            render = to_csv if args.format == "csv" else to_json
            text = render(page, runtime.wording)
    if args.out:
        await asyncio.to_thread(Path(args.out).write_text, text, encoding="utf-8")
    else:
        stdout.write(text)
    return 0
