"""Send budgets shared by replicas: buckets in the database, 429 pauses, LASTMILE_RATE_LIMITS."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import ConfigError, Settings, example_config_path
from bot.delivery import Outbound, Recipient, heard_retry_after
from bot.delivery_loop import DeliveryLoop
from bot.ratelimit import Limit, Request, effective_limits, parse_rate_limits
from bot.replies import Text
from bot.runtime import Runtime, load_checked
from bot.shared_ratelimit import SharedRateLimiter
from lastmile.platforms import facts
from storage.db import Database
from storage.models import OutboxMessage, RateBucket
from tests.conftest import FakeClock
from tests.helpers import enqueue_notice, rows
from tests.scheduling_support import RecordingSender, connect_sender, start_runtime, write_config
from tests.support import VirtualTime

WORKSPACE = (Limit("workspace", 60, 60.0, burst=10),)
TEAMS = (Limit("conversation", 7, 1.0), Limit("tenant", 50, 1.0, follows_retry_after=False))


class WallClock(VirtualTime):
    """Unix seconds that only move when someone sleeps, shared by both "replicas"."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1_800_000_000.0


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def replicas(db: Database, clock: WallClock) -> list[SharedRateLimiter]:
    """Two limiters, as two processes would have, over one database."""
    return [SharedRateLimiter(db, clock=clock, sleep=clock.sleep) for _ in range(2)]


def dm(workspace: str = "T1", channel: str = "") -> Request:
    return Request("slack", WORKSPACE, {"workspace": workspace, "channel": channel})


@pytest.mark.sql
async def test_two_replicas_draw_on_one_workspace_budget_without_overshooting(
    db: Database,
) -> None:
    clock = WallClock()
    first, second = replicas(db, clock)

    # Both reserve a batch of 10 at the same moment: only the burst of 10 goes at once.
    waits = await first.reserve([dm()] * 10) + await second.reserve([dm()] * 10)

    assert sorted(waits) == pytest.approx([0.0] * 10 + [float(n) for n in range(1, 11)])
    # Whatever order they go in, no second carries more than the budget allows.
    assert max(Counter(int(wait) for wait in waits).values()) == 10
    # Another workspace has a budget of its own.
    assert await second.reserve([dm("T2")]) == [0.0]


@pytest.mark.sql
async def test_the_budget_refills_with_time_for_every_replica(db: Database) -> None:
    clock = WallClock()
    first, second = replicas(db, clock)
    await first.reserve([dm()] * 10)

    clock.now += 5  # five tokens back at one a second

    waits = await second.reserve([dm()] * 6)
    assert waits == pytest.approx([0.0] * 5 + [1.0])


@pytest.mark.sql
async def test_a_retry_after_heard_by_one_replica_holds_the_other(db: Database) -> None:
    clock = WallClock()
    first, second = replicas(db, clock)
    await first.reserve([dm()])
    await second.reserve([dm()])

    await first.pause(dm(), 30.0)

    [wait] = await second.reserve([dm()])
    assert wait == pytest.approx(30.0)
    clock.now += 31
    assert await second.reserve([dm()]) == [0.0]
    [bucket] = await buckets(db)
    assert bucket.paused_until == pytest.approx(1_800_000_030.0)


@pytest.mark.sql
async def test_a_teams_429_pauses_its_conversation_not_the_tenant(db: Database) -> None:
    clock = WallClock()
    first, second = replicas(db, clock)

    def chat(conversation: str) -> Request:
        return Request("teams", TEAMS, {"conversation": conversation, "tenant": "tenant-1"})

    await first.reserve([chat("a:1"), chat("a:2")])
    await first.pause(chat("a:1"), 10.0)

    assert await second.reserve([chat("a:2"), chat("a:1")]) == pytest.approx([0.0, 10.0])


@pytest.mark.sql
async def test_refilled_buckets_are_swept_away(db: Database) -> None:
    clock = WallClock()
    [limiter, _] = replicas(db, clock)
    await limiter.reserve([dm(channel=f"D{n}") for n in range(3)])
    assert len(await buckets(db)) == 1  # the channel has no limit of its own here

    clock.now += 3600
    await limiter.reserve([dm("T2")])

    assert [bucket.key.split("|")[2] for bucket in await buckets(db)] == ["T2"]


async def buckets(db: Database) -> list[RateBucket]:
    async with db.session() as session:
        return list((await session.exec(RateBucket.__table__.select())).all())  # type: ignore[attr-defined,call-overload]


def test_rate_limits_are_read_from_the_setting() -> None:
    limits = parse_rate_limits(
        "slack.workspace=600/60:30, teams.conversation=7/1+60/30,slack.channel=off"
    )

    assert limits == {
        ("slack", "workspace"): (Limit("workspace", 600, 60, 30),),
        ("teams", "conversation"): (Limit("conversation", 7, 1), Limit("conversation", 60, 30)),
        ("slack", "channel"): (),
    }
    slack = (Limit("channel", 1, 1.0), Limit("workspace", 300, 60.0, burst=30))
    assert effective_limits("slack", slack, limits) == (Limit("workspace", 600, 60, 30),)
    assert effective_limits("teams", TEAMS, {}) == TEAMS


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("slack.workspace=fast", "'fast' is not COUNT/SECONDS[:BURST]"),
        ("slack.workspace=0/60", "numbers above zero"),
        ("workspace=600/60", "is not platform.scope=COUNT/SECONDS"),
    ],
)
def test_a_bad_rate_limit_setting_is_refused_with_the_form_it_takes(
    setting: str, complaint: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(
            lastmile_rate_limits=setting,
            lastmile_config=example_config_path(),
            _env_file=None,  # type: ignore[call-arg]
        )
    assert complaint in str(refused.value)


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("slack.workspce=600/60", "slack.workspce is not a scope lastmile counts in"),
        ("teams.channel=5/1", "(it has teams.conversation, teams.tenant)"),
        ("local.chat=5/1", "(local has no send limits)"),
        ("skype.chat=5/1", "skype.chat is not a scope"),
    ],
)
def test_a_rate_limit_on_a_scope_no_platform_counts_in_stops_start_up(
    setting: str, complaint: str
) -> None:
    settings = Settings(
        lastmile_rate_limits=setting,
        lastmile_config=example_config_path(),
        _env_file=None,  # type: ignore[call-arg]
    )
    with pytest.raises(ConfigError) as refused:
        load_checked(settings, facts())
    assert complaint in str(refused.value)


def test_rate_limits_on_the_platforms_scopes_start() -> None:
    settings = Settings(
        lastmile_rate_limits="slack.workspace=600/60,slack.channel=off,teams.tenant=40/1",
        lastmile_config=example_config_path(),
        _env_file=None,  # type: ignore[call-arg]
    )
    path, _config, _wordings = load_checked(settings, facts())
    assert path == example_config_path()


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    built = await start_runtime(database_url, write_config(tmp_path), clock)
    yield built
    await built.close()


async def queue_to_channels(runtime: Runtime, copies: int) -> list[int]:
    """`copies` notices spread over seven channels."""
    async with runtime.db.session() as session:
        for number in range(copies):
            await enqueue_notice(session, number, runtime.clock(), destination=f"C{number % 7}")
    return [row.id for row in await rows(runtime, OutboxMessage) if row.id is not None]


@pytest.mark.sql
async def test_replicas_delivering_in_batches_send_each_message_once(runtime: Runtime) -> None:
    sender = RecordingSender()
    connect_sender(runtime, sender)
    ids = await queue_to_channels(runtime, 120)
    clock = WallClock()
    lift = parse_rate_limits("slack.workspace=off,slack.channel=off")
    loops = [
        DeliveryLoop(
            runtime,
            limiter=SharedRateLimiter(runtime.db, lift, clock=clock, sleep=clock.sleep),
            batch=25,
        )
        for _ in range(3)
    ]
    for number, loop in enumerate(loops):
        loop.owner = f"replica-{number}"

    async def drain(loop: DeliveryLoop) -> None:
        while await loop.deliver_due():
            pass

    await asyncio.gather(*(drain(loop) for loop in loops))

    assert Counter(message.message_id for message in sender.sent) == Counter(ids)
    assert {row.status for row in await rows(runtime, OutboxMessage)} == {"delivered"}


class PausedSender(RecordingSender):
    """Slack answered the first send 429 with Retry-After: 20, then took it (in place)."""

    async def deliver(self, message: Outbound) -> dict[str, object]:
        if not self.sent:
            heard_retry_after(20.0)
        return await super().deliver(message)


@pytest.mark.sql
async def test_a_429_a_sender_hears_pauses_the_workspace_for_other_replicas(
    runtime: Runtime,
) -> None:
    connect_sender(runtime, PausedSender())
    await queue_to_channels(runtime, 1)
    clock = WallClock()
    loop = DeliveryLoop(
        runtime, limiter=SharedRateLimiter(runtime.db, clock=clock, sleep=clock.sleep)
    )
    await loop.deliver_due()

    other = SharedRateLimiter(runtime.db, clock=clock, sleep=clock.sleep)
    message = Outbound(1, "notice", (Text("hi"),), Recipient(1, "slack", "U1"), "C0")
    plugin = runtime.platforms["slack"].plugin
    [wait] = await other.reserve([Request("slack", plugin.limits, plugin.rate_scopes(message))])
    assert wait == pytest.approx(20.0)
