"""The Slack test doubles work with the real slack_sdk / slack_bolt clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import UPLOAD, FailureKind, FakeSlackApi
from tests.fakes.slack_signing import (
    PILOT_USER_ID,
    block_actions_body,
    block_actions_payload,
    interactive_body,
    message_im_body,
    signed_headers,
    slash_command_body,
    slash_command_payload,
    view_submission_payload,
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlackApi) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.url)


def build_bolt_app(fake: FakeSlackApi) -> AsyncApp:
    """A tiny Bolt app: a button handler, a modal handler and a /lastmile command."""
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.url),
    )

    @app.action("lastmile_yes")
    async def on_yes(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(channel=body["user"]["id"], text="Thanks!")

    @app.view("lastmile_feedback")
    async def on_feedback(ack: AsyncAck, view: dict[str, Any]) -> None:
        text = view["state"]["values"]["feedback_block"]["feedback_input"]["value"]
        await ack(response_action="update", view=_thanks_view(text))

    @app.command("/lastmile")
    async def on_command(ack: AsyncAck, command: dict[str, str], respond: AsyncRespond) -> None:
        await ack(f"lastmile: {command['text']}")
        await respond("later")

    return app


def _thanks_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Thanks"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text}}],
    }


def bolt_web_app(app: AsyncApp) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    web_app = web.Application()
    web_app.router.add_post("/slack/events", slack_events)
    return web_app


@pytest.fixture
async def bolt_http(fake: FakeSlackApi) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(bolt_web_app(build_bolt_app(fake)))) as http:
        yield http


# -- Web API ----------------------------------------------------------------------------------


async def test_post_message_records_params_and_auth_header(
    fake: FakeSlackApi, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    first = await client.chat_postMessage(channel="C0PILOTS01", text="hi", blocks=blocks)
    second = await client.chat_postMessage(channel="C0PILOTS01", text="again")

    assert first["ok"] and first["channel"] == "C0PILOTS01"
    assert first["message"]["blocks"] == blocks and first["message"]["bot_id"] == fake.bot_id
    assert float(second["ts"]) > float(first["ts"])
    call = fake.last_call("chat.postMessage")
    assert call.params == {"channel": "C0PILOTS01", "text": "again"}
    assert call.authorization == f"Bearer {fake.bot_token}"
    assert call.token == fake.bot_token


async def test_update_ephemeral_and_dm_channels(fake: FakeSlackApi, client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users=PILOT_USER_ID)
    again = await client.conversations_open(users=PILOT_USER_ID)
    dm = opened["channel"]["id"]
    posted = await client.chat_postMessage(channel=PILOT_USER_ID, text="v1")
    updated = await client.chat_update(channel=dm, ts=posted["ts"], text="v2")
    ephemeral = await client.chat_postEphemeral(
        channel="C0PILOTS01", user=PILOT_USER_ID, text="psst"
    )

    assert dm.startswith("D") and again["channel"]["id"] == dm and again["already_open"]
    assert posted["channel"] == dm
    assert updated["message"]["text"] == "v2" and fake.messages[(dm, posted["ts"])]["text"] == "v2"
    assert ephemeral["message_ts"]
    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel=dm, ts="1.000001", text="nope")
    assert missing.value.response["error"] == "message_not_found"


async def test_users_info_uses_per_user_tz(fake: FakeSlackApi, client: AsyncWebClient) -> None:
    fake.set_user("U0BERLIN01", tz="Europe/Berlin", email="anna@example.com")
    fake.set_user_tz("U0FIXED001", "Asia/Kolkata", tz_offset=19800)

    berlin = (await client.users_info(user="U0BERLIN01"))["user"]
    fixed = (await client.users_info(user="U0FIXED001"))["user"]

    offset = datetime.now(ZoneInfo("Europe/Berlin")).utcoffset()
    assert offset is not None
    assert berlin["tz"] == "Europe/Berlin" and berlin["tz_offset"] == offset.total_seconds()
    assert berlin["profile"]["email"] == "anna@example.com"
    assert fixed["tz"] == "Asia/Kolkata" and fixed["tz_offset"] == 19800


async def test_views_open_publish_update(fake: FakeSlackApi, client: AsyncWebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "cb",
        "title": {"type": "plain_text", "text": "T"},
        "blocks": [],
    }
    opened = (await client.views_open(trigger_id="1.2.3", view=modal))["view"]
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    home = await client.views_publish(user_id=PILOT_USER_ID, view={"type": "home", "blocks": []})

    assert opened["callback_id"] == "cb" and opened["id"].startswith("V")
    assert updated["view"]["id"] == opened["id"]
    assert home["view"]["type"] == "home" and fake.home_views[PILOT_USER_ID]["id"]
    assert fake.last_call("views.open").params["view"] == modal


async def test_files_upload_v2_end_to_end(fake: FakeSlackApi, client: AsyncWebClient) -> None:
    dm = fake.dm_channel_for(PILOT_USER_ID)
    response = await client.files_upload_v2(
        channel=dm,
        content="day,score\nmon,4\n",
        filename="week.csv",
        title="Week",
        initial_comment="Your week",
    )

    file_id = response["file"]["id"]
    assert fake.files[file_id].content == b"day,score\nmon,4\n"
    assert fake.files[file_id].channel_id == dm
    assert fake.files[file_id].initial_comment == "Your week"
    assert [c.method for c in fake.calls()] == [
        "files.getUploadURLExternal",
        UPLOAD,
        "files.completeUploadExternal",
    ]


async def test_ratelimited_call_is_retried_and_recorded_once(fake: FakeSlackApi) -> None:
    retrying = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail_next("chat.postMessage", FailureKind.RATELIMITED)

    response = await retrying.chat_postMessage(channel="C0PILOTS01", text="once")

    assert response["ok"]
    assert len(fake.calls("chat.postMessage")) == 1
    attempts = fake.calls("chat.postMessage", include_failed=True)
    assert [a.failure for a in attempts] == [FailureKind.RATELIMITED, None]


async def test_ratelimited_without_retry_handler_surfaces_429(
    fake: FakeSlackApi, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", FailureKind.RATELIMITED, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C0PILOTS01", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


async def test_server_error_and_dropped_connection(fake: FakeSlackApi) -> None:
    no_retries = AsyncWebClient(token=fake.bot_token, base_url=fake.url, retry_handlers=[])
    fake.fail_next("users.info", FailureKind.SERVER_ERROR)
    fake.fail_next("chat.postMessage", FailureKind.DROP)

    with pytest.raises(SlackApiError) as server_error:
        await no_retries.users_info(user=PILOT_USER_ID)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await no_retries.chat_postMessage(channel="C0PILOTS01", text="x")

    assert server_error.value.response.status_code == 500
    assert fake.calls("chat.postMessage") == []


async def test_auth_errors_and_unknown_method(fake: FakeSlackApi) -> None:
    bad = AsyncWebClient(token="xoxb-not-a-real-token", base_url=fake.url)
    anonymous = AsyncWebClient(base_url=fake.url)
    app_level = AsyncWebClient(token=fake.app_token, base_url=fake.url)
    good = AsyncWebClient(token=fake.bot_token, base_url=fake.url)

    for caller, expected in [
        (bad, "invalid_auth"),
        (anonymous, "not_authed"),
        (app_level, "not_allowed_token_type"),
    ]:
        with pytest.raises(SlackApiError) as raised:
            await caller.auth_test()
        assert raised.value.response["error"] == expected
    with pytest.raises(SlackApiError) as unknown:
        await good.api_call("lastmile.nothing")
    assert unknown.value.response["error"] == "unknown_method"
    identity = await good.auth_test()
    assert (identity["team_id"], identity["user_id"], identity["bot_id"]) == (
        fake.team_id,
        fake.bot_user_id,
        fake.bot_id,
    )


# -- signing ----------------------------------------------------------------------------------


def test_signed_headers_match_slack_sdk_verifier() -> None:
    body = message_im_body(text="hello")
    headers = signed_headers(SIGNING_SECRET, body, timestamp=1718035200)
    verifier = SignatureVerifier(SIGNING_SECRET, clock=_FixedClock(1718035200))

    assert verifier.is_valid(body, "1718035200", headers["X-Slack-Signature"])
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["event"]["text"] == "hello"
    assert signed_headers(SIGNING_SECRET, slash_command_body())["Content-Type"] == (
        "application/x-www-form-urlencoded"
    )


def test_form_bodies_round_trip() -> None:
    action = parse_qs(block_actions_body(action_id="lastmile_no", value="no"))
    command = parse_qs(slash_command_body(text="help"))

    assert json.loads(action["payload"][0])["actions"][0]["action_id"] == "lastmile_no"
    assert command["command"] == ["/lastmile"] and command["text"] == ["help"]


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


# -- Bolt over HTTP (aiohttp) -----------------------------------------------------------------


async def test_bolt_http_handles_signed_block_actions(
    fake: FakeSlackApi, bolt_http: TestClient[web.Request, web.Application]
) -> None:
    body = block_actions_body(action_id="lastmile_yes", value="yes")

    response = await bolt_http.post(
        "/slack/events", data=body, headers=signed_headers(SIGNING_SECRET, body)
    )

    assert response.status == 200
    posted = await fake.wait_for_calls("chat.postMessage")
    # Bolt's per-request client adds team_id as a default param
    assert posted[0].params == {
        "channel": PILOT_USER_ID,
        "text": "Thanks!",
        "team_id": fake.team_id,
    }
    assert fake.calls("auth.test")


async def test_bolt_http_view_submission_response_action(
    bolt_http: TestClient[web.Request, web.Application],
) -> None:
    values = {"feedback_block": {"feedback_input": {"type": "plain_text_input", "value": "meh"}}}
    body = interactive_body(view_submission_payload(values=values))

    response = await bolt_http.post(
        "/slack/events", data=body, headers=signed_headers(SIGNING_SECRET, body)
    )

    assert response.status == 200
    answer = await response.json()
    assert answer["response_action"] == "update"
    assert answer["view"]["blocks"][0]["text"]["text"] == "meh"


async def test_bolt_http_rejects_bad_signature(
    fake: FakeSlackApi, bolt_http: TestClient[web.Request, web.Application]
) -> None:
    body = block_actions_body()
    headers = signed_headers("not-the-secret", body)

    response = await bolt_http.post("/slack/events", data=body, headers=headers)

    assert response.status == 401
    assert fake.calls("chat.postMessage") == []


# -- Bolt over Socket Mode --------------------------------------------------------------------


async def test_socket_mode_slash_command_is_acked(fake: FakeSlackApi) -> None:
    handler = AsyncSocketModeHandler(build_bolt_app(fake), app_token=fake.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        payload = slash_command_payload(text="status", response_url=fake.response_url("commands"))
        ack = await fake.socket_mode.push("slash_commands", payload)
        responded = await fake.wait_for_calls("response_url")
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]

    assert ack["payload"] == {"text": "lastmile: status"}
    assert responded[0].params["text"] == "later"
    assert fake.last_call("apps.connections.open").token == fake.app_token
    assert fake.socket_mode.pings_received  # the SDK pings right after connecting


async def test_socket_mode_interactive_ping_and_reconnect(fake: FakeSlackApi) -> None:
    handler = AsyncSocketModeHandler(build_bolt_app(fake), app_token=fake.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        ack = await fake.socket_mode.push("interactive", block_actions_payload())
        await fake.socket_mode.ping(b"server-ping")
        await fake.socket_mode.request_reconnect()
        await fake.socket_mode.wait_connections_total(2)
        second = await fake.socket_mode.push("interactive", block_actions_payload())
        await fake.wait_for_calls("chat.postMessage", count=2)
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await asyncio.sleep(0)

    assert set(ack) == {"envelope_id"} and set(second) == {"envelope_id"}
    assert fake.socket_mode.connections_total == 2
