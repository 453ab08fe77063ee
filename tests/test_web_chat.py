"""Issue 10: the browser chat is a platform plugin: mounted only for a trial, this machine
only, inbox in and outbox out, its page updated by server-sent events."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.local import ChatOnThisMachine
from adapters.web.chat import Conversations
from bot.config import Settings
from bot.platform import Connection, Inbound
from bot.runtime import Runtime
from lastmile.platforms import PLATFORMS
from lastmile.server import build_app, runtime_for
from storage.models import Answer, InboxEvent, Workaround
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.support import settle

TRIAL = {name: PLATFORMS[name] for name in ("local", "web")}


class CredentialedPlatform(ChatOnThisMachine):
    """A platform connected with credentials (as Slack or Teams with an app id would be);
    no limits and nothing answered at once, like the chats on this machine."""

    name = "acme"
    wording_keys: tuple[str, ...] = ()

    def translate(self, payload: Any) -> Inbound | None:
        return None

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


JSON = {"Content-Type": "application/json"}


async def test_only_this_machine_may_use_it(chat: TestClient[Any, Any]) -> None:
    relayed = {"X-Forwarded-For": "203.0.113.9"}
    assert (await chat.get("/", headers=relayed)).status == 403
    answer = await chat.post("/chat/say", json={"as": "olu", "text": "digest"}, headers=relayed)
    assert answer.status == 403
    # A form posted by another site cannot carry JSON: refused before anything is stored.
    form = await chat.post("/chat/say", data={"as": "olu", "text": "digest"})
    assert form.status == 415
    assert (await chat.post("/chat/say", json={"as": "programme-team", "text": "x"})).status == 404


async def test_malformed_messages_are_refused_and_nothing_is_stored(
    runtime: Runtime, chat: TestClient[Any, Any]
) -> None:
    for body in (
        {"as": "ana", "text": "   "},
        {"as": "ana", "text": "hi", "files": "photo.jpg"},
        {"as": "ana", "text": "hi", "files": [{"name": "photo.jpg"}]},
        {"as": "ana", "text": "", "files": [""]},
        {"as": "ana", "text": "hi", "files": ["p.jpg"] * 11},
        {"as": "ana", "token": "", "value": "helped"},
    ):
        path = "/chat/tap" if "token" in body else "/chat/say"
        assert (await chat.post(path, json=body)).status == 400, body
    assert (await chat.post("/chat/say", data=b"{not json", headers=JSON)).status == 400
    assert await rows(runtime, InboxEvent) == []


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
            for _ in range(3)
        ]
    said, welcome, question = (change["message"] for change in changes)
    assert (said["from"], said["text"]) == ("you", "checkin")
    assert welcome["text"].startswith("Hi, I'm lastmile.")
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
    # The same message now asks the next step: the check-in stays one message.
    [instead] = [m for m in history["messages"] if m["id"] == question["id"]]
    assert instead == history["messages"][-1]
    assert "What did you do instead?" in instead["text"]
    by_hand = next(o for o in instead["options"] if o["label"] == "Did it by hand")
    tap = {"as": "ana", "token": instead["token"], "value": by_hand["value"]}
    assert (await chat.post("/chat/tap", json=tap)).status == 202
    await settle(runtime)
    [workaround] = await rows(runtime, Workaround)
    assert workaround.kind == "by_hand"


def test_a_resent_question_moves_to_the_bottom_and_its_old_copy_goes() -> None:
    pages = Conversations()
    asked = {"kind": "choices", "text": "Did it help?", "token": "t1", "options": []}
    first = pages.add("ana", asked)
    later = pages.add("ana", {"kind": "text", "text": "Something else"})
    changes = pages.listen("ana")

    pages.replace("ana", "t1", {**asked, "text": "Still there?"}, resend=False)
    pages.replace("ana", "t1", {**asked, "text": "Reminder: did it help?"}, resend=True)

    [kept, moved] = pages.history("ana")
    assert kept["id"] == later["id"]
    assert moved["text"] == "Reminder: did it help?" and moved["id"] > later["id"]
    told = [changes.get_nowait() for _ in range(changes.qsize())]
    assert [change["type"] for change in told] == ["update", "remove", "message"]
    assert told[0]["message"]["id"] == first["id"] and told[1]["id"] == first["id"]
