"""Shared by the scheduling, outbox, usage API and replica tests: a config, a recording sender."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from adapters.usage.keys import key_sha256
from bot.config import Settings
from bot.delivery import Outbound, RetryLater, Sender, Undeliverable
from bot.delivery_loop import DeliveryLoop
from bot.platform import Connection
from bot.runtime import Runtime
from lastmile.platforms import PLATFORMS
from lastmile.server import runtime_for
from storage.models import Person
from tests.conftest import FakeClock
from tests.support import delivery_loop

API_KEY = "lmk_test-key-for-the-routing-programme"

CONFIG = """
[settings]
checkin_expiry_hours = 4
reminder_after_minutes = 90
trigger_delay_minutes = 10

[programmes.routing]
name = "Route planner pilot"
tool = "RoutePilot"
timezone = "Europe/London"
owners = ["slack:UOWNER"]
digest_destination = "slack:CDIGEST"
digest_schedule = "mon 09:00"
api_key_sha256 = "{key_hash}"

[programmes.other]
name = "Other pilot"
tool = "Other"
timezone = "Europe/London"
api_key_sha256 = "{other_hash}"

[cohorts.london]
programme = "routing"
timezone = "Europe/London"
schedule = [{schedule}]
max_per_week = {cap}
quiet_hours = "{quiet}"
quiet_weekends = {weekends}
members = ["slack:ULON", "slack:UCHI"]

[cohorts.elsewhere]
programme = "other"
timezone = "Europe/London"
schedule = []
members = ["slack:UOTHER"]
"""


def write_config(
    directory: Path,
    *,
    schedule: tuple[str, ...] = ("tue,thu 15:30",),
    cap: int = 3,
    quiet: str = "19:00-08:00",
    weekends: bool = True,
) -> Path:
    """A config file with one London cohort (two Slack members) in programme `routing`."""
    path = directory / "lastmile.toml"
    path.write_text(
        CONFIG.format(
            key_hash=key_sha256(API_KEY),
            other_hash=key_sha256("lmk_other"),
            schedule=", ".join(f'"{slot}"' for slot in schedule),
            cap=cap,
            quiet=quiet,
            weekends="true" if weekends else "false",
        ),
        encoding="utf-8",
    )
    return path


async def start_runtime(database_url: str, config: Path, clock: FakeClock) -> Runtime:
    """A runtime on the test database; the Chicago member's platform says America/Chicago.

    No platform is connected: tests connect a recording sender or a platform themselves.
    """
    settings = Settings(
        database_url=database_url,
        lastmile_config=config,
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = await runtime_for(settings, clock=clock)
    async with runtime.db.session() as session:
        await session.exec(
            update(Person)
            .where(col(Person.platform_user_id) == "UCHI")
            .values(timezone="America/Chicago")
        )
    return runtime


Failure = Callable[[Outbound], Exception | None]


@dataclass
class RecordingSender:
    """A platform sender that records what reached the platform.

    `fail` may return an exception to raise instead of sending (a 500, a 429);
    `hold_after_send` blocks once the platform has the message (a process that
    dies before it hears back), `hold_before_send` blocks before it does.
    """

    platform: str = "slack"
    sent: list[Outbound] = field(default_factory=list)
    fail: Failure | None = None
    hold_after_send: Callable[[Outbound], bool] | None = None
    hold_before_send: Callable[[Outbound], bool] | None = None
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: int = 0

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        self.attempts += 1
        if self.hold_before_send is not None and self.hold_before_send(message):
            self.holding.set()
            await asyncio.Event().wait()
        error = self.fail(message) if self.fail is not None else None
        if error is not None:
            raise error
        self.sent.append(message)
        self.arrived.set()
        if self.hold_after_send is not None and self.hold_after_send(message):
            self.holding.set()
            await asyncio.Event().wait()
        return {
            "channel": "D-" + str(message.recipient.user_id if message.recipient else ""),
            "ts": f"{len(self.sent)}.0001",
        }

    async def wait_for(self, count: int) -> None:
        """Return once `count` messages have reached the platform."""
        while len(self.sent) < count:
            self.arrived.clear()
            await self.arrived.wait()

    def message_ids(self) -> list[int]:
        """The outbox ids of every message that reached the platform, in order."""
        return [message.message_id for message in self.sent]


def flaky(pattern: list[str]) -> Failure:
    """Fail in turn as `pattern` says ("500", "429", "ok"), then always succeed."""
    remaining = list(pattern)

    def fail(_message: Outbound) -> Exception | None:
        step = remaining.pop(0) if remaining else "ok"
        if step == "500":
            return RetryLater("slack answered 500")
        if step == "429":
            return RetryLater("slack answered 429 (ratelimited)", after=30.0)
        if step == "gone":
            return Undeliverable("user_not_found", person_unreachable=True)
        return None

    return fail


def loop_for(runtime: Runtime, sender: RecordingSender, **options: Any) -> DeliveryLoop:
    """A delivery loop with `sender` connected as its platform, rate limits on virtual time."""
    connect_sender(runtime, sender)
    return delivery_loop(runtime, **options)


def connect_sender(runtime: Runtime, sender: Sender) -> None:
    """Connect `sender` in place of its platform's own (the platform's limits still hold)."""
    runtime.platforms[sender.platform] = Connection(PLATFORMS[sender.platform], sender)


async def deliver_all(loop: DeliveryLoop, clock: FakeClock, *, rounds: int = 50) -> None:
    """Run delivery passes, moving the clock on a minute each, until nothing is pending."""
    from storage.outbox import pending_count

    for _ in range(rounds):
        await loop.deliver_due()
        async with loop.runtime.db.session() as session:
            if await pending_count(session) == 0:
                return
        clock.advance(minutes=1)
