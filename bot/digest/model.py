"""The platform-neutral digest and trends data every rendering is made from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.themes.changes import Change
from bot.themes.view import WrittenTheme
from storage.reports import OutcomeCounts

RATE_NAMES = ("response", "help", "partly", "no", "not_used")


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


def rates(counts: OutcomeCounts) -> dict[str, float | None]:
    """The five rates of a week.

    Response = answered / sent (*Not now* is an answer: the person responded and
    declined). Help, partly and no are shares of the answers that used the tool
    (helped + partly + no); not-used is a share of the answers that said how it
    went (helped + partly + no + not used). *Not now* is in no denominator but
    the response rate's.
    """
    used = counts.helped + counts.partly + counts.no
    return {
        "response": ratio(counts.answered, counts.sent),
        "help": ratio(counts.helped, used),
        "partly": ratio(counts.partly, used),
        "no": ratio(counts.no, used),
        "not_used": ratio(counts.not_used, used + counts.not_used),
    }


def rate_parts(counts: OutcomeCounts) -> dict[str, tuple[int, int]]:
    """Each rate's numerator and denominator (see `rates`)."""
    used = counts.helped + counts.partly + counts.no
    return {
        "response": (counts.answered, counts.sent),
        "help": (counts.helped, used),
        "partly": (counts.partly, used),
        "no": (counts.no, used),
        "not_used": (counts.not_used, used + counts.not_used),
    }


@dataclass(frozen=True)
class CohortRow:
    """One line of the per-team breakdown; `cohort_id` None is the "Other teams" fold."""

    cohort_id: str | None
    name: str
    counts: OutcomeCounts
    previous: OutcomeCounts | None = None
    cohorts: tuple[str, ...] = ()
    """The teams counted in the row (its reporting group); never shown to readers."""


@dataclass(frozen=True)
class DigestTheme:
    """A fixed answer shown in a digest (at least k contributors), without any identity."""

    family: str
    slug: str
    category: str
    mentions: int
    contributors: int
    quotes: tuple[str, ...]


@dataclass(frozen=True)
class TimelineMark:
    """A release of the tool or a "you said, we did" update, drawn on the trend chart."""

    week: str
    label: str
    kind: str  # release | update


@dataclass(frozen=True)
class ThemeTrend:
    """A shown theme's people per complete week, and how it moved."""

    slug: str
    label: str
    people: tuple[int, ...]
    flag: str
    """new | rising | falling | "" (steady)."""


@dataclass(frozen=True)
class WeekPoint:
    """One week of a series; `counts` None when fewer than k people answered."""

    week: str
    counts: OutcomeCounts | None
    cohorts: tuple[str, ...] = ()
    """The teams counted (a reporting group); empty for the whole programme."""


@dataclass(frozen=True)
class Indispensability:
    """Day-30 answers so far: the share of *Very disappointed* among all of them."""

    answers: int
    very: int
    people: int

    @property
    def share(self) -> float:
        """Very disappointed / all day-30 answers (including "I don't use it")."""
        return self.very / self.answers if self.answers else 0.0


@dataclass(frozen=True)
class UpdateNote:
    """A "you said, we did" update shown in the digest."""

    theme: str
    message: str
    posted_at: datetime


@dataclass(frozen=True)
class Digest:
    """One week of one programme (or one of its cohorts), already anonymised.

    `counts` is None when fewer than k people answered in the week: then only
    that fact is shown.
    """

    programme_id: str
    programme_name: str
    tool: str
    timezone: str
    cohort_id: str | None
    cohort_name: str
    week: str
    week_start: date
    week_end: date
    k: int
    counts: OutcomeCounts | None
    previous: OutcomeCounts | None
    cohorts: tuple[CohortRow, ...]
    themes: tuple[DigestTheme, ...]
    theme_start: date
    theme_end: date
    indispensability: Indispensability | None
    updates: tuple[UpdateNote, ...]
    series: tuple[WeekPoint, ...]
    written: tuple[WrittenTheme, ...] = ()
    """Themes of what people wrote with k or more people in the theme window."""
    outside_people: int | None = 0
    """People whose words in the window fit no shown theme (shown only when k or more;
    None: withheld, because beside other figures it would single out fewer than k)."""
    changes: tuple[Change, ...] = ()
    """What changed, most important first, over complete weeks only."""
    marks: tuple[TimelineMark, ...] = ()
    merged: bool = False
    """A team digest whose team is counted with other teams this week (see groups.py)."""


@dataclass(frozen=True)
class CohortTrend:
    """A team's weeks in a trend summary (weeks it was folded are None)."""

    cohort_id: str | None
    name: str
    points: tuple[WeekPoint, ...]


@dataclass(frozen=True)
class Trends:
    """Several weeks of a programme, overall and per team, already anonymised."""

    programme_id: str
    programme_name: str
    tool: str
    k: int
    series: tuple[WeekPoint, ...]
    cohorts: tuple[CohortTrend, ...]
    themes: tuple[ThemeTrend, ...] = ()
    changes: tuple[Change, ...] = ()
    marks: tuple[TimelineMark, ...] = ()


def percent(value: float | None) -> str:
    """A rate as a whole percentage ("–" when there is nothing to divide)."""
    return "–" if value is None else f"{round(value * 100)}%"
