"""Claiming outbox rows: the limit holds, and a claimed row is not claimed again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.runtime import Runtime
from storage.outbox import claim_due, enqueue
from tests.conftest import FakeClock

pytestmark = pytest.mark.sql


async def test_a_claim_takes_at_most_its_limit_then_the_rest(
    runtime: Runtime, clock: FakeClock
) -> None:
    async with runtime.db.session() as session:
        for n in range(5):
            await enqueue(
                session,
                dedupe_key=f"k{n}",
                platform="slack",
                purpose="notice",
                payload={},
                now=clock.now,
            )
    lease = timedelta(minutes=5)
    async with runtime.db.session() as session:
        first = await claim_due(session, clock.now, platforms=("slack",), lease=lease, limit=2)
    async with runtime.db.session() as session:
        rest = await claim_due(session, clock.now, platforms=("slack",), lease=lease, limit=10)
    async with runtime.db.session() as session:
        none = await claim_due(session, clock.now, platforms=("slack",), lease=lease, limit=10)
    assert [row.dedupe_key for row in first] == ["k0", "k1"]
    assert [row.dedupe_key for row in rest] == ["k2", "k3", "k4"]
    assert none == []
