"""Fan-out: check-ins through delivery replicas to a fake Slack that enforces a workspace limit.

Seeds M check-ins (one each for M people, queued as the scheduler queues them) in a
fresh PostgreSQL database, starts a fake Slack (bench/fake_slack_server.py) that
answers chat.postMessage past its workspace budget with 429 + Retry-After, and
starts R processes each running the real delivery loop with the real Slack sender
against that database. Prints what Slack received (messages, repeats, people never
reached), the overall rate beside the enforced limit, and CPU time per message summed
over the replicas.

Then the same with no limit anywhere (LASTMILE_RATE_LIMITS lifts the Slack plugin's
own), beside a plain slack_sdk AsyncWebClient loop posting the same number of
messages one after another to a fake Slack of its own: messages a second and the
ratio, for one replica and for all of them.

    .venv/bin/python bench/fanout.py [--messages 10000] [--limit 6000] [--replicas 3]
        [--budget 1.0] [--skip-limited] [--skip-unlimited]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.slack.app import SlackAdapter
from adapters.slack.settings import SlackSettings
from bench.outbox_throughput import POSTGRES, fresh_postgres
from bot.config import Settings
from bot.delivery_loop import DeliveryLoop
from bot.outgoing import queue_checkins
from bot.platform import Connection
from bot.runtime import build_runtime
from lastmile.platforms import PLATFORMS
from storage.checkins import create_checkins
from storage.models import CheckIn, OutboxMessage, Person
from storage.outbox import pending_count

HERE = Path(__file__).resolve().parent
TEAM = "T0LASTMILE"  # the fake's workspace
UNLIMITED = "slack.workspace=off,slack.channel=off"


CONFIG = """
[programmes.routing]
name = "Route planner pilot"
tool = "RoutePilot"
timezone = "Europe/London"

# Never quiet, so every check-in may go whenever the bench runs.
[cohorts.fanout]
programme = "routing"
quiet_hours = "00:00-00:00"
quiet_weekends = false
"""


CONFIG_PATH = Path(tempfile.gettempdir()) / "lastmile-fanout.toml"


def write_config(people: int) -> None:
    """The bench's config: its cohort names every person (the config decides who is in)."""
    members = ", ".join(f'"slack:{user_id(n)}"' for n in range(people))
    CONFIG_PATH.write_text(f"{CONFIG}members = [{members}]\n")


def user_id(number: int) -> str:
    return f"U{number:08d}"


def settings(url: str, rate_limits: str = "") -> Settings:
    return Settings(
        database_url=url,
        lastmile_config=CONFIG_PATH,
        lastmile_rate_limits=rate_limits,
        _env_file=None,  # type: ignore[call-arg]
    )


async def seed(url: str, messages: int) -> None:
    """M people, a check-in each, queued through the scheduler's own `queue_checkins`."""
    write_config(messages)
    runtime = await build_runtime(settings(url), prepare_schema=False)  # creates the people
    now = datetime.now(UTC)
    try:
        async with runtime.db.session() as session:
            # One message each (no welcome first), all in the fake's workspace.
            await session.exec(
                update(Person)
                .where(col(Person.platform) == "slack")
                .values(welcomed_at=now, workspace_id=TEAM)
            )
            people = list(
                (await session.exec(select(Person).where(Person.platform == "slack"))).all()
            )
            await create_checkins(
                session,
                [
                    {
                        "person_id": person.id,
                        "programme_id": "routing",
                        "cohort_id": "fanout",
                        "kind": "scheduled",
                        "slot": "bench",
                        "scheduled_for": now,
                        "expires_at": now + timedelta(hours=4),
                    }
                    for person in people
                ],
            )
            checkins = {c.person_id: c for c in (await session.exec(select(CheckIn))).all()}
            opened = [(person, checkins[person.id]) for person in people if person.id]
            await queue_checkins(session, opened, runtime.config, runtime.wordings, now)
    finally:
        await runtime.close()


@contextlib.asynccontextmanager
async def fake_slack(limit: float) -> AsyncIterator[dict[str, str]]:
    """bench/fake_slack_server.py in its own process; yields its url and bot token."""
    arguments = ["--limit", str(limit)] if limit else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "fake_slack_server.py"),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        yield json.loads(await process.stdout.readline())
    finally:
        process.terminate()
        await process.wait()


async def read_out(slack: dict[str, str]) -> dict[str, Any]:
    client = AsyncWebClient(token=slack["bot_token"], base_url=slack["url"])
    response = await client.api_call("bench.posted")
    return dict(response.data)  # type: ignore[arg-type]


async def run_replicas(
    url: str, slack: dict[str, str], replicas: int, rate_limits: str
) -> dict[str, Any]:
    """Start the replicas, let them go at once, and wait until the outbox is empty."""
    environment = {**os.environ, "LASTMILE_RATE_LIMITS": rate_limits}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--replica",
            url,
            slack["url"],
            slack["bot_token"],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=environment,
        )
        for _ in range(replicas)
    ]
    for process in processes:
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"ready"
    started = time.perf_counter()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    reports = []
    for process in processes:
        assert process.stdout is not None
        reports.append(json.loads(await process.stdout.readline()))
        await process.wait()
    elapsed = max(report["finished"] for report in reports) - started
    return {
        "elapsed": elapsed,
        "cpu": sum(report["cpu"] for report in reports),
        "claimed": [report["claimed"] for report in reports],
    }


async def delivered_rows(url: str) -> tuple[int, int]:
    runtime = await build_runtime(settings(url), prepare_schema=False)
    try:
        async with runtime.db.session() as session:
            rows = (await session.exec(select(OutboxMessage.status))).all()
            sent = (await session.exec(select(CheckIn.status))).all()
        return sum(1 for s in rows if s == "delivered"), sum(1 for s in sent if s == "sent")
    finally:
        await runtime.close()


async def limited(
    messages: int, limit: float, budget: float, replicas: int, created: list[str]
) -> None:
    url = fresh_postgres(created)
    await seed(url, messages)
    async with fake_slack(limit) as slack:
        # The budget the replicas share is the one the workspace enforces (times
        # --budget, to see 429s teach them), with half its burst (the fake allows one
        # second's worth).
        burst = max(limit / 120, 1)
        setting = f"slack.workspace={limit * budget:g}/60:{burst:.0f}"
        run = await run_replicas(url, slack, replicas, setting)
        posted = await read_out(slack)
    rows, checkins = await delivered_rows(url)
    rate = posted["messages"] / run["elapsed"] * 60
    print(f"With a limit: {replicas} replicas, one PostgreSQL, a fake Slack enforcing")
    print(f"{limit:g} posts a minute in its workspace (429 + Retry-After past it);")
    print(f"the replicas' shared budget: {setting}")
    show("messages delivered", posted["messages"], f"outbox rows delivered {rows}")
    show("check-ins sent", checkins)
    show("duplicates", posted["repeats"])
    show("missing", messages - posted["channels"])
    show("429s answered", posted["refused"])
    show("claimed per replica", " / ".join(str(n) for n in run["claimed"]))
    show("elapsed", f"{run['elapsed']:.1f} s")
    show("overall rate", f"{rate:.0f}/min", f"{rate / limit:.1%} of the enforced {limit:g}/min")
    show("CPU per message", f"{run['cpu'] / messages * 1000:.2f} ms", f"{run['cpu']:.1f} s in all")


def show(label: str, value: object, note: str = "") -> None:
    print(f"  {label:<22}{value!s:>12}" + (f"  ({note})" if note else ""))


async def plain_loop(slack: dict[str, str], messages: int) -> float:
    client = AsyncWebClient(token=slack["bot_token"], base_url=slack["url"])
    started = time.perf_counter()
    for n in range(messages):
        await client.chat_postMessage(
            channel=user_id(n), text="Did RoutePilot help you this afternoon?"
        )
    return messages / (time.perf_counter() - started)


async def unlimited(messages: int, replicas: int, created: list[str]) -> None:
    url = fresh_postgres(created)
    await seed(url, messages)
    async with fake_slack(0) as slack:
        run = await run_replicas(url, slack, replicas, UNLIMITED)
        posted = await read_out(slack)
    async with fake_slack(0) as slack:
        plain = await plain_loop(slack, messages)
    ours = posted["messages"] / run["elapsed"]
    missing = messages - posted["channels"]
    print(f"With no limit: {replicas} replica(s) beside a plain AsyncWebClient loop")
    show("delivery loop", f"{ours:.0f}/s", f"duplicates {posted['repeats']}, missing {missing}")
    show("plain loop", f"{plain:.0f}/s")
    show("ratio", f"{ours / plain:.2f}")
    show("CPU per message", f"{run['cpu'] / messages * 1000:.2f} ms")


async def replica(url: str, slack_url: str, token: str) -> None:
    """One replica: the real delivery loop and Slack sender until the outbox is empty."""
    runtime = await build_runtime(
        settings(url, os.environ.get("LASTMILE_RATE_LIMITS", "")), prepare_schema=False
    )
    adapter = SlackAdapter(
        runtime, SlackSettings(bot_token=token, signing_secret="bench", api_url=slack_url)
    )
    runtime.platforms["slack"] = Connection(PLATFORMS["slack"], adapter.sender)
    loop = DeliveryLoop(runtime)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    claimed = 0
    cpu = time.process_time()
    while True:
        found = await loop.deliver_due()
        claimed += found
        if found:
            continue
        async with runtime.db.session() as session:
            if not await pending_count(session):
                break
        await asyncio.sleep(0.05)  # the rest are claimed by other replicas, or wait for a retry
    finished = time.perf_counter()
    report = {"claimed": claimed, "cpu": time.process_time() - cpu, "finished": finished}
    await loop.on_stop()
    await runtime.close()
    print(json.dumps(report), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--limit", type=float, default=6000, help="posts a minute the fake allows")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument(
        "--budget", type=float, default=1.0, help="the replicas' budget over the fake's limit"
    )
    parser.add_argument("--skip-unlimited", action="store_true")
    parser.add_argument("--skip-limited", action="store_true")
    args = parser.parse_args()
    created: list[str] = []
    try:
        if not args.skip_limited:
            await limited(args.messages, args.limit, args.budget, args.replicas, created)
        if not args.skip_unlimited:
            for replicas in sorted({1, args.replicas}):
                await unlimited(args.messages, replicas, created)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            for name in created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    if sys.argv[1:2] == ["--replica"]:
        asyncio.run(replica(*sys.argv[2:5]))
    else:
        asyncio.run(main())
