"""The Teams tests' bot under test: the real app with Teams mounted, a fake Bot Connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.teams import TeamsPlugin
from adapters.teams.cards import ADAPTIVE_CARD
from adapters.teams.sender import TeamsSender
from adapters.teams.settings import TeamsSettings
from bot.checkin_runner import open_checkin
from bot.config import Settings
from bot.engine import Clock
from bot.events import Actor
from bot.outgoing import queue_checkin
from bot.runtime import Runtime
from lastmile.server import build_app, runtime_for
from storage.models import CheckIn
from tests.fakes.teams_activities import (
    FIXTURES_DIR,
    TENANT_ID,
    PostResult,
    load_activity,
    post_activity,
)
from tests.fakes.teams_connector import FakeTeamsConnector, TeamsMember, default_member
from tests.support import delivery_loop, settle

CONFIG_PATH = FIXTURES_DIR / "lastmile.toml"

ALEX = TeamsMember(
    id="29:1AlexWilberTeamsId",
    aad_object_id="d6c8b5a4-2f1e-4b3a-9c8d-7e6f5a4b3c2d",
    name="Alex Wilber",
    email="alex.wilber@contoso.example",
    user_principal_name="alex.wilber@contoso.example",
    given_name="Alex",
    surname="Wilber",
)


def teams_settings(database_url: str) -> Settings:
    """Settings for the Teams test config on the test database."""
    return Settings(
        database_url=database_url,
        lastmile_config=CONFIG_PATH,
        _env_file=None,  # type: ignore[call-arg]
    )


def app_registration(
    app_id: str | None = None, password: str | None = None, tenant_id: str | None = None
) -> TeamsSettings:
    """The bot's Entra registration: none (loopback only) unless an app id is given; with
    one, the fixtures' tenant is the organisation's own unless another is given."""
    tenant = tenant_id or (TENANT_ID if app_id else None)
    return TeamsSettings(id=app_id, password=password, tenant_id=tenant, _env_file=None)  # type: ignore[call-arg]


@dataclass
class TeamsBotUnderTest:
    """lastmile serving /api/messages in-process, with the fake connector as serviceUrl."""

    runtime: Runtime
    client: TestClient[Any, Any]
    connector: FakeTeamsConnector

    def activity(self, name: str, **overrides: Any) -> dict[str, Any]:
        """A fixture activity addressed to this bot's fake connector."""
        return load_activity(name, self.connector.service_url, **overrides)

    async def post(
        self, activity: Mapping[str, Any] | str, token: str | None = None, **overrides: Any
    ) -> PostResult:
        """POST an activity (or a fixture by name) to /api/messages, then let the
        background jobs handle it and send what it says back."""
        if isinstance(activity, str):
            activity = self.activity(activity, **overrides)
        result = await post_activity(self.client, activity, token)
        await settle(self.runtime)
        return result

    @property
    def sender(self) -> TeamsSender:
        """The Teams sender the mount registered."""
        sender = self.runtime.platforms["teams"].sender
        assert isinstance(sender, TeamsSender)
        return sender

    async def deliver(self) -> int:
        """One pass of the real outbox delivery loop; how many messages it claimed."""
        return await delivery_loop(self.runtime).deliver_due()

    async def queue_checkin(self, user_id: str, slot: str = "test:1") -> CheckIn:
        """Queue a check-in for a Teams person, as the scheduler would."""
        runtime = self.runtime
        now = runtime.clock()
        async with runtime.db.session() as session:
            person = await runtime.engine.directory.person_for(
                session, Actor(platform="teams", user_id=user_id), now
            )
            assert person is not None, f"{user_id} is not in the test config"
            checkin = await open_checkin(
                session, person, runtime.config, kind="scheduled", slot=slot, now=now
            )
            assert checkin is not None
            await queue_checkin(session, person, checkin, runtime.config, runtime.wordings, now)
        return checkin


@asynccontextmanager
async def teams_bot(
    settings: Settings,
    clock: Clock,
    *,
    registration: TeamsSettings | None = None,
    members: list[TeamsMember] | None = None,
    middleware: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[TeamsBotUnderTest]:
    """Build the runtime and the app with only Teams mounted, around a fake connector."""
    plugins = {"teams": TeamsPlugin(registration or app_registration())}
    runtime = await runtime_for(settings, clock=clock, plugins=plugins)
    try:
        async with FakeTeamsConnector(members=members or [default_member(), ALEX]) as connector:
            app = build_app(runtime, plugins)
            if middleware is not None:
                middleware(app)
            async with TestClient(TestServer(app)) as client:
                yield TeamsBotUnderTest(runtime, client, connector)
    finally:
        await runtime.close()


def cards_in(activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Adaptive Cards an activity carries."""
    return [
        attachment["content"]
        for attachment in activity.get("attachments") or []
        if attachment.get("contentType") == ADAPTIVE_CARD
    ]


def card_texts(card: Mapping[str, Any]) -> list[str]:
    """Every TextBlock text of a card, in order (escaped as sent)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card.get("body", []))
    return found


def card_actions(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every action of a card's ActionSets and top-level actions, in order."""
    actions = list(card.get("actions") or [])
    for element in card.get("body", []):
        if element.get("type") == "ActionSet":
            actions.extend(element["actions"])
    return actions


def action_titled(card: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The card's action with this title (fails the test when missing)."""
    for action in card_actions(card):
        if action["title"] == title:
            return action
    raise AssertionError(f"no action {title!r} in {[a['title'] for a in card_actions(card)]}")
