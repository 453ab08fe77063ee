"""`POST /api/v1/usage`: authenticate the programme's key, check the body, queue a check-in."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from adapters.usage.body import UsageReport
from adapters.usage.keys import programme_for_key
from bot.runtime import Runtime
from bot.scheduling.triggered import TriggerOutcome, find_participant, trigger_checkin
from storage.db import DATABASE_UNAVAILABLE
from storage.themes import add_release
from storage.usage import claim_usage_key

logger = logging.getLogger(__name__)

PATH = "/api/v1/usage"
MAX_BODY = 16 * 1024
# An Idempotency-Key used as-is in the check-in's slot; anything else is hashed.
PLAIN_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")
# A report a little ahead of our clock is the tool's clock drifting, not a mistake.
CLOCK_SKEW = timedelta(minutes=5)
DATABASE_SECONDS = 10.0
"""How long a report may wait for the database before the tool is told to try again."""
RETRY_AFTER_SECONDS = 10


def _error(
    status: int, message: str, field: str | None = None, *, retry: bool = False
) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="lastmile"'
    if retry:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return web.json_response(body, status=status, headers=headers)


def _presented_key(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-Api-Key", "").strip()


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


def _fingerprint(report: UsageReport) -> str:
    canonical = json.dumps(report.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _idempotency_slot(request: web.Request, report: UsageReport) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if key and PLAIN_KEY.match(key):
        return key
    if key:
        return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    # No key: the same report sent twice is the same use of the tool.
    return "body-" + _fingerprint(report)[:40]


def _accepted(outcome: TriggerOutcome) -> web.Response:
    body: dict[str, Any] = {"checkin": outcome.checkin}
    if outcome.reason:
        body["reason"] = outcome.reason
    if outcome.send_after is not None:
        body["send_after"] = outcome.send_after.isoformat()
    return web.json_response(body, status=202)


class UsageApi:
    """The request handler, bound to a runtime and to the delivery loop's wake-up."""

    def __init__(self, runtime: Runtime, wake: Callable[[], None] | None) -> None:
        self.runtime = runtime
        self.wake = wake

    async def post(self, request: web.Request) -> web.Response:
        """Answer 202 with what became of the report, or 4xx saying why not (503: try later)."""
        config = self.runtime.config
        key_programme = programme_for_key(config, _presented_key(request))
        if key_programme is None:
            return _error(401, "missing or unknown API key")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, f"body is larger than {MAX_BODY} bytes")
        if request.content_type != "application/json":
            return _error(415, "send the report as application/json")
        try:
            raw = await request.json(loads=json.loads)
        except (ValueError, RecursionError):
            return _error(400, "body is not valid JSON")
        if not isinstance(raw, dict):
            return _error(422, "body must be a JSON object", "body")
        try:
            report = UsageReport.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            return _error(422, first["msg"], _field(first["loc"]))
        problem = report.person.problem()
        if problem is not None:
            field, message = problem
            return _error(422, message, field)
        if report.programme != key_programme:
            return _error(401, f"the API key is not valid for programme {report.programme!r}")
        now = self.runtime.clock()
        if report.used_at > now + CLOCK_SKEW:
            return _error(422, "used_at is in the future", "used_at")
        try:
            async with asyncio.timeout(DATABASE_SECONDS):
                return await self._record(request, report, now)
        except DATABASE_UNAVAILABLE as error:
            logger.warning("usage API: the database is unavailable: %s", type(error).__name__)
            return _error(503, "lastmile cannot store reports right now; try again", retry=True)

    async def _record(
        self, request: web.Request, report: UsageReport, now: datetime
    ) -> web.Response:
        config = self.runtime.config
        cohorts = {cohort_id: cohort.programme for cohort_id, cohort in config.cohorts.items()}
        slot = _idempotency_slot(request, report)
        async with self.runtime.db.session() as session:
            given = request.headers.get("Idempotency-Key", "").strip()
            if given and not await claim_usage_key(
                session, report.programme, slot, _fingerprint(report), now
            ):
                return _error(
                    422,
                    "this Idempotency-Key was used for a different report in the last "
                    "24 hours: send a new key for a new report",
                    "Idempotency-Key",
                )
            if report.version:
                await add_release(session, report.programme, report.version, "usage_api", now)
            person = await find_participant(
                session,
                report.programme,
                cohorts,
                platform=report.person.platform or "",
                user_id=report.person.id or "",
                email=report.person.email or "",
            )
            if person is None:
                return _error(404, "no such person in this programme", "person")
            outcome = await trigger_checkin(
                self.runtime,
                session,
                person,
                used_at=report.used_at,
                context=report.context,
                key=slot,
                now=now,
            )
        if outcome.checkin == "queued" and self.wake is not None:
            self.wake()
        return _accepted(outcome)


def mount_usage_api(
    app: web.Application, runtime: Runtime, wake: Callable[[], None] | None = None
) -> None:
    """Add `POST /api/v1/usage` to the app.

    Args:
        app: the web application.
        runtime: the built runtime.
        wake: called after a check-in is queued, so the delivery loop looks at once.
    """
    app.router.add_post(PATH, UsageApi(runtime, wake).post)
