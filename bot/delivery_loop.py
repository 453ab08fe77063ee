"""The outbox delivery loop: claims due messages, sends them through platform senders, marks them.

Exactly once: a message is claimed with a lease before it is sent and marked
delivered right after the platform accepts it (group commit: marks that arrive
while one transaction commits share the next), so a delivered row is never sent
again and a claim whose holder died is picked up once its lease runs out. The one
duplicate left is a send the platform accepted just before the process died,
before its mark committed; the window is about one commit (milliseconds).

In batches: one claim, one reservation of the whole batch's rate budget (shared by
every replica through the database), sends spread over the budget concurrently
across conversations, and marks grouped into few transactions.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.delivery import Outbound, Recipient, RetryLater, Undeliverable, retry_after_heard
from bot.group_commit import GroupCommit
from bot.leases import LEASE, DeadClaims, LeaseKeeper, process_name
from bot.metrics import Counted, DeliveryError
from bot.passes import Passes
from bot.ratelimit import RateLimiter, Request
from bot.replies import reply_from_dict
from bot.runtime import Runtime
from bot.safe_logs import failure
from bot.scheduling.plan import quiet_ends
from bot.scheduling.policy import participation_reason
from bot.shared_ratelimit import SharedRateLimiter
from bot.turn import person_timezone
from storage.db import tally
from storage.models import ConversationAddress, OutboxMessage, Person
from storage.outbox import (
    Delivered,
    claim_due,
    defer,
    mark_failed,
    mark_retry,
    record_deliveries,
    renew_claims,
)
from storage.people import mark_unreachable, recipients
from storage.scheduling import (
    checkin_statuses,
)

logger = logging.getLogger(__name__)

# Which check-in status a question or reminder still makes sense in.
OPEN_STATUS = {"checkin": "scheduled", "reminder": "sent"}


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for passing failures; Retry-After wins when given."""

    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt number `attempts + 1`."""
        if after is not None:
            return max(after, 0.0)
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(attempts, 30))
        # "Equal jitter": never retry at once, and replicas hit by the same outage
        # spread their retries instead of coming back together.
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class _Job:
    row: OutboxMessage
    person: Person | None
    address: ConversationAddress | None
    checkin_status: str | None


@dataclass
class _Send:
    job: _Job
    message: Outbound
    request: Request
    due: float = 0.0
    """When its share of the rate budget comes (the limiter's clock)."""


class DeliveryLoop(Passes):
    """Sends due outbox messages for every platform connected with a sender.

    Rows for platforms without a sender (such as `local`, shown by `lastmile chat`)
    stay pending. Claims are short leases renewed while a message waits for its
    platform's rate limit or its send, so a dead process's messages pass on in seconds.
    The rate budget is the database's (`SharedRateLimiter`, with LASTMILE_RATE_LIMITS)
    unless a limiter is given.
    """

    name = "lastmile-delivery"

    def __init__(
        self,
        runtime: Runtime,
        *,
        limiter: RateLimiter | None = None,
        lease: timedelta = LEASE,
        interval: float = 2.0,
        batch: int | None = None,
        concurrency: int | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(interval)
        self.runtime = runtime
        self.limiter = limiter or SharedRateLimiter(runtime.db, runtime.settings.rate_limits)
        self.owner = process_name()
        self.leases = LeaseKeeper(self._renew, runtime.clock, lease)
        self.dead_claims = DeadClaims(runtime.db, OutboxMessage, runtime.clock)
        # PostgreSQL: bigger batches, so fewer pauses between claims; SQLite has one writer.
        self.batch = batch or (100 if runtime.db.is_sqlite else 200)
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        # Conversations sent to at once. SQLite has one writer, so more concurrent
        # marks there only queue on its lock (measured in bench/outbox_throughput.py).
        if concurrency is None:
            # It also bounds the duplicates a killed replica leaves (sent, not yet marked).
            concurrency = 8 if runtime.db.is_sqlite else 16
        self._slots = asyncio.Semaphore(concurrency)
        self._marks: GroupCommit[tuple[Delivered, str]] = GroupCommit(self._record)
        self._pausing: set[asyncio.Task[None]] = set()

    async def one_pass(self) -> int:
        """Deliver one batch of due messages."""
        return await self.deliver_due()

    async def on_stop(self) -> None:
        """Stop renewing leases."""
        await self.leases.stop()

    async def _renew(self, ids: list[int], until: datetime) -> None:
        async with self.runtime.db.session() as session:
            await renew_claims(session, ids, self.owner, until)

    async def deliver_due(self) -> int:
        """Claim one batch of due messages and send them.

        Messages to the same person (or channel) go out one after another, in
        order; different conversations go out concurrently.

        Returns:
            How many messages were claimed.
        """
        platforms = tuple(
            sorted(name for name, connection in self.runtime.platforms.items() if connection.sender)
        )
        if not platforms:
            return 0
        await self.dead_claims.end_due()
        now = self.runtime.clock()
        async with self.runtime.db.session() as session:
            rows = await claim_due(
                session,
                now,
                platforms=platforms,
                lease=self.leases.lease,
                limit=self.batch,
                owner=self.owner,
            )
            if not rows:
                return 0
            people = await recipients(
                session, sorted({row.person_id for row in rows if row.person_id is not None})
            )
            statuses = await checkin_statuses(
                session,
                sorted(
                    {
                        row.checkin_id
                        for row in rows
                        if row.checkin_id is not None and row.purpose in OPEN_STATUS
                    }
                ),
            )
        self.leases.hold(row.id for row in rows if row.id is not None)
        jobs = []
        for row in rows:
            found = people.get(row.person_id) if row.person_id is not None else None
            person, address = found if found is not None else (None, None)
            status = statuses.get(row.checkin_id) if row.checkin_id is not None else None
            jobs.append(_Job(row, person, address, status))
        try:
            groups = await self._plan(jobs, now)
        except Exception:
            # The database went away before anything was sent: the claims lapse and
            # this or another replica takes them up.
            self.leases.release(row.id for row in rows if row.id is not None)
            raise
        await asyncio.gather(*(self._deliver_group(group) for group in groups))
        if self._pausing:
            await asyncio.gather(*self._pausing)  # shared before the next batch reserves
        return len(rows)

    async def _plan(self, jobs: Sequence[_Job], now: datetime) -> list[list[_Send]]:
        """Hold back what must not go now, and reserve the rest's rate budget in one go.

        Returns:
            The sends by conversation, each due at its reserved moment.
        """
        groups: dict[tuple[str, str], list[_Send]] = {}
        for job in await self._hold_back(jobs, now):
            row = job.row
            message = self._outbound(job)
            plugin = self.runtime.platforms[row.platform].plugin
            request = Request(row.platform, plugin.limits, plugin.rate_scopes(message))
            conversation = (
                f"person:{row.person_id}" if row.person_id else row.destination or row.dedupe_key
            )
            groups.setdefault((row.platform, conversation), []).append(_Send(job, message, request))
        # Conversation by conversation, so each one's messages are due in order.
        sends = [send for group in groups.values() for send in group]
        waits = await self.limiter.reserve([send.request for send in sends])
        start = self.limiter.clock()
        for send, wait in zip(sends, waits, strict=True):
            send.due = start + wait
        return list(groups.values())

    async def _hold_back(self, jobs: Sequence[_Job], now: datetime) -> list[_Job]:
        """Defer or drop, in one transaction, what must not go out now; the rest."""
        held = [(job, hold) for job in jobs if (hold := self._hold_reason(job, now)) is not None]
        if not held:
            return list(jobs)
        async with self.runtime.db.session() as session:
            for job, (reason, retry_at) in held:
                assert job.row.id is not None
                if retry_at is None:
                    await mark_failed(session, job.row.id, f"dropped: {reason}")
                else:
                    await defer(session, job.row.id, retry_at, f"waiting: {reason}")
        for job, (reason, _) in held:
            logger.info("outbox message held: %s", reason, extra={"message_id": job.row.id})
        self.leases.release(job.row.id for job, _ in held if job.row.id is not None)
        return [job for job in jobs if all(job is not other for other, _ in held)]

    async def _deliver_group(self, sends: Sequence[_Send]) -> None:
        for index, send in enumerate(sends):
            row = send.job.row
            assert row.id is not None
            try:
                await self._wait_turn(send)
                # The slot is held until the mark commits: what a slot sent is recorded
                # before the slot sends anything else.
                async with self._slots:
                    retry_at = await self._deliver(send)
            except Exception as error:
                # A bug or a database hiccup on one message must not stop the rest;
                # its lease runs out and it is tried again.
                logger.error(
                    "outbox message could not be handled: %s",
                    failure(error),
                    extra={"message_id": row.id},
                )
                retry_at = None
            finally:
                self.leases.release([row.id])
            if retry_at is not None:
                # Keep the conversation's order: what follows waits behind it.
                await self._defer_rest([later.job for later in sends[index + 1 :]], retry_at)
                return

    async def _defer_rest(self, jobs: Sequence[_Job], retry_at: datetime) -> None:
        if not jobs:
            return
        async with self.runtime.db.session() as session:
            for job in jobs:
                assert job.row.id is not None
                await defer(session, job.row.id, retry_at, "waiting behind an earlier message")
        self.leases.release(job.row.id for job in jobs if job.row.id is not None)

    def _hold_reason(self, job: _Job, now: datetime) -> tuple[str, datetime | None] | None:
        """Why a check-in or reminder must not go out now: (reason, retry at or None to drop)."""
        row = job.row
        if row.person_id is not None and job.person is None:
            return ("person erased", None)
        if row.created_at + self.retry.give_up_after <= now:
            return (f"gave up after {self.retry.give_up_after}", None)
        if row.purpose not in OPEN_STATUS or job.person is None:
            return None
        if job.checkin_status != OPEN_STATUS[row.purpose]:
            return (f"check-in {job.checkin_status or 'erased'} before delivery", None)
        reason = participation_reason(job.person, now)
        if reason:
            return (f"person {reason}", None)
        config = self.runtime.config
        cohort_id = job.person.cohort_id or ""
        cohort = config.cohorts.get(cohort_id)
        if cohort is None:
            return None
        zone = person_timezone(job.person, config)
        opens = quiet_ends(cohort, zone, now)
        if opens != now:
            return ("quiet hours", opens)
        return None

    def _outbound(self, job: _Job) -> Outbound:
        row = job.row
        assert row.id is not None
        recipient = None
        if job.person is not None:
            assert job.person.id is not None
            recipient = Recipient(
                person_id=job.person.id,
                platform=row.platform,
                user_id=job.person.platform_user_id,
                workspace_id=job.person.workspace_id,
                address=dict(job.address.data) if job.address is not None else {},
            )
        return Outbound(
            message_id=row.id,
            purpose=row.purpose,
            replies=tuple(reply_from_dict(item) for item in row.payload.get("replies", [])),
            recipient=recipient,
            destination=row.destination,
            checkin_id=row.checkin_id,
            context=dict(row.payload.get("context") or {}),
            locale=str(row.payload.get("locale") or ""),
        )

    async def _retry(self, row: OutboxMessage, error: RetryLater) -> datetime:
        assert row.id is not None
        delay = self.retry.delay(row.attempts, error.after, self.rng)
        retry_at = self.runtime.clock() + timedelta(seconds=delay)
        rest = None
        if error.sent:
            # What went out stays out: only the rest is sent again.
            rest = {**row.payload, "replies": row.payload.get("replies", [])[error.sent :]}
        async with self.runtime.db.session() as session:
            await mark_retry(session, row.id, retry_at, str(error), payload=rest)
        logger.info(
            "outbox message will be retried in %.1f s: %s",
            delay,
            error,
            extra={"message_id": row.id},
        )
        return retry_at

    async def _wait_turn(self, send: _Send) -> None:
        """Sleep until the send's reserved moment, and out any pause learned since."""
        limiter = self.limiter
        delay = send.due - limiter.clock()
        while delay > 0:
            await limiter.sleep(delay)
            await limiter.look_for_pauses()
            delay = limiter.paused_for(send.request)

    async def _deliver(self, send: _Send) -> datetime | None:
        """Send one message; return when to try again if it must wait, else None."""
        row, message = send.job.row, send.message
        assert row.id is not None
        connection = self.runtime.platforms[row.platform]
        assert connection.sender is not None
        metrics = self.runtime.metrics

        def hear(after: float) -> None:
            # Held here at once, and written for every replica while the sender (and
            # slack_sdk, for a short Retry-After) waits it out.
            self.limiter.hold_here(send.request, after)
            task = asyncio.get_running_loop().create_task(self._pause(send.request, after))
            self._pausing.add(task)
            task.add_done_callback(self._pausing.discard)

        try:
            with retry_after_heard(hear):
                message_ref = await connection.sender.deliver(message)
        except RetryLater as error:
            if error.sent and error.sent >= len(message.replies):
                # All of it went out before the failure (a chart that would not upload).
                message_ref = {}
            else:
                limited = error.after is not None
                reason = DeliveryError.RATE_LIMITED if limited else DeliveryError.TRANSIENT
                metrics.delivery_failed(row.platform, reason)
                return await self._retry(row, error)
        except Undeliverable as error:
            metrics.delivery_failed(
                row.platform,
                DeliveryError.UNREACHABLE
                if error.person_unreachable
                else DeliveryError.UNDELIVERABLE,
            )
            async with self.runtime.db.session() as session:
                await mark_failed(session, row.id, str(error))
                if error.person_unreachable and row.person_id is not None:
                    await mark_unreachable(session, row.person_id)
            logger.warning("outbox message undeliverable: %s", error, extra={"message_id": row.id})
            return None
        except Exception as error:
            metrics.delivery_failed(row.platform, DeliveryError.SENDER_ERROR)
            logger.error(
                "sender failed; message will be retried: %s",
                failure(error),
                extra={"message_id": row.id},
            )
            return await self._retry(row, RetryLater(f"sender error: {type(error).__name__}"))
        # The duplicate window: the mark commits with those of concurrent sends.
        delivered = Delivered(
            row.id,
            sent_checkin_id=row.checkin_id if row.purpose == "checkin" else None,
            message_ref=message_ref,
            forget_contents=row.purpose == "reply",
        )
        await self._marks.add((delivered, row.platform))
        return None

    async def _pause(self, request: Request, after: float) -> None:
        """Every replica holds the request's scopes until the platform's Retry-After ends."""
        try:
            await self.limiter.pause(request, after)
        except Exception as error:
            logger.warning(
                "a pause for %s could not be shared: %s", request.platform, failure(error)
            )

    async def _record(self, marks: Sequence[tuple[Delivered, str]]) -> None:
        """Mark a group of sends delivered, counting the check-ins sent per platform."""
        async with self.runtime.db.session() as session:
            await record_deliveries(session, [done for done, _ in marks], self.runtime.clock())
            for done, platform in marks:
                if done.sent_checkin_id is not None:
                    tally(session, Counted.SENT, platform)
        for done, _ in marks:
            logger.debug(
                "outbox message delivered",
                extra={"message_id": done.message_id, "checkin_id": done.sent_checkin_id},
            )
