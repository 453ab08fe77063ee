"""Planning one schedule slot for a whole organisation, against inserting the same rows.

Seeds N people in C cohorts whose Tuesday 15:30 slot comes round at the same
instant (their platform zones all read 15:30 then: the cohort's, London, Dublin,
Lisbon), with the variety a real slot meets: some paused, stopped or unreachable,
some already asked three times this week, some past their thirtieth day (they get
the day-30 check). Then times, on SQLite and on PostgreSQL:

- planning: one `queue_due_checkins` tick, which decides who is asked and writes
  their check-ins and outbox messages, counting the SQL statements it issued;
- the baseline: the very rows that tick wrote, inserted into an identically
  seeded database with plain SQLAlchemy bulk inserts (no reads, no decisions).

Prints the medians, the ratio and the statements per cohort.

    .venv/bin/python bench/plan.py [--people 10000] [--cohorts 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fresh_db import fresh_databases
from sqlalchemy import event, insert, select

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.scheduling.checkins import queue_due_checkins
from storage.models import CheckIn, OutboxMessage, Person

TUESDAY_1530 = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)  # 15:30 in every zone below
ZONES = ("", "Europe/London", "Europe/Dublin", "Europe/Lisbon")
DATABASES = ("SQLite", "PostgreSQL")


def write_config(directory: Path, cohorts: int) -> Path:
    """Cohorts with no members listed: the bench seeds their people directly."""
    lines = [
        "[programmes.routing]",
        'name = "Route planner pilot"',
        'tool = "RoutePilot"',
        'timezone = "Europe/London"',
    ]
    for number in range(cohorts):
        lines += [
            f"[cohorts.c{number:02d}]",
            'programme = "routing"',
            'timezone = "Europe/London"',
            'schedule = ["tue 15:30"]',
            "max_per_week = 3",
        ]
    path = directory / "plan.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def person_row(number: int, cohorts: int) -> dict[str, Any]:
    # Every cohort gets the same mix: it follows the person's place within the cohort.
    place = number // cohorts
    status, paused_until = "active", None
    if place % 20 == 3:
        status, paused_until = "paused", TUESDAY_1530 + timedelta(days=7)
    elif place % 50 == 7:
        status = "stopped"
    return {
        "platform": "slack",
        "platform_user_id": f"U{number:06d}",
        "workspace_id": "T1",
        "display_name": "",
        "email": "",
        "timezone": ZONES[place % len(ZONES)],
        "locale": "en",
        "cohort_id": f"c{number % cohorts:02d}",
        "status": status,
        "paused_until": paused_until,
        "unreachable": place % 100 == 11,
        "created_at": TUESDAY_1530 - timedelta(days=60),
    }


def earlier_checkins(person_id: int, place: int, cohort_id: str) -> list[dict[str, Any]]:
    """Three check-ins this week for every tenth person (capped); a first check-in 40
    days ago for every seventh (their day-30 check is due)."""
    moments: list[tuple[str, datetime]] = []
    if place % 10 == 5:
        moments = [(f"earlier-{day}", TUESDAY_1530 - timedelta(hours=day + 2)) for day in range(3)]
    elif place % 7 == 2:
        moments = [("first", TUESDAY_1530 - timedelta(days=40))]
    return [
        {
            "person_id": person_id,
            "programme_id": "routing",
            "cohort_id": cohort_id,
            "kind": "scheduled",
            "slot": slot,
            "status": "sent",
            "context": "",
            "scheduled_for": moment,
            "sent_at": moment,
            "expires_at": moment + timedelta(hours=4),
            "message_ref": {},
        }
        for slot, moment in moments
    ]


async def seed(runtime: Runtime, people: int, cohorts: int) -> None:
    async with runtime.db.session() as session:
        await session.exec(insert(Person), params=[person_row(n, cohorts) for n in range(people)])
    async with runtime.db.session() as session:
        stored = (await session.exec(select(Person.id, Person.platform_user_id))).all()
        numbers = [(person_id, int(user_id[1:])) for person_id, user_id in stored]
        rows = [
            row
            for person_id, number in numbers
            for row in earlier_checkins(person_id, number // cohorts, f"c{number % cohorts:02d}")
        ]
        await session.exec(insert(CheckIn), params=rows)


async def start(url: str, config: Path, people: int, cohorts: int) -> Runtime:
    settings = Settings(
        database_url=url,
        lastmile_config=config,
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = await build_runtime(settings, clock=lambda: TUESDAY_1530)
    await seed(runtime, people, cohorts)
    return runtime


def count_statements(runtime: Runtime) -> Callable[[], int]:
    """Counts every statement the runtime's engine sends from now on."""
    seen = [0]

    def counted(*_args: Any) -> None:
        seen[0] += 1

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", counted)
    return lambda: seen[0]


async def written_rows(runtime: Runtime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The check-ins the tick opened and the messages it queued, as plain rows."""
    async with runtime.db.session() as session:
        checkins = (
            await session.exec(select(CheckIn.__table__).where(CheckIn.status == "scheduled"))  # type: ignore[attr-defined]
        ).all()
        messages = (await session.exec(select(OutboxMessage.__table__))).all()  # type: ignore[attr-defined]
    return [dict(row._mapping) for row in checkins], [dict(row._mapping) for row in messages]


async def plan_once(url: str, config: Path, people: int, cohorts: int) -> dict[str, Any]:
    runtime = await start(url, config, people, cohorts)
    try:
        statements = count_statements(runtime)
        started = time.perf_counter()
        queued = await queue_due_checkins(runtime, TUESDAY_1530)
        elapsed = time.perf_counter() - started
        issued = statements()
        checkins, messages = await written_rows(runtime)
        assert queued == len(checkins) == len(messages), (queued, len(checkins), len(messages))
        kinds = {
            kind: sum(row["kind"] == kind for row in checkins) for kind in ("scheduled", "day30")
        }
        return {
            "seconds": elapsed,
            "statements": issued,
            "queued": queued,
            "kinds": kinds,
            "checkins": checkins,
            "messages": messages,
        }
    finally:
        await runtime.close()


async def insert_once(
    url: str,
    config: Path,
    people: int,
    cohorts: int,
    checkins: list[dict[str, Any]],
    messages: list[dict[str, Any]],
) -> float:
    runtime = await start(url, config, people, cohorts)
    try:
        started = time.perf_counter()
        async with runtime.db.session() as session:
            await session.exec(insert(CheckIn), params=checkins)
            await session.exec(insert(OutboxMessage), params=messages)
        return time.perf_counter() - started
    finally:
        await runtime.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--cohorts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.people} people in {args.cohorts} cohorts, one slot; median of {args.repeat}")
    print(
        f"{'database':<11}{'queued':>8}{'day-30':>8}{'planning':>10}{'bulk insert':>13}"
        f"{'ratio':>7}{'statements':>12}{'per cohort':>12}"
    )
    with tempfile.TemporaryDirectory() as folder, fresh_databases(Path(folder)) as fresh:
        config = write_config(Path(folder), args.cohorts)
        for database in DATABASES:
            planned: list[dict[str, Any]] = []
            baseline: list[float] = []
            for _ in range(args.repeat):
                run = await plan_once(
                    fresh.make(database, "plan"), config, args.people, args.cohorts
                )
                planned.append(run)
                baseline.append(
                    await insert_once(
                        fresh.make(database, "insert"),
                        config,
                        args.people,
                        args.cohorts,
                        run["checkins"],
                        run["messages"],
                    )
                )
            ours = statistics.median([run["seconds"] for run in planned])
            bulk = statistics.median(baseline)
            last = planned[-1]
            print(
                f"{database:<11}{last['queued']:>8}{last['kinds']['day30']:>8}{ours:>9.3f}s"
                f"{bulk:>12.3f}s{ours / bulk:>6.1f}x{last['statements']:>12}"
                f"{last['statements'] / args.cohorts:>12.1f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
