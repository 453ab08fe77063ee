"""What operators watch (issue 13, acceptance 5): `/readyz` follows the database and its
schema, `/metrics` counts a check-in's life, the queues and delivery errors, and request
latency by route pattern only."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.config import Settings, example_config_path
from bot.runtime import Runtime
from bot.safe_logs import JsonLogFormatter
from bot.scheduling.checkins import expire_checkins, queue_due_checkins
from lastmile.server import build_app, runtime_for
from storage.migrate import shipped_head, upgrade_sync
from storage.models import Workaround
from tests.conftest import FakeClock
from tests.processes import own_postgres
from tests.scheduling_support import RecordingSender, flaky, loop_for, start_runtime, write_config
from tests.slack_support import DANA, HttpTransport, running
from tests.test_slack_flows import now_showing

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

LONDON_1530 = datetime(2026, 11, 17, 15, 30, tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)
CHICAGO_1530 = datetime(2026, 11, 17, 15, 30, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)


def samples(exposition: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: TestClient[aiohttp.web.Request, aiohttp.web.Application]) -> Samples:
    answer = await client.get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return samples(await answer.text())


@asynccontextmanager
async def served(
    runtime: Runtime,
) -> AsyncIterator[TestClient[aiohttp.web.Request, aiohttp.web.Application]]:
    async with TestClient(TestServer(build_app(runtime, {}))) as client:
        yield client


@pytest.mark.sql
async def test_metrics_count_a_checkin_planned_sent_and_answered_over_slack(
    database_url: str, clock: FakeClock
) -> None:
    async with running(database_url, clock) as slack:
        assert isinstance(slack.transport, HttpTransport)
        client = slack.transport.client
        before = await scrape(client)
        assert value(before, "lastmile_checkins_planned_total", kind="scheduled") == 0

        await slack.queue_checkin(DANA)
        queued = await scrape(client)
        assert value(queued, "lastmile_checkins_planned_total", kind="scheduled") == 1
        assert value(queued, "lastmile_queue_waiting", queue="outbox") == 1
        assert value(queued, "lastmile_checkins_sent_total", platform="slack") == 0

        assert await slack.deliver_outbox() == ["delivered"]
        question = slack.fake.last_call("chat.postMessage")
        sent = await scrape(client)
        assert value(sent, "lastmile_checkins_sent_total", platform="slack") == 1
        assert value(sent, "lastmile_queue_waiting", queue="outbox") == 0
        assert value(sent, "lastmile_checkins_answered_total", kind="scheduled") == 0

        await slack.click(question, "partly")
        await slack.click(question, "partly")  # a second tap counts once
        answered = await scrape(client)

    assert value(answered, "lastmile_checkins_answered_total", kind="scheduled") == 1
    assert value(answered, "lastmile_checkins_planned_total", kind="scheduled") == 1
    assert value(answered, "lastmile_queue_waiting", queue="inbox") == 0
    assert value(answered, "lastmile_queue_oldest_age_seconds", queue="inbox") == 0
    # Latency by route pattern: the Slack route and /metrics itself, nothing else.
    routes = {
        dict(labels)["route"]
        for (name, labels) in answered
        if name == "lastmile_request_duration_seconds_count"
    }
    assert routes == {"/slack/events", "/metrics"}
    assert value(
        answered, "lastmile_request_duration_seconds_count", route="/slack/events", method="POST"
    ) == (2)  # the two taps


@pytest.mark.sql
async def test_metrics_count_a_whole_slot_expiry_and_delivery_errors_by_reason(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    runtime = await start_runtime(database_url, write_config(tmp_path), clock)
    try:
        # London's 15:30 asks ULON, whose question meets a 429, a 500, then "user not
        # found"; Chicago's asks UCHI, whose question goes out.
        sender = RecordingSender(fail=flaky(["429", "500", "gone"]))
        loop = loop_for(runtime, sender)
        clock.now = LONDON_1530
        assert await queue_due_checkins(runtime, clock.now) == 1
        async with served(runtime) as client:
            planned = await scrape(client)
            for _ in range(3):
                await loop.deliver_due()
                clock.advance(minutes=20)
            clock.now = CHICAGO_1530
            assert await queue_due_checkins(runtime, clock.now) == 1
            await loop.deliver_due()
            clock.now = CHICAGO_1530 + timedelta(hours=5)
            await expire_checkins(runtime, clock.now)
            after = await scrape(client)
    finally:
        await runtime.close()

    assert value(planned, "lastmile_queue_waiting", queue="outbox") == 1
    assert value(planned, "lastmile_queue_oldest_age_seconds", queue="outbox") == 0
    assert value(planned, "lastmile_checkins_planned_total", kind="scheduled") == 1
    assert value(after, "lastmile_checkins_planned_total", kind="scheduled") == 2
    errors = {
        dict(labels)["reason"]: found
        for (name, labels), found in after.items()
        if name == "lastmile_delivery_errors_total"
    }
    assert errors == {"rate_limited": 1, "transient": 1, "unreachable": 1}
    assert value(after, "lastmile_checkins_sent_total", platform="slack") == 1
    # The one sent and the one never delivered both expire unanswered.
    assert value(after, "lastmile_checkins_expired_total") == 2


async def test_a_rolled_back_transaction_counts_nothing(runtime: Runtime) -> None:
    from bot.metrics import Counted
    from storage.db import tally

    with pytest.raises(RuntimeError):
        async with runtime.db.session() as session:
            tally(session, Counted.EXPIRED, amount=5)
            raise RuntimeError("rolled back")
    async with runtime.db.session() as session:
        tally(session, Counted.EXPIRED, amount=2)
    async with served(runtime) as client:
        found = await scrape(client)
    assert value(found, "lastmile_checkins_expired_total") == 2


async def test_latency_is_labelled_by_route_pattern_never_by_path(runtime: Runtime) -> None:
    async with served(runtime) as client:
        for number in range(3):
            assert (await client.get(f"/reports/not-a-token-{number}")).status == 403
            assert (await client.get(f"/no/such/{number}")).status == 404
        found = await scrape(client)
    routes = {
        dict(labels)["route"]
        for (name, labels) in found
        if name == "lastmile_request_duration_seconds_count"
    }
    assert routes == {"/reports/{token}", "unmatched"}
    for route in routes:
        count = value(found, "lastmile_request_duration_seconds_count", route=route, method="GET")
        assert count == 3


@pytest.mark.sql
async def test_readyz_needs_the_schema_this_code_ships(database_url: str, clock: FakeClock) -> None:
    settings = Settings(
        database_url=database_url,
        lastmile_config=example_config_path(),
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = await runtime_for(settings, clock=clock)
    head = shipped_head()

    async def set_revision(revision: str) -> None:
        async with runtime.db.session() as session:
            await (await session.connection()).execute(
                text("UPDATE alembic_version SET version_num = :revision"),
                {"revision": revision},
            )

    try:
        async with served(runtime) as client:
            ready = await client.get("/readyz")
            assert (ready.status, await ready.json()) == (200, {"status": "ready"})
            await set_revision("0001")
            try:
                behind = await client.get("/readyz")
                healthy = await client.get("/healthz")
            finally:
                await set_revision(head)
            again = await client.get("/readyz")
            assert (behind.status, await behind.json()) == (
                503,
                {
                    "status": "unavailable",
                    "reason": f"database schema is at 0001, this code needs {head}",
                },
            )
            assert healthy.status == 200  # alive, just not ready
            assert again.status == 200
    finally:
        await runtime.close()


@pytest.mark.postgres
async def test_readyz_fails_while_postgres_is_stopped_and_recovers_by_itself(
    clock: FakeClock,
) -> None:
    with own_postgres() as database:
        await asyncio.to_thread(upgrade_sync, database.url)
        settings = Settings(
            database_url=database.url,
            lastmile_config=example_config_path(),
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime = await runtime_for(settings, clock=clock)
        try:
            async with served(runtime) as client:
                before = await client.get("/readyz")
                await asyncio.to_thread(database.stop)
                during = await client.get("/readyz")
                during_body = await during.json()
                scraped = await client.get("/metrics")
                during_metrics = samples(await scraped.text())
                await asyncio.to_thread(database.start)
                deadline = time.monotonic() + 60
                while (await client.get("/readyz")).status != 200:
                    assert time.monotonic() < deadline, "/readyz did not recover by itself"
                    await asyncio.sleep(0.25)
                after = samples(await (await client.get("/metrics")).text())
        finally:
            await runtime.close()

    assert before.status == 200
    assert (during.status, during_body) == (
        503,
        {"status": "unavailable", "reason": "database unreachable"},
    )
    # /metrics still answers (the counters live in the process); the queues read unknown.
    assert scraped.status == 200
    waiting = value(during_metrics, "lastmile_queue_waiting", queue="inbox")
    assert waiting != waiting  # NaN
    assert value(after, "lastmile_queue_waiting", queue="inbox") == 0


WRITTEN = "Rang Priya Shah on 07700 900123 because the route sent me to a closed bridge"
NOTE = "my supervisor ignores the app and tells us to skip the scanner"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged, at DEBUG, through the formatter LOG_FORMAT=json installs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_json_logs_carry_event_ids_and_never_what_a_person_wrote(
    database_url: str, clock: FakeClock, json_log: io.StringIO
) -> None:
    async with running(database_url, clock) as slack:
        question = await slack.checkin_message(DANA)
        await slack.click(question, "partly")
        await slack.click(now_showing(slack, question), "other")
        view_id = slack.fake.last_call("views.open").response["view"]["id"]  # type: ignore[index]
        await slack.send("interactive", slack.submit_payload(view_id, WRITTEN))
        await slack.send("events", slack.dm_payload(NOTE))
        [workaround] = await slack.rows(Workaround)
        try:
            raise ValueError(f"Failing row contains ({WRITTEN})")
        except ValueError:
            logging.getLogger("lastmile.test").exception(
                "a handler failed", extra={"inbox_id": 7, "text": NOTE}
            )

    assert workaround.text == WRITTEN  # the words were there to leak
    output = json_log.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) > 5
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    for words in (WRITTEN, NOTE):
        for fragment in (words, words[:20], "07700 900123", "Priya"):
            assert fragment not in output
    handled = [line for line in lines if line["message"] == "inbox event handled"]
    delivered = [line for line in lines if line["message"] == "outbox message delivered"]
    assert handled and all(isinstance(line["inbox_id"], int) for line in handled)
    assert delivered and all(isinstance(line["message_id"], int) for line in delivered)
    failed = lines[-1]
    assert failed["level"] == "ERROR" and failed["inbox_id"] == 7 and "text" not in failed
    assert failed["error"].startswith("ValueError at tests/test_observe.py:")


def test_the_head_read_from_the_files_is_alembics_own(tmp_path: Path) -> None:
    from storage.migrate import _declared, head_revision

    assert shipped_head() == head_revision(None)
    merge = tmp_path / "0009_merge.py"
    merge.write_text(
        "from typing import Union\n"
        "revision: str = '0009'\n"
        "down_revision: Union[str, tuple[str, ...], None] = ('0008_a', '0008_b')\n"
    )
    assert _declared(merge) == ("0009", ("0008_a", "0008_b"))
    first = tmp_path / "0001.py"
    first.write_text("revision = '0001'\ndown_revision = None\n")
    assert _declared(first) == ("0001", ())
