"""How fast the engine stores check-in answers, against the bare inserts they need.

Runs N check-ins (checkin → partly → did it by hand → no override: four events, each
in its own transaction, as the platforms deliver them) through `Engine.handle`, then
writes the same rows with one plain INSERT transaction per event as the baseline.
Prints events per second for both and the ratio, on SQLite and on PostgreSQL.

    .venv/bin/python bench/engine_answers.py [--checkins 300]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bot.config import Settings, example_config_path
from bot.events import Actor, Address, ChoiceMade, MessageReceived
from bot.replies import Choices
from bot.runtime import build_runtime
from storage.migrate import upgrade_sync
from storage.models import Answer, CheckIn, Override, Workaround

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PEOPLE = ("ana", "ben", "cat", "dev", "eve", "lee")


async def engine_run(url: str, checkins: int) -> float:
    runtime = await build_runtime(
        Settings(database_url=url, lastmile_config=example_config_path(), _env_file=None)  # type: ignore[call-arg]
    )
    started = time.perf_counter()
    for n in range(checkins):
        user = PEOPLE[n % len(PEOPLE)]
        actor, where = Actor("local", user), Address("local", {"user": user})
        replies = await runtime.engine.handle(MessageReceived(actor, where, "checkin", f"m{n}"))
        token = next(r.token for r in replies if isinstance(r, Choices))
        replies = await runtime.engine.handle(ChoiceMade(actor, where, token, "partly", f"a{n}"))
        token = next(r.token for r in replies if isinstance(r, Choices))
        replies = await runtime.engine.handle(ChoiceMade(actor, where, token, "by_hand", f"b{n}"))
        token = next(r.token for r in replies if isinstance(r, Choices))
        await runtime.engine.handle(ChoiceMade(actor, where, token, "no", f"c{n}"))
    elapsed = time.perf_counter() - started
    await runtime.close()
    return checkins * 4 / elapsed


async def baseline_run(url: str, checkins: int) -> float:
    runtime = await build_runtime(
        Settings(database_url=url, lastmile_config=example_config_path(), _env_file=None)  # type: ignore[call-arg]
    )
    now = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(checkins):
        async with runtime.db.session() as session:
            checkin = CheckIn(
                person_id=1,
                programme_id="routing",
                kind="triggered",
                slot=f"base{n}",
                scheduled_for=now,
                status="sent",
            )
            session.add(checkin)
        assert checkin.id is not None
        async with runtime.db.session() as session:
            session.add(
                Answer(checkin_id=checkin.id, person_id=1, outcome="partly", answered_at=now)
            )
        async with runtime.db.session() as session:
            session.add(
                Workaround(checkin_id=checkin.id, person_id=1, kind="by_hand", created_at=now)
            )
        async with runtime.db.session() as session:
            session.add(
                Override(checkin_id=checkin.id, person_id=1, overridden=False, created_at=now)
            )
    elapsed = time.perf_counter() - started
    await runtime.close()
    return checkins * 4 / elapsed


def fresh_postgres() -> str | None:
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None
    name = f"lastmile_bench_{secrets.token_hex(3)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
    upgrade_sync(url)
    return url


def drop_postgres(url: str) -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=300)
    args = parser.parse_args()
    print(f"{'database':<11}{'engine ev/s':>13}{'baseline ev/s':>15}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as folder:
        targets = {
            "SQLite": (f"sqlite:///{Path(folder) / 'e.db'}", f"sqlite:///{Path(folder) / 'b.db'}")
        }
        pg_engine, pg_base = fresh_postgres(), fresh_postgres()
        if pg_engine and pg_base:
            targets["PostgreSQL"] = (pg_engine, pg_base)
        for name, (engine_url, base_url) in targets.items():
            if name == "SQLite":
                upgrade_sync(engine_url)
                upgrade_sync(base_url)
            engine_rate = await engine_run(engine_url, args.checkins)
            base_rate = await baseline_run(base_url, args.checkins)
            print(
                f"{name:<11}{engine_rate:>13.0f}{base_rate:>15.0f}{engine_rate / base_rate:>8.2f}"
            )
        for url in (pg_engine, pg_base):
            if url:
                drop_postgres(url)


if __name__ == "__main__":
    asyncio.run(main())
