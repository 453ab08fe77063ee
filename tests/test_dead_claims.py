"""A claim whose owner was a process of this machine that stopped is taken over at once;
any other waits out its lease."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from bot.leases import DeadClaims, gone, process_name
from bot.runtime import Runtime
from storage.inbox import NewEvent, claim_heads
from storage.models import InboxEvent, Note, OutboxMessage
from storage.outbox import claim_due, enqueue
from tests.conftest import FakeClock
from tests.helpers import rows

pytestmark = pytest.mark.sql

LEASE = timedelta(seconds=30)


def stopped_process_name() -> str:
    """The lease owner name a process of this machine had before it stopped."""
    child = subprocess.run(
        [sys.executable, "-c", "from bot.leases import process_name; print(process_name())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return child.stdout.strip()


def elsewhere(name: str) -> str:
    """The same name on another machine."""
    return "another-host:" + name.split(":", 1)[1]


def test_only_a_stopped_process_of_this_machine_is_gone() -> None:
    mine = process_name()
    stopped = stopped_process_name()
    host, namespace, pid, started, tag = mine.rsplit(":", 4)

    assert len(mine) <= 64 and len(stopped) <= 64
    assert not gone(mine)
    assert gone(stopped)
    assert gone(f"{host}:{namespace}:{pid}:{int(started, 16) + 1:x}:{tag}")  # its id reused
    assert not gone(elsewhere(stopped))  # another machine: left to its lease
    assert not gone(f"{host}:1:{pid}:{started}:{tag}")  # another container on this host
    assert not gone("some-host:4242:1a2b3c4d")  # as older versions named owners


async def test_a_stopped_processs_inbox_claim_is_taken_over_without_waiting(
    runtime: Runtime, clock: FakeClock
) -> None:
    for user, text in (("ana", "Scanner froze"), ("ben", "Login expired")):
        payload = {"id": f"ev-{user}", "user": user, "text": text}
        await runtime.inbox.store(NewEvent("local", f"ev-{user}", f"local:{user}", payload))
    stopped = stopped_process_name()
    async with runtime.db.session() as session:
        [ana] = await claim_heads(
            session, clock.now, owner=stopped, lease=LEASE, platforms=["local"], limit=1
        )
        [ben] = await claim_heads(
            session, clock.now, owner=elsewhere(stopped), lease=LEASE, platforms=["local"]
        )
    assert (ana.person_key, ben.person_key) == ("local:ana", "local:ben")

    assert await runtime.inbox.worker.handle_due() == 1  # ana's, at once; ben's is leased

    assert [n.text for n in await rows(runtime, Note)] == ["Scanner froze"]
    [left] = await rows(runtime, InboxEvent, status="pending")
    assert left.id == ben.id


async def test_a_stopped_processs_outbox_claim_is_taken_over_without_waiting(
    runtime: Runtime, clock: FakeClock
) -> None:
    async with runtime.db.session() as session:
        for key in ("k-stopped", "k-elsewhere"):
            await enqueue(
                session,
                dedupe_key=key,
                platform="slack",
                purpose="notice",
                payload={},
                now=clock.now,
            )
    stopped = stopped_process_name()
    async with runtime.db.session() as session:
        await claim_due(
            session, clock.now, platforms=("slack",), lease=LEASE, limit=1, owner=stopped
        )
        await claim_due(
            session, clock.now, platforms=("slack",), lease=LEASE, owner=elsewhere(stopped)
        )

    freed = await DeadClaims(runtime.db, OutboxMessage, runtime.clock).end_due()

    assert freed == 1
    async with runtime.db.session() as session:
        again = await claim_due(session, clock.now, platforms=("slack",), lease=LEASE)
    assert [row.dedupe_key for row in again] == ["k-stopped"]
