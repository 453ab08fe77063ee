"""The inbox: every inbound payload is stored before its platform hears "got it", then handled.

`InboxWriter` is the edge's side: an adapter hands it the payload and answers its
platform only once the row is committed (a 5xx when it cannot be). `InboxWorker`
handles stored rows: a person's in the order they arrived, different people at once,
under short leases kept alive while it works, so a restarted process or another
replica finishes what a dead one started. Handling an event, queueing its replies in
the outbox and marking it done are one transaction (which a group of different people's
events share, one commit for all): an event counts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.engine import Clock, Handled
from bot.leases import LEASE, DeadClaims, LeaseKeeper, process_name
from bot.outgoing import payload_of
from bot.passes import Passes
from bot.platform import Connection, Inbound
from bot.safe_logs import failure
from bot.stopping import cancel_and_wait
from storage.claims import end_own_claims
from storage.db import DATABASE_UNAVAILABLE, Database
from storage.held import hold_writes
from storage.inbox import (
    Finished,
    NewEvent,
    claim_heads,
    finish,
    outcome,
    purge_handled,
    record_failure,
    renew_leases,
    store_events,
)
from storage.models import InboxEvent
from storage.outbox import NewMessage, enqueue_many, release_replies

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

STORE_TIMEOUT = 2.5
"""Seconds an adapter waits for its row to commit: Slack wants its answer within 3."""
HOLD_FOLLOW_UPS = timedelta(seconds=10)
"""Replies to an event whose platform waits for an immediate answer go out after that
answer; this long at most if the process answering it dies."""
MAX_ATTEMPTS = 5
"""Handling that raised this often is given up (logged), so one bad payload cannot
hold a person's later events back for ever."""
ANSWER_POLL_SECONDS = 0.2
GROUP = 32
"""Events handled in one transaction at most on PostgreSQL (groups run side by side)."""
POSTGRES_CONCURRENCY = 4
"""Groups handled at once on PostgreSQL. More only crowd the one Python thread that also
acknowledges what arrives: with bench/ack.py, 8 groups of 16 stored 112-154 answers a
second at an acknowledgement p99 of 234-358 ms, 4 groups of 32 stored 147-162 at
209-247 ms."""
SQLITE_GROUP = 4
"""On SQLite while events arrive: an acknowledgement waits for the group in progress to
commit (one writer), so groups stay short then."""
QUIET_SECONDS = 1.0
"""On SQLite, with nothing arrived for this long, groups take up to `GROUP` events: a
backlog drains faster (bench/ack.py: 251 answers stored a second against 227) and no
acknowledgement is waiting behind them."""
HANDLED_KEPT = timedelta(days=3)
"""How long a handled event's id is kept: platforms redeliver within minutes (Slack
retries three times within an hour)."""


class InboxUnavailable(Exception):
    """The event could not be stored in time: the platform must hear 5xx and try again."""


@dataclass(frozen=True)
class Stored:
    """An inbound event's row: its id, and False when the platform had sent it before."""

    id: int
    new: bool


class InboxWriter:
    """Stores inbound events before they are acknowledged, many requests to a commit.

    Requests arriving together share one short transaction (group commit): each waits
    for the commit that holds its row, so an acknowledgement still means "stored",
    and a burst of taps costs a few commits instead of one each.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        on_stored: Callable[[], None] = lambda: None,
        timeout: float = STORE_TIMEOUT,
        max_batch: int = 200,
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_stored = on_stored
        self.timeout = timeout
        self.max_batch = max_batch
        # SQLite has one writer: concurrent commits would only queue on its lock.
        self._slots = asyncio.Semaphore(1 if db.is_sqlite else 4)
        self._pending: list[tuple[NewEvent, asyncio.Future[Stored]]] = []
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()

    async def store(self, event: NewEvent) -> Stored:
        """Store one event; return once its row is committed.

        Raises:
            InboxUnavailable: the database refused it or did not answer in time.
        """
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="lastmile-inbox-writer")
        future: asyncio.Future[Stored] = loop.create_future()
        self._pending.append((event, future))
        self._kick.set()
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            # The commit may still land: the platform's retry then finds the row.
            future.add_done_callback(_consume)
            raise InboxUnavailable("the database did not answer in time") from None

    async def _run(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            while self._pending:
                await self._slots.acquire()
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                task = asyncio.get_running_loop().create_task(self._write(batch))
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[tuple[NewEvent, asyncio.Future[Stored]]]) -> None:
        try:
            unique: dict[tuple[str, str], NewEvent] = {}
            for event, _future in batch:
                unique.setdefault((event.platform, event.event_id), event)
            async with self.db.arrivals_session() as session:
                stored = await store_events(session, list(unique.values()), self.clock())
        except Exception as error:
            logger.warning(
                "inbox: %d event(s) not stored, their platform is told to retry: %s",
                len(batch),
                type(error).__name__,
            )
            for _event, future in batch:
                if not future.done():
                    future.set_exception(InboxUnavailable(type(error).__name__))
        else:
            first: set[tuple[str, str]] = set()
            for event, future in batch:
                key = (event.platform, event.event_id)
                row_id, new = stored[key]
                if not future.done():
                    future.set_result(Stored(row_id, new and key not in first))
                first.add(key)
            self.on_stored()
        finally:
            self._slots.release()

    async def close(self) -> None:
        """Finish the writes in flight and stop."""
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)


def _consume(future: asyncio.Future[Stored]) -> None:
    if not future.cancelled():
        future.exception()


class LeaseLost(Exception):
    """Another process took the event over while this one worked on it."""


@dataclass(frozen=True)
class _Work:
    """A claimed event, read and ready for the engine."""

    row: InboxEvent
    platform: Connection
    inbound: Inbound | None


class InboxWorker(Passes):
    """Handles stored inbound events for every platform connected in this process."""

    name = "lastmile-inbox"

    def __init__(
        self,
        runtime: Runtime,
        *,
        on_replies: Callable[[], None] = lambda: None,
        lease: timedelta = LEASE,
        interval: float = 1.0,
        batch: int = 200,
        concurrency: int | None = None,
        group: int | None = None,
    ) -> None:
        super().__init__(interval)
        self.runtime = runtime
        self.on_replies = on_replies
        self.batch = batch
        # Given a group size, it is kept; else SQLite's grows while nothing arrives.
        self.quiet_group = GROUP if group is None and runtime.db.is_sqlite else None
        if group is None:
            group = SQLITE_GROUP if runtime.db.is_sqlite else GROUP
        self.group = group
        self.owner = process_name()
        self.leases = LeaseKeeper(self._renew, runtime.clock, lease)
        self.dead_claims = DeadClaims(runtime.db, InboxEvent, runtime.clock)
        # Events whose failure could not be written (the database was away): still
        # claimed by this worker until it can hand them back.
        self._unrecorded: set[int] = set()
        # SQLite has one writer, so groups are handled one after another there.
        if concurrency is None:
            concurrency = 1 if runtime.db.is_sqlite else POSTGRES_CONCURRENCY
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def one_pass(self) -> int:
        """Handle the next event of each person with one waiting."""
        return await self.handle_due()

    async def on_stop(self) -> None:
        """Stop renewing leases."""
        await self.leases.stop()

    async def handle_due(self, person_key: str | None = None) -> int:
        """Claim the next event of up to `batch` people and handle them.

        Args:
            person_key: only this person's next event (the terminal chat's own).

        Returns:
            How many events were claimed.
        """
        platforms = sorted(self.runtime.platforms)
        if not platforms:
            return 0
        await self.dead_claims.end_due()
        await self._hand_back_unrecorded()
        async with self.runtime.db.session() as session:
            rows = await claim_heads(
                session,
                self.runtime.clock(),
                owner=self.owner,
                lease=self.leases.lease,
                platforms=platforms,
                limit=self.batch,
                person_key=person_key,
            )
        if not rows:
            return 0
        self.leases.hold(row.id for row in rows if row.id is not None)
        # Profiles come from the platform's API: people are looked up side by side,
        # only their transactions take turns.
        ready = await asyncio.gather(*(self._prepare(row) for row in rows))
        work = [item for item in ready if item is not None]
        await asyncio.gather(*(self._handle_group(group) for group in self._groups(work)))
        return len(rows)

    async def _handle_one(self, row: InboxEvent) -> None:
        """Handle one claimed event in a transaction of its own."""
        work = await self._prepare(row)
        if work is not None:
            await self._handle_group([work])

    def _groups(self, work: list[_Work]) -> list[list[_Work]]:
        """Split the claimed events into transactions: at most `group` each, and on
        PostgreSQL spread over the concurrent slots."""
        if not work:
            return []
        group = self.group
        if self.quiet_group and not self.runtime.db.arrivals_within(QUIET_SECONDS):
            group = self.quiet_group
        size = min(group, -(-len(work) // self.concurrency))
        return [work[start : start + size] for start in range(0, len(work), size)]

    async def _prepare(self, row: InboxEvent) -> _Work | None:
        """What the stored payload means, with what its platform adds (before any
        transaction: it may call the network). None when it cannot be read."""
        assert row.id is not None
        try:
            platform = self.runtime.platforms[row.platform]
            inbound = platform.plugin.translate(row.payload)
            if inbound is not None:
                inbound = await platform.enrich(inbound)
        except Exception as error:
            await self._failed(row, error)
            self.leases.release([row.id])
            return None
        return _Work(row, platform, inbound)

    async def _handle_group(self, group: list[_Work]) -> None:
        async with self._slots:
            try:
                await self._settle(group)
            finally:
                self.leases.release(work.row.id for work in group if work.row.id is not None)

    async def _settle(self, group: list[_Work]) -> None:
        """Handle a group in one transaction; when that fails, each event in its own.

        One commit for several people's events lets the worker keep up with a burst:
        a transaction per event costs its begin, its commit and (on SQLite) its turn
        at the writer lock each time. An event that fails spoils the shared
        transaction, so the group goes again one event per transaction: the rest
        commit, and only the failing one is retried or given up. When the database
        itself is away, none would commit: each is given back as failed at once.
        """
        try:
            finished = await self._commit(group)
        except Exception as error:
            if len(group) > 1 and not isinstance(error, DATABASE_UNAVAILABLE):
                for work in group:
                    await self._settle([work])
                return
            for work in group:
                if isinstance(error, LeaseLost):
                    logger.info(
                        "inbox event taken over by another process",
                        extra={"inbox_id": work.row.id},
                    )
                else:
                    await self._failed(work.row, error)
            return
        for done in finished:
            logger.debug("inbox event handled", extra={"inbox_id": done.event_id})
            future = self._answers.pop(done.event_id, None)
            if future is not None and not future.done():
                future.set_result(done.result)

    async def _commit(self, group: list[_Work]) -> list[Finished]:
        """Handle the group's events in one transaction: each through the engine, then
        their replies queued and the events marked done, a statement for all.

        Raises:
            LeaseLost: another process holds one of the events now.
        """
        now = self.runtime.clock()
        # The inbox rows this commit marks done were stored durably, so it may be
        # replayed after a crash, unless the platform hears its answer straight away.
        db = self.runtime.db
        answers_now = any(work.inbound is not None and work.inbound.answer_now for work in group)
        transaction = db.session() if answers_now else db.replayable_session()
        async with transaction as session:
            if len(group) > 1:
                inbounds = [work.inbound for work in group if work.inbound is not None]
                await self.runtime.engine.read_ahead(session, inbounds)
                hold_writes(session)
            handled = [await self._handle(session, work, now) for work in group]
            replies = [reply for _done, reply in handled if reply is not None]
            queued = await enqueue_many(session, replies, now) if replies else set()
            finished = [done for done, _reply in handled]
            if not await finish(session, finished, self.owner, now):
                raise LeaseLost
        if any(reply.dedupe_key in queued and reply.not_before <= now for reply in replies):
            self.on_replies()
        return finished

    async def _handle(
        self, session: AsyncSession, work: _Work, now: datetime
    ) -> tuple[Finished, NewMessage | None]:
        """Handle one event in the group's transaction.

        Returns:
            How it ended (with what the platform's immediate answer carries), and the
            replies to queue, if any.
        """
        row, platform, inbound = work.row, work.platform, work.inbound
        assert row.id is not None
        handled = Handled([], None)
        if inbound is not None:
            handled = await self.runtime.engine.receive(session, inbound)
        result, replies = _split(platform, inbound, handled)
        done = Finished(row.id, result, forget_person=handled.person_id is None)
        if inbound is None or not (replies or (inbound.event is None and inbound.context)):
            return done, None
        reply = NewMessage(
            dedupe_key=f"reply:{row.id}",
            platform=row.platform,
            purpose="reply",
            payload={**payload_of(replies, handled.locale), "context": inbound.context},
            not_before=now + HOLD_FOLLOW_UPS if inbound.answer_now else now,
            person_id=handled.person_id,
            destination=inbound.conversation,
            inbox_id=row.id,
        )
        return done, reply

    async def _failed(self, row: InboxEvent, error: Exception) -> None:
        assert row.id is not None
        # A database that was away says nothing about the payload: it is tried again
        # for as long as it takes, and only the payload's own failures are counted.
        counted = not isinstance(error, DATABASE_UNAVAILABLE)
        attempts = row.attempts + int(counted)
        give_up = counted and attempts >= MAX_ATTEMPTS
        logger.error(
            "inbox event %s (%s) failed on attempt %d%s: %s",
            row.id,
            row.platform,
            attempts,
            ", given up" if give_up else "",
            failure(error),
            extra={"inbox_id": row.id},
        )
        now = self.runtime.clock()
        retry_at = now + timedelta(seconds=min(2 ** max(attempts, 1), 60))
        try:
            async with self.runtime.db.session() as session:
                await record_failure(
                    session,
                    row.id,
                    self.owner,
                    failure(error),
                    counted=counted,
                    give_up=give_up,
                    now=now,
                    retry_at=retry_at,
                )
        except Exception as database_error:
            logger.warning("inbox: failure not recorded: %s", type(database_error).__name__)
            self._unrecorded.add(row.id)

    async def _hand_back_unrecorded(self) -> None:
        """End this worker's claims on events whose failure it could not write, once the
        database answers again: they are tried at once, not when their lease runs out."""
        if not self._unrecorded:
            return
        ids = sorted(self._unrecorded)
        async with self.runtime.db.session() as session:
            await end_own_claims(session, InboxEvent, ids, self.owner)
        self._unrecorded.difference_update(ids)

    async def _renew(self, ids: list[int], until: datetime) -> None:
        async with self.runtime.db.session() as session:
            await renew_leases(session, ids, self.owner, until)

    async def answer_for(
        self, inbox_id: int, person_key: str, within: float
    ) -> dict[str, Any] | None:
        """Handle an event now, in the request that waits for it, and return its answer.

        The person's earlier events go first (their order holds); when another process
        holds the event, its outcome is read from the database once it is done.

        Returns:
            What the platform's immediate answer carries, or None when the event was not
            handled `within` seconds.
        """
        loop = asyncio.get_running_loop()
        future = self._answers.setdefault(inbox_id, loop.create_future())
        deadline = loop.time() + within
        try:
            while True:
                claimed = await self.handle_due(person_key=person_key)
                async with self.runtime.db.session() as session:
                    found = await outcome(session, inbox_id)
                if found is not None and found[0] != "pending":
                    return found[1]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                if not claimed:
                    with contextlib.suppress(TimeoutError):
                        return await asyncio.wait_for(
                            asyncio.shield(future), min(ANSWER_POLL_SECONDS, remaining)
                        )
        finally:
            if self._answers.get(inbox_id) is future:
                del self._answers[inbox_id]

    async def release_replies(self, inbox_id: int) -> None:
        """The platform has its immediate answer: let the event's replies go now."""
        async with self.runtime.db.session() as session:
            await release_replies(session, inbox_id, self.runtime.clock())
        self.on_replies()


def _split(
    platform: Connection, inbound: Inbound | None, handled: Handled
) -> tuple[dict[str, Any], list[Any]]:
    if inbound is None or not inbound.answer_now:
        return {}, handled.replies
    return platform.plugin.answer_now(inbound, handled.replies)


class Inbox:
    """The inbox as adapters use it: store an event, wait for its answer, release replies."""

    def __init__(self, runtime: Runtime) -> None:
        self.worker = InboxWorker(runtime)
        self.writer = InboxWriter(runtime.db, runtime.clock, on_stored=self.worker.wake)

    async def store(self, event: NewEvent) -> Stored:
        """Store one inbound event before its platform is answered.

        Raises:
            InboxUnavailable: answer the platform with a 5xx so it tries again.
        """
        return await self.writer.store(event)

    async def answer_for(
        self, stored: Stored, event: NewEvent, within: float
    ) -> dict[str, Any] | None:
        """Handle the event now and return the body of the platform's immediate answer."""
        return await self.worker.answer_for(stored.id, event.person_key, within)

    async def release_replies(self, inbox_id: int) -> None:
        """The platform has its immediate answer: the event's replies may go now."""
        await self.worker.release_replies(inbox_id)

    async def close(self) -> None:
        """Stop handling and finish the writes in flight."""
        await self.worker.stop()
        await self.writer.close()


async def purge_handled_events(runtime: Runtime, now: datetime) -> int:
    """Drop the records of events handled more than `HANDLED_KEPT` ago (a scheduler tick).

    Returns:
        0: nothing is queued for sending.
    """
    async with runtime.db.session() as session:
        await purge_handled(session, now - HANDLED_KEPT)
    return 0
