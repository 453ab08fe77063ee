"""sqlmodel tables: everything lastmile stores, one class a table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel


class PersonStatus(StrEnum):
    """Whether a person is asked check-ins."""

    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class CheckInKind(StrEnum):
    """Why a check-in was opened."""

    SCHEDULED = "scheduled"
    TRIGGERED = "triggered"
    DAY30 = "day30"


class CheckInStatus(StrEnum):
    """Where a check-in is in its life: queued, sent, answered, or closed unanswered."""

    SCHEDULED = "scheduled"
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"


class Programme(SQLModel, table=True):
    """A pilot of one AI tool; mirrored from the config file at start-up."""

    id: str = Field(primary_key=True, max_length=64)
    name: str
    tool: str
    timezone: str
    digest_destination: str = ""
    api_key_hash: str = ""


class Cohort(SQLModel, table=True):
    """A team taking part in a programme; mirrored from the config file."""

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(foreign_key="programme.id", index=True)
    name: str
    timezone: str


class Person(SQLModel, table=True):
    """Someone lastmile talks to, known by their platform identity."""

    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=255)
    workspace_id: str = Field(default="", max_length=255)
    display_name: str = ""
    email: str = ""
    timezone: str = ""
    locale: str = ""
    """The platform's language tag for the person (es-ES), or "" when it has not said."""
    cohort_id: str | None = Field(default=None, index=True)
    status: str = Field(default="active", max_length=16)  # active | paused | stopped
    paused_until: datetime | None = None
    unreachable: bool = False
    created_at: datetime
    welcomed_at: datetime | None = None
    """When lastmile first told the person what it is (with their first message from it)."""


class Role(SQLModel, table=True):
    """A lead of a cohort, an owner of a programme, or an admin."""

    __table_args__ = (UniqueConstraint("person_id", "role", "scope"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=16)  # lead | owner | admin
    scope: str = Field(default="", max_length=64)  # cohort id, programme id, or "" for admin


class ConversationAddress(SQLModel, table=True):
    """Where to reach a person proactively (a Slack DM channel, a Teams reference)."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    platform: str = Field(max_length=16)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class CheckIn(SQLModel, table=True):
    """One question put to one person for one slot; the unique key makes sends exactly-once."""

    __table_args__ = (
        UniqueConstraint("person_id", "kind", "slot"),
        # A digest's weeks: the check-ins a programme asked in a time range.
        # Covering: counting a programme's weeks reads the index alone, never the rows.
        Index(
            "ix_checkin_programme_sent",
            "programme_id",
            "sent_at",
            "answered_at",
            "kind",
            "cohort_id",
            "person_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    programme_id: str = Field(max_length=64, index=True)
    cohort_id: str = Field(default="", max_length=64, index=True)
    kind: str = Field(max_length=16)  # scheduled | triggered | day30
    slot: str = Field(max_length=128)
    status: str = Field(default="scheduled", max_length=16)  # scheduled|sent|answered|expired
    context: str = ""
    scheduled_for: datetime = Field(index=True)
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    reminded_at: datetime | None = None
    expires_at: datetime | None = None
    message_ref: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )


class Answer(SQLModel, table=True):
    """The first tap of a check-in, plus the reason when the tool was not used."""

    __table_args__ = (
        # Only rows with words: what theme building reads (a partial index, on both databases).
        Index(
            "ix_answer_words",
            "answered_at",
            sqlite_where=sql_text("not_used_text != ''"),
            postgresql_where=sql_text("not_used_text != ''"),
        ),
        # A digest's fingerprint of a week's answers reads this index alone (SQLite keeps
        # the row id in every index; PostgreSQL is given it).
        Index(
            "ix_answer_checkin_print",
            "checkin_id",
            "person_id",
            "outcome",
            postgresql_include=["id"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int = Field(foreign_key="checkin.id", unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    outcome: str = Field(max_length=16)  # helped | partly | no | not_used | not_now
    not_used_reason: str = ""
    not_used_text: str = ""
    answered_at: datetime = Field(index=True)


class Workaround(SQLModel, table=True):
    """What a person did instead of using the tool."""

    __table_args__ = (
        # Only rows with words: what theme building reads (a partial index, on both databases).
        Index(
            "ix_workaround_words",
            "created_at",
            sqlite_where=sql_text("text != ''"),
            postgresql_where=sql_text("text != ''"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int | None = Field(default=None, foreign_key="checkin.id", unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    kind: str = Field(max_length=32)  # by_hand | old_system | colleague | other
    text: str = ""
    created_at: datetime = Field(index=True)


class Override(SQLModel, table=True):
    """Whether a person overrode a suggestion, and why."""

    __table_args__ = (
        # Only rows with words: what theme building reads (a partial index, on both databases).
        Index(
            "ix_override_words",
            "created_at",
            sqlite_where=sql_text("text != ''"),
            postgresql_where=sql_text("text != ''"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int | None = Field(default=None, foreign_key="checkin.id", unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    overridden: bool
    reason: str = ""  # wrong | didnt_fit | slower | distrust | policy | other
    text: str = ""
    created_at: datetime = Field(index=True)


class Day30Response(SQLModel, table=True):
    """The once-per-person "how would you feel if it went away" answer."""

    __table_args__ = (
        # Only rows with words: what theme building reads (a partial index, on both databases).
        Index(
            "ix_day30response_words",
            "created_at",
            sqlite_where=sql_text("change_first != ''"),
            postgresql_where=sql_text("change_first != ''"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int = Field(foreign_key="checkin.id", unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    feeling: str = Field(max_length=32)  # very | somewhat | not | dont_use
    change_first: str = ""
    created_at: datetime


class Note(SQLModel, table=True):
    """Something a person wrote to the bot outside a flow."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    text: str
    kind: str = Field(default="unclassified", max_length=16)  # workaround|override|idea
    created_at: datetime


class ConversationState(SQLModel, table=True):
    """The step a person is at in a flow, so a restart continues where they were."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    checkin_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class InboxEvent(SQLModel, table=True):
    """One inbound payload, stored before the platform is told it arrived.

    The unique (platform, event_id) makes a redelivery a no-op; workers claim a
    person's oldest pending row with a short lease, so a restarted process or another
    replica finishes what a dead one started, in the order the person acted.
    """

    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_inboxevent_person_pending", "person_key", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    event_id: str = Field(max_length=255)
    person_key: str = Field(default="", max_length=255)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime
    status: str = Field(default="pending", max_length=16, index=True)  # pending|done|failed
    attempts: int = 0
    claimed_until: datetime | None = None
    claimed_by: str = Field(default="", max_length=64)
    handled_at: datetime | None = Field(default=None, index=True)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """What the platform's own answer to the request carries (a Teams invoke's card)."""
    last_error: str = ""


class ThemeUpdate(SQLModel, table=True):
    """A "you said, we did" update a programme owner posted on a theme."""

    id: int | None = Field(default=None, primary_key=True)
    programme_id: str = Field(max_length=64, index=True)
    theme: str
    message: str
    author_person_id: int | None = None
    created_at: datetime = Field(index=True)


class OutboxMessage(SQLModel, table=True):
    """An outbound message, written before it is sent; delivered rows are never sent again."""

    __table_args__ = (UniqueConstraint("dedupe_key"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255)
    platform: str = Field(max_length=16, index=True)
    person_id: int | None = Field(default=None, index=True)
    destination: str = Field(default="", max_length=255)
    checkin_id: int | None = None
    purpose: str = Field(max_length=16)  # checkin | reminder | digest | update | notice
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16, index=True)  # pending|delivered|failed
    attempts: int = 0
    not_before: datetime = Field(index=True)
    claimed_until: datetime | None = None
    claimed_by: str = Field(default="", max_length=64)
    inbox_id: int | None = Field(default=None, index=True)
    """The inbound event this message answers, when it is a reply."""
    last_error: str = ""
    created_at: datetime
    delivered_at: datetime | None = None


class ChannelAddress(SQLModel, table=True):
    """How to post to a channel or group chat (digest destinations), per platform."""

    platform: str = Field(primary_key=True, max_length=16)
    channel_id: str = Field(primary_key=True, max_length=255)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class SentMessage(SQLModel, table=True):
    """A platform message showing a question token, so an answer can replace its buttons.

    One row per copy (the question, its reminder), on any platform, kept in the database
    so an answer handled after a restart or by another replica finds every copy.
    `ref` is the platform's own reference to the message.
    """

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=255, index=True)
    platform: str = Field(max_length=16)
    person_id: int | None = Field(default=None, index=True)
    ref: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(index=True)


class Theme(SQLModel, table=True):
    """A theme of what people wrote: its stable slug and readable label, kept week to week."""

    __table_args__ = (UniqueConstraint("programme_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: str = Field(max_length=64, index=True)
    slug: str = Field(max_length=64)
    label: str
    named_by_owner: bool = False
    """True for a theme an owner named in the config, or renamed."""
    seed: bool = False
    """Declared in the config with example phrases."""
    merged_into: int | None = None
    links: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Fixed answers (their slugs) whose pickers also hear the theme's updates."""
    created_at: datetime


class ThemeText(SQLModel, table=True):
    """One written text's place: which theme it is in (none yet), and its cached vector.

    The words stay in their own table (workaround, override, answer, note, day-30);
    this row refers to them by source and id and is erased with its writer.
    """

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        # A digest's theme counts: a programme's texts in a time range, by theme and writer.
        Index(
            "ix_themetext_programme_created", "programme_id", "created_at", "theme_id", "person_id"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    programme_id: str = Field(max_length=64, index=True)
    source: str = Field(max_length=16)  # workaround | override | not_used | note | day30
    source_id: int
    person_id: int = Field(index=True)
    cohort_id: str = Field(default="", max_length=64)
    theme_id: int | None = Field(default=None, index=True)
    encoder: str = Field(default="", max_length=40)
    vector: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(index=True)
    erased_at: datetime | None = None
    """When the retention period erased the words (and this vector): the row stays so
    the counts of past digests stay the same."""


class Release(SQLModel, table=True):
    """A release of a programme's tool: named by an owner, or first seen on the usage API."""

    __table_args__ = (UniqueConstraint("programme_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: str = Field(max_length=64, index=True)
    version: str = Field(max_length=64)
    origin: str = Field(default="owner", max_length=16)  # owner | usage_api
    released_at: datetime


class Instance(SQLModel, table=True):
    """This lastmile database itself: the key its report links are signed with, and
    whether `lastmile demo` made it (one row, id 1)."""

    id: int = Field(default=1, primary_key=True)
    secret: str = Field(max_length=128)
    """Signs report links and pseudonymises exports when LASTMILE_SECRET_KEY is unset."""
    demo: bool = False
    """True for a database `lastmile demo` filled: it never holds real answers."""
    created_at: datetime


class UsageKey(SQLModel, table=True):
    """An Idempotency-Key a programme's tool sent to the usage API, and the report it stood for."""

    __table_args__ = (UniqueConstraint("programme_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: str = Field(max_length=64)
    key: str = Field(max_length=128)
    fingerprint: str = Field(max_length=64)
    """SHA-256 of the report as read (so the same report re-sent with other spacing matches)."""
    created_at: datetime = Field(index=True)


class WeekCount(SQLModel, table=True):
    """A programme's counts of one week (per team, or for a set of teams), kept with the
    fingerprint of the rows they were counted from.

    A digest recounts a week only when its fingerprint changed (a late answer, a
    `forget`, a check-in stored for a past week), so twelve weeks of a large programme
    cost one streaming read instead of a twelve-week GROUP BY.
    """

    __table_args__ = (UniqueConstraint("programme_id", "week_start", "week_end", "teams"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: str = Field(max_length=64)
    week_start: datetime
    week_end: datetime
    teams: str = Field(max_length=64)
    """"*": every team, one entry each; else the SHA-1 of a set of teams counted together."""
    fingerprint: str = Field(max_length=200)
    counts: dict[str, list[int]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    """Team id ("" for no team; "*" the whole programme) -> OutcomeCounts fields in order."""


class RateBucket(SQLModel, table=True):
    """A send budget shared by every replica: one token bucket per platform limit and scope
    value (a Slack workspace, a Teams conversation), refilled lazily on each reservation."""

    key: str = Field(primary_key=True, max_length=255)
    """platform|scope|value|count/per: new figures in the config start a fresh bucket."""
    capacity: float
    rate: float
    """Tokens a second."""
    taken: float
    """How many the last reservation took (the upsert reads it as `excluded.taken`)."""
    tokens: float
    """Left after the last reservation; negative while sends queue up on credit."""
    stamp: float
    """When `tokens` was counted (Unix seconds: every replica's clock reads the same)."""
    paused_until: float = 0.0
    """Unix seconds until which the platform asked for a pause (a 429's Retry-After)."""
