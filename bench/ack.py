"""Acknowledging Slack clicks: lastmile against a bare slack-bolt app and a bare aiohttp handler.

Signed `block_actions` clicks, each answering a different pending check-in, are posted at
a fixed concurrency for a fixed time to:

- **lastmile** (`lastmile serve`, Slack over HTTP): each 200 means the click is in the
  inbox; the answer is stored by the inbox worker and the card updated through the outbox;
- **bare bolt**: a slack-bolt AsyncApp on aiohttp whose listener inserts one row into the
  same database before it acknowledges (bench/baseline_servers.py), the baseline;
- **bare aiohttp**: a handler that answers at once (what the machine can do at all).

It prints requests acknowledged per second with p50 and p99 latency, and rows stored per
second end to end (answers for lastmile, inserted rows for bare bolt; counted until the
count stops rising), each of lastmile's as a ratio to bare bolt's, on SQLite and
PostgreSQL, and checks that every acknowledged click was stored once.

    .venv/bin/python bench/ack.py [--seconds 60] [--concurrency 50] [--people 500]
        [--databases sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import psycopg
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baseline_servers import SIGNING_SECRET  # noqa: E402
from bot.config import Settings  # noqa: E402
from lastmile.server import runtime_for  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade_sync  # noqa: E402
from storage.models import Answer, CheckIn, InboxEvent, Person  # noqa: E402

POSTGRES_ADMIN = os.environ.get(
    "LASTMILE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
NOW = datetime.now(UTC)
SIGNER = SignatureVerifier(SIGNING_SECRET)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_sqlite(folder: Path, name: str, url: str) -> None:
    for leftover in folder.glob(f"{name}.db*"):
        leftover.unlink()
    upgrade_sync(url)


@asynccontextmanager
async def fresh_database(kind: str, folder: Path, name: str) -> AsyncIterator[str]:
    """An empty, migrated database of `kind`, dropped afterwards."""
    if kind == "sqlite":
        path = folder / f"{name}.db"
        url = f"sqlite:///{path}"
        await asyncio.to_thread(_fresh_sqlite, folder, name, url)
        yield url
        return
    database = f"lastmile_ack_{name}_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{database}"
    upgrade_sync(url)
    try:
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def write_config(folder: Path, people: int) -> Path:
    members = [f"slack:U{n:05d}" for n in range(people)]
    path = folder / "lastmile.toml"
    path.write_text(
        f"""
[programmes.routing]
name = "Route planner pilot"
tool = "RoutePilot"
timezone = "Europe/London"

[cohorts.north]
programme = "routing"
schedule = []
members = {json.dumps(members)}
""",
        encoding="utf-8",
    )
    return path


async def seed_checkins(database_url: str, config: Path, per_person: int) -> list[tuple[str, int]]:
    """`per_person` sent check-ins for everyone; (user, check-in id), one person after another."""
    settings = Settings(database_url=database_url, lastmile_config=config, _env_file=None)  # type: ignore[call-arg]
    runtime = await runtime_for(settings)
    try:
        async with runtime.db.session() as session:
            people = (await session.exec(select(Person.id, Person.platform_user_id))).all()
            rows = [
                {
                    "person_id": person_id,
                    "programme_id": "routing",
                    "cohort_id": "north",
                    "kind": "scheduled",
                    "slot": f"bench:{n}",
                    "status": "sent",
                    "context": "",
                    "scheduled_for": NOW,
                    "sent_at": NOW,
                    "expires_at": datetime(2100, 1, 1, tzinfo=UTC),
                    "message_ref": {},
                }
                for n in range(per_person)
                for person_id, _user in people
            ]
            for start in range(0, len(rows), 5000):
                await session.exec(insert(CheckIn).values(rows[start : start + 5000]))
            users = dict(people)
            found = await session.exec(select(CheckIn.id, CheckIn.person_id).order_by(CheckIn.id))
            return [(users[person_id], checkin_id) for checkin_id, person_id in found.all()]
    finally:
        await runtime.close()


def click(user: str, checkin_id: int) -> tuple[bytes, dict[str, str]]:
    """A signed block_actions body for tapping "Yes, it helped" on a check-in."""
    ts = f"{time.time():.6f}"
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0LASTMILE"},
        "api_app_id": "A0LASTMILE",
        "container": {
            "type": "message",
            "message_ts": f"{checkin_id}.000100",
            "channel_id": f"D{user}",
        },
        "trigger_id": secrets.token_hex(8),
        "team": {"id": "T0LASTMILE", "domain": "bench"},
        "channel": {"id": f"D{user}", "name": "directmessage"},
        "message": {
            "type": "message",
            "ts": f"{checkin_id}.000100",
            "text": "Did it help?",
            "blocks": [],
        },
        "actions": [
            {
                "action_id": "lastmile.choice.0",
                "block_id": "lastmile.options",
                "value": json.dumps({"t": f"checkin:{checkin_id}:first", "v": "helped"}),
                "type": "button",
                "action_ts": ts,
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SIGNER.generate_signature(timestamp=stamp, body=body) or "",
    }
    return body, headers


@dataclass
class Load:
    acknowledged: int
    refused: int
    latencies: list[float]
    seconds: float

    @property
    def per_second(self) -> float:
        return self.acknowledged / self.seconds

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def drive(
    url: str, clicks: list[tuple[str, int]], seconds: float, concurrency: int
) -> tuple[Load, list[int]]:
    """Post clicks for `seconds` at `concurrency`; the load, and the check-ins acknowledged."""
    latencies: list[float] = []
    acknowledged: list[int] = []
    refused = 0
    queue = iter(clicks)
    stop_at = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal refused
        while time.monotonic() < stop_at:
            try:
                user, checkin_id = next(queue)
            except StopIteration:
                return
            body, headers = click(user, checkin_id)
            began = time.monotonic()
            async with session.post(f"{url}/slack/events", data=body, headers=headers) as answer:
                await answer.read()
                status = answer.status
            latencies.append(time.monotonic() - began)
            if status == 200:
                acknowledged.append(checkin_id)
            else:
                refused += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    began = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return Load(len(acknowledged), refused, latencies, time.monotonic() - began), acknowledged


async def stored_rate(
    count: Callable[[], Awaitable[int]], started: float, quiet: float = 3.0
) -> tuple[int, float]:
    """Rows stored, per second from `started` to the last time the count rose."""
    last, rose_at = await count(), time.monotonic()
    while time.monotonic() - rose_at < quiet:
        await asyncio.sleep(0.25)
        now = await count()
        if now != last:
            last, rose_at = now, time.monotonic()
    return last, last / max(rose_at - started, 1e-9)


async def counter(database_url: str, statement: Any) -> Callable[[], Awaitable[int]]:
    database = Database(database_url)

    async def count() -> int:
        async with database.session() as session:
            return int((await (await session.connection()).execute(statement)).scalar_one())

    return count


@asynccontextmanager
async def process(
    command: list[str], env: dict[str, str], port: int, log: Path
) -> AsyncIterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=out, stderr=out, cwd=ROOT
        )
    try:
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"{url}/healthz") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline or child.returncode is not None:
                    raise RuntimeError(f"{command} did not start; see {log}")
                await asyncio.sleep(0.2)
        yield url
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(child.wait(), 30)
            except TimeoutError:
                child.kill()


def environment(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "MICROSOFT_", "LASTMILE_"))
    }
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


@dataclass(frozen=True)
class FakeSlack:
    """The fake Slack Web API, running in its own process."""

    url: str
    bot_token: str


@asynccontextmanager
async def fake_slack(folder: Path) -> AsyncIterator[FakeSlack]:
    command = [sys.executable, str(ROOT / "bench" / "fake_slack_server.py")]
    with (folder / "fake-slack.log").open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=log, cwd=ROOT
        )
    assert child.stdout is not None
    first = json.loads(await child.stdout.readline())
    try:
        yield FakeSlack(first["url"], first["bot_token"])
    finally:
        child.kill()
        await child.wait()


@dataclass
class Result:
    load: Load
    stored: int
    stored_per_second: float
    missing: int


async def run_lastmile(
    kind: str, folder: Path, fake: FakeSlack, args: argparse.Namespace
) -> Result:
    async with fresh_database(kind, folder, "lastmile") as url:
        config = write_config(folder, args.people)
        per_person = int(args.seconds * args.ceiling / args.people) + 1
        clicks = await seed_checkins(url, config, per_person)
        # Round-robin over people: consecutive clicks are different people's.
        by_person: dict[str, list[int]] = {}
        for user, checkin_id in clicks:
            by_person.setdefault(user, []).append(checkin_id)
        order = [
            (user, ids[n])
            for n in range(per_person)
            for user, ids in by_person.items()
            if n < len(ids)
        ]
        env = environment(
            DATABASE_URL=url,
            LASTMILE_CONFIG=str(config),
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.url,
            PORT=str(port := free_port()),
        )
        command = [sys.executable, "-m", "lastmile.cli", "serve"]
        async with process(command, env, port, folder / f"lastmile-{kind}.log") as server:
            load, acknowledged = await drive(server, order, args.seconds, args.concurrency)
            count = await counter(url, select(func.count()).select_from(Answer))
            stored, rate = await stored_rate(count, time.monotonic() - load.seconds)
            pending = await (
                await counter(
                    url,
                    select(func.count())
                    .select_from(InboxEvent)
                    .where(InboxEvent.status == "pending"),
                )
            )()
        answered = await (
            await counter(url, select(func.count(func.distinct(Answer.checkin_id))))
        )()
        missing = len(set(acknowledged)) - answered
        if pending:
            print(f"  ({pending} events still pending when the count stopped rising)")
        return Result(load, stored, rate, missing)


async def run_bolt(kind: str, folder: Path, fake: FakeSlack, args: argparse.Namespace) -> Result:
    async with fresh_database(kind, folder, "bolt") as url:
        order = [
            (f"U{n % args.people:05d}", n + 1) for n in range(int(args.seconds * args.ceiling))
        ]
        port = free_port()
        command = [
            sys.executable,
            str(ROOT / "bench" / "baseline_servers.py"),
            "bolt",
            url,
            str(port),
            fake.url,
            fake.bot_token,
        ]
        async with process(command, environment(), port, folder / f"bolt-{kind}.log") as server:
            load, acknowledged = await drive(server, order, args.seconds, args.concurrency)
            count = await counter(url, text("SELECT count(*) FROM bench_click"))
            stored, rate = await stored_rate(count, time.monotonic() - load.seconds)
        return Result(load, stored, rate, len(acknowledged) - stored)


async def run_aiohttp(folder: Path, args: argparse.Namespace) -> Load:
    order = [
        (f"U{n % args.people:05d}", n + 1) for n in range(int(args.seconds * args.ceiling * 3))
    ]
    port = free_port()
    command = [
        sys.executable,
        str(ROOT / "bench" / "baseline_servers.py"),
        "aiohttp",
        "-",
        str(port),
        "-",
        "-",
    ]
    async with process(command, environment(), port, folder / "aiohttp.log") as server:
        load, _ = await drive(server, order, args.seconds, args.concurrency)
    return load


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument(
        "--ceiling", type=float, default=800.0, help="most clicks a second expected (seeding)"
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--keep", default="", help="a folder to keep the servers' logs in")
    args = parser.parse_args()
    print(
        f"signed block_actions clicks for {args.seconds:.0f} s at concurrency {args.concurrency}, "
        f"{args.people} people, each click a different pending check-in\n"
    )
    with tempfile.TemporaryDirectory(prefix="lastmile-ack-") as temporary:
        folder = Path(args.keep) if args.keep else Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        async with fake_slack(folder) as fake:
            bare = await run_aiohttp(folder, args)
            print(
                f"bare aiohttp: {bare.per_second:.0f} requests/s acknowledged, "
                f"p50 {bare.percentile(0.5):.0f} ms, p99 {bare.percentile(0.99):.0f} ms\n"
            )
            header = "| database | | acked/s | p50 ms | p99 ms | stored/s | refused | missing |"
            rows = [header, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            ratios = []
            for kind in args.databases.split(","):
                bolt = await run_bolt(kind, folder, fake, args)
                mine = await run_lastmile(kind, folder, fake, args)
                for name, result in (("bare bolt", bolt), ("lastmile", mine)):
                    load = result.load
                    rows.append(
                        f"| {kind} | {name} | {load.per_second:.0f} | {load.percentile(0.5):.0f} | "
                        f"{load.percentile(0.99):.0f} | {result.stored_per_second:.0f} | "
                        f"{load.refused} | {result.missing} |"
                    )
                ratios.append(
                    f"{kind}: acknowledged {mine.load.per_second / bolt.load.per_second:.2f}, "
                    f"stored {mine.stored_per_second / bolt.stored_per_second:.2f} "
                    "(lastmile / bare bolt)"
                )
            print("\n".join(rows))
            print("\nratios: " + "; ".join(ratios))


if __name__ == "__main__":
    asyncio.run(main())
