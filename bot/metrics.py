"""What `GET /metrics` shows: check-ins through their life, the queues, delivery errors and
request latency, in one Prometheus registry per runtime (never the process-wide one)."""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from storage.db import Tally
from storage.queues import QueueDepth


class Counted(StrEnum):
    """What a transaction counts for the metrics (`storage.db.tally`), by what it is named."""

    PLANNED = "checkins_planned"
    SENT = "checkins_sent"
    ANSWERED = "checkins_answered"
    EXPIRED = "checkins_expired"


class DeliveryError(StrEnum):
    """Why a send failed, as a bounded label: never the platform's own error text."""

    RATE_LIMITED = "rate_limited"
    """The platform said when to come back (429 with Retry-After, or 503 with one)."""
    TRANSIENT = "transient"
    """A passing failure without a time to come back (5xx, a dropped connection)."""
    UNDELIVERABLE = "undeliverable"
    """Retrying cannot help (a channel gone, a message refused)."""
    UNREACHABLE = "unreachable"
    """The person cannot be reached any more (left, blocked the bot)."""
    SENDER_ERROR = "sender_error"
    """The sender raised something it should not have (a bug)."""


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds; Slack wants its answer within 3, so the buckets are fine below that."""


class Metrics:
    """One process's counters, queue gauges and request latencies.

    Counters count what this process did since it started (Prometheus sums replicas);
    the queue gauges are read from the database at each scrape, so every replica shows
    the whole queue (take their max, not their sum).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.checkins: dict[Counted, Counter] = {
            Counted.PLANNED: Counter(
                "lastmile_checkins_planned",
                "Check-ins opened and queued for sending, by kind (scheduled, triggered, day30).",
                ["kind"],
                registry=registry,
            ),
            Counted.SENT: Counter(
                "lastmile_checkins_sent",
                "Check-in questions a platform accepted, by platform.",
                ["platform"],
                registry=registry,
            ),
            Counted.ANSWERED: Counter(
                "lastmile_checkins_answered",
                "Check-ins answered (their first answer), by kind.",
                ["kind"],
                registry=registry,
            ),
            Counted.EXPIRED: Counter(
                "lastmile_checkins_expired",
                "Check-ins closed unanswered at their expiry.",
                registry=registry,
            ),
        }
        self.delivery_errors = Counter(
            "lastmile_delivery_errors",
            "Sends that failed, by platform and reason.",
            ["platform", "reason"],
            registry=registry,
        )
        self.queue_waiting = Gauge(
            "lastmile_queue_waiting",
            "Rows waiting in the inbox (to be handled) or the outbox (to be sent).",
            ["queue"],
            registry=registry,
        )
        self.queue_oldest = Gauge(
            "lastmile_queue_oldest_age_seconds",
            "How long the oldest waiting inbox event, or the oldest due outbox message, waited.",
            ["queue"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "lastmile_request_duration_seconds",
            "Time to answer a request, by route (its pattern, never the path) and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def committed(self, tallies: list[Tally]) -> None:
        """Add what a committed transaction counted (a `Database.on_commit` listener)."""
        for name, label, amount in tallies:
            counter = self.checkins[Counted(name)]
            (counter.labels(label) if label else counter).inc(amount)

    def delivery_failed(self, platform: str, reason: DeliveryError) -> None:
        """Count one failed send."""
        self.delivery_errors.labels(platform, reason.value).inc()

    def queues_read(self, depths: dict[str, QueueDepth] | None) -> None:
        """Set the queue gauges from a scrape's reading; None (unreadable) shows NaN."""
        for queue in ("inbox", "outbox"):
            depth = depths.get(queue) if depths is not None else None
            waiting = float(depth.waiting) if depth is not None else float("nan")
            oldest = depth.oldest_seconds if depth is not None else float("nan")
            self.queue_waiting.labels(queue).set(waiting)
            self.queue_oldest.labels(queue).set(oldest)

    def exposition(self) -> bytes:
        """Everything, in Prometheus' text format."""
        return generate_latest(self.registry)
