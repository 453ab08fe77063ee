"""Theme building under real conditions: a long history caught up in bounded runs,
texts purged from the pool, and two replicas building at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, delete, select

from bot.runtime import Runtime
from bot.themes import jobs
from bot.themes.jobs import place_new_texts
from bot.themes.placing import update_themes
from storage.checkins import add_note
from storage.models import Note, Theme, ThemeText
from storage.people import find_person
from storage.reports import Window
from storage.themes import pool_texts, unplaced_count
from tests.conftest import FakeClock
from tests.theme_pilot import MONDAY_W48, RELEASE_AT, WEEKS, seed, start

pytestmark = pytest.mark.sql

LATE = timedelta(days=2)
SPAN = Window(WEEKS[0].window(ZoneInfo("Europe/London")).start, MONDAY_W48)


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = RELEASE_AT
    runtime = await start(database_url, tmp_path, clock)
    try:
        await seed(runtime)
        yield runtime
    finally:
        await runtime.close()


async def _placed(runtime: Runtime) -> list[ThemeText]:
    async with runtime.db.session() as session:
        return list((await session.exec(select(ThemeText))).all())


async def test_the_minute_job_catches_up_a_long_history_a_bounded_batch_a_run(
    pilot: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "JOB_TEXTS", 60)
    async with pilot.db.session() as session:
        written = await pool_texts(session, "routing", SPAN)
    runs, before = 0, 0
    while await place_new_texts(pilot, MONDAY_W48):
        runs += 1
        placed = len(await _placed(pilot))
        assert 0 < placed - before <= 60  # each run places at most its batch
        before = placed
    assert runs == -(-len(written) // 60)
    rows = await _placed(pilot)
    assert len(rows) == len(written) and all(row.vector for row in rows)
    # Caught up in batches, the planted complaints still make their themes.
    themed = {row.theme_id for row in rows if row.theme_id is not None}
    assert len(themed) >= 3


async def test_texts_taken_out_of_the_pool_do_not_hide_new_ones(pilot: Runtime) -> None:
    assert await place_new_texts(pilot, MONDAY_W48) == 1
    async with pilot.db.session() as session:
        # A retention purge takes two old notes out; their theme rows stay behind.
        notes = (await session.exec(select(Note).order_by(col(Note.id)).limit(2))).all()
        await session.exec(delete(Note).where(col(Note.id).in_([note.id for note in notes])))
        person = await find_person(session, "local", "c3")
        assert person is not None and person.id is not None
        await add_note(session, person.id, "no signal at the depot gate", MONDAY_W48 - LATE)
        assert await unplaced_count(session, "routing", SPAN) == 1
    assert await place_new_texts(pilot, MONDAY_W48) == 1
    async with pilot.db.session() as session:
        assert await unplaced_count(session, "routing", SPAN) == 0


async def test_two_replicas_building_at_once_form_each_theme_once(pilot: Runtime) -> None:
    async def build() -> None:
        async with pilot.db.session() as session:
            await update_themes(session, pilot.config, "routing", MONDAY_W48)

    await asyncio.gather(build(), build())
    async with pilot.db.session() as session:
        themes = (await session.exec(select(Theme))).all()
        written = await pool_texts(session, "routing", SPAN)
    labels = [theme.label for theme in themes]
    assert labels and len(labels) == len(set(labels))
    rows = await _placed(pilot)
    assert len(rows) == len(written)
    used = {row.theme_id for row in rows if row.theme_id is not None}
    assert used <= {theme.id for theme in themes}
