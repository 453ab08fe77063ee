"""`lastmile themes`: every theme of the last weeks, shown or below k, with the texts in it.

An admin's audit of the grouping on the server: ids, labels, people, texts per
source, people per week, and every text as it was written (not scrubbed: only an
admin with the database can run this, and the texts are theirs to check).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TextIO

from bot.digest.anonymity import effective_k
from bot.digest.build import programme_zone
from bot.digest.weeks import IsoWeek, weeks_ending
from bot.themes.placing import PlacedText, update_themes
from bot.themes.view import WrittenTheme, in_window, summarise
from storage.reports import Window

if TYPE_CHECKING:
    from bot.runtime import Runtime

JSON_FORMAT = "lastmile.themes/1"


def _texts(items: tuple[PlacedText, ...]) -> list[dict[str, str]]:
    ordered = sorted(items, key=lambda item: (item.text.created_at, item.text.source_id))
    return [
        {
            "text": item.text.text,
            "source": item.text.source.value,
            "category": item.text.category,
            "written_at": item.text.created_at.isoformat(),
        }
        for item in ordered
    ]


def _theme(theme: WrittenTheme, shown: bool, weekly: list[int]) -> dict[str, Any]:
    return {
        "id": theme.slug,
        "label": theme.label,
        "people": theme.people,
        "texts_count": theme.texts,
        "shown": shown,
        "sources": dict(theme.sources),
        "people_per_week": weekly,
        "texts": _texts(theme.writings),
    }


async def themes_data(runtime: Runtime, programme_id: str, weeks: int) -> dict[str, Any]:
    """The audit as JSON-ready data (format `lastmile.themes/1`)."""
    config = runtime.config
    zone = programme_zone(config, programme_id)
    now = runtime.clock()
    span = weeks_ending(IsoWeek.containing(now, zone), weeks)
    window = Window(span[0].window(zone).start, span[-1].window(zone).end)
    k = effective_k(config.settings.anonymity_k)
    async with runtime.db.session() as session:
        placement = await update_themes(session, config, programme_id, window.end)
    summary = summarise(placement, window, None, k)
    per_week = [in_window(placement.texts, week.window(zone), None) for week in span]

    def weekly(theme: WrittenTheme) -> list[int]:
        return [
            len({item.text.person_id for item in texts if item.theme_id == theme.id})
            for texts in per_week
        ]

    return {
        "format": JSON_FORMAT,
        "programme": programme_id,
        "weeks": [str(week) for week in span],
        "k": k,
        "themes": [_theme(t, True, weekly(t)) for t in summary.shown]
        + [_theme(t, False, weekly(t)) for t in summary.below],
        "ungrouped": _texts(summary.ungrouped),
    }


def _as_text(data: dict[str, Any]) -> str:
    lines = [
        f"Themes of {data['programme']}, {data['weeks'][0]} to {data['weeks'][-1]} "
        f"(k = {data['k']}; the last week may be under way)",
        "",
    ]
    for theme in data["themes"]:
        state = "shown" if theme["shown"] else "below k, not shown"
        sources = ", ".join(f"{name} {count}" for name, count in theme["sources"].items())
        weekly = " · ".join(str(n) for n in theme["people_per_week"])
        lines.append(
            f"[{theme['id']}] {theme['label']}: {theme['people']} people, "
            f"{theme['texts_count']} texts ({sources}); {state}; people per week {weekly}"
        )
        lines += [f"    {item['source']}: {item['text']}" for item in theme["texts"]]
        lines.append("")
    lines.append(f"Not in any theme ({len(data['ungrouped'])} texts):")
    lines += [f"    {item['source']}: {item['text']}" for item in data["ungrouped"]]
    return "\n".join(lines) + "\n"


async def run_themes(
    runtime: Runtime, args: argparse.Namespace, stdout: TextIO, stderr: TextIO
) -> int:
    """Print the audit; exit 2 for an unknown programme or a bad number of weeks."""
    if args.programme not in runtime.config.programmes:
        known = ", ".join(sorted(runtime.config.programmes)) or "none"
        message = f"there is no programme {args.programme!r} (known: {known})"
        print(f"lastmile themes: {message}", file=stderr)
        return 2
    if not 1 <= args.weeks <= 12:
        print("lastmile themes: --weeks is between 1 and 12", file=stderr)
        return 2
    data = await themes_data(runtime, args.programme, args.weeks)
    if args.format == "json":
        stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        stdout.write(_as_text(data))
    return 0
