"""Issue 10: the retention period erases free text and leaves every count of past digests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.digest.build import Scope, build_digest
from bot.digest.render import to_json_data
from bot.digest.weeks import IsoWeek
from bot.replies import Text
from bot.retention import apply_retention
from bot.runtime import Runtime, build_runtime
from storage.models import Answer, Day30Response, Note, Override, ThemeText, Workaround
from tests.conftest import FakeClock
from tests.digest_seed import CONFIG, MONDAY_W48, THU_W47, say, seed_pilot
from tests.helpers import rows

pytestmark = pytest.mark.sql

W46, W47 = IsoWeek(2026, 46), IsoWeek(2026, 47)
TEXT_ROWS: list[tuple[Any, str]] = [
    (Workaround, "text"),
    (Override, "text"),
    (Answer, "not_used_text"),
    (Day30Response, "change_first"),
    (Note, "text"),
]


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = MONDAY_W48
    path = tmp_path / "retention.toml"
    path.write_text(
        CONFIG.replace(
            'digest_destination = "slack:C0DIGEST"',
            'digest_destination = "slack:C0DIGEST"\nretention_days = 30',
        ),
        encoding="utf-8",
    )
    settings = Settings(
        database_url=database_url,
        lastmile_config=path,
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = await build_runtime(settings, clock=clock)
    try:
        await seed_pilot(runtime)
        async with runtime.db.session() as session:
            # The day-30 answers carry words too.
            for row in (await session.exec(select(Day30Response))).all():
                row.change_first = "make it work offline"
                session.add(row)
        yield runtime
    finally:
        await runtime.close()


def _counts(data: Any) -> Any:
    """Everything in a digest's JSON but the words (quotes) retention takes away."""
    if isinstance(data, dict):
        return {key: _counts(value) for key, value in data.items() if key != "quotes"}
    if isinstance(data, list):
        return [_counts(item) for item in data]
    return data


async def _digests(runtime: Runtime) -> dict[str, Any]:
    found = {}
    async with runtime.db.session() as session:
        for week in (W46, W47):
            for cohort in (None, "north"):
                digest = await build_digest(
                    session, runtime.config, Scope("routing", cohort), week, MONDAY_W48
                )
                found[f"{week}:{cohort}"] = to_json_data(digest, runtime.wording)
    return found


async def _texts(runtime: Runtime) -> list[str]:
    found = []
    for model, column in TEXT_ROWS:
        found += [getattr(row, column) for row in await rows(runtime, model)]
    return [text for text in found if text]


async def test_after_the_period_free_text_is_gone_and_old_digests_count_the_same(
    pilot: Runtime, clock: FakeClock
) -> None:
    before = await _digests(pilot)
    assert any(theme["quotes"] for theme in before["2026-W47:None"]["written_themes"])
    texts = await _texts(pilot)
    assert any("Scanner" in text for text in texts) and "make it work offline" in texts

    # Not yet: nothing is thirty days old.
    erased = await apply_retention(pilot, clock.now)
    assert erased["routing"].total == 0
    assert await _texts(pilot) == texts

    clock.now = THU_W47 + timedelta(days=31)
    erased = await apply_retention(pilot, clock.now)

    assert erased["routing"].total == len(texts)
    assert await _texts(pilot) == []
    placed = await rows(pilot, ThemeText)
    assert placed and all(row.vector is None and row.erased_at is not None for row in placed)
    after = await _digests(pilot)
    assert _counts(after) == _counts(before)
    for digest in after.values():
        for theme in digest["written_themes"] + digest["themes"]:
            assert theme["quotes"] == []
    # The other programme has no retention period: its rows were not touched.
    assert "triage" not in erased
    # A second run has nothing left to do.
    assert (await apply_retention(pilot, clock.now))["routing"].total == 0


async def test_mydata_says_how_long_words_are_kept(pilot: Runtime) -> None:
    (kept,) = await say(pilot, "n1", "mydata")
    assert isinstance(kept, Text)
    assert "What you write is erased after 30 days" in kept.text
    (forever,) = await say(pilot, "t1", "mydata")  # triage keeps words until forget
    assert isinstance(forever, Text)
    assert "kept until you type forget" in forever.text
