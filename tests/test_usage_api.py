"""`POST /api/v1/usage` on SQLite and PostgreSQL: 202 and one check-in after the delay; repeated
idempotency key, bad key and bad body (issue 5, acceptance 3); a reused key with another
report, JSON only, and 503 with Retry-After while the database is down (issue 12)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from sqlmodel import col

from bot.replies import Choices
from bot.runtime import Runtime
from lastmile.server import build_app
from storage.migrate import upgrade_sync
from storage.models import CheckIn, OutboxMessage, Person, UsageKey
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.processes import own_postgres
from tests.scheduling_support import API_KEY, RecordingSender, loop_for, start_runtime, write_config

NOW = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)  # Tuesday 14:00 in London
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = NOW
    built = await start_runtime(database_url, write_config(tmp_path, cap=2), clock)
    yield built
    await built.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(build_app(runtime, {}))) as test_client:
        yield test_client


def report(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "programme": "routing",
        "person": {"platform": "slack", "id": "ULON"},
        "used_at": "2026-11-17T13:58:00+00:00",
        "context": "suggested route 12",
    }
    body.update(changes)
    return body


async def post(
    client: TestClient[Any, Any], body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/api/v1/usage", json=body, headers=AUTH if headers is None else headers
    )
    return response.status, await response.json()


async def test_usage_queues_one_checkin_after_the_delay(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    status, body = await post(client, report())
    assert (status, body) == (202, {"checkin": "queued", "send_after": "2026-11-17T14:08:00+00:00"})
    (checkin,) = await rows(runtime, CheckIn)
    assert (checkin.kind, checkin.context) == ("triggered", "suggested route 12")
    sender = RecordingSender()
    loop = loop_for(runtime, sender)
    clock.now = NOW + timedelta(minutes=7)
    await loop.deliver_due()
    assert sender.sent == []
    clock.now = NOW + timedelta(minutes=8)
    await loop.deliver_due()
    (message,) = sender.sent
    question = message.replies[-1]  # after the welcome: it is lastmile's first message
    assert isinstance(question, Choices)
    assert question.text == "Did RoutePilot help you just now (suggested route 12)?"
    assert message.recipient is not None and message.recipient.user_id == "ULON"


async def test_repeated_idempotency_key_makes_no_second_checkin(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    headers = {**AUTH, "Idempotency-Key": "telemetry-4711"}
    first = await post(client, report(), headers)
    again = await post(client, report(), headers)
    assert first == again == (202, {"checkin": "queued", "send_after": "2026-11-17T14:08:00+00:00"})
    # The same report without a key is the same use of the tool, too.
    assert (await post(client, report(context="other")))[0] == 202
    assert (await post(client, report(context="other")))[0] == 202
    slots = sorted(c.slot for c in await rows(runtime, CheckIn))
    assert len(slots) == 2 and "usage:telemetry-4711" in slots
    assert len(await rows(runtime, OutboxMessage)) == 2


BAD_KEYS = [
    {},
    {"Authorization": "Bearer lmk_wrong"},
    {"Authorization": API_KEY},
    {"X-Api-Key": "lmk_other"},  # the other programme's key
]


async def test_bad_or_missing_key_is_401(client: TestClient[Any, Any], runtime: Runtime) -> None:
    for headers in BAD_KEYS:
        status, body = await post(client, report(), headers)
        assert status == 401 and "API key" in body["error"], headers
    assert await rows(runtime, CheckIn) == []


async def test_x_api_key_header_works(client: TestClient[Any, Any]) -> None:
    assert (await post(client, report(), {"X-Api-Key": API_KEY}))[0] == 202


BAD_BODIES: list[tuple[Any, str]] = [
    (report(person={"platform": "slack"}), "person.id"),
    (report(person={"id": "ULON"}), "person.platform"),
    (report(person={}), "person"),
    (report(person={"platform": "irc", "id": "x"}), "person.platform"),
    (report(person={"email": "not-an-address"}), "person.email"),
    (report(used_at="2026-11-17T13:58:00"), "used_at"),
    (report(used_at="yesterday"), "used_at"),
    (report(used_at="2026-11-17T15:00:00+00:00"), "used_at"),
    (report(context="x" * 201), "context"),
    (
        {"person": {"platform": "slack", "id": "ULON"}, "used_at": "2026-11-17T13:58:00Z"},
        "programme",
    ),
    ([1, 2], "body"),
]


async def test_bad_body_is_422_naming_the_field(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    for body, field in BAD_BODIES:
        status, answer = await post(client, body)
        assert (status, answer["field"]) == (422, field), body
        assert answer["error"]
    assert await rows(runtime, CheckIn) == []


async def test_malformed_json_is_400(client: TestClient[Any, Any]) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    response = await client.post("/api/v1/usage", data=b"{not json", headers=headers)
    assert response.status == 400
    assert await response.json() == {"error": "body is not valid JSON"}


async def test_unknown_person_is_404(client: TestClient[Any, Any]) -> None:
    for person in ({"platform": "slack", "id": "UNOBODY"}, {"platform": "slack", "id": "UOTHER"}):
        status, body = await post(client, report(person=person))
        assert (status, body["field"]) == (404, "person")


async def test_person_found_by_email(client: TestClient[Any, Any], runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        await session.exec(
            update(Person)
            .where(col(Person.platform_user_id) == "UCHI")
            .values(email="Kim@Example.com")
        )
    status, body = await post(client, report(person={"email": "kim@example.com"}))
    assert (status, body["checkin"]) == (202, "queued")
    (checkin,) = await rows(runtime, CheckIn)
    (kim,) = await rows(runtime, Person, platform_user_id="UCHI")
    assert checkin.person_id == kim.id


async def test_quiet_hours_pause_and_cap_skip_with_the_reason(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    evening = report(used_at="2026-11-17T18:55:00+00:00")
    clock.now = datetime(2026, 11, 17, 18, 56, tzinfo=UTC)
    assert await post(client, evening) == (202, {"checkin": "skipped", "reason": "quiet_hours"})
    clock.now = NOW
    # The cap (2 a week here) counts triggered check-ins too.
    for minute in (10, 20):
        answer = await post(client, report(used_at=f"2026-11-17T13:{minute}:00+00:00"))
        assert answer[1]["checkin"] == "queued"
    assert await post(client, report()) == (202, {"checkin": "skipped", "reason": "weekly_cap"})
    async with runtime.db.session() as session:
        await session.exec(
            update(Person)
            .where(col(Person.platform_user_id) == "UCHI")
            .values(status="paused", paused_until=NOW + timedelta(days=7))
        )
    chicago = report(person={"platform": "slack", "id": "UCHI"})
    assert await post(client, chicago) == (202, {"checkin": "skipped", "reason": "paused"})
    stale = report(used_at="2026-11-16T09:00:00+00:00")
    assert await post(client, stale) == (202, {"checkin": "skipped", "reason": "too_old"})
    assert len(await rows(runtime, CheckIn)) == 2


# -- issue 12: reused keys, JSON only, the database down ----------------------------------

KEYED = {**AUTH, "Idempotency-Key": "telemetry-4711"}


async def _post(
    client: TestClient[Any, Any], body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    answer = await client.post("/api/v1/usage", data=body, headers=headers)
    return answer.status, await answer.json()


def _json(value: Any, **options: Any) -> bytes:
    return json.dumps(value, **options).encode()


@pytest.mark.sql
async def test_a_reused_key_with_another_report_is_422_and_the_first_stands(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    headers = {**KEYED, "Content-Type": "application/json"}
    first = await _post(client, _json(report()), headers)
    # The same report with other spacing and key order is the same report: a retry.
    retried = await _post(client, _json(dict(reversed(report().items())), indent=2), headers)
    other = await _post(client, _json(report(context="suggested route 99")), headers)
    assert (
        first == retried == (202, {"checkin": "queued", "send_after": "2026-11-17T14:08:00+00:00"})
    )
    assert other == (
        422,
        {
            "error": "this Idempotency-Key was used for a different report in the last 24 "
            "hours: send a new key for a new report",
            "field": "Idempotency-Key",
        },
    )
    (checkin,) = await rows(runtime, CheckIn)
    assert checkin.context == "suggested route 12"
    # A day later the key may stand for a new report.
    clock.now = NOW + timedelta(hours=25)
    later = report(used_at=(clock.now - timedelta(minutes=1)).isoformat(), context="route 99")
    assert (await _post(client, _json(later), headers))[0] == 202
    assert [key.key for key in await rows(runtime, UsageKey)] == ["telemetry-4711"]


@pytest.mark.sql
async def test_only_json_is_read(client: TestClient[Any, Any], runtime: Runtime) -> None:
    body = _json(report())
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        headers = {**AUTH, "Content-Type": content_type} if content_type else AUTH
        status, answer = await _post(client, body, headers)
        assert (status, answer) == (415, {"error": "send the report as application/json"})
    assert await rows(runtime, CheckIn) == []
    json_with_charset = {**AUTH, "Content-Type": "application/json; charset=utf-8"}
    assert (await _post(client, body, json_with_charset))[0] == 202


async def test_while_the_database_is_down_the_answer_is_503_with_retry_after(
    tmp_path: Path, clock: FakeClock
) -> None:
    clock.now = NOW
    with own_postgres() as cluster:
        upgrade_sync(cluster.url)
        runtime = await start_runtime(cluster.url, write_config(tmp_path), clock)
        try:
            async with TestClient(TestServer(build_app(runtime, {}))) as client:
                headers = {
                    "Authorization": f"Bearer {API_KEY}",
                    "Content-Type": "application/json",
                }
                first = report(person={"platform": "slack", "id": "ULON"})
                assert (await _post(client, _json(first), headers))[0] == 202
                cluster.stop()
                down = await client.post(
                    "/api/v1/usage", data=_json(report(context="during")), headers=headers
                )
                refusal = await down.json()
                health = await client.get("/healthz")
                cluster.start()
                back = await _post(client, _json(report(context="after")), headers)
        finally:
            await runtime.close()
    assert down.status == 503 and down.headers["Retry-After"] == "10"
    assert refusal == {"error": "lastmile cannot store reports right now; try again"}
    assert health.status == 503
    assert back[0] == 202
