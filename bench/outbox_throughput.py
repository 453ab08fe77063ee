"""Outbox delivery throughput: the delivery loop against a naive one-row-per-transaction loop.

Seeds M messages for P people on a platform with no rate limits, then drains them
through `DeliveryLoop.deliver_due` with a recording fake sender (which answers at
once, or after a simulated platform round trip), and through the baseline: claim
one row in a transaction, send it, mark it delivered in another. Prints messages
per second for both and the ratio, on SQLite and on PostgreSQL.

    .venv/bin/python bench/outbox_throughput.py [--messages 1000] [--people 100]
        [--latency-ms 0,20]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert

from bot.config import Settings, example_config_path
from bot.delivery import Outbound, Recipient
from bot.delivery_loop import DeliveryLoop
from bot.outgoing import payload_of
from bot.platform import Connection
from bot.replies import Text, reply_from_dict
from bot.runtime import Runtime, build_runtime
from lastmile.platforms import PLATFORMS
from storage.migrate import upgrade_sync
from storage.models import OutboxMessage, Person
from storage.outbox import claim_due, record_delivery
from storage.people import get_address, get_person

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PLATFORM = "bench"
NOW = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)


class RecordingSender:
    """Accepts every message, after `latency` seconds (a platform's round trip)."""

    platform = PLATFORM

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.sent = 0

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        if self.latency:
            await asyncio.sleep(self.latency)
        self.sent += 1
        return {"ts": str(message.message_id)}


async def seed(runtime: Runtime, people: int, messages: int) -> None:
    async with runtime.db.session() as session:
        await session.exec(
            insert(Person).values(
                [
                    {
                        "platform": PLATFORM,
                        "platform_user_id": f"U{n}",
                        "workspace_id": "",
                        "display_name": "",
                        "email": "",
                        "timezone": "",
                        "locale": "en",
                        "status": "active",
                        "unreachable": False,
                        "created_at": NOW,
                    }
                    for n in range(people)
                ]
            )
        )
    async with runtime.db.session() as session:
        ids = [p.id for p in (await session.exec(Person.__table__.select())).all()]  # type: ignore[attr-defined]
        payload = payload_of([Text("Did RoutePilot help you this afternoon?")])
        await session.exec(
            insert(OutboxMessage).values(
                [
                    {
                        "dedupe_key": f"bench:{n}",
                        "platform": PLATFORM,
                        "person_id": ids[n % len(ids)],
                        "destination": "",
                        "purpose": "notice",
                        "payload": payload,
                        "status": "pending",
                        "attempts": 0,
                        "not_before": NOW,
                        "last_error": "",
                        "created_at": NOW,
                    }
                    for n in range(messages)
                ]
            )
        )


async def drain_with_loop(runtime: Runtime, sender: RecordingSender) -> None:
    # No platform's rate limits: the loop itself is measured.
    runtime.platforms[PLATFORM] = Connection(PLATFORMS["local"], sender)
    loop = DeliveryLoop(runtime)
    while await loop.deliver_due():
        pass


async def drain_naively(runtime: Runtime, sender: RecordingSender) -> None:
    while True:
        async with runtime.db.session() as session:
            rows = await claim_due(
                session, NOW, platforms=(PLATFORM,), lease=timedelta(minutes=5), limit=1
            )
            if not rows:
                return
            row = rows[0]
            assert row.id is not None and row.person_id is not None
            person = await get_person(session, row.person_id)
            address = await get_address(session, row.person_id)
        assert person is not None
        message = Outbound(
            message_id=row.id,
            purpose=row.purpose,
            replies=tuple(reply_from_dict(item) for item in row.payload["replies"]),
            recipient=Recipient(
                row.person_id,
                PLATFORM,
                person.platform_user_id,
                "",
                address.data if address else {},
            ),
        )
        await sender.deliver(message)
        async with runtime.db.session() as session:
            await record_delivery(session, row.id, NOW)


Drain = Callable[[Runtime, RecordingSender], Awaitable[None]]


async def measure(url: str, drain: Drain, people: int, messages: int, latency: float) -> float:
    runtime = await build_runtime(
        Settings(database_url=url, lastmile_config=example_config_path(), _env_file=None),  # type: ignore[call-arg]
        clock=lambda: NOW,
    )
    try:
        await seed(runtime, people, messages)
        sender = RecordingSender(latency)
        started = time.perf_counter()
        await drain(runtime, sender)
        elapsed = time.perf_counter() - started
        assert sender.sent == messages, (sender.sent, messages)
        return messages / elapsed
    finally:
        await runtime.close()


def fresh_sqlite(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}-{secrets.token_hex(4)}.db"
    upgrade_sync(url)
    return url


def fresh_postgres(names: list[str]) -> str:
    name = f"lastmile_bench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    names.append(name)
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    upgrade_sync(url)
    return url


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--latency-ms", default="0,20", help="sender round trips to try")
    args = parser.parse_args()
    latencies = [float(value) / 1000 for value in args.latency_ms.split(",")]
    created: list[str] = []
    print(f"{args.messages} messages to {args.people} people; messages per second")
    print(f"{'database':<11}{'sender':>9}{'delivery loop':>15}{'naive':>9}{'ratio':>8}")
    try:
        with tempfile.TemporaryDirectory() as folder:
            makers: dict[str, Callable[[str], str]] = {
                "SQLite": lambda label: fresh_sqlite(Path(folder), label),
                "PostgreSQL": lambda _label: fresh_postgres(created),
            }
            for database, fresh in makers.items():
                for latency in latencies:
                    ours = await measure(
                        fresh("loop"), drain_with_loop, args.people, args.messages, latency
                    )
                    naive = await measure(
                        fresh("naive"), drain_naively, args.people, args.messages, latency
                    )
                    sender = f"{latency * 1000:.0f} ms"
                    print(
                        f"{database:<11}{sender:>9}{ours:>15.0f}{naive:>9.0f}{ours / naive:>7.1f}x"
                    )
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            for name in created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
