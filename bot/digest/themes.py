"""Fixed-answer themes (a workaround kind, an override or not-used reason) and their slugs.

What people wrote in their own words is grouped by meaning in `bot/themes/`.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.digest.scrub import PLACEHOLDERS, scrub, shorten
from storage.reports import CategoryCount, FreeText

logger = logging.getLogger(__name__)

FAMILIES = ("workaround", "override", "not_used")
QUOTES_PER_THEME = 3

FIXED_SLUGS: dict[tuple[str, str], str] = {
    ("workaround", "by_hand"): "by-hand",
    ("workaround", "old_system"): "old-system",
    ("workaround", "colleague"): "colleague",
    ("override", "wrong"): "wrong",
    ("override", "didnt_fit"): "didnt-fit",
    ("override", "slower"): "slower",
    ("override", "distrust"): "distrust",
    ("override", "policy"): "policy",
    ("not_used", "not_needed"): "not-needed",
    ("not_used", "too_slow"): "too-slow",
    ("not_used", "no_access"): "no-access",
    ("not_used", "distrust"): "no-trust",
    ("not_used", "forgot"): "forgot",
}
"""Each fixed answer's theme slug: what an owner types in `update THEME MESSAGE`."""

KEPT_WORDS = frozenset(
    {"bill", "call", "detail", "empty", "fill", "find", "fire", "found", "front", "full"}
    | {"keep", "move", "name", "part", "show", "side", "system", "bottom", "back", "down"}
)
"""Words scikit-learn's English stop list drops that mean something in frontline work."""


@dataclass(frozen=True)
class ThemeGroup:
    """A fixed answer that at least k people gave."""

    family: str
    slug: str
    category: str
    mentions: int
    contributors: int
    quotes: tuple[str, ...] = ()


def pick_quotes(candidates: Sequence[tuple[int, str]], exclude: str = "") -> tuple[str, ...]:
    """Up to three scrubbed quotes, in the order given, one per person, no repeats.

    Args:
        candidates: (person id, text) pairs, the preferred first.
        exclude: a text not to quote again (a theme's label, already shown).
    """
    quotes: list[str] = []
    people: set[int] = set()
    for person_id, text in candidates:
        quote = shorten(scrub(text))
        if person_id in people or not PLACEHOLDERS.sub("", quote).strip() or quote in quotes:
            continue
        if exclude and quote.strip(" .,;:!?-").lower() == exclude.strip(" .,;:!?-…").lower():
            continue
        quotes.append(quote)
        people.add(person_id)
        if len(quotes) == QUOTES_PER_THEME:
            break
    return tuple(quotes)


def fixed_themes(
    counts: Sequence[CategoryCount], texts: Sequence[FreeText], k: int
) -> list[ThemeGroup]:
    """The fixed answers that at least k people gave, quoting the words given with them."""
    words: dict[tuple[str, str], list[FreeText]] = defaultdict(list)
    for item in texts:
        words[(item.family, item.category)].append(item)
    themes = []
    for count in counts:
        slug = FIXED_SLUGS.get((count.family, count.category))
        if slug is None or count.contributors < k:
            continue
        recent = sorted(words[(count.family, count.category)], key=lambda item: item.created_at)
        candidates = [(item.person_id, item.text) for item in reversed(recent)]
        themes.append(
            ThemeGroup(
                family=count.family,
                slug=slug,
                category=count.category,
                mentions=count.mentions,
                contributors=count.contributors,
                quotes=pick_quotes(candidates) if candidates else (),
            )
        )
    return themes


def all_themes(
    counts: Sequence[CategoryCount], texts: Sequence[FreeText], k: int
) -> list[ThemeGroup]:
    """The fixed answers of a window with at least k contributors, biggest first per family."""
    family_order = {family: index for index, family in enumerate(FAMILIES)}
    return sorted(
        fixed_themes(counts, texts, k),
        key=lambda theme: (
            family_order[theme.family],
            -theme.contributors,
            -theme.mentions,
            theme.slug,
        ),
    )


_SLUG_SHAPE = re.compile(r"^[a-z0-9][a-z0-9\-]*$")


def normalise_slug(text: str) -> str:
    """What an owner typed, as a slug ("Old system" and "old_system" mean old-system)."""
    slug = re.sub(r"[\s_]+", "-", text.strip().lower().strip("`'\"“”"))
    return slug if _SLUG_SHAPE.match(slug) else ""
