"""Issue 12, acceptance 2: only the organisation's own Slack workspaces and Teams tenants.

A request Slack or the Bot Framework signed correctly, but from another workspace or
tenant, gets 403 (Socket Mode: no acknowledgement) before the inbox: nothing is stored,
nothing is sent to a response_url, a channel or a person, and nobody's stored
workspace changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.workspaces import WorkspaceGate, origin_of
from adapters.teams import served_tenants
from bot.config import ConfigError
from bot.events import Actor
from storage.models import Answer, ConversationAddress, InboxEvent, Note, Person
from storage.people import find_person
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import slash_command_payload
from tests.fakes.teams_activities import BOT_APP_ID, TENANT_ID
from tests.fakes.teams_auth import make_channel_token, new_signing_key, trusted_signing_keys
from tests.helpers import rows
from tests.slack_support import CONFIG, DANA, Harness, running
from tests.teams_support import ALEX, TeamsBotUnderTest, app_registration, teams_bot, teams_settings

ELSEWHERE = "T0ELSEWHERE"
PARTNER = "T0PARTNER1"


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(database_url, clock, "http") as harness:
        yield harness


async def _known_dana(slack: Harness) -> Person:
    """Dana has written once from the pilot's own workspace."""
    await slack.send("events", slack.dm_payload("the route was fine today"))
    async with slack.runtime.db.session() as session:
        person = await find_person(session, "slack", DANA)
    assert person is not None and person.workspace_id == "T0LASTMILE"
    return person


def _foreign_requests(slack: Harness, question: Any) -> list[tuple[str, dict[str, Any]]]:
    """mydata as a slash command, a DM and a button click, each from another workspace."""
    command = slash_command_payload(
        text="mydata", user_id=DANA, team_id=ELSEWHERE, response_url=slack.fake.response_url()
    )
    dm = slack.dm_payload("mydata")
    dm["team_id"] = dm["context_team_id"] = dm["event"]["team"] = ELSEWHERE
    for authorization in dm["authorizations"]:
        authorization["team_id"] = ELSEWHERE
    click = slack.click_payload(question, "helped")
    click["team"]["id"] = click["user"]["team_id"] = ELSEWHERE
    return [("commands", command), ("events", dm), ("interactive", click)]


async def test_slack_http_refuses_another_workspace_before_anything_happens(
    slack: Harness,
) -> None:
    dana = await _known_dana(slack)
    question = await slack.checkin_message(DANA)
    before = await slack.table_counts()
    calls = len(slack.fake.requests)

    statuses = [
        (await slack.send(kind, payload)).status
        for kind, payload in _foreign_requests(slack, question)
    ]

    assert statuses == [403, 403, 403]
    assert await slack.table_counts() == before
    assert slack.fake.requests[calls:] == []  # no response_url, no post, no users.info
    async with slack.runtime.db.session() as session:
        again = await find_person(session, "slack", DANA)
    assert again is not None and again.workspace_id == dana.workspace_id == "T0LASTMILE"
    # The same click from the pilot's own workspace is served.
    assert (await slack.click(question, "helped")).status == 200
    assert [answer.outcome for answer in await slack.rows(Answer)] == ["helped"]


async def test_slack_socket_mode_refuses_another_workspace_without_acknowledging(
    database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(database_url, clock, "socket") as socket_slack:
        await _socket_refusals(socket_slack, caplog)


async def _socket_refusals(socket_slack: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await _known_dana(socket_slack)
    question = await socket_slack.checkin_message(DANA)
    before = await socket_slack.table_counts()
    calls = len(socket_slack.fake.requests)
    envelopes = {"commands": "slash_commands", "events": "events_api", "interactive": "interactive"}
    caplog.set_level(logging.WARNING, logger="adapters.slack.workspaces")

    for kind, payload in _foreign_requests(socket_slack, question):
        envelope = await socket_slack.fake.socket_mode.send_envelope(envelopes[kind], payload)  # type: ignore[arg-type]
        with pytest.raises(TimeoutError):
            await socket_slack.fake.socket_mode.wait_ack(envelope, max_wait=1.0)
    await socket_slack.settle()

    refusals = [r for r in caplog.records if "refused a request from workspace" in r.message]
    assert [r.getMessage() for r in refusals] == [
        f"Slack: refused a request from workspace {ELSEWHERE}: not one lastmile serves"
    ] * 3
    assert await socket_slack.table_counts() == before
    assert socket_slack.fake.requests[calls:] == []


async def test_slack_serves_the_workspaces_the_config_lists(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    config = tmp_path / "partner.toml"
    config.write_text(
        CONFIG.read_text(encoding="utf-8").replace(
            "[settings]\n", f'[settings]\nslack_workspaces = ["{PARTNER}"]\n', 1
        ),
        encoding="utf-8",
    )
    async with running(database_url, clock, "http", config=config) as slack:
        partner = slack.dm_payload("the partner depot's scanner froze")
        partner["team_id"] = partner["event"]["team"] = PARTNER
        stranger = slack.dm_payload("mydata")
        stranger["team_id"] = stranger["event"]["team"] = ELSEWHERE
        answered = await slack.send("events", partner)
        refused = await slack.send("events", stranger)
        assert (answered.status, refused.status) == (200, 403)
        assert [note.text for note in await slack.rows(Note)] == [
            "the partner depot's scanner froze"
        ]
        assert len(await slack.rows(InboxEvent)) == 1


async def test_inside_an_enterprise_grid_org_every_workspace_of_it_is_served() -> None:
    async with FakeSlackApi(enterprise_id="E0ORG") as fake:
        gate = WorkspaceGate(AsyncWebClient(token=fake.bot_token, base_url=fake.url), ())
        sister = {"team_id": "T0SISTER", "enterprise_id": "E0ORG", "event": {"team": "T0SISTER"}}
        other_org = {"team_id": "T0SISTER", "enterprise_id": "E0OTHER"}
        own_team_foreign_org = {"team_id": fake.team_id, "enterprise_id": "E0OTHER"}
        assert await gate.check(sister) is True
        assert await gate.check({"team_id": fake.team_id}) is True
        assert await gate.check(other_org) is False
        assert await gate.check(own_team_foreign_org) is False
        assert await gate.check({"type": "block_actions"}) is False  # names no workspace
        assert len(fake.calls("auth.test")) == 1  # asked once


async def test_slack_waits_for_auth_test_rather_than_guessing() -> None:
    # Slack unreachable at start-up: requests from unlisted workspaces get 503 (Slack
    # retries), listed ones are served.
    client = AsyncWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/", timeout=1)
    gate = WorkspaceGate(client, [PARTNER, "E0LISTED"])
    assert await gate.check({"team_id": "T0LASTMILE"}) is None
    assert await gate.check({"team_id": PARTNER}) is True
    assert await gate.check({"team_id": "T0ANY", "enterprise_id": "E0LISTED"}) is True


def test_every_workspace_a_payload_names_is_read() -> None:
    payload = {
        "team": {"id": "T1", "enterprise_id": "E1"},
        "user": {"id": "U1", "team_id": "T2"},
        "enterprise": {"id": "E2"},
        "event": {"team": "T3", "user_team": "T4"},
        "authorizations": [{"team_id": "T5", "enterprise_id": None}],
    }
    origin = origin_of(payload)
    assert origin.teams == {"T1", "T2", "T3", "T4", "T5"}
    assert origin.enterprises == {"E1", "E2"}


# -- Teams ----------------------------------------------------------------------------------


@pytest.fixture
async def secured(database_url: str, clock: FakeClock) -> AsyncIterator[TeamsBotUnderTest]:
    registration = app_registration(BOT_APP_ID, "not-a-real-secret")
    async with teams_bot(teams_settings(database_url), clock, registration=registration) as bot:
        yield bot


async def _snapshot(bot: TeamsBotUnderTest) -> dict[str, int]:
    models = (Person, ConversationAddress, InboxEvent, Note, Answer)
    return {model.__name__: len(await rows(bot.runtime, model)) for model in models}


async def test_teams_refuses_another_tenant_with_a_valid_token(secured: TeamsBotUnderTest) -> None:
    trusted = new_signing_key()
    alex = {"id": ALEX.id, "name": ALEX.name}
    with trusted_signing_keys(trusted):
        token = make_channel_token(BOT_APP_ID, secured.connector.service_url, key=trusted)
        own = await secured.post("installation_update_add_personal", token, **{"from": alex})
        before = await _snapshot(secured)
        other = {"conversation": {"tenantId": "0000aaaa-other-tenant"}}
        mixed = {"channel_data": {"tenant": {"id": "0000aaaa-other-tenant"}}}
        refused = [
            await secured.post("message_personal", token, text="mydata", **other),
            await secured.post("message_personal", token, text="mydata", **mixed),
            await secured.post(
                "message_personal",
                token,
                text="mydata",
                conversation={"tenantId": None},
                channel_data={"tenant": None},
            ),
        ]
    assert own.status == 200
    assert [result.status for result in refused] == [403, 403, 403]
    assert await _snapshot(secured) == before
    assert secured.connector.calls == []


def test_teams_with_an_app_id_must_name_its_tenants() -> None:
    registration = app_registration(BOT_APP_ID, "secret")
    without = registration.model_copy(update={"tenant_id": None})
    with pytest.raises(ConfigError, match="MICROSOFT_APP_TENANT_ID"):
        served_tenants(without, (), BOT_APP_ID)
    assert served_tenants(without, ("t-2", " "), BOT_APP_ID) == {"t-2"}
    assert served_tenants(registration, ("t-2",), BOT_APP_ID) == {TENANT_ID, "t-2"}
    # A loopback-only bot (Agents Playground) with no tenant named serves any.
    assert served_tenants(app_registration(), (), "") is None


async def test_a_request_never_moves_a_person_to_another_workspace(slack: Harness) -> None:
    dana = await _known_dana(slack)
    moved = Actor("slack", DANA, workspace_id=ELSEWHERE)
    async with slack.runtime.db.session() as session:
        person = await slack.runtime.engine.directory.person_for(
            session, moved, datetime(2026, 11, 17, tzinfo=UTC)
        )
    assert person is not None and person.workspace_id == dana.workspace_id == "T0LASTMILE"
    await asyncio.sleep(0)
