"""Keeping a programme's themes up to date: new texts join known themes or form new ones.

Each build reads the texts written in the last weeks, encodes those not seen before
(a sentence model's vectors are stored, so a text is encoded once), and places the
ones in no theme: into the nearest known theme when close enough, else into new
themes when enough people wrote alike. Texts already in a theme stay there, so a
theme keeps its id, slug and label from week to week; owners rename, merge and
split them (`bot/themes/commands.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.anonymity import effective_k
from bot.digest.known_people import scrubber_for
from bot.digest.themes import FIXED_SLUGS, normalise_slug
from bot.themes.encoders import TextEncoder, can_found, default_encoder
from bot.themes.grouping import nearest_first, place
from bot.themes.labels import label_from, slug_for
from bot.themes.settings import settings_for
from storage.models import Theme, ThemeText
from storage.reports import Window
from storage.themes import (
    PoolText,
    add_placed_texts,
    erased_texts,
    lock_theme_building,
    placed_texts,
    pool_texts,
    set_themes,
    themes_of,
)

logger = logging.getLogger(__name__)

PLACE_WEEKS = 12
"""Texts of the last twelve weeks are placed, and shape their themes' centres."""
MAX_LOOSE = 2000
"""At most this many of the newest texts in no theme are clustered in one build."""
MIN_PEOPLE = 3
"""The fewest people a theme can be split into (the anonymity threshold is never lower)."""


@dataclass(frozen=True)
class ThemeInfo:
    """A live theme as the reports use it."""

    id: int
    slug: str
    label: str
    links: tuple[str, ...]
    seed: bool


@dataclass(frozen=True)
class PlacedText:
    """A text and the theme it is in (None: in no theme)."""

    text: PoolText
    theme_id: int | None


@dataclass(frozen=True)
class Placement:
    """A programme's texts of the last weeks, each in its theme, and the live themes."""

    programme_id: str
    themes: dict[int, ThemeInfo]
    texts: tuple[PlacedText, ...]


def _vector_bytes(vector: np.ndarray[Any, Any]) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def _vector_of(data: bytes) -> np.ndarray[Any, Any]:
    return np.frombuffer(data, dtype=np.float16).astype(np.float32)


_examples_cache: dict[tuple[str, str], np.ndarray[Any, Any]] = {}


def _example_vectors(encoder: TextEncoder, phrases: Sequence[str]) -> np.ndarray[Any, Any]:
    missing = [p for p in phrases if (encoder.name, p) not in _examples_cache]
    if missing:
        for phrase, vector in zip(missing, encoder.encode(missing), strict=True):
            _examples_cache[(encoder.name, phrase)] = np.asarray(vector, dtype=np.float32)
    return np.vstack([_examples_cache[(encoder.name, p)] for p in phrases])


@dataclass(frozen=True)
class _Plan:
    """What the CPU part decided: each text's theme, new themes' members, vectors to store."""

    themes: list[int | None]
    new_vectors: dict[int, bytes]


def _compute(
    encoder: TextEncoder,
    texts: Sequence[PoolText],
    current: Sequence[int | None],
    stored: Sequence[bytes | None],
    examples: Sequence[tuple[int, str]],
    live: set[int],
    min_people: int,
) -> tuple[_Plan, Any]:
    """Encode what must be encoded and place the loose texts (runs in a worker thread)."""
    settings = settings_for(encoder.name)
    new_vectors: dict[int, bytes] = {}
    if encoder.cacheable:
        missing = [i for i, data in enumerate(stored) if data is None]
        encoded = encoder.encode([texts[i].text for i in missing]) if missing else None
        rows: list[np.ndarray[Any, Any]] = []
        fresh = {index: row for row, index in enumerate(missing)}
        for i, data in enumerate(stored):
            if data is None:
                assert encoded is not None
                vector = np.asarray(encoded[fresh[i]], dtype=np.float32)
                new_vectors[i] = _vector_bytes(vector)
                rows.append(_vector_of(new_vectors[i]))
            else:
                rows.append(_vector_of(data))
        text_vectors: Any = np.vstack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
        example_vectors: Any = (
            _example_vectors(encoder, [phrase for _, phrase in examples]) if examples else None
        )
        if example_vectors is not None:
            vectors: Any = (
                np.vstack([example_vectors, text_vectors]) if len(texts) else example_vectors
            )
        else:
            vectors = text_vectors
    else:
        vectors = encoder.encode([phrase for _, phrase in examples] + [t.text for t in texts])
    themes: list[int | None] = [theme for theme, _ in examples]
    themes += [theme if theme in live else None for theme in current]
    people = [-1] * len(examples) + [text.person_id for text in texts]
    founders = [True] * len(examples) + [can_found(text.text) for text in texts]
    loose = [i for i, theme in enumerate(themes) if theme is None]
    # Only the newest loose texts are clustered: clustering is quadratic.
    held = set(loose[:-MAX_LOOSE]) if len(loose) > MAX_LOOSE else set()
    keep = [i for i in range(len(themes)) if i not in held]
    placed_kept = place(
        vectors[keep],
        [themes[i] for i in keep],
        [people[i] for i in keep],
        join=settings.join,
        seed_join=settings.seed_join,
        form=settings.form,
        min_people=min_people,
        founders=[founders[i] for i in keep],
    )
    placed: list[int | None] = list(themes)
    for position, index in enumerate(keep):
        placed[index] = placed_kept[position]
    return _Plan(placed[len(examples) :], new_vectors), vectors[len(examples) :]


async def _seed_themes(
    session: AsyncSession,
    config: LastmileConfig,
    programme_id: str,
    themes: list[Theme],
    now: datetime,
) -> list[tuple[int, str]]:
    """The owner's named themes as stored themes; returns (theme id, example phrase) pairs."""
    by_slug = {theme.slug: theme for theme in themes}
    examples: list[tuple[int, str]] = []
    for seed in config.programmes[programme_id].themes:
        slug = normalise_slug(seed.name) or slug_for(seed.name, FIXED_SLUGS.values())
        theme = by_slug.get(slug)
        if theme is None:
            theme = Theme(
                programme_id=programme_id,
                slug=slug,
                label=seed.name,
                named_by_owner=True,
                seed=True,
                links=list(seed.reasons),
                created_at=now,
            )
            session.add(theme)
            await session.flush()
            themes.append(theme)
            by_slug[slug] = theme
        if theme.merged_into is None and theme.id is not None:
            examples.extend((theme.id, phrase) for phrase in seed.examples)
    return examples


async def update_themes(
    session: AsyncSession,
    config: LastmileConfig,
    programme_id: str,
    until: datetime,
    encoder: TextEncoder | None = None,
    limit: int | None = None,
) -> Placement:
    """Place the texts of the last weeks up to `until` and return where everything is.

    Args:
        session: an open session (the placement is written in its transaction).
        config: the programmes (owner-named themes come from here).
        programme_id: the programme.
        until: the end of the span (exclusive), usually a digest week's end.
        encoder: the text encoder (default: the sentence model, else lexical).
        limit: encode and place at most this many texts not seen yet, oldest first;
            the others are left out of this build and wait for the next one (the
            minute job's bound on time and memory). None: all of them.

    Returns:
        The texts of the span with their themes, and the live themes.
    """
    if encoder is None:
        encoder = await asyncio.to_thread(default_encoder)
    await lock_theme_building(session, programme_id)
    span = Window(until - timedelta(weeks=PLACE_WEEKS), until)
    # Names the bot knows leave the words before they are grouped, labelled or quoted.
    scrubber = await scrubber_for(session, config)
    texts = scrubber.texts(await pool_texts(session, programme_id, span))
    rows = {
        (row.source, row.source_id): row
        for row in await placed_texts(session, programme_id, span.start)
    }
    themes = await themes_of(session, programme_id)
    examples = await _seed_themes(session, config, programme_id, themes, until)
    live = {theme.id for theme in themes if theme.merged_into is None and theme.id is not None}
    known = [rows.get((text.source.value, text.source_id)) for text in texts]
    if limit is not None:
        waiting = [
            i
            for i, row in enumerate(known)
            if row is None or (encoder.cacheable and row.encoder != encoder.name)
        ]
        if len(waiting) > limit:
            later = set(waiting[limit:])
            texts = [text for i, text in enumerate(texts) if i not in later]
            known = [row for i, row in enumerate(known) if i not in later]
    current = [row.theme_id if row is not None else None for row in known]
    stored = [
        row.vector if row is not None and row.encoder == encoder.name else None for row in known
    ]
    unseen = any(row is None for row in known) or (
        encoder.cacheable and any(data is None for data in stored)
    )
    if unseen or (examples and not any(theme in live for theme in current)):
        # A new theme needs as many people as a digest needs to show it: a smaller
        # group would be a theme nobody sees that still pulls texts away from others;
        # its texts wait, in no theme, for more people to write alike.
        min_people = effective_k(config.settings.anonymity_k)
        plan, vectors = await asyncio.to_thread(
            _compute, encoder, texts, current, stored, examples, live, min_people
        )
        new_themes = await _create_themes(
            session, programme_id, themes, texts, plan.themes, live, vectors, until
        )
    else:
        # Nothing new since the last build: every text keeps its place, no work to do.
        plan, new_themes = _Plan([t if t in live else None for t in current], {}), {}
    final = [new_themes.get(theme, theme) if theme is not None else None for theme in plan.themes]
    await _store(session, programme_id, encoder, texts, known, final, plan.new_vectors)
    infos = {
        theme.id: ThemeInfo(theme.id, theme.slug, theme.label, tuple(theme.links), theme.seed)
        for theme in themes
        if theme.id is not None and theme.merged_into is None
    }
    placed = [PlacedText(text, theme) for text, theme in zip(texts, final, strict=True)]
    # Texts whose words the retention period erased keep their theme, so past weeks
    # keep their counts; they are no longer grouped, labelled or quoted.
    placed += [
        PlacedText(text, theme if theme in infos else None)
        for text, theme in await erased_texts(session, programme_id, span)
    ]
    return Placement(programme_id, infos, tuple(placed))


async def _create_themes(
    session: AsyncSession,
    programme_id: str,
    themes: list[Theme],
    texts: Sequence[PoolText],
    placed: Sequence[int | None],
    live: set[int],
    vectors: Any,
    now: datetime,
) -> dict[int, int]:
    """Store the themes `place` formed; returns their temporary numbers' real ids."""
    created: dict[int, int] = {}
    numbers = sorted({theme for theme in placed if theme is not None and theme not in live})
    taken = {theme.slug for theme in themes} | set(FIXED_SLUGS.values())
    for number in numbers:
        members = [i for i, theme in enumerate(placed) if theme == number]
        label = label_from([texts[i].text for i in nearest_first(vectors, members)])
        if not label:
            continue
        theme = Theme(
            programme_id=programme_id,
            slug=slug_for(label, taken),
            label=label,
            links=[],
            created_at=now,
        )
        taken.add(theme.slug)
        session.add(theme)
        await session.flush()
        assert theme.id is not None
        themes.append(theme)
        created[number] = theme.id
        logger.info(
            "new theme",
            extra={"programme_id": programme_id, "theme": theme.slug, "texts": len(members)},
        )
    return created


async def _store(
    session: AsyncSession,
    programme_id: str,
    encoder: TextEncoder,
    texts: Sequence[PoolText],
    known: Sequence[ThemeText | None],
    final: Sequence[int | None],
    new_vectors: dict[int, bytes],
) -> None:
    moved: dict[int, int | None] = {}
    added: list[dict[str, Any]] = []
    for index, (text, row, theme) in enumerate(zip(texts, known, final, strict=True)):
        if row is None:
            added.append(
                {
                    "programme_id": programme_id,
                    "source": text.source.value,
                    "source_id": text.source_id,
                    "person_id": text.person_id,
                    "cohort_id": text.cohort_id,
                    "theme_id": theme,
                    "encoder": encoder.name if encoder.cacheable else "",
                    "vector": new_vectors.get(index),
                    "created_at": text.created_at,
                }
            )
        else:
            assert row.id is not None
            if row.theme_id != theme:
                moved[row.id] = theme
            if index in new_vectors:
                row.encoder, row.vector = encoder.name, new_vectors[index]
                session.add(row)
    if added:
        await add_placed_texts(session, added)
    if moved:
        await set_themes(session, moved)
    await session.flush()
