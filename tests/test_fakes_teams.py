"""The Teams test doubles work with the real botbuilder SDK (CloudAdapter)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)
from msrest.exceptions import HttpOperationError

from tests.fakes.teams_activities import (
    BOT_APP_ID,
    BOT_ID,
    CHANNEL_ID,
    PERSONAL_CONVERSATION_ID,
    TEAM_ID,
    TENANT_ID,
    USER_AAD_OBJECT_ID,
    USER_ID,
    client_timezone,
    fixture_names,
    load_activity,
    post_activity,
)
from tests.fakes.teams_auth import (
    forge_token,
    make_channel_token,
    new_signing_key,
    trusted_signing_keys,
    unreachable_openid_metadata,
)
from tests.fakes.teams_connector import FakeTeamsConnector, make_member

Callback = Callable[[TurnContext], Awaitable[None]]


class _NoAppId:
    """Configuration with no APP_ID: auth disabled, outbound calls carry no token."""


class _WithAppId:
    APP_ID = BOT_APP_ID
    APP_PASSWORD = "not-a-real-secret"


class EchoBot(ActivityHandler):  # type: ignore[misc]
    """Replies ``echo: <text>`` and remembers every conversation reference."""

    def __init__(self, *, reply: bool = True) -> None:
        self.reply = reply
        self.references: list[ConversationReference] = []

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        self.references.append(TurnContext.get_conversation_reference(turn_context.activity))
        if self.reply:
            await turn_context.send_activity(
                MessageFactory.text(f"echo: {turn_context.activity.text}")
            )


def _make_app(adapter: CloudAdapter, bot: ActivityHandler) -> web.Application:
    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse | None = await adapter.process(request, bot)
        return response or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


@pytest.fixture
async def connector() -> AsyncIterator[FakeTeamsConnector]:
    async with FakeTeamsConnector() as fake:
        yield fake


@pytest.fixture
def adapter() -> CloudAdapter:
    return CloudAdapter(ConfigurationBotFrameworkAuthentication(_NoAppId()))


@pytest.fixture
def bot() -> EchoBot:
    return EchoBot()


@pytest.fixture
async def client(adapter: CloudAdapter, bot: EchoBot) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(_make_app(adapter, bot))) as test_client:
        yield test_client


def _reference(connector: FakeTeamsConnector) -> ConversationReference:
    activity = Activity().deserialize(load_activity("message_personal", connector.service_url))
    return TurnContext.get_conversation_reference(activity)


async def _proactive(adapter: CloudAdapter, connector: FakeTeamsConnector, logic: Callback) -> None:
    await adapter.continue_conversation(_reference(connector), logic, BOT_APP_ID)


async def _send_expecting_error(
    adapter: CloudAdapter, connector: FakeTeamsConnector
) -> HttpOperationError:
    caught: list[HttpOperationError] = []

    async def logic(turn_context: TurnContext) -> None:
        try:
            await turn_context.send_activity("hello")
        except HttpOperationError as error:
            caught.append(error)

    await _proactive(adapter, connector, logic)
    assert len(caught) == 1
    return caught[0]


def _error_code(error: HttpOperationError) -> str | None:
    """``error.code`` of a ``{"error": {...}}`` envelope, None for other bodies."""
    envelope = getattr(error.error, "error", None)
    return getattr(envelope, "code", None)


# -- fixtures ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_is_teams_shaped(name: str) -> None:
    activity = load_activity(name, "https://smba.trafficmanager.net/emea/")
    assert activity["channelId"] == "msteams"
    assert activity["serviceUrl"] == "https://smba.trafficmanager.net/emea/"
    assert activity["from"]["id"].startswith("29:")
    assert activity["from"]["aadObjectId"] == USER_AAD_OBJECT_ID
    assert activity["recipient"]["id"] == BOT_ID
    assert activity["conversation"]["tenantId"] == TENANT_ID
    assert activity["channelData"]["tenant"]["id"] == TENANT_ID
    assert Activity().deserialize(activity).type == activity["type"]


def test_fixture_set_is_complete() -> None:
    assert set(fixture_names()) >= {
        "installation_update_add_personal",
        "conversation_update_members_added_personal",
        "conversation_update_members_added_team",
        "message_personal",
        "message_submit_action",
        "invoke_adaptive_card_action",
    }


def test_team_fixture_names_team_and_channel() -> None:
    activity = load_activity("conversation_update_members_added_team", "http://x/")
    assert activity["channelData"]["team"]["id"] == TEAM_ID
    assert activity["conversation"]["id"] == CHANNEL_ID
    assert activity["channelData"]["eventType"] == "teamMemberAdded"


def test_load_activity_fills_ids_times_and_overrides() -> None:
    first = load_activity("message_personal", "http://x/", text="hi", reply_to_id="123")
    second = load_activity("message_personal", "http://x/", conversation={"id": "a:other"})
    assert first["id"] != second["id"] and first["id"].isdigit()
    assert first["text"] == "hi" and first["replyToId"] == "123"
    assert first["timestamp"].endswith("Z") and first["localTimestamp"][-6:] in {"+00:00", "+01:00"}
    assert second["conversation"] == {
        "conversationType": "personal",
        "tenantId": TENANT_ID,
        "id": "a:other",
    }
    assert client_timezone(first) == "Europe/London"
    assert "text" not in load_activity("message_submit_action", "http://x/")


def test_invoke_fixture_is_universal_action() -> None:
    activity = load_activity("invoke_adaptive_card_action", "http://x/")
    assert activity["name"] == "adaptiveCard/action"
    assert activity["value"]["action"]["type"] == "Action.Execute"
    assert activity["value"]["trigger"] == "manual"
    assert activity["id"].startswith("f:")


# -- the connector double with the real SDK ------------------------------------------------


async def test_reply_reaches_fake_connector(
    connector: FakeTeamsConnector, client: TestClient[Any, Any]
) -> None:
    incoming = load_activity("message_personal", connector.service_url, text="ping")
    result = await post_activity(client, incoming)
    assert result.status == 201
    [reply] = connector.activities(PERSONAL_CONVERSATION_ID)
    assert reply["text"] == "echo: ping"
    assert reply["replyToId"] == incoming["id"]
    assert reply["recipient"]["id"] == USER_ID
    [call] = connector.requests("reply")
    assert call.activity_id == incoming["id"]
    assert call.authorization is None  # no app id: the SDK sends no Authorization header


async def test_post_activity_accepts_a_base_url(
    connector: FakeTeamsConnector, adapter: CloudAdapter, bot: EchoBot
) -> None:
    runner = web.AppRunner(_make_app(adapter, bot))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        incoming = load_activity("message_personal", connector.service_url)
        result = await post_activity(f"http://{host}:{port}", incoming)
    finally:
        await runner.cleanup()
    assert result.status == 201
    assert len(connector.activities()) == 1


async def test_proactive_message_arrives(
    connector: FakeTeamsConnector, adapter: CloudAdapter
) -> None:
    async def logic(turn_context: TurnContext) -> None:
        await turn_context.send_activity("proactive hello")

    await _proactive(adapter, connector, logic)
    [sent] = await connector.wait_for_activities(1, PERSONAL_CONVERSATION_ID)
    assert sent["text"] == "proactive hello"
    assert sent["from"]["id"] == BOT_ID


async def test_update_and_delete_are_recorded(
    connector: FakeTeamsConnector, adapter: CloudAdapter
) -> None:
    async def logic(turn_context: TurnContext) -> None:
        sent = await turn_context.send_activity("question")
        edited = MessageFactory.text("question (answered)")
        edited.id = sent.id
        await turn_context.update_activity(edited)
        await turn_context.delete_activity(sent.id)

    await _proactive(adapter, connector, logic)
    [update] = connector.updates(PERSONAL_CONVERSATION_ID)
    [call] = connector.requests("update")
    assert update["text"] == "question (answered)"
    assert call.activity_id == connector.requests("reply")[0].response["id"]
    assert connector.deletes() == [(PERSONAL_CONVERSATION_ID, call.activity_id)]


async def test_create_conversation_and_roster(
    connector: FakeTeamsConnector, adapter: CloudAdapter
) -> None:
    colleague = make_member("Alex Wilber")
    connector.members.append(colleague)
    seen: dict[str, Any] = {}

    async def logic(turn_context: TurnContext) -> None:
        seen["conversation_id"] = turn_context.activity.conversation.id
        seen["member"] = await TeamsInfo.get_member(turn_context, USER_ID)
        seen["page"] = await TeamsInfo.get_paged_members(turn_context, page_size=1)

    parameters = ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id=BOT_ID),
        members=[ChannelAccount(id=colleague.id)],
        tenant_id=TENANT_ID,
        channel_data={"tenant": {"id": TENANT_ID}},
    )
    await adapter.create_conversation(
        BOT_APP_ID, logic, parameters, "msteams", connector.service_url
    )
    [created] = connector.created_conversations()
    assert created["id"].startswith("a:1") and seen["conversation_id"] == created["id"]
    assert created["members"] == [{"id": colleague.id}]
    assert seen["member"].email == "megan.bowen@contoso.example"
    assert seen["member"].user_principal_name == "megan.bowen@contoso.example"
    assert seen["member"].aad_object_id == USER_AAD_OBJECT_ID
    assert len(seen["page"].members) == 1 and seen["page"].continuation_token == "1"


async def test_create_conversation_needs_a_tenant(connector: FakeTeamsConnector) -> None:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_NoAppId()))
    parameters = ConversationParameters(members=[ChannelAccount(id=USER_ID)])

    async def logic(turn_context: TurnContext) -> None:
        raise AssertionError("no conversation should be created")

    with pytest.raises(ErrorResponseException) as raised:
        await adapter.create_conversation(
            BOT_APP_ID, logic, parameters, "msteams", connector.service_url
        )
    assert raised.value.response.status_code == 400


# -- failure injection: what the SDK raises ------------------------------------------------


async def test_throttling_is_visible_with_retry_after(
    connector: FakeTeamsConnector, adapter: CloudAdapter
) -> None:
    connector.throttle_next(PERSONAL_CONVERSATION_ID, retry_after=1)
    error = await _send_expecting_error(adapter, connector)
    assert isinstance(error, ErrorResponseException)
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "1"
    assert _error_code(error) == "Throttled"
    assert len(connector.requests()) == 1  # POSTs are never retried by the SDK
    assert connector.activities() == []


async def test_blocked_by_user(connector: FakeTeamsConnector, adapter: CloudAdapter) -> None:
    connector.block(PERSONAL_CONVERSATION_ID)
    error = await _send_expecting_error(adapter, connector)
    assert error.response.status_code == 403
    assert _error_code(error) == "ConversationBlockedByUser"
    assert str(error) == "(ConversationBlockedByUser) User blocked the conversation with the bot."


async def test_message_writes_blocked_envelope(
    connector: FakeTeamsConnector, adapter: CloudAdapter
) -> None:
    connector.block(None, error="MessageWritesBlocked")
    error = await _send_expecting_error(adapter, connector)
    assert error.response.status_code == 403
    assert _error_code(error) is None  # not the {"error": {...}} envelope
    assert error.response.json()["errorCode"] == 209
    assert "MessageWritesBlocked" in error.response.json()["message"]


@pytest.mark.parametrize("status", [412, 502, 503, 504])
async def test_transient_statuses(
    connector: FakeTeamsConnector, adapter: CloudAdapter, status: int
) -> None:
    connector.fail_next(PERSONAL_CONVERSATION_ID, status)
    error = await _send_expecting_error(adapter, connector)
    assert isinstance(error, ErrorResponseException)
    assert error.response.status_code == status
    assert "Retry-After" not in error.response.headers


async def test_throttled_update_is_retried_by_the_sdk(
    connector: FakeTeamsConnector, adapter: CloudAdapter
) -> None:
    connector.fail_next(None, 429, retry_after=1, operations={"update"})

    async def logic(turn_context: TurnContext) -> None:
        edited = MessageFactory.text("edited")
        edited.id = "1715675470021"
        await turn_context.update_activity(edited)

    await _proactive(adapter, connector, logic)
    assert [call.status for call in connector.requests("update")] == [429, 200]


async def test_failure_applies_to_next_sends_only(
    connector: FakeTeamsConnector, adapter: CloudAdapter
) -> None:
    connector.fail_next("a:someone-else", 503, times=3)
    connector.fail_next(PERSONAL_CONVERSATION_ID, 412, times=1)
    await _send_expecting_error(adapter, connector)

    async def logic(turn_context: TurnContext) -> None:
        await turn_context.send_activity("second try")

    await _proactive(adapter, connector, logic)
    assert [a["text"] for a in connector.activities()] == ["second try"]
    assert [c.status for c in connector.requests()] == [412, 201]


# -- inbound auth with an app id configured (what the SDK does today) ----------------------


@pytest.fixture
async def secured_client(bot: EchoBot) -> AsyncIterator[TestClient[Any, Any]]:
    bot.reply = False  # with an app id, a reply would need a token from login.microsoftonline.com
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_WithAppId()))
    async with TestClient(TestServer(_make_app(adapter, bot))) as test_client:
        yield test_client


SERVICE_URL = "https://smba.trafficmanager.net/emea/"


async def test_missing_token_is_401(secured_client: TestClient[Any, Any], bot: EchoBot) -> None:
    result = await post_activity(secured_client, load_activity("message_personal", SERVICE_URL))
    assert result.status == 401 and bot.references == []


async def test_forged_token_with_foreign_issuer_is_401(
    secured_client: TestClient[Any, Any], bot: EchoBot
) -> None:
    token = forge_token(BOT_APP_ID, SERVICE_URL, issuer="https://evil.example")
    with unreachable_openid_metadata() as fetches:
        result = await post_activity(
            secured_client, load_activity("message_personal", SERVICE_URL), token
        )
    assert result.status == 401 and fetches == [] and bot.references == []


async def test_forged_token_needing_metadata_is_500_offline(
    secured_client: TestClient[Any, Any], bot: EchoBot
) -> None:
    with unreachable_openid_metadata() as fetches:
        result = await post_activity(
            secured_client,
            load_activity("message_personal", SERVICE_URL),
            forge_token(BOT_APP_ID, SERVICE_URL),
        )
    assert result.status == 500 and len(fetches) == 1 and bot.references == []


async def test_trusted_key_accepts_and_forgery_is_500(
    secured_client: TestClient[Any, Any], bot: EchoBot
) -> None:
    trusted = new_signing_key()
    forged_same_kid = make_channel_token(BOT_APP_ID, SERVICE_URL, key=new_signing_key(trusted.kid))
    with trusted_signing_keys(trusted):
        good = make_channel_token(BOT_APP_ID, SERVICE_URL, key=trusted)
        wrong_aud = make_channel_token("someone-else", SERVICE_URL, key=trusted)
        statuses = [
            (
                await post_activity(
                    secured_client, load_activity("message_personal", SERVICE_URL), t
                )
            ).status
            for t in (good, wrong_aud, forged_same_kid)
        ]
    assert statuses == [201, 401, 500]
    assert len(bot.references) == 1
