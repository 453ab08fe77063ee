"""Slack's mount: which settings connect it, url_verification, Socket Mode, the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime import Runtime
from lastmile.server import build_app, runtime_for
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import load_fixture, signed_headers
from tests.slack_support import (
    SIGNING_SECRET,
    HttpTransport,
    lastmile_settings,
    running,
    slack_only,
    slack_settings,
)

MANIFEST = Path(__file__).resolve().parent.parent / "adapters" / "slack" / "manifest.yml"


async def test_slack_is_not_mounted_without_its_tokens(runtime: Runtime) -> None:
    async with TestClient(TestServer(build_app(runtime))) as client:
        health = await (await client.get("/healthz")).json()
        events = await client.post("/slack/events", data="{}")

    assert "slack" not in health["platforms"]
    assert events.status in (404, 405)
    assert "slack" not in runtime.platforms


async def test_bot_token_alone_mounts_nothing(
    database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlackApi() as fake:
        plugins = slack_only(slack_settings(fake, http=False, socket=False))
        runtime = await runtime_for(lastmile_settings(database_url), clock=clock, plugins=plugins)
        try:
            build_app(runtime, plugins)
        finally:
            await runtime.close()

    assert "slack" not in runtime.platforms
    assert "neither SLACK_SIGNING_SECRET" in caplog.text


async def test_http_mount_answers_url_verification(database_url: str, clock: FakeClock) -> None:
    async with running(database_url, clock, "http") as harness:
        assert isinstance(harness.transport, HttpTransport)
        challenge = load_fixture("url_verification.json")
        body = json.dumps(challenge)
        answer = await harness.transport.post(body, signed_headers(SIGNING_SECRET, body))
        health = await (await harness.transport.client.get("/healthz")).json()

    assert answer.status == 200
    assert json.loads(answer.body) == {"challenge": challenge["challenge"]}
    assert "slack" in health["platforms"]
    assert harness.runtime.platforms["slack"].sender is harness.adapter.sender


async def test_socket_mode_connects_with_the_app_token_and_closes(
    database_url: str, clock: FakeClock
) -> None:
    async with running(database_url, clock, "socket") as harness:
        opened = harness.fake.last_call("apps.connections.open")
        assert harness.fake.socket_mode.open_connections == 1
        http = harness.app.router.resources()
        paths = {getattr(resource, "canonical", "") for resource in http}

    assert opened.token == harness.fake.app_token
    assert "/slack/events" not in paths  # no signing secret: Socket Mode only
    assert harness.adapter.socket_mode is None  # closed on cleanup


def test_manifest_creates_the_app_in_one_step() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))

    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    settings = manifest["settings"]
    assert {
        "chat:write",
        "im:write",
        "im:history",
        "users:read",
        "users:read.email",
        "files:write",
        "commands",
    } <= scopes
    assert set(settings["event_subscriptions"]["bot_events"]) == {"message.im", "app_home_opened"}
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        manifest["features"]["slash_commands"][0]["url"],
    }
    assert len(urls) == 1 and next(iter(urls)).endswith("/slack/events")
    assert manifest["features"]["slash_commands"][0]["command"] == "/lastmile"
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
