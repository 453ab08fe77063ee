"""Send rate limits per platform: token buckets on virtual time (no real waiting)."""

from __future__ import annotations

import pytest

from adapters.slack import plugin as slack
from adapters.teams import plugin as teams
from bot.delivery import Outbound, Recipient
from bot.platform import PlatformPlugin
from bot.ratelimit import RateLimiter
from bot.replies import Text
from lastmile.platforms import PLATFORMS
from tests.support import VirtualTime


def slack_dm(user: str, channel: str, team: str = "T1") -> Outbound:
    recipient = Recipient(1, "slack", user, team, {"channel": channel})
    return Outbound(message_id=1, purpose="notice", replies=(Text("hi"),), recipient=recipient)


def teams_chat(conversation: str, tenant: str = "tenant-1") -> Outbound:
    address = {"conversation": {"id": conversation, "tenantId": tenant}}
    recipient = Recipient(1, "teams", "29:user", "", address)
    return Outbound(message_id=1, purpose="notice", replies=(Text("hi"),), recipient=recipient)


async def acquire(limiter: RateLimiter, plugin: PlatformPlugin, message: Outbound) -> float:
    return await limiter.acquire(plugin.name, plugin.limits, plugin.rate_scopes(message))


async def test_slack_allows_one_message_a_second_per_channel() -> None:
    time = VirtualTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)
    waits = [await acquire(limiter, slack, slack_dm("U1", "D1")) for _ in range(3)]
    assert waits == [0.0, pytest.approx(1.0), pytest.approx(1.0)]
    # Another person's DM is another channel: no wait.
    assert await acquire(limiter, slack, slack_dm("U2", "D2")) == 0.0


async def test_slack_workspace_budget_spreads_a_large_slot() -> None:
    time = VirtualTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)
    for number in range(90):
        await acquire(limiter, slack, slack_dm(f"U{number}", f"D{number}"))
    # A burst of 30, then 300 a minute (one every 0.2 s) for the other 60.
    assert time.now == pytest.approx(60 * 0.2)
    other_workspace = slack_dm("U1", "D1", team="T2")
    assert await acquire(limiter, slack, other_workspace) == 0.0


async def test_teams_allows_seven_a_second_per_conversation_and_fifty_per_tenant() -> None:
    time = VirtualTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)
    waits = [await acquire(limiter, teams, teams_chat("a:1")) for _ in range(8)]
    assert waits[:7] == [0.0] * 7
    assert waits[7] == pytest.approx(1 / 7)
    fresh = RateLimiter(clock=time, sleep=time.sleep)
    start = time.now
    for number in range(100):
        await acquire(fresh, teams, teams_chat(f"a:{number}"))
    assert time.now - start == pytest.approx(50 / 50)


async def test_platforms_without_limits_never_wait() -> None:
    time = VirtualTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)
    for _ in range(5):
        assert await acquire(limiter, PLATFORMS["local"], slack_dm("U1", "D1")) == 0.0
    assert time.slept == []
