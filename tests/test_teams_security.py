"""Who may post to /api/messages: forged tokens get 401, strangers 403, and nothing is stored
(acceptance 3)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.schema import Activity
from botframework.connector.auth.jwt_token_extractor import _OpenIdMetadata
from sqlmodel import SQLModel

from adapters.teams.auth import ReusedCredentialsFactory, build_adapter, is_loopback, warm_token
from bot.config import Settings
from storage.models import (
    ChannelAddress,
    ConversationAddress,
    InboxEvent,
    Note,
    Person,
)
from tests.conftest import FakeClock
from tests.fakes.teams_activities import (
    BOT_APP_ID,
    PERSONAL_CONVERSATION_ID,
    USER_ID,
    post_activity,
)
from tests.fakes.teams_auth import (
    forge_token,
    make_channel_token,
    new_signing_key,
    trusted_signing_keys,
    unreachable_openid_metadata,
)
from tests.helpers import rows
from tests.teams_support import ALEX, TeamsBotUnderTest, app_registration, teams_bot, teams_settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STORED: tuple[type[SQLModel], ...] = (
    Person,
    ConversationAddress,
    ChannelAddress,
    InboxEvent,
    Note,
)


async def snapshot(bot: TeamsBotUnderTest) -> dict[str, int]:
    """Row counts of everything an inbound activity could write."""
    return {model.__name__: len(await rows(bot.runtime, model)) for model in STORED}


@pytest.fixture
async def secured(database_url: str, clock: FakeClock) -> AsyncIterator[TeamsBotUnderTest]:
    settings = teams_settings(database_url)
    registration = app_registration(BOT_APP_ID, "not-a-real-secret")
    async with teams_bot(settings, clock, registration=registration) as running:
        yield running


def message(bot: TeamsBotUnderTest) -> dict[str, Any]:
    return bot.activity("message_personal", text="mydata")


# -- with an app id: every request's token is checked ----------------------------------------


async def test_a_request_without_a_token_is_401(secured: TeamsBotUnderTest) -> None:
    before = await snapshot(secured)
    result = await secured.post(message(secured))
    assert result.status == 401
    assert await snapshot(secured) == before
    assert secured.connector.calls == []


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda url: "garbage", id="malformed"),
        pytest.param(lambda url: "Basic dXNlcjpwYXNz", id="not-bearer"),
        pytest.param(
            lambda url: forge_token(BOT_APP_ID, url, issuer="https://evil.example"),
            id="foreign-issuer",
        ),
        pytest.param(lambda url: forge_token(BOT_APP_ID, url), id="untrusted-key"),
    ],
)
async def test_a_forged_token_is_401_and_changes_nothing(
    secured: TeamsBotUnderTest, make_token: Callable[[str], str]
) -> None:
    trusted = new_signing_key()
    before = await snapshot(secured)
    with trusted_signing_keys(trusted):
        token = make_token(secured.connector.service_url)
        result = await secured.post(message(secured), token)
    assert result.status == 401
    assert await snapshot(secured) == before


async def test_tokens_signed_by_a_trusted_key_but_wrong_are_401(
    secured: TeamsBotUnderTest,
) -> None:
    trusted = new_signing_key()
    url = secured.connector.service_url
    before = await snapshot(secured)
    with trusted_signing_keys(trusted):
        same_kid_other_key = make_channel_token(BOT_APP_ID, url, key=new_signing_key(trusted.kid))
        tokens = {
            "bad signature": same_kid_other_key,
            "expired": make_channel_token(BOT_APP_ID, url, key=trusted, lifetime=-600),
            "other bot": make_channel_token("another-app", url, key=trusted),
            "other service url": make_channel_token(
                BOT_APP_ID, "https://evil.example/", key=trusted
            ),
        }
        statuses = {
            name: (await secured.post(message(secured), t)).status for name, t in tokens.items()
        }
    with trusted_signing_keys(trusted, endorsements=("skype",)):
        not_for_teams = make_channel_token(BOT_APP_ID, url, key=trusted)
        statuses["not endorsed for msteams"] = (
            await secured.post(message(secured), not_for_teams)
        ).status
    assert statuses == dict.fromkeys(statuses, 401)
    assert await snapshot(secured) == before


async def test_a_valid_token_is_accepted(secured: TeamsBotUnderTest) -> None:
    trusted = new_signing_key()
    with trusted_signing_keys(trusted):
        token = make_channel_token(BOT_APP_ID, secured.connector.service_url, key=trusted)
        # installationUpdate needs no reply, and Alex is named by his Teams id, so nothing
        # calls the connector (that would need an AAD token from the internet).
        alex = {"id": ALEX.id, "name": ALEX.name}
        result = await secured.post("installation_update_add_personal", token, **{"from": alex})
    assert result.status == 200
    [address] = await rows(secured.runtime, ConversationAddress)
    assert address.data["conversation"]["id"] == PERSONAL_CONVERSATION_ID
    assert address.data["user"]["id"] == ALEX.id


async def test_unreachable_signing_keys_are_503_and_change_nothing(
    secured: TeamsBotUnderTest,
) -> None:
    before = await snapshot(secured)
    with unreachable_openid_metadata() as fetches:
        token = forge_token(BOT_APP_ID, secured.connector.service_url)
        result = await secured.post(message(secured), token)
    assert result.status == 503 and len(fetches) == 1
    assert await snapshot(secured) == before


async def test_fetching_signing_keys_never_blocks_the_server(secured: TeamsBotUnderTest) -> None:
    """The SDK fetches keys with a blocking requests.get: other requests must still be served."""
    release = threading.Event()
    fetching = threading.Event()

    async def slow_refresh(metadata: _OpenIdMetadata) -> None:
        fetching.set()
        # Blocks whichever thread runs it until the test has been served meanwhile.
        assert release.wait(timeout=10), "the health check was never answered"
        raise ConnectionError("test: keys not reachable")

    with (
        unreachable_openid_metadata(),
        mock.patch.object(_OpenIdMetadata, "_refresh", slow_refresh),
    ):
        token = forge_token(BOT_APP_ID, secured.connector.service_url)
        pending = asyncio.create_task(secured.post(message(secured), token))
        await asyncio.to_thread(fetching.wait, 10)
        health = await secured.client.get("/healthz")
        served_meanwhile = health.status == 200 and not pending.done()
        release.set()
        result = await pending
    assert served_meanwhile
    assert result.status == 401


# -- without an app id: this machine only ----------------------------------------------------


@pytest.fixture
def open_settings(database_url: str) -> Settings:
    return teams_settings(database_url)


def from_address(remote: str) -> Callable[[web.Application], None]:
    """Make every request look as if it came from ``remote``."""

    @web.middleware
    async def rewrite(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request.clone(remote=remote))

    def install(app: web.Application) -> None:
        # First: a request can be cloned only before anything (the edge) reads its body.
        app.middlewares.insert(0, rewrite)

    return install


@pytest.mark.parametrize("remote", ["203.0.113.9", "10.0.0.7", "2001:db8::1"])
async def test_without_an_app_id_a_remote_peer_is_refused(
    open_settings: Settings, clock: FakeClock, remote: str
) -> None:
    async with teams_bot(open_settings, clock, middleware=from_address(remote)) as bot:
        before = await snapshot(bot)
        result = await bot.post("conversation_update_members_added_personal")
        assert result.status == 403
        assert await snapshot(bot) == before
        assert bot.connector.calls == []


async def test_without_an_app_id_a_request_relayed_by_a_local_proxy_is_refused(
    open_settings: Settings, clock: FakeClock
) -> None:
    async with teams_bot(open_settings, clock) as bot:
        incoming = bot.activity("conversation_update_members_added_personal")
        before = await snapshot(bot)
        result = await post_activity(
            bot.client, incoming, headers={"X-Forwarded-For": "198.51.100.4"}
        )
        assert result.status == 403
        assert await snapshot(bot) == before


async def test_without_an_app_id_loopback_is_served_and_tokens_ignored(
    open_settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.teams.mount"):
        async with teams_bot(open_settings, clock, middleware=from_address("::1")) as bot:
            result = await bot.post("installation_update_add_personal", "whatever-the-client-sends")
            assert result.status == 200
            people = await rows(bot.runtime, Person, platform_user_id=USER_ID)
    assert len(people) == 1
    assert any(
        "accepts requests from loopback addresses only" in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.168.1.20", False),
        ("::ffff:192.168.1.20", False),
        ("", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_loopback_addresses(remote: str | None, loopback: bool) -> None:
    assert is_loopback(remote) is loopback


class RecordingCredentials:
    """Credentials whose token requests remember the thread they ran on."""

    def __init__(self, app_id: str) -> None:
        self.microsoft_app_id = app_id
        self.token_threads: list[str] = []

    def get_access_token(self, force_refresh: bool = False) -> str:
        self.token_threads.append(threading.current_thread().name)
        return "token"


class CountingFactory:
    """The inner factory: makes new credentials on every call, as the SDK's does."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.made: list[RecordingCredentials] = []

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> RecordingCredentials:
        self.made.append(RecordingCredentials(self.app_id))
        return self.made[-1]


async def test_outbound_credentials_are_reused_and_their_token_fetched_off_the_loop() -> None:
    inner = CountingFactory(BOT_APP_ID)
    factory = ReusedCredentialsFactory(inner)
    scope = "https://api.botframework.com"
    first = await factory.create_credentials(BOT_APP_ID, scope, "https://login", True)
    second = await factory.create_credentials(BOT_APP_ID, scope, "https://login", True)
    other = await factory.create_credentials(BOT_APP_ID, "https://other", "https://login", True)
    assert first is second and other is not first and len(inner.made) == 2
    assert await factory.is_valid_app_id(BOT_APP_ID)
    assert not await ReusedCredentialsFactory(CountingFactory("")).is_valid_app_id(BOT_APP_ID)

    adapter = build_adapter(app_registration(BOT_APP_ID))
    turn = TurnContext(adapter, Activity(type="message"))
    turn.turn_state[adapter.BOT_CONNECTOR_CLIENT_KEY] = SimpleNamespace(
        config=SimpleNamespace(credentials=first)
    )
    await warm_token(turn)
    assert first.token_threads and threading.current_thread().name not in first.token_threads
    anonymous = RecordingCredentials("")
    turn.turn_state[adapter.BOT_CONNECTOR_CLIENT_KEY].config.credentials = anonymous
    await warm_token(turn)
    assert anonymous.token_threads == []  # no app id, no token
