"""Issue 12, acceptance 4: bad bodies on every route get a 4xx with no traceback; slow bodies
time out; aborted uploads cost one log line and no memory; logs carry no person's words."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

import lastmile.edge
from adapters.slack import SlackPlugin
from adapters.teams import TeamsPlugin
from bot.runtime import Runtime
from bot.safe_logs import failure
from bot.scheduling.scheduler import CheckinScheduler
from lastmile.edge import MAX_DEPTH, json_depth
from lastmile.server import build_app, runtime_for
from storage.models import InboxEvent, Note
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import message_im_payload, signed_headers
from tests.helpers import rows
from tests.processes import lastmile_env, serve
from tests.scheduling_support import API_KEY, write_config
from tests.slack_support import SIGNING_SECRET, slack_settings
from tests.teams_support import app_registration
from tests.uploads import Upload, aborted_upload, burst, rss_bytes

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 100_000 + "]" * 100_000
NOT_UTF8 = b'{"text": "caf\xe9 \xff\xfe"}'
SECRET_WORDS = "Sarah Jones said the scanner at 12 Elm Road is broken"


@dataclass
class Edge:
    """lastmile's web app with Slack (HTTP), Teams (loopback) and the usage API mounted."""

    runtime: Runtime
    client: TestClient[Any, Any]
    app: web.Application


@pytest.fixture
async def edge(
    database_url: str, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Edge]:
    from bot.config import Settings

    # As with `lastmile --verbose`: everything at DEBUG from before the app is built
    # (slack-bolt copies the root logger's level into its loggers when they are made).
    caplog.set_level(logging.DEBUG)
    async with FakeSlackApi() as fake:
        plugins = {
            "slack": SlackPlugin(slack_settings(fake, http=True, socket=False)),
            "teams": TeamsPlugin(app_registration()),
        }
        settings = Settings(
            database_url=database_url,
            lastmile_config=write_config(tmp_path),
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime = await runtime_for(settings, clock=clock, plugins=plugins)
        app = build_app(runtime, plugins)

        async def broken(request: web.Request) -> web.Response:
            raise ValueError(f"could not handle {SECRET_WORDS!r}")

        app.router.add_post("/test/broken", broken)
        try:
            async with TestClient(TestServer(app)) as client:
                yield Edge(runtime, client, app)
        finally:
            await runtime.close()


def _signed(body: bytes | str, content_type: str = JSON) -> dict[str, str]:
    text = body if isinstance(body, str) else body.decode("latin-1")
    return {**signed_headers(SIGNING_SECRET, text), "Content-Type": content_type}


USAGE = {"Authorization": f"Bearer {API_KEY}", "Content-Type": JSON}
TEAMS = {"Content-Type": JSON}

BAD_BODIES: list[tuple[str, str, dict[str, str] | None, bytes, int]] = [
    # (what, path, headers (None: Slack-signed JSON), body, status)
    ("slack truncated, unsigned", "/slack/events", {"Content-Type": JSON}, b'{"type": "ev', 401),
    ("slack truncated, signed", "/slack/events", None, b'{"type": "event_callback", "ev', 400),
    ("slack deep, unsigned", "/slack/events", {"Content-Type": JSON}, DEEP.encode(), 400),
    ("slack deep, signed", "/slack/events", None, DEEP.encode(), 400),
    ("slack not UTF-8", "/slack/events", None, NOT_UTF8, 400),
    (
        "slack deep form payload",
        "/slack/events",
        {"Content-Type": FORM},
        b"payload=" + quote("[" * 200 + "]" * 200).encode(),
        400,
    ),
    ("teams truncated", "/api/messages", TEAMS, b'{"type": "message", "te', 400),
    ("teams deep", "/api/messages", TEAMS, DEEP.encode(), 400),
    ("teams not UTF-8", "/api/messages", TEAMS, NOT_UTF8, 400),
    ("teams not an activity", "/api/messages", TEAMS, b"[1, 2, 3]", 400),
    ("usage truncated", "/api/v1/usage", USAGE, b'{"programme": "rou', 400),
    ("usage deep", "/api/v1/usage", USAGE, ("[" * 5_000 + "]" * 5_000).encode(), 400),
    ("usage not UTF-8", "/api/v1/usage", USAGE, NOT_UTF8, 400),
    ("usage too large", "/api/v1/usage", USAGE, b" " * 20_000, 413),
    ("usage not JSON", "/api/v1/usage", {**USAGE, "Content-Type": "text/plain"}, b"{}", 415),
    ("too large", "/api/messages", TEAMS, b" " * (1024 * 1024 + 1), 413),
]


async def test_every_bad_body_gets_a_4xx_and_no_traceback(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    statuses: dict[str, int] = {}
    for what, path, headers, body, _status in BAD_BODIES:
        sent = _signed(body) if headers is None else headers
        response = await edge.client.post(path, data=io.BytesIO(body), headers=sent)
        statuses[what] = response.status
    healthz = await edge.client.get("/healthz", data=b'{"a": 1}', headers=TEAMS)
    statuses["healthz with a body"] = healthz.status

    assert statuses == {what: status for what, *_, status in BAD_BODIES} | {
        "healthz with a body": 400
    }
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    assert await rows(edge.runtime, InboxEvent) == []
    assert (await edge.client.get("/healthz")).status == 200


async def test_a_refused_slack_request_is_not_logged_with_its_words(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps(message_im_payload(text=SECRET_WORDS))
    stale = int(time.time()) - 600
    answers = [
        await edge.client.post("/slack/events", data=body, headers=TEAMS),
        await edge.client.post(
            "/slack/events",
            data=body,
            headers=_signed(body) | {"X-Slack-Request-Timestamp": str(stale)},
        ),
    ]
    assert [answer.status for answer in answers] == [401, 401]
    assert "Sarah" not in caplog.text and "Elm Road" not in caplog.text


async def test_a_slow_body_gets_408_and_its_connection_is_closed(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lastmile.edge, "BODY_SECONDS", 0.5)
    server = edge.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"type": "mess'
    )
    await writer.drain()
    started = time.monotonic()
    answer = await asyncio.wait_for(reader.read(), 5)  # read() returns once the server closes
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.4 < time.monotonic() - started < 3


async def test_an_aborted_upload_logs_one_line(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = edge.client.server
    for path in ("/slack/events", "/api/messages"):
        await aborted_upload(str(server.host), int(server.port or 0), path, Upload(send=64 * 1024))
    await asyncio.sleep(0.5)
    # The test server cancels a handler whose client left (nothing is logged then);
    # `lastmile serve` lets it finish, and it logs one line (the burst test below).
    lines = [r.getMessage() for r in caplog.records if r.name == "lastmile.edge"]
    assert set(lines) <= {
        "POST /slack/events: upload aborted (ConnectionResetError)",
        "POST /api/messages: upload aborted (ConnectionResetError)",
    }
    assert len(lines) <= 2
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert (await edge.client.get("/healthz")).status == 200


async def test_a_failing_handler_logs_where_but_not_what(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    response = await edge.client.post("/test/broken", data=b"{}", headers=TEAMS)
    assert response.status == 500
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith("POST /test/broken failed: ValueError at tests/test_edge.py:")
    assert "Sarah" not in caplog.text and "Elm Road" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth("[]") == 1 and json_depth("12") == 0
    assert json_depth("[" * (MAX_DEPTH + 1)) == MAX_DEPTH + 1


@pytest.mark.sql
async def test_a_database_error_is_logged_without_the_row_it_could_not_write(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL's "Failing row contains (…)" quotes the row: here, what someone wrote.
    statement = insert(Note).values(person_id=None, kind="", text=SECRET_WORDS)
    with pytest.raises(IntegrityError) as caught:
        async with runtime.db.session() as session:
            await session.exec(statement)  # type: ignore[call-overload]
    if not runtime.db.is_sqlite:
        assert "Sarah" in str(caught.value)  # what str() or a traceback would have logged
    assert "IntegrityError" in failure(caught.value)
    assert "Sarah" not in failure(caught.value)

    async def tick(_runtime: Runtime, _now: object) -> int:
        async with runtime.db.session() as session:
            await session.exec(statement)  # type: ignore[call-overload]
        return 0

    caplog.set_level(logging.DEBUG)
    scheduler = CheckinScheduler(runtime)
    await scheduler._run("failing", tick)  # type: ignore[arg-type]
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "scheduled job failing failed" in line and "IntegrityError" in line
    assert "Sarah" not in caplog.text and "Elm Road" not in caplog.text
    assert "Failing row" not in caplog.text


# -- a real `lastmile serve` -------------------------------------------------------------------


async def test_a_burst_of_aborted_slow_uploads_leaves_memory_and_the_log_clean(
    tmp_path: Path,
) -> None:
    """3,000 uploads that announce 1 MB, trickle 128 KB in and reset the connection."""
    database = tmp_path / "lastmile.db"
    config = write_config(tmp_path)
    async with FakeSlackApi() as fake:
        env = lastmile_env(
            f"sqlite:///{database}",
            config,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.url,
        )
        log = tmp_path / "serve.log"
        async with serve(env, log) as served:
            pid = served.process.pid
            assert pid is not None
            idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", served.port)
            opened = time.monotonic()
            # Each route once, so everything loaded on first use is in the idle figure.
            for path in ("/slack/events", "/api/messages", "/api/v1/usage"):
                await aborted_upload("127.0.0.1", served.port, path, Upload(send=16 * 1024))
            await asyncio.sleep(2)
            idle = rss_bytes(pid)
            paths = ["/slack/events", "/api/messages", "/api/v1/usage"]
            await burst("127.0.0.1", served.port, paths, total=3000, concurrency=200)
            await asyncio.sleep(
                max(3.0, lastmile.edge.IDLE_SECONDS + 1 - (time.monotonic() - opened))
            )
            after = rss_bytes(pid)
            # A connection that sent nothing was closed by the server meanwhile.
            closed = await asyncio.wait_for(idle_reader.read(), 1)
            idle_writer.close()
    output = log.read_text(encoding="utf-8")
    print(
        f"RSS idle {idle / 1e6:.1f} MB, after the burst {after / 1e6:.1f} MB ({after / idle:.2f}x)"
    )
    assert after <= idle * 1.2
    assert closed == b""
    assert "Traceback" not in output and " ERROR " not in output
    aborted = [line for line in output.splitlines() if "upload aborted" in line]
    assert len(aborted) <= 3003
