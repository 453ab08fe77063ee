"""Themes: the fixed answers as they are, and free text grouped by TF-IDF and clustering.

The grouping uses scikit-learn (TF-IDF vectors, cosine distance, average-linkage
agglomerative clustering with a distance threshold), so the number of themes
follows the words rather than being fixed in advance, nothing is downloaded, and
the same words always give the same themes.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.digest.scrub import PLACEHOLDERS, scrub, shorten
from storage.reports import CategoryCount, FreeText

logger = logging.getLogger(__name__)

FAMILIES = ("workaround", "override", "not_used")
QUOTES_PER_THEME = 3
MAX_TEXTS_PER_FAMILY = 1000
"""The most recent texts per family that are grouped; keeps the clustering well under a second."""
DISTANCE_THRESHOLD = 0.85
"""Cosine distance under which groups merge (average linkage); tuned on short chat answers."""

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

_TOKENS = r"(?u)\b[^\W\d_]{2,}\b"
KEPT_WORDS = frozenset(
    {"bill", "call", "detail", "empty", "fill", "find", "fire", "found", "front", "full"}
    | {"keep", "move", "name", "part", "show", "side", "system", "bottom", "back", "down"}
)
"""Words scikit-learn's English stop list drops that mean something in frontline work."""


@dataclass(frozen=True)
class ThemeGroup:
    """One theme with at least k contributors.

    `person_ids` is filled for free-text themes only (fixed answers are looked up
    in SQL when needed); it never leaves the digest builder.
    """

    family: str
    slug: str
    source: str  # "category" (a fixed answer) or "free_text"
    category: str = ""
    terms: tuple[str, ...] = ()
    mentions: int = 0
    contributors: int = 0
    quotes: tuple[str, ...] = ()
    person_ids: frozenset[int] = field(default=frozenset(), repr=False)


def _pick_quotes(candidates: Sequence[tuple[int, str]]) -> tuple[str, ...]:
    """Up to three scrubbed quotes, in the order given, one per person, no repeats."""
    quotes: list[str] = []
    people: set[int] = set()
    for person_id, text in candidates:
        quote = shorten(scrub(text))
        if person_id in people or not PLACEHOLDERS.sub("", quote).strip() or quote in quotes:
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
                source="category",
                category=count.category,
                mentions=count.mentions,
                contributors=count.contributors,
                quotes=_pick_quotes(candidates) if candidates else (),
            )
        )
    return themes


def _slug(terms: Sequence[str], taken: set[str]) -> str:
    for size in (2, 3):
        slug = "-".join(terms[:size])[:40].strip("-")
        if slug and slug not in taken:
            return slug
    base = "-".join(terms[:2]) or "theme"
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _clusters(items: Sequence[FreeText]) -> list[tuple[list[int], tuple[str, ...], list[int]]]:
    """Group texts; each group: member indices, top terms, members nearest the centre first."""
    # scikit-learn takes seconds to import: only digests and trends pay for it.
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
        ENGLISH_STOP_WORDS,
        TfidfVectorizer,
    )

    documents = [PLACEHOLDERS.sub(" ", scrub(item.text)).lower() for item in items]
    vectorizer = TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS - KEPT_WORDS),
        sublinear_tf=True,
        token_pattern=_TOKENS,
    )
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:
        return []  # nothing but stop words and placeholders
    terms = vectorizer.get_feature_names_out()
    norms = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
    usable = np.flatnonzero(norms > 0)
    if usable.size == 0:
        return []
    vectors = matrix[usable]
    if usable.size == 1:
        labels = np.zeros(1, dtype=int)
    else:
        # Rows are L2-normalised, so one sparse product gives every cosine distance.
        distances = np.clip(1.0 - (vectors @ vectors.T).toarray(), 0.0, 2.0)
        model: Any = AgglomerativeClustering(
            n_clusters=None,
            metric="precomputed",
            linkage="average",
            distance_threshold=DISTANCE_THRESHOLD,
        )
        labels = model.fit_predict(distances)
    groups = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        centroid = np.asarray(vectors[members].mean(axis=0)).ravel()
        order = sorted(range(centroid.size), key=lambda index: (-centroid[index], terms[index]))
        top = tuple(str(terms[index]) for index in order[:3] if centroid[index] > 0)
        closeness = np.asarray(vectors[members] @ centroid).ravel()
        nearest = [
            int(usable[members[i]])
            for i in sorted(range(members.size), key=lambda i: -closeness[i])
        ]
        groups.append(([int(usable[index]) for index in members], top, nearest))
    return groups


def free_text_themes(texts: Sequence[FreeText], k: int, taken: set[str]) -> list[ThemeGroup]:
    """Group what people wrote (with "other", or as notes) into themes of at least k people.

    Args:
        texts: the window's free text; only items without a fixed answer are grouped.
        k: the anonymity threshold.
        taken: slugs already used; the new ones are added to it.

    Returns:
        Themes with at least k distinct contributors, labelled by their top terms.
    """
    themes: list[ThemeGroup] = []
    for family in FAMILIES:
        items = sorted(
            (item for item in texts if item.family == family and item.category == "other"),
            key=lambda item: (item.created_at, item.person_id, item.text),
            reverse=True,
        )[:MAX_TEXTS_PER_FAMILY]
        if len({item.person_id for item in items}) < k:
            continue
        for members, top, nearest in _clusters(items):
            people = frozenset(items[index].person_id for index in members)
            if len(people) < k or not top:
                continue
            slug = _slug(top, taken)
            taken.add(slug)
            themes.append(
                ThemeGroup(
                    family=family,
                    slug=slug,
                    source="free_text",
                    terms=top,
                    mentions=len(members),
                    contributors=len(people),
                    quotes=_pick_quotes([(items[i].person_id, items[i].text) for i in nearest]),
                    person_ids=people,
                )
            )
    return themes


def all_themes(
    counts: Sequence[CategoryCount], texts: Sequence[FreeText], k: int
) -> list[ThemeGroup]:
    """Every theme of a window with at least k contributors, biggest first within each family."""
    fixed = fixed_themes(counts, texts, k)
    taken = set(FIXED_SLUGS.values())
    grouped = free_text_themes(texts, k, taken)
    family_order = {family: index for index, family in enumerate(FAMILIES)}
    return sorted(
        fixed + grouped,
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
