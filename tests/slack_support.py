"""The Slack test harness: lastmile's own aiohttp app with Slack mounted, against FakeSlackApi."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func
from sqlmodel import SQLModel, select

from adapters.slack import SLACK_ADAPTER_KEY, SlackPlugin
from adapters.slack.app import SlackAdapter
from adapters.slack.delivery import SlackSender
from adapters.slack.settings import SlackSettings
from bot.checkin_runner import open_checkin
from bot.config import Settings
from bot.outgoing import queue_checkin
from bot.platform import PlatformPlugin
from bot.runtime import Runtime
from lastmile.server import build_app, runtime_for
from storage.models import OutboxMessage
from storage.people import find_person
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi, RecordedCall
from tests.fakes.slack_signing import (
    FIXTURES,
    PILOT_USER_ID,
    command_body,
    event_body,
    interactive_body,
    load_fixture,
    message_im_payload,
    new_trigger_id,
    new_ts,
    signed_headers,
    slash_command_payload,
)
from tests.support import delivery_loop, settle

SIGNING_SECRET = "lastmile-signing-secret-for-tests"
CONFIG = FIXTURES / "lastmile.toml"
MANIFEST = Path(__file__).resolve().parent.parent / "adapters" / "slack" / "manifest.yml"

DANA = PILOT_USER_ID  # a worker in cohort north
OTHER = "U0OTHER001"  # another worker in north
LEAD = "U0LEAD0001"  # north's lead
ERIN = "U0ERIN0001"  # in north by e-mail only (erin@example.com)

Kind = Literal["events", "interactive", "commands"]
_ENCODERS: dict[Kind, Callable[[Any], str]] = {
    "events": event_body,
    "interactive": interactive_body,
    "commands": command_body,
}
_ENVELOPES = {"events": "events_api", "interactive": "interactive", "commands": "slash_commands"}


@dataclass
class Delivered:
    """What Slack got back for one request: HTTP status and body, or the Socket Mode ack."""

    status: int
    body: Any


class HttpTransport:
    """Posts signed requests to /slack/events, as Slack's servers do."""

    name = "http"

    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client

    async def send(self, kind: Kind, payload: Any, *, retry: int = 0) -> Delivered:
        body = _ENCODERS[kind](payload)
        headers = signed_headers(SIGNING_SECRET, body)
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return await self.post(body, headers)

    async def post(self, body: str, headers: dict[str, str]) -> Delivered:
        response = await self.client.post("/slack/events", data=body, headers=headers)
        return Delivered(response.status, await response.text())


class SocketTransport:
    """Pushes envelopes over the fake Socket Mode connection and returns the app's ack."""

    name = "socket"

    def __init__(self, fake: FakeSlackApi) -> None:
        self.fake = fake

    async def send(self, kind: Kind, payload: Any, *, retry: int = 0) -> Delivered:
        ack = await self.fake.socket_mode.push(
            _ENVELOPES[kind],  # type: ignore[arg-type]
            payload,
            retry_attempt=retry,
            retry_reason="timeout" if retry else "",
        )
        return Delivered(200, ack)


Transport = HttpTransport | SocketTransport


def slack_settings(fake: FakeSlackApi, *, http: bool, socket: bool) -> SlackSettings:
    """Slack pointed at the fake: HTTP, Socket Mode or both."""
    return SlackSettings(
        bot_token=fake.bot_token,
        signing_secret=SIGNING_SECRET if http else None,
        app_token=fake.app_token if socket else None,
        api_url=fake.url,
        _env_file=None,  # type: ignore[call-arg]
    )


def lastmile_settings(database_url: str, config: Path = CONFIG) -> Settings:
    """lastmile's own settings for the Slack test config on the test database."""
    return Settings(
        database_url=database_url,
        lastmile_config=config,
        _env_file=None,  # type: ignore[call-arg]
    )


def slack_only(settings: SlackSettings) -> dict[str, PlatformPlugin]:
    """The platform table with only Slack in it, pointed at the fake."""
    return {"slack": SlackPlugin(settings)}


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every button in a message's blocks."""
    return [
        element
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("type") == "button"
    ]


def button_for(blocks: list[dict[str, Any]], value: str) -> dict[str, Any]:
    """The button whose value carries `value` (a choice) or whose action is `value`."""
    for element in buttons(blocks):
        data = json.loads(element["value"])
        if data.get("v") == value or element["action_id"].endswith(f".{value}"):
            return element
    raise AssertionError(f"no button for {value!r} in {blocks}")


def texts(value: Any) -> list[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in texts(item)]
    return []


@dataclass
class Harness:
    """lastmile with Slack mounted, the fake Slack, and helpers to act as Slack users."""

    fake: FakeSlackApi
    runtime: Runtime
    clock: FakeClock
    app: web.Application
    transport: Transport
    _slots: count[int] = field(default_factory=lambda: count(1))

    @property
    def adapter(self) -> SlackAdapter:
        return self.app[SLACK_ADAPTER_KEY]

    @property
    def sender(self) -> SlackSender:
        """The Slack sender lastmile connected."""
        return self.adapter.sender

    async def send(self, kind: Kind, payload: Any, *, retry: int = 0) -> Delivered:
        """Deliver a payload the way the transport does, then wait for its handling."""
        delivered = await self.transport.send(kind, payload, retry=retry)
        await self.settle()
        return delivered

    async def settle(self) -> None:
        """Handle every stored payload and send every reply, as the background jobs do."""
        await settle(self.runtime)

    # -- payloads -----------------------------------------------------------------------

    def click_payload(
        self, message: RecordedCall, value: str, *, user: str = DANA
    ) -> dict[str, Any]:
        """block_actions for clicking a button of a message lastmile posted."""
        blocks = message.params["blocks"]
        element = button_for(blocks, value)
        response = message.response or {}
        payload: dict[str, Any] = load_fixture("block_actions.json")
        payload["user"].update(id=user, username=f"user.{user.lower()}", name=user.lower())
        channel, ts = str(response["channel"]), str(response["ts"])
        payload["container"].update(message_ts=ts, channel_id=channel)
        payload["channel"]["id"] = channel
        payload["message"].update(ts=ts, text=message.params.get("text", ""), blocks=blocks)
        payload["trigger_id"] = new_trigger_id()
        payload["response_url"] = self.fake.response_url("actions")
        payload["actions"] = [
            {
                "action_id": element["action_id"],
                "block_id": "lastmile.options",
                "text": element["text"],
                "value": element["value"],
                "type": "button",
                "action_ts": new_ts(),
            }
        ]
        return payload

    async def click(self, message: RecordedCall, value: str, *, user: str = DANA) -> Delivered:
        return await self.send("interactive", self.click_payload(message, value, user=user))

    def ephemeral_click_payload(
        self, blocks: list[dict[str, Any]], value: str, *, user: str = DANA
    ) -> dict[str, Any]:
        """block_actions for a button in an ephemeral (slash command) answer."""
        element = button_for(blocks, value)
        payload: dict[str, Any] = load_fixture("block_actions_ephemeral.json")
        payload["user"]["id"] = user
        payload["response_url"] = self.fake.response_url("actions")
        payload["trigger_id"] = new_trigger_id()
        payload["actions"][0].update(
            action_id=element["action_id"], value=element["value"], action_ts=new_ts()
        )
        return payload

    def home_click_payload(self, user: str, value: str) -> dict[str, Any]:
        """block_actions for a button on the person's published App Home tab."""
        view = self.fake.home_views[user]
        element = button_for(view["blocks"], value)
        payload: dict[str, Any] = load_fixture("block_actions_home.json")
        payload["user"]["id"] = user
        payload["container"]["view_id"] = view["id"]
        payload["view"].update(id=view["id"], blocks=view["blocks"], hash=view["hash"])
        payload["trigger_id"] = new_trigger_id()
        payload["actions"][0].update(
            action_id=element["action_id"], value=element["value"], action_ts=new_ts()
        )
        return payload

    def submit_payload(self, view_id: str, text: str, *, user: str = DANA) -> dict[str, Any]:
        """view_submission of an opened lastmile modal with `text` typed in."""
        view = self.fake.views[view_id]
        payload: dict[str, Any] = load_fixture("view_submission.json")
        payload["user"]["id"] = user
        payload["trigger_id"] = new_trigger_id()
        payload["view"].update(
            id=view["id"],
            root_view_id=view["id"],
            hash=view["hash"],
            callback_id=view["callback_id"],
            private_metadata=view["private_metadata"],
            blocks=view["blocks"],
            title=view["title"],
            submit=view["submit"],
            close=view["close"],
            state={
                "values": {
                    "lastmile.answer": {
                        "lastmile.text": {"type": "plain_text_input", "value": text}
                    }
                }
            },
        )
        return payload

    def command_payload(self, text: str, *, user: str = DANA) -> dict[str, str]:
        return slash_command_payload(
            text=text, user_id=user, response_url=self.fake.response_url("commands")
        )

    async def command(self, text: str, *, user: str = DANA) -> dict[str, Any]:
        """Run `/lastmile text`; returns the ephemeral answer posted to its response_url."""
        before = len(self.fake.calls("response_url"))
        await self.send("commands", self.command_payload(text, user=user))
        answers = self.fake.calls("response_url")[before:]
        assert answers, f"/lastmile {text} got no answer"
        return answers[-1].params

    def dm_payload(self, text: str, *, user: str = DANA, event_id: str | None = None) -> Any:
        return message_im_payload(
            text=text, user=user, channel=self.fake.dm_channel_for(user), event_id=event_id
        )

    # -- outbound -----------------------------------------------------------------------

    async def queue_checkin(self, user: str = DANA) -> int:
        """Create and queue a check-in for a person, as `lastmile checkin send` does."""
        now = self.runtime.clock()
        async with self.runtime.db.session() as session:
            person = await find_person(session, "slack", user)
            assert person is not None
            checkin = await open_checkin(
                session,
                person,
                self.runtime.config,
                kind="scheduled",
                slot=f"test:{next(self._slots)}",
                now=now,
            )
            assert checkin is not None and checkin.id is not None
            await queue_checkin(
                session, person, checkin, self.runtime.config, self.runtime.wordings, now
            )
            return checkin.id

    async def deliver_outbox(self) -> list[str]:
        """One pass of the real delivery loop over the due Slack messages.

        Returns:
            What happened to each claimed row, oldest first: "delivered", "retry" or
            "failed".
        """
        async with self.runtime.db.session() as session:
            due = (
                await session.exec(
                    select(OutboxMessage.id, OutboxMessage.attempts).where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.not_before <= self.runtime.clock(),
                    )
                )
            ).all()
        await delivery_loop(self.runtime).deliver_due()
        outcomes: list[str] = []
        async with self.runtime.db.session() as session:
            for row_id, attempts in sorted(due):
                row = await session.get(OutboxMessage, row_id)
                assert row is not None
                if row.status == "pending":
                    outcomes.append("retry" if row.attempts > attempts else "held")
                else:
                    outcomes.append(row.status)
        return outcomes

    async def checkin_message(self, user: str = DANA) -> RecordedCall:
        """Queue and deliver a check-in; the chat.postMessage that carried it."""
        await self.queue_checkin(user)
        assert await self.deliver_outbox() == ["delivered"]
        return self.fake.last_call("chat.postMessage")

    # -- storage ------------------------------------------------------------------------

    async def rows(self, model: type[SQLModel]) -> list[Any]:
        async with self.runtime.db.session() as session:
            return list((await session.exec(select(model))).all())

    async def table_counts(self) -> dict[str, int]:
        """How many rows every table holds (to show a request changed nothing)."""
        counts: dict[str, int] = {}
        async with self.runtime.db.session() as session:
            for table in SQLModel.metadata.sorted_tables:
                statement = select(func.count()).select_from(table)
                counts[table.name] = int((await session.exec(statement)).one())
        return counts

    # -- reading the fake ---------------------------------------------------------------

    def posts_to(self, user: str = DANA) -> list[RecordedCall]:
        # A DM is posted to the person's id or their DM channel; Slack answers with the channel.
        channel = self.fake.dm_channel_for(user)
        return [
            c for c in self.fake.calls("chat.postMessage") if c.params["channel"] in (channel, user)
        ]

    def last_post(self, user: str = DANA) -> RecordedCall:
        posts = self.posts_to(user)
        assert posts, f"nothing was posted to {user}"
        return posts[-1]


def setup_users(fake: FakeSlackApi) -> None:
    fake.set_user(DANA, tz="America/Chicago", email="dana@example.com", name="dana.frontline")
    fake.set_user(OTHER, tz="Europe/London", email="omar@example.com")
    fake.set_user(LEAD, tz="Europe/London", email="lena@example.com")
    fake.set_user(ERIN, tz="Asia/Kolkata", email="erin@example.com", name="erin")


@asynccontextmanager
async def running(
    database_url: str, clock: FakeClock, transport: str = "http", config: Path = CONFIG
) -> AsyncIterator[Harness]:
    """lastmile's web app with Slack over HTTP or Socket Mode, against a fresh fake Slack."""
    async with FakeSlackApi() as fake:
        setup_users(fake)
        socket = transport == "socket"
        plugins = slack_only(slack_settings(fake, http=not socket, socket=socket))
        settings = lastmile_settings(database_url, config)
        runtime = await runtime_for(settings, clock=clock, plugins=plugins)
        try:
            app = build_app(runtime, plugins)
            async with TestClient(TestServer(app)) as client:
                chosen: Transport = SocketTransport(fake) if socket else HttpTransport(client)
                if socket:
                    await fake.socket_mode.wait_connected()
                yield Harness(fake, runtime, clock, app, chosen)
        finally:
            await runtime.close()


@asynccontextmanager
async def another_process(first: Harness) -> AsyncIterator[Harness]:
    """A second `lastmile serve` over HTTP on the same database and Slack: a restart or a
    replica, knowing nothing the first one keeps in memory."""
    database_url = first.runtime.settings.database_url
    assert database_url is not None
    plugins = slack_only(slack_settings(first.fake, http=True, socket=False))
    runtime = await runtime_for(lastmile_settings(database_url), clock=first.clock, plugins=plugins)
    try:
        app = build_app(runtime, plugins)
        async with TestClient(TestServer(app)) as client:
            yield Harness(first.fake, runtime, first.clock, app, HttpTransport(client))
    finally:
        await runtime.close()
