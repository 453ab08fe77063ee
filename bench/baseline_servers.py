"""The baselines `bench/ack.py` measures lastmile against, each run as its own process.

    python bench/baseline_servers.py bolt DATABASE_URL PORT SLACK_API_URL BOT_TOKEN
    python bench/baseline_servers.py aiohttp - PORT - -

`bolt`: a bare slack-bolt AsyncApp on aiohttp whose listener inserts one row into the
same database before it acknowledges (a click made durable, and nothing else).
`aiohttp`: a bare aiohttp handler that answers 200 at once.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Column, Integer, MetaData, Table, Text

from storage.db import Database

SIGNING_SECRET = "bench-signing-secret"

metadata = MetaData()
CLICKS = Table(
    "bench_click",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", Text, nullable=False),
)


async def bolt_app(database_url: str, slack_api_url: str, bot_token: str) -> web.Application:
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
    client = AsyncWebClient(token=bot_token, base_url=slack_api_url)
    bolt = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=True)

    @bolt.action(re.compile(r"^lastmile\."))
    async def clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        async with database.session() as session:
            await session.exec(CLICKS.insert().values(body=str(body["actions"][0]["value"])))
        await ack()

    async def endpoint(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    app.router.add_get("/healthz", lambda _request: _ok())
    return app


async def _ok() -> web.Response:
    return web.Response(text="ok")


async def aiohttp_app() -> web.Application:
    async def endpoint(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    app.router.add_get("/healthz", lambda _request: _ok())
    return app


async def main(kind: str, database_url: str, port: int, slack_api_url: str, token: str) -> None:
    bolt = kind == "bolt"
    app = await (bolt_app(database_url, slack_api_url, token) if bolt else aiohttp_app())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]))
