"""What a window of a placement shows: themes with k people, quotes, and who fits none."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.digest.themes import pick_quotes
from bot.themes.placing import PlacedText, Placement
from storage.reports import Window


@dataclass(frozen=True)
class WrittenTheme:
    """A theme of written text in a window: its label, people, texts per source, quotes."""

    id: int
    slug: str
    label: str
    people: int
    texts: int
    sources: tuple[tuple[str, int], ...]
    """Texts per source, most first."""
    quotes: tuple[str, ...]
    person_ids: frozenset[int] = field(default=frozenset(), repr=False)
    writings: tuple[PlacedText, ...] = field(default=(), repr=False)

    @property
    def main_source(self) -> str:
        """The source of most of its texts ("" when no source has most of them)."""
        if not self.sources:
            return ""
        source, count = self.sources[0]
        return source if count * 2 > self.texts else ""


@dataclass(frozen=True)
class ThemeWindow:
    """The themes of a window: shown (k or more people), below k, and what fits none."""

    shown: tuple[WrittenTheme, ...]
    below: tuple[WrittenTheme, ...]
    ungrouped: tuple[PlacedText, ...]
    outside_people: int
    """Distinct people with a text in the window that is in no shown theme."""


def in_window(
    texts: Sequence[PlacedText], window: Window, cohorts: Sequence[str] | None
) -> list[PlacedText]:
    """The texts written in the window (by the cohorts, when given)."""
    return [
        item
        for item in texts
        if window.start <= item.text.created_at < window.end
        and (cohorts is None or item.text.cohort_id in cohorts)
    ]


def summarise(
    placement: Placement, window: Window, cohorts: Sequence[str] | None, k: int
) -> ThemeWindow:
    """Every theme of the window, split by whether k distinct people wrote in it.

    Themes are ordered by people, then texts, then slug; quotes come only from the
    window's texts, newest first, one per person, never repeating the label.
    """
    texts = in_window(placement.texts, window, cohorts)
    members: dict[int, list[PlacedText]] = {}
    for item in texts:
        if item.theme_id is not None and item.theme_id in placement.themes:
            members.setdefault(item.theme_id, []).append(item)
    themes: list[WrittenTheme] = []
    for theme_id, items in members.items():
        info = placement.themes[theme_id]
        sources = Counter(item.text.source.value for item in items)
        newest = sorted(items, key=lambda item: item.text.created_at, reverse=True)
        themes.append(
            WrittenTheme(
                id=theme_id,
                slug=info.slug,
                label=info.label,
                people=len({item.text.person_id for item in items}),
                texts=len(items),
                sources=tuple(sorted(sources.items(), key=lambda pair: (-pair[1], pair[0]))),
                quotes=pick_quotes(
                    [(item.text.person_id, item.text.text) for item in newest], exclude=info.label
                ),
                person_ids=frozenset(item.text.person_id for item in items),
                writings=tuple(items),
            )
        )
    themes.sort(key=lambda theme: (-theme.people, -theme.texts, theme.slug))
    shown = tuple(theme for theme in themes if theme.people >= k)
    shown_ids = {theme.id for theme in shown}
    outside = [item for item in texts if item.theme_id not in shown_ids]
    return ThemeWindow(
        shown=shown,
        below=tuple(theme for theme in themes if theme.people < k),
        ungrouped=tuple(
            item for item in texts if item.theme_id is None or item.theme_id not in placement.themes
        ),
        outside_people=len({item.text.person_id for item in outside}),
    )
