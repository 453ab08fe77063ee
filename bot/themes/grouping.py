"""Grouping vectors into themes: clustering new texts, and joining texts to known themes.

Pure functions over L2-normalised rows (numpy or scipy sparse): a dot product is
a cosine similarity. Average-linkage clustering with a similarity threshold lets
the number of themes follow what was written; a text joins a known theme when it
is close enough to the theme's centre (the mean of its texts; for an owner-named
theme, its example phrases weigh as much as all its texts together), so themes
keep their identity from week to week without clustering all history again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Vectors = Any
"""Rows as a numpy array or a scipy sparse matrix."""


def similarities(rows: Vectors, others: Vectors) -> np.ndarray[Any, Any]:
    """Cosine similarity of every row with every other row (a dense matrix)."""
    product = rows @ others.T
    return np.asarray(product.toarray() if hasattr(product, "toarray") else product)


def cluster(vectors: Vectors, min_similarity: float) -> list[int]:
    """Average-linkage clusters: groups whose mean pairwise similarity stays above the bar.

    Deterministic for a given row order (no random start).

    Returns:
        A cluster number per row, numbered by first appearance.
    """
    count = vectors.shape[0]
    if count == 0:
        return []
    if count == 1:
        return [0]
    from sklearn.cluster import AgglomerativeClustering  # type: ignore[import-untyped]

    distances = np.clip(1.0 - similarities(vectors, vectors), 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    model: Any = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1.0 - min_similarity,
    )
    raw = model.fit_predict(distances).tolist()
    numbers: dict[int, int] = {}
    return [numbers.setdefault(label, len(numbers)) for label in raw]


def centre(vectors: Vectors, members: Sequence[int]) -> np.ndarray[Any, Any]:
    """The normalised mean of some rows (a theme's centre)."""
    mean = np.asarray(vectors[list(members)].mean(axis=0)).ravel()
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def theme_centre(
    vectors: Vectors, members: Sequence[int], examples: Sequence[int]
) -> np.ndarray[Any, Any]:
    """A theme's centre: its texts' mean, pulled halfway to its owner's example phrases.

    Texts that join a theme are partly wrong (a small model confuses near themes), so a
    centre that is only their mean drifts away from what the owner named week after
    week; anchoring it to the examples keeps it there while the texts still shape it.
    """
    if not examples:
        return centre(vectors, members)
    if not members:
        return centre(vectors, examples)
    mean: np.ndarray[Any, Any] = centre(vectors, examples) + centre(vectors, members)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def assign(
    vectors: Vectors, centres: np.ndarray[Any, Any], min_similarity: float | Sequence[float]
) -> list[int]:
    """The nearest centre of each row, or -1 when it is not close enough.

    Args:
        vectors: the texts to place.
        centres: one normalised row per theme.
        min_similarity: how close a text must be to join a theme (one bar, or one per centre).
    """
    if vectors.shape[0] == 0:
        return []
    if centres.shape[0] == 0:
        return [-1] * vectors.shape[0]
    bars = (
        [float(min_similarity)] * centres.shape[0]
        if isinstance(min_similarity, float | int)
        else list(min_similarity)
    )
    scores = similarities(vectors, centres)
    best = scores.argmax(axis=1)
    return [
        int(index) if scores[row, index] >= bars[index] else -1
        for row, index in enumerate(best.tolist())
    ]


def nearest_first(vectors: Vectors, members: Sequence[int]) -> list[int]:
    """The members ordered by closeness to their centre (ties: original order)."""
    if not members:
        return []
    middle = centre(vectors, members)
    scores = np.asarray(vectors[list(members)] @ middle).ravel()
    order = sorted(range(len(members)), key=lambda i: (-scores[i], i))
    return [members[i] for i in order]


def _refine(
    vectors: Vectors, loose: Sequence[int], groups: list[list[int]], join: float, rounds: int = 2
) -> list[list[int]]:
    """Move each loose text to the nearest group centre (or none), a few times over.

    Average linkage can chain two topics together through a few in-between texts;
    re-assigning to the centres lets each text go where it is closest.
    """
    for _ in range(rounds):
        if not groups:
            return groups
        centres = np.vstack([centre(vectors, members) for members in groups])
        nearest = assign(vectors[list(loose)], centres, join)
        moved: list[list[int]] = [[] for _ in groups]
        for row, index in zip(loose, nearest, strict=True):
            if index >= 0:
                moved[index].append(row)
        groups = [members for members in moved if members]
    return groups


def place(
    vectors: Vectors,
    themes: Sequence[int | None],
    people: Sequence[int],
    *,
    join: float,
    form: float,
    min_people: int,
    founders: Sequence[bool] | None = None,
    seed_join: float | None = None,
) -> list[int | None]:
    """Place texts into themes: join the nearest known theme, else form new ones.

    Args:
        vectors: every text in play: the texts of the known themes (which
            define their centres) and the texts not in a theme yet.
        themes: each row's theme number, or None when it is in no theme yet.
        people: who wrote each row (a negative id is an owner's example phrase,
            which shapes a theme but counts as nobody).
        join: how close an ungrouped text must be to a theme's centre to join it.
        form: how close, on average, texts must be to form a new theme (above 1:
            no new themes).
        min_people: how many distinct people a new theme needs.
        founders: which rows may start a new theme (default all); the others,
            such as one-word replies, can only join one.
        seed_join: how close a text must be to join a theme with example phrases
            (default: `join`).

    Returns:
        Each row's theme after placing: known numbers are kept, new themes get
        numbers above the highest known one, texts that fit nowhere stay None.
    """
    placed = list(themes)
    known = sorted({theme for theme in placed if theme is not None})
    if known:
        rows: dict[int, tuple[list[int], list[int]]] = {theme: ([], []) for theme in known}
        for i, theme in enumerate(placed):
            if theme is not None:
                rows[theme][1 if people[i] < 0 else 0].append(i)
        centres = np.vstack([theme_centre(vectors, *rows[theme]) for theme in known])
        bars = [join if seed_join is None or not rows[theme][1] else seed_join for theme in known]
        loose = [i for i, theme in enumerate(placed) if theme is None]
        if loose:
            for row, index in zip(loose, assign(vectors[loose], centres, bars), strict=True):
                if index >= 0:
                    placed[row] = known[index]
    loose = [i for i, theme in enumerate(placed) if theme is None]
    next_number = (max(known) + 1) if known else 0
    able = [i for i in loose if founders is None or founders[i]]
    if len(able) < 2 or form > 1.0:
        return placed
    labels = cluster(vectors[able], form)
    clusters: dict[int, list[int]] = {}
    for row, label in zip(able, labels, strict=True):
        clusters.setdefault(label, []).append(row)

    def enough(members: list[int]) -> bool:
        starters = [i for i in members if founders is None or founders[i]]
        return len({people[i] for i in starters if people[i] >= 0}) >= min_people

    groups = _refine(vectors, loose, [m for _, m in sorted(clusters.items()) if enough(m)], join)
    for members in sorted((m for m in groups if enough(m)), key=min):
        for row in members:
            placed[row] = next_number
        next_number += 1
    return placed
