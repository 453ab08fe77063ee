"""Issue 10: the browser chat is a platform plugin: mounted only for a trial, this machine
only, inbox in and outbox out, its page updated by server-sent events."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.delivery import Outbound
from bot.platform import Connection, Inbound
from bot.ratelimit import Limit
from bot.replies import Reply
from bot.runtime import Runtime
from lastmile.platforms import PLATFORMS
from lastmile.server import build_app, runtime_for
from storage.models import Answer, InboxEvent, Workaround
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.support import settle

TRIAL = {name: PLATFORMS[name] for name in ("local", "web")}


class CredentialedPlatform:
    """A platform connected with credentials (as Slack or Teams with an app id would be)."""

    name = "acme"
    wording_keys: tuple[str, ...] = ()
    limits: tuple[Limit, ...] = ()

    def translate(self, payload: Any) -> Inbound | None:
        return None

    def rate_scopes(self, message: Outbound) -> dict[str, str]:
        return {}

    def answer_now(
        self, inbound: Inbound, replies: Sequence[Reply]
    ) -> tuple[dict[str, Any], list[Reply]]:
        return {}, list(replies)

    def mount(self, app: Any, runtime: Runtime) -> Connection:
        return Connection(self, description="with credentials")

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """None."""


@pytest.fixture
async def chat(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    runtime.platforms.clear()
    async with TestClient(TestServer(build_app(runtime, TRIAL))) as client:
        yield client


async def test_the_chat_is_at_the_root_while_no_platform_has_credentials(
    runtime: Runtime, chat: TestClient[Any, Any]
) -> None:
    page = await chat.get("/")
    html = await page.text()
    assert page.status == 200
    for user in ("ana", "lee", "olu", "ada", "programme-team"):
        assert f'href="/?as={user}"' in html
    assert "leads North depot" in html and "owns Route planner pilot" in html
    assert (await chat.get("/?as=nobody")).status == 404
    assert runtime.platforms["web"].sender is runtime.platforms["local"].sender


async def test_the_chat_is_not_mounted_with_a_real_platform_or_when_turned_off(
    settings: Settings, clock: FakeClock
) -> None:
    for plugins, chosen in (
        ({"acme": CredentialedPlatform(), **TRIAL}, "auto"),
        (TRIAL, "off"),
    ):
        runtime = await runtime_for(
            settings.model_copy(update={"lastmile_web_chat": chosen}), clock=clock, plugins=plugins
        )
        try:
            async with TestClient(TestServer(build_app(runtime, plugins))) as client:
                assert (await client.get("/")).status == 404
                assert (
                    await client.post("/chat/say", json={"as": "ana", "text": "hi"})
                ).status in (404, 405)
            assert "web" not in runtime.platforms
            assert runtime.platforms["local"].sender is None
        finally:
            await runtime.close()


async def test_only_this_machine_may_use_it(chat: TestClient[Any, Any]) -> None:
    relayed = {"X-Forwarded-For": "203.0.113.9"}
    assert (await chat.get("/", headers=relayed)).status == 403
    answer = await chat.post("/chat/say", json={"as": "olu", "text": "digest"}, headers=relayed)
    assert answer.status == 403
    # A form posted by another site cannot carry JSON: refused before anything is stored.
    form = await chat.post("/chat/say", data={"as": "olu", "text": "digest"})
    assert form.status == 415
    assert (await chat.post("/chat/say", json={"as": "programme-team", "text": "x"})).status == 404


async def test_a_check_in_in_the_browser_goes_through_inbox_and_outbox(
    runtime: Runtime, chat: TestClient[Any, Any]
) -> None:
    async with chat.get("/chat/events?as=ana") as stream:
        first = json.loads(
            (await stream.content.readuntil(b"\n\n")).decode().removeprefix("data: ")
        )
        assert first == {"type": "history", "messages": []}
        assert (await chat.post("/chat/say", json={"as": "ana", "text": "checkin"})).status == 202
        [event] = await rows(runtime, InboxEvent)
        assert (event.platform, event.person_key) == ("web", "local:ana")
        await settle(runtime)
        changes = [
            json.loads((await stream.content.readuntil(b"\n\n")).decode().removeprefix("data: "))
            for _ in range(2)
        ]
    said, question = (change["message"] for change in changes)
    assert (said["from"], said["text"]) == ("you", "checkin")
    assert question["kind"] == "choices" and "Did RoutePilot help you" in question["text"]
    partly = next(o for o in question["options"] if o["label"] == "Partly")
    tap = {"as": "ana", "token": question["token"], "value": partly["value"]}
    assert (await chat.post("/chat/tap", json=tap)).status == 202
    await settle(runtime)
    [answer] = await rows(runtime, Answer)
    assert answer.outcome == "partly"
    page = await chat.get("/chat/events?as=ana")
    history = json.loads((await page.content.readuntil(b"\n\n")).decode().removeprefix("data: "))
    page.close()
    asked = next(m for m in history["messages"] if m.get("token") == question["token"])
    assert asked["answered"] == "You said: RoutePilot partly helped."
    instead = history["messages"][-1]
    by_hand = next(o for o in instead["options"] if o["label"] == "Did it by hand")
    tap = {"as": "ana", "token": instead["token"], "value": by_hand["value"]}
    assert (await chat.post("/chat/tap", json=tap)).status == 202
    await settle(runtime)
    [workaround] = await rows(runtime, Workaround)
    assert workaround.kind == "by_hand"
