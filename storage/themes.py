"""Themes in storage: the pool of written text, each text's theme, themes and releases.

Counts (people per theme per week, per cohort) are SQL aggregates; only the
texts that must be read to place them in themes, or to quote them, are loaded.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    case,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    or_,
    true,
    union_all,
    update,
)
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Answer,
    CheckIn,
    Cohort,
    Day30Response,
    Note,
    Override,
    Person,
    Release,
    Theme,
    ThemeText,
    Workaround,
)
from storage.reports import Window, aggregate_rows, week_index


class TextSource(StrEnum):
    """Where a written text came from."""

    WORKAROUND = "workaround"
    OVERRIDE = "override"
    NOT_USED = "not_used"
    NOTE = "note"
    DAY30 = "day30"


@dataclass(frozen=True)
class PoolText:
    """Words someone wrote, with where they came from."""

    source: TextSource
    source_id: int
    person_id: int
    cohort_id: str
    category: str
    """The fixed answer given with it ("other" when there was none; a note's class)."""
    text: str
    created_at: datetime


def _in_cohorts(column: Any, cohorts: Sequence[str] | None) -> Any:
    return true() if cohorts is None else col(column).in_(list(cohorts))


def _not_placed(source: TextSource, source_id: Any) -> Any:
    """True for a text no theme row refers to yet (theme building has not seen it)."""
    placed = exists().where(
        col(ThemeText.source) == literal(source.value), col(ThemeText.source_id) == source_id
    )
    return ~placed


def _pool_statement(
    programme_id: str, window: Window, cohorts: Sequence[str] | None, *, unplaced: bool = False
) -> Any:
    """Every text of the window, as a UNION of one SELECT per source; with `unplaced`, only
    those theme building has not seen, each SELECT checking its own rows (so the few
    unseen are joined to their check-in, not the many seen)."""

    def checked(
        source: TextSource, model: Any, category: Any, text: Any, created: Any, *extra: Any
    ) -> Any:
        if unplaced:
            extra = (*extra, _not_placed(source, model.id))
        return (
            select_columns(
                literal(source.value).label("source"),
                model.id.label("source_id"),
                model.person_id.label("person_id"),
                col(CheckIn.cohort_id).label("cohort_id"),
                category.label("category"),
                text.label("text"),
                created.label("created_at"),
            )
            .select_from(model)
            .join(CheckIn, col(CheckIn.id) == model.checkin_id)
            .where(
                col(CheckIn.programme_id) == programme_id,
                _in_cohorts(CheckIn.cohort_id, cohorts),
                created >= window.start,
                created < window.end,
                # Written out, so the partial indexes of rows with words can be used.
                text != literal_column("''"),
                *extra,
            )
        )

    other = literal("other")
    parts = [
        checked(
            TextSource.WORKAROUND,
            Workaround,
            col(Workaround.kind),
            col(Workaround.text),
            col(Workaround.created_at),
        ),
        checked(
            TextSource.OVERRIDE,
            Override,
            case((col(Override.reason) == "", other), else_=col(Override.reason)),
            col(Override.text),
            col(Override.created_at),
            col(Override.overridden).is_(True),
        ),
        checked(
            TextSource.NOT_USED,
            Answer,
            case((col(Answer.not_used_reason) == "", other), else_=col(Answer.not_used_reason)),
            col(Answer.not_used_text),
            col(Answer.answered_at),
            col(Answer.outcome) == "not_used",
        ),
        checked(
            TextSource.DAY30,
            Day30Response,
            literal(""),
            col(Day30Response.change_first),
            col(Day30Response.created_at),
        ),
        # Notes carry no check-in: the writer's cohort places them in a programme.
        select_columns(
            literal(TextSource.NOTE.value).label("source"),
            col(Note.id).label("source_id"),
            col(Note.person_id).label("person_id"),
            col(Person.cohort_id).label("cohort_id"),
            col(Note.kind).label("category"),
            col(Note.text).label("text"),
            col(Note.created_at).label("created_at"),
        )
        .select_from(Note)
        .join(Person, col(Person.id) == col(Note.person_id))
        .join(Cohort, col(Cohort.id) == col(Person.cohort_id))
        .where(
            col(Cohort.programme_id) == programme_id,
            _in_cohorts(Person.cohort_id, cohorts),
            col(Note.created_at) >= window.start,
            col(Note.created_at) < window.end,
            col(Note.text) != "",
            _not_placed(TextSource.NOTE, col(Note.id)) if unplaced else true(),
        ),
    ]
    return union_all(*parts)


async def pool_texts(
    session: AsyncSession,
    programme_id: str,
    window: Window,
    cohorts: Sequence[str] | None = None,
) -> list[PoolText]:
    """Every text written in a programme in the window, oldest first.

    Workaround and override words (beside a fixed answer or alone), not-used
    reasons in words, every note whatever its class, and day-30 "change first".
    """
    union = _pool_statement(programme_id, window, cohorts).subquery()
    statement = select_columns(*union.c).order_by(
        union.c.created_at, union.c.source, union.c.source_id
    )
    found = await aggregate_rows(session, statement)
    return [
        PoolText(
            TextSource(str(source)),
            int(source_id),
            int(person_id),
            str(cohort_id or ""),
            str(category or ""),
            str(text),
            _aware(created_at),
        )
        for source, source_id, person_id, cohort_id, category, text, created_at in found
    ]


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def placed_texts(
    session: AsyncSession, programme_id: str, since: datetime | None = None
) -> list[ThemeText]:
    """The programme's theme rows (every text seen by theme building), oldest first."""
    statement = select(ThemeText).where(col(ThemeText.programme_id) == programme_id)
    if since is not None:
        statement = statement.where(col(ThemeText.created_at) >= since)
    statement = statement.order_by(col(ThemeText.created_at), col(ThemeText.id))
    return list((await session.exec(statement)).all())


async def erased_texts(
    session: AsyncSession, programme_id: str, window: Window
) -> list[tuple[PoolText, int | None]]:
    """Texts of the window whose words the retention period erased (no words left), each
    with the theme it is in.

    They still count in their theme and week, so past digests keep their numbers.
    """
    statement = (
        select(ThemeText)
        .where(
            col(ThemeText.programme_id) == programme_id,
            col(ThemeText.erased_at).is_not(None),
            col(ThemeText.created_at) >= window.start,
            col(ThemeText.created_at) < window.end,
        )
        .order_by(col(ThemeText.created_at), col(ThemeText.id))
    )
    return [
        (
            PoolText(
                TextSource(row.source),
                row.source_id,
                row.person_id,
                row.cohort_id,
                "",
                "",
                _aware(row.created_at),
            ),
            row.theme_id,
        )
        for row in (await session.exec(statement)).all()
    ]


async def themes_of(session: AsyncSession, programme_id: str) -> list[Theme]:
    """The programme's themes, merged ones included, in creation order."""
    statement = select(Theme).where(col(Theme.programme_id) == programme_id).order_by(col(Theme.id))
    return list((await session.exec(statement)).all())


async def set_themes(session: AsyncSession, theme_of: dict[int, int | None]) -> None:
    """Move texts (ThemeText ids) into themes (None: out of any theme)."""
    by_theme: dict[int | None, list[int]] = {}
    for row_id, theme_id in theme_of.items():
        by_theme.setdefault(theme_id, []).append(row_id)
    for theme_id, row_ids in by_theme.items():
        for start in range(0, len(row_ids), 500):
            # No session sync: the caller holds thousands of these rows, and does not
            # read their theme ids again in this transaction.
            await session.exec(
                update(ThemeText)
                .where(col(ThemeText.id).in_(row_ids[start : start + 500]))
                .values(theme_id=theme_id)
                .execution_options(synchronize_session=False)
            )


async def move_theme_texts(session: AsyncSession, from_theme: int, to_theme: int) -> None:
    """Every text of one theme into another (a merge)."""
    await session.exec(
        update(ThemeText).where(col(ThemeText.theme_id) == from_theme).values(theme_id=to_theme)
    )


async def theme_person_ids(session: AsyncSession, theme_id: int) -> list[int]:
    """Everyone with a text in the theme, ever (to tell them of an update)."""
    statement = (
        select_columns(col(ThemeText.person_id))
        .where(col(ThemeText.theme_id) == theme_id)
        .distinct()
        .order_by(col(ThemeText.person_id))
    )
    return [int(row[0]) for row in await aggregate_rows(session, statement)]


async def add_release(
    session: AsyncSession, programme_id: str, version: str, origin: str, now: datetime
) -> bool:
    """Record a release of the tool; False when that version was already known."""
    existing = await session.exec(
        select(Release).where(
            col(Release.programme_id) == programme_id, col(Release.version) == version
        )
    )
    if existing.first() is not None:
        return False
    session.add(Release(programme_id=programme_id, version=version, origin=origin, released_at=now))
    await session.flush()
    return True


async def releases(session: AsyncSession, programme_id: str, window: Window) -> list[Release]:
    """The releases in the window, oldest first."""
    statement = (
        select(Release)
        .where(
            col(Release.programme_id) == programme_id,
            col(Release.released_at) >= window.start,
            col(Release.released_at) < window.end,
        )
        .order_by(col(Release.released_at), col(Release.id))
    )
    return list((await session.exec(statement)).all())


async def add_placed_texts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert theme rows for newly seen texts; a text another replica placed first is kept."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = ThemeText.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 500):
        statement = (
            insert(table)
            .values(list(rows[start : start + 500]))
            .on_conflict_do_nothing(index_elements=["source", "source_id"])
        )
        await session.exec(statement)


async def unplaced_count(session: AsyncSession, programme_id: str, window: Window) -> int:
    """Texts written in the window that theme building has not seen yet.

    Counted text by text (no theme row for its source and id), not as a difference
    of two totals: texts taken out by a retention purge or a `forget` would
    otherwise cancel out as many new ones.
    """
    union = _pool_statement(programme_id, window, None, unplaced=True).subquery()
    statement = select_columns(func.count()).select_from(union)
    return int((await aggregate_rows(session, statement))[0][0])


async def lock_theme_building(session: AsyncSession, programme_id: str) -> None:
    """Make other replicas' theme building for this programme wait for this transaction.

    Two replicas placing the same new texts at once would each form the same new
    theme. On PostgreSQL a transaction-level advisory lock keyed by the programme
    makes them take turns (the second then finds the texts placed); SQLite serves
    one process, whose transactions already take turns.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = zlib.crc32(f"lastmile:themes:{programme_id}".encode())
    await aggregate_rows(session, select_columns(func.pg_advisory_xact_lock(key)))


@dataclass(frozen=True)
class ThemeTally:
    """A live theme's texts in a window: distinct writers, texts, and texts per source."""

    theme_id: int
    people: int
    texts: int
    sources: tuple[tuple[str, int], ...]
    """Texts per source, most first."""


def _placed_in(programme_id: str, window: Window) -> list[Any]:
    return [
        col(ThemeText.programme_id) == programme_id,
        col(ThemeText.created_at) >= window.start,
        col(ThemeText.created_at) < window.end,
    ]


def _live(programme_id: str) -> Any:
    live = select_columns(col(Theme.id)).where(
        col(Theme.programme_id) == programme_id, col(Theme.merged_into).is_(None)
    )
    return col(ThemeText.theme_id).in_(live)


async def theme_tallies(
    session: AsyncSession, programme_id: str, window: Window
) -> list[ThemeTally]:
    """Every live theme's writers and texts in the window, counted in SQL (no words read).

    Texts whose words the retention period erased still count, as in `erased_texts`.
    """
    scope = [*_placed_in(programme_id, window), _live(programme_id)]
    theme = col(ThemeText.theme_id)
    by_source = (
        select_columns(theme, col(ThemeText.source), func.count())
        .where(*scope)
        .group_by(theme, col(ThemeText.source))
    )
    people = select_columns(theme, func.count(distinct(col(ThemeText.person_id)))).where(*scope)
    sources: dict[int, list[tuple[str, int]]] = {}
    for theme_id, source, count in await aggregate_rows(session, by_source):
        sources.setdefault(int(theme_id), []).append((str(source), int(count)))
    return [
        ThemeTally(
            int(theme_id),
            int(count),
            sum(n for _, n in sources[int(theme_id)]),
            tuple(sorted(sources[int(theme_id)], key=lambda pair: (-pair[1], pair[0]))),
        )
        for theme_id, count in await aggregate_rows(session, people.group_by(theme))
    ]


async def writers_outside(
    session: AsyncSession, programme_id: str, window: Window, theme_ids: Sequence[int]
) -> int:
    """Distinct people with a text in the window that is in none of the themes."""
    theme = col(ThemeText.theme_id)
    statement = select_columns(func.count(distinct(col(ThemeText.person_id)))).where(
        *_placed_in(programme_id, window),
        or_(theme.is_(None), theme.not_in(list(theme_ids))) if theme_ids else true(),
    )
    return int((await aggregate_rows(session, statement))[0][0])


async def theme_people_by_week(
    session: AsyncSession, programme_id: str, weeks: Sequence[Window], theme_ids: Sequence[int]
) -> dict[tuple[int, int], int]:
    """Distinct writers per (index into `weeks`, theme) for the themes, counted in SQL."""
    if not weeks or not theme_ids:
        return {}
    span = Window(min(w.start for w in weeks), max(w.end for w in weeks))
    rows = (
        select_columns(
            week_index(col(ThemeText.created_at), weeks).label("week"),
            col(ThemeText.theme_id).label("theme"),
            col(ThemeText.person_id).label("person"),
        )
        .where(*_placed_in(programme_id, span), col(ThemeText.theme_id).in_(list(theme_ids)))
        .subquery()
    )
    statement = (
        select_columns(rows.c.week, rows.c.theme, func.count(distinct(rows.c.person)))
        .where(rows.c.week >= 0)
        .group_by(rows.c.week, rows.c.theme)
    )
    return {(int(w), int(t)): int(n) for w, t, n in await aggregate_rows(session, statement)}


_WORDS: dict[TextSource, tuple[Any, Any]] = {
    TextSource.WORKAROUND: (Workaround, col(Workaround.text)),
    TextSource.OVERRIDE: (Override, col(Override.text)),
    TextSource.NOT_USED: (Answer, col(Answer.not_used_text)),
    TextSource.NOTE: (Note, col(Note.text)),
    TextSource.DAY30: (Day30Response, col(Day30Response.change_first)),
}


async def newest_theme_texts(
    session: AsyncSession, programme_id: str, theme_id: int, window: Window, limit: int
) -> list[PoolText]:
    """The newest `limit` texts of a theme in the window whose words are kept, newest first.

    Only these texts' words are read: what a digest quotes, never the whole pool.
    """
    statement = (
        select_columns(
            col(ThemeText.source),
            col(ThemeText.source_id),
            col(ThemeText.person_id),
            col(ThemeText.cohort_id),
            col(ThemeText.created_at),
        )
        .where(
            *_placed_in(programme_id, window),
            col(ThemeText.theme_id) == theme_id,
            col(ThemeText.erased_at).is_(None),
        )
        # Texts written at the same moment keep the pool's order (source, then id).
        .order_by(col(ThemeText.created_at).desc(), col(ThemeText.source), col(ThemeText.source_id))
        .limit(limit)
    )
    placed = await aggregate_rows(session, statement)
    words: dict[tuple[str, int], str] = {}
    for source in {TextSource(row[0]) for row in placed}:
        model, text = _WORDS[source]
        ids = [int(row[1]) for row in placed if row[0] == source.value]
        found = select_columns(model.id, text).where(model.id.in_(ids))
        words |= {
            (source.value, int(i)): str(t or "") for i, t in await aggregate_rows(session, found)
        }
    return [
        PoolText(
            TextSource(source), int(sid), int(person), str(cohort or ""), "", words[key], _aware(at)
        )
        for source, sid, person, cohort, at in placed
        if words.get(key := (str(source), int(sid)))
    ]
