"""What one `GET /metrics` scrape costs the database: the queue gauges are read at scrape time
(three indexed aggregate queries), against one plain `COUNT(*)` of the pending outbox.

Fills a fresh database with a busy day's queues: `--waiting` pending outbox messages (a
tenth of them held for later), as many again pending inbox events, and ten times as many
handled rows in each table; then times `queue_depths` and the whole exposition (gauges
set, every metric formatted), median of `--repeat`.

    .venv/bin/python bench/metrics_scrape.py [--waiting 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fresh_db import fresh_databases
from sqlalchemy import func
from sqlmodel import col, select

from bot.metrics import Metrics
from storage.db import Database
from storage.models import InboxEvent, OutboxMessage
from storage.queues import queue_depths

NOW = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)


async def fill(db: Database, waiting: int) -> None:
    handled = waiting * 10
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    inbox = InboxEvent.__table__  # type: ignore[attr-defined]
    async with db.session() as session:
        connection = await session.connection()
        await connection.execute(
            outbox.insert(),
            [
                {
                    "dedupe_key": f"m{n}",
                    "platform": "slack",
                    "purpose": "checkin",
                    "payload": {},
                    "status": "pending" if n < waiting else "delivered",
                    "attempts": 0,
                    "not_before": NOW + timedelta(hours=1 if n % 10 == 0 else -1),
                    "claimed_by": "",
                    "last_error": "",
                    "destination": "",
                    "created_at": NOW - timedelta(seconds=n),
                }
                for n in range(waiting + handled)
            ],
        )
        await connection.execute(
            inbox.insert(),
            [
                {
                    "platform": "slack",
                    "event_id": f"e{n}",
                    "person_key": f"p{n % 500}",
                    "payload": {},
                    "received_at": NOW - timedelta(seconds=n),
                    "status": "pending" if n < waiting else "done",
                    "attempts": 0,
                    "claimed_by": "",
                    "result": {},
                    "last_error": "",
                }
                for n in range(waiting + handled)
            ],
        )
    async with db.engine.connect() as connection:
        # Fresh statistics, as autovacuum would have them on a database in use.
        await connection.exec_driver_sql("ANALYZE")


async def median_seconds(action: Callable[[], Awaitable[object]], repeat: int) -> float:
    await action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(url: str, waiting: int, repeat: int) -> tuple[float, float, float]:
    db = Database(url)
    metrics = Metrics()
    try:
        await fill(db, waiting)

        async def plain_count() -> object:
            async with db.session() as session:
                statement = select(func.count()).where(col(OutboxMessage.status) == "pending")
                return (await session.exec(statement)).one()

        async def depths() -> object:
            async with db.session() as session:
                return await queue_depths(session, NOW)

        async def scrape() -> object:
            metrics.queues_read(await depths())  # type: ignore[arg-type]
            return metrics.exposition()

        found = await depths()
        assert found["outbox"].waiting == waiting, found  # type: ignore[index]
        return (
            await median_seconds(plain_count, repeat),
            await median_seconds(depths, repeat),
            await median_seconds(scrape, repeat),
        )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(
        f"{args.waiting} waiting and {args.waiting * 10} handled rows in each queue; "
        f"median of {args.repeat}"
    )
    print(f"{'':<12}{'plain COUNT':>13}{'queue_depths':>14}{'ratio':>8}{'whole scrape':>14}")
    with tempfile.TemporaryDirectory() as folder, fresh_databases(Path(folder)) as fresh:
        for database in ("SQLite", "PostgreSQL"):
            url = fresh.make(database, "metrics")
            plain, depths, scrape = asyncio.run(measure(url, args.waiting, args.repeat))
            print(
                f"{database:<12}{plain * 1000:>10.2f} ms{depths * 1000:>11.2f} ms"
                f"{depths / plain:>7.1f}x{scrape * 1000:>11.2f} ms"
            )


if __name__ == "__main__":
    main()
