"""Owners' commands: `theme rename|merge|split|link` and `release VERSION`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlmodel import col, select

from bot.digest.commands import access_of
from bot.digest.scrub import scrub
from bot.digest.themes import FIXED_SLUGS, normalise_slug
from bot.digest.updates import ShownTheme, current_themes
from bot.replies import Reply, Text
from bot.themes.encoders import default_encoder
from bot.themes.grouping import cluster, nearest_first
from bot.themes.labels import label_from, slug_for
from bot.themes.placing import MIN_PEOPLE, PlacedText, update_themes
from bot.themes.settings import settings_for
from bot.turn import Turn
from bot.wording import require
from storage.models import Theme
from storage.themes import add_release, move_theme_texts, placed_texts, set_themes

require(
    "themes.usage",
    "themes.not_allowed",
    "themes.unknown",
    "themes.renamed",
    "themes.merged",
    "themes.merge_same",
    "themes.split",
    "themes.cannot_split",
    "themes.linked",
    "themes.unknown_reason",
    "release.usage",
    "release.recorded",
    "release.known",
)

SPLIT_STRICTER = 0.15
"""How much closer texts must be to stay together when an owner splits a theme."""
MAX_VERSION = 64


async def _find(turn: Turn, token: str) -> tuple[str, ShownTheme] | None:
    """A theme of written words shown to the owner now, by slug (`programme:slug` too)."""
    programmes = list(access_of(turn).programmes)
    named, separator, rest = token.partition(":")
    if separator and named in programmes:
        programmes, token = [named], rest
    slug = normalise_slug(token)
    for programme in programmes:
        for _window, themes in await current_themes(
            turn.session, turn.config, programme, turn.now, turn.w
        ):
            for theme in themes:
                if theme.slug == slug and theme.theme_id is not None:
                    return programme, theme
    return None


async def _stored(turn: Turn, theme: ShownTheme) -> Theme:
    return (await turn.session.exec(select(Theme).where(col(Theme.id) == theme.theme_id))).one()


async def _rename(turn: Turn, args: str) -> list[Reply]:
    token, _, label = args.strip().partition(" ")
    label = " ".join(scrub(label).split())[:80]
    found = await _find(turn, token) if label else None
    if found is None:
        return [Text(turn.w("themes.unknown", theme=token))] if label else _usage(turn)
    theme = await _stored(turn, found[1])
    theme.label, theme.named_by_owner = label, True
    turn.session.add(theme)
    return [Text(turn.w("themes.renamed", theme=theme.slug, label=label))]


async def _merge(turn: Turn, args: str) -> list[Reply]:
    words = args.split()
    if len(words) != 2:
        return _usage(turn)
    keep, other = await _find(turn, words[0]), await _find(turn, words[1])
    if keep is None or other is None:
        missing = words[0] if keep is None else words[1]
        return [Text(turn.w("themes.unknown", theme=missing))]
    if keep[0] != other[0] or keep[1].theme_id == other[1].theme_id:
        return [Text(turn.w("themes.merge_same"))]
    kept, merged = await _stored(turn, keep[1]), await _stored(turn, other[1])
    assert kept.id is not None and merged.id is not None
    await move_theme_texts(turn.session, merged.id, kept.id)
    merged.merged_into = kept.id
    kept.links = sorted(set(kept.links) | set(merged.links))
    turn.session.add_all([kept, merged])
    return [Text(turn.w("themes.merged", theme=merged.slug, into=kept.slug, label=kept.label))]


async def _split(turn: Turn, args: str) -> list[Reply]:
    words = args.split()
    found = await _find(turn, words[0]) if len(words) == 1 else None
    if found is None:
        return [Text(turn.w("themes.unknown", theme=words[0]))] if words else _usage(turn)
    programme, shown = found
    theme = await _stored(turn, shown)
    placement = await update_themes(turn.session, turn.config, programme, turn.now)
    members = [item for item in placement.texts if item.theme_id == theme.id]
    encoder = await asyncio.to_thread(default_encoder)
    texts = [item.text.text for item in members]
    vectors = await asyncio.to_thread(encoder.encode, texts)
    form = settings_for(encoder.name).form + SPLIT_STRICTER
    labels = await asyncio.to_thread(cluster, vectors, form)
    groups: dict[int, list[int]] = {}
    for index, group in enumerate(labels):
        groups.setdefault(group, []).append(index)

    def people(rows: list[int]) -> int:
        return len({members[i].text.person_id for i in rows})

    parts = [rows for rows in sorted(groups.values(), key=people, reverse=True)]
    parts = [rows for rows in parts if people(rows) >= MIN_PEOPLE]
    if len(parts) < 2:
        return [Text(turn.w("themes.cannot_split", theme=theme.slug))]
    taken = {info.slug for info in placement.themes.values()} | set(FIXED_SLUGS.values())
    rows_of = await _theme_rows(turn, programme, members)
    new_labels: list[str] = []
    for rows in parts[1:]:
        name = label_from([texts[i] for i in nearest_first(vectors, rows)])
        part = Theme(
            programme_id=programme,
            slug=slug_for(name, taken),
            label=name,
            links=[],
            created_at=turn.now,
        )
        taken.add(part.slug)
        turn.session.add(part)
        await turn.session.flush()
        await set_themes(turn.session, {rows_of[i]: part.id for i in rows})
        new_labels.append(f"{part.label} [{part.slug}]")
    return [Text(turn.w("themes.split", theme=theme.slug, parts="; ".join(new_labels)))]


async def _theme_rows(turn: Turn, programme: str, members: list[PlacedText]) -> dict[int, int]:
    """Each member's ThemeText id, by position."""
    rows = {
        (row.source, row.source_id): row.id
        for row in await placed_texts(turn.session, programme)
        if row.id is not None
    }
    return {
        index: rows[(item.text.source.value, item.text.source_id)]
        for index, item in enumerate(members)
    }


async def _link(turn: Turn, args: str) -> list[Reply]:
    words = args.split()
    if len(words) != 2:
        return _usage(turn)
    found = await _find(turn, words[0])
    if found is None:
        return [Text(turn.w("themes.unknown", theme=words[0]))]
    reason = normalise_slug(words[1])
    if reason not in FIXED_SLUGS.values():
        reasons = ", ".join(sorted(FIXED_SLUGS.values()))
        return [Text(turn.w("themes.unknown_reason", reason=words[1], reasons=reasons))]
    theme = await _stored(turn, found[1])
    theme.links = sorted({*theme.links, reason})
    turn.session.add(theme)
    return [Text(turn.w("themes.linked", theme=theme.slug, reason=reason))]


def _usage(turn: Turn) -> list[Reply]:
    return [Text(turn.w("themes.usage"))]


ACTIONS: dict[str, Callable[[Turn, str], Awaitable[list[Reply]]]] = {
    "rename": _rename,
    "merge": _merge,
    "split": _split,
    "link": _link,
}


async def theme_command(turn: Turn, args: str) -> list[Reply]:
    """`theme rename|merge|split|link …`: owners shape the themes every later digest shows."""
    access = access_of(turn)
    if not access.programmes:
        key = "themes.not_allowed" if access.cohorts else "commands.not_allowed"
        return [Text(turn.w(key))]
    action, _, rest = args.strip().partition(" ")
    handler = ACTIONS.get(action.lower())
    return await handler(turn, rest.strip()) if handler else _usage(turn)


async def release_command(turn: Turn, args: str) -> list[Reply]:
    """`release VERSION [PROGRAMME]`: mark a new release of the tool on the timeline."""
    access = access_of(turn)
    if not access.programmes:
        key = "themes.not_allowed" if access.cohorts else "commands.not_allowed"
        return [Text(turn.w(key))]
    words = args.split()
    programmes = list(access.programmes)
    if len(words) == 2 and words[1] in programmes:
        programmes = [words[1]]
    if not words or len(words) > 2 or len(programmes) != 1 or len(words[0]) > MAX_VERSION:
        return [Text(turn.w("release.usage", programmes=", ".join(access.programmes)))]
    version = scrub(words[0])
    added = await add_release(turn.session, programmes[0], version, "owner", turn.now)
    key = "release.recorded" if added else "release.known"
    return [Text(turn.w(key, version=version, programme=programmes[0]))]
