"""Issue 12, acceptance 1: no figure minus another, across the outputs of a week, singles out < k.

A property test: random teams and answers over two weeks, then the programme digest,
every team's digest (as its lead or the owner asks for it), the two-week trends and the
report pages of the programme and of every team, with every count they show: answers,
fixed-answer themes, themes of written words, words in no theme, day-30 answers, a
theme's people in a week. Each shown figure says
which teams it counts; the test recomputes it from the answers it stored (so that
claim is honest) and checks that no difference of two figures of the same measure and
period, and no sum or difference of several, isolates between 1 and k - 1 people.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig, Settings
from bot.digest.build import Scope, build_digest, build_trends, theme_window
from bot.digest.model import Digest, Trends
from bot.digest.themes import FIXED_SLUGS
from bot.digest.weeks import IsoWeek
from bot.replies import Report, as_plain_text
from bot.reports.links import ReportScope
from bot.reports.page import ReportPage, build_page
from bot.runtime import Runtime, build_runtime
from bot.themes.changes import Change, ChangeKind
from bot.themes.placing import update_themes
from storage.checkins import create_checkin, save_day30, set_checkin_status
from storage.reports import OutcomeCounts, Window
from tests.conftest import FakeClock
from tests.digest_seed import Said, person_id, record, say

pytestmark = pytest.mark.sql

TEAMS = ("a", "b", "c", "d")
MEMBERS = 9
W46, W47 = IsoWeek(2026, 46), IsoWeek(2026, 47)
WEEKS = (W46, W47)
ASKED = {
    W46: (datetime(2026, 11, 10, 15, 30, tzinfo=UTC), datetime(2026, 11, 12, 15, 30, tzinfo=UTC)),
    W47: (datetime(2026, 11, 17, 15, 30, tzinfo=UTC), datetime(2026, 11, 19, 15, 30, tzinfo=UTC)),
}
MONDAY_W48 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/London")
WORDS = (
    "scanner had no signal at the gate",
    "the scanner lost its signal at the gate again",
    "no scanner signal by the loading gate",
    "label printer jammed again",
    "the label printer jammed halfway through",
    "printer keeps jamming the labels",
)
# What the people, teams and roles of the config are; everything else is emptied.
KEPT_TABLES = {"programme", "cohort", "person", "role", "conversationaddress"}


def pilot_config(k: int) -> str:
    """Four teams of nine possible members, a lead each, one owner."""
    cohorts = ""
    for team in TEAMS:
        members = ", ".join(f'"local:{team}{index}"' for index in range(MEMBERS))
        cohorts += (
            f'[cohorts.{team}]\nprogramme = "pilot"\nname = "Team {team.upper()}"\n'
            f'members = [{members}]\nleads = ["local:lead_{team}"]\n\n'
        )
    return (
        f"[settings]\nanonymity_k = {k}\n\n"
        '[programmes.pilot]\nname = "Pilot"\ntool = "Aid"\ntimezone = "Europe/London"\n'
        f'owners = ["local:owner"]\n\n{cohorts}'
    )


def with_k(config: LastmileConfig, k: int) -> LastmileConfig:
    """The same config with another anonymity threshold."""
    general = config.settings.model_copy(update={"anonymity_k": k})
    return config.model_copy(update={"settings": general})


# -- a generated pilot ---------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """One check-in's answer as the strategy draws it."""

    outcome: str | None
    workaround: str
    words: int
    override: str
    not_used: str

    def said(self) -> Said:
        """The answers given in the chat (workaround and override after Partly or No)."""
        if self.outcome in ("partly", "no"):
            return Said(
                self.outcome,
                workaround=self.workaround or "old_system",
                workaround_text=WORDS[self.words] if self.workaround == "other" else "",
                override=self.override or "no",
            )
        if self.outcome == "not_used":
            return Said(self.outcome, not_used=self.not_used)
        return Said(self.outcome)


@dataclass(frozen=True)
class Member:
    """One person's check-ins in each of the two weeks, and whether they gave a day-30 answer."""

    weeks: tuple[tuple[Answered, ...], tuple[Answered, ...]]
    day30: bool


_answers = st.builds(
    Answered,
    st.sampled_from(("helped", "partly", "no", "partly", "no", "not_used", "not_now", None)),
    st.sampled_from(("", "by_hand", "old_system", "other", "other", "other")),
    st.integers(0, len(WORDS) - 1),
    st.sampled_from(("", "slower", "wrong")),
    st.sampled_from(("too_slow", "forgot")),
)
_members = st.builds(
    Member,
    st.tuples(
        st.lists(_answers, max_size=2).map(tuple),
        st.lists(_answers, min_size=1, max_size=2).map(tuple),
    ),
    st.booleans(),
)
PILOTS = st.fixed_dictionaries(
    {team: st.lists(_members, max_size=MEMBERS).map(tuple) for team in TEAMS}
)


@dataclass
class Facts:
    """What the test stored: who was asked, who answered what, by team and week."""

    team_of: dict[int, str] = field(default_factory=dict)
    asked: dict[IsoWeek, set[int]] = field(default_factory=lambda: defaultdict(set))
    responded: dict[IsoWeek, set[int]] = field(default_factory=lambda: defaultdict(set))
    answers: dict[tuple[IsoWeek, str], list[str | None]] = field(
        default_factory=lambda: defaultdict(list)
    )
    picked: dict[str, set[tuple[IsoWeek, int]]] = field(default_factory=lambda: defaultdict(set))
    day30: set[int] = field(default_factory=set)
    texts: list[tuple[int, str, int | None, datetime]] = field(default_factory=list)
    """(person, team, theme id, written at) of every text, as the themes placed it."""
    slugs: dict[str, int] = field(default_factory=dict)

    def people(self, teams: Iterable[str]) -> set[int]:
        wanted = set(teams)
        return {person for person, team in self.team_of.items() if team in wanted}

    def writers(self, window: Window, teams: Iterable[str], theme: int | None) -> set[int]:
        wanted = set(teams)
        return {
            person
            for person, team, theme_id, at in self.texts
            if team in wanted and theme_id == theme and window.start <= at < window.end
        }


async def empty_the_pilot(runtime: Runtime) -> None:
    """Delete every answer, text and theme (the config's people, teams and roles stay)."""
    async with runtime.db.session() as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                await session.exec(delete(table))


async def store_pilot(runtime: Runtime, pilot: dict[str, tuple[Member, ...]]) -> Facts:
    """Store the generated answers through the repository functions."""
    facts = Facts()
    async with runtime.db.session() as session:
        for team, people in pilot.items():
            for index, member in enumerate(people):
                user = f"{team}{index}"
                pid = await person_id(session, user)
                facts.team_of[pid] = team
                for week, answered in zip(WEEKS, member.weeks, strict=True):
                    for at, answer in zip(ASKED[week], answered, strict=False):
                        said = answer.said()
                        await record(session, user, team, at, said, "pilot")
                        facts.asked[week].add(pid)
                        facts.answers[(week, team)].append(said.outcome)
                        if said.outcome not in (None, "not_now"):
                            facts.responded[week].add(pid)
                        override = said.override if said.override != "no" else ""
                        for key, value in (
                            ("workaround", said.workaround),
                            ("override", override),
                            ("not_used", said.not_used),
                        ):
                            if value:
                                facts.picked[f"{key}:{value}"].add((week, pid))
                if member.day30:
                    await _day30(session, pid, team, user)
                    facts.day30.add(pid)
    return facts


async def _day30(session: AsyncSession, pid: int, team: str, user: str) -> None:
    at = ASKED[W47][0]
    checkin = await create_checkin(
        session,
        person_id=pid,
        programme_id="pilot",
        cohort_id=team,
        kind="day30",
        slot=f"day30:{user}",
        scheduled_for=at,
        expires_at=None,
    )
    assert checkin is not None and checkin.id is not None
    await set_checkin_status(session, checkin.id, "sent", sent_at=at)
    await save_day30(session, checkin, "very", "", at + timedelta(hours=1))


async def read_placement(runtime: Runtime, facts: Facts) -> None:
    """The theme each text is in, once the outputs have placed them all."""
    async with runtime.db.session() as session:
        end = theme_window(W47, ZONE).end
        placement = await update_themes(session, runtime.config, "pilot", end)
    facts.texts = [
        (item.text.person_id, item.text.cohort_id, item.theme_id, item.text.created_at)
        for item in placement.texts
    ]
    facts.slugs = {info.slug: theme_id for theme_id, info in placement.themes.items()}


# -- the figures the outputs show -----------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A number a reader sees: what it measures, for which period, over whom."""

    where: str
    period: str
    measure: str
    people: frozenset[int]
    """Everyone the figure is about (for answers, everyone asked: a count of unanswered
    check-ins is about them too)."""
    respondents: frozenset[int]
    """Those the threshold counts (for answers, everyone who answered other than Not now)."""


def _tally(outcomes: Sequence[str | None]) -> OutcomeCounts:
    return OutcomeCounts(
        sent=len(outcomes),
        answered=sum(outcome is not None for outcome in outcomes),
        helped=outcomes.count("helped"),
        partly=outcomes.count("partly"),
        no=outcomes.count("no"),
        not_used=outcomes.count("not_used"),
        not_now=outcomes.count("not_now"),
    )


@dataclass
class Figures:
    """Every figure of the outputs, each checked against the stored answers as it is read."""

    facts: Facts
    k: int
    found: list[Figure] = field(default_factory=list)
    programme_themes: dict[str, set[int]] = field(default_factory=dict)
    """The written themes each week's programme digest shows, by week."""

    def answers(
        self, where: str, week: str, counts: OutcomeCounts | None, teams: Sequence[str]
    ) -> None:
        if counts is None:
            return
        label = IsoWeek.parse(week)
        assert label is not None
        teams = tuple(teams) or TEAMS
        people = self.facts.people(teams)
        expected = _tally([o for team in teams for o in self.facts.answers[(label, team)]])
        responded = frozenset(self.facts.responded[label] & people)
        assert replace(counts, respondents=0) == expected, f"{where}, {week}, teams {teams}"
        assert counts.respondents == len(responded), f"{where}, {week}, teams {teams}"
        self.found.append(
            Figure(where, week, "answers", frozenset(self.facts.asked[label] & people), responded)
        )

    def people(self, where: str, period: str, measure: str, people: Iterable[int]) -> None:
        members = frozenset(people)
        self.found.append(Figure(where, period, measure, members, members))

    def digest(self, digest: Digest) -> None:
        team = digest.cohort_id
        teams = (team,) if team else TEAMS
        where = f"the digest of {team or 'the programme'} for {digest.week}"
        week = IsoWeek.parse(digest.week)
        assert week is not None
        self.answers(where, digest.week, digest.counts, teams)
        self.answers(where, str(week.shifted(-1)), digest.previous, teams)
        for row in digest.cohorts:
            assert row.cohorts, "every team row says which teams it counts"
            self.answers(where, digest.week, row.counts, row.cohorts)
            self.answers(where, str(week.shifted(-1)), row.previous, row.cohorts)
        for point in digest.series:
            self.answers(where, point.week, point.counts, point.cohorts or teams)
        self._window_counts(digest, where, week, teams)
        self._changes(digest.changes, where, week, teams)

    def _window_counts(
        self, digest: Digest, where: str, week: IsoWeek, teams: tuple[str, ...]
    ) -> None:
        window = theme_window(week, ZONE)
        period = f"the four weeks to {week}"
        people = self.facts.people(teams)
        for theme in digest.themes:
            pickers = {
                pid
                for picked_week, pid in self.facts.picked[f"{theme.family}:{theme.category}"]
                if picked_week <= week and pid in people
            }
            assert theme.contributors == len(pickers), (where, theme.slug)
            self.people(where, period, f"{theme.family}:{theme.category}", pickers)
        for written in digest.written:
            writers = self.facts.writers(window, teams, written.id)
            assert written.people == len(writers), (where, written.slug)
            self.people(where, period, f"written:{written.id}", writers)
        if digest.outside_people is not None and digest.outside_people >= self.k:
            # Words in none of the themes the programme's digest shows.
            shown = self.programme_themes[str(week)]
            outside = {
                person
                for person, team, theme_id, at in self.facts.texts
                if team in teams and theme_id not in shown and window.start <= at < window.end
            }
            assert digest.outside_people == len(outside), where
            self.people(where, period, "outside", outside)
        if digest.indispensability is not None:
            answered = self.facts.day30 & people
            assert digest.indispensability.people == len(answered), where
            self.people(where, period, "day30", answered)

    def _changes(
        self, changes: Iterable[Change], where: str, week: IsoWeek, teams: tuple[str, ...]
    ) -> None:
        for change in changes:
            kind, values = change.kind, change.values
            if kind in (ChangeKind.THEME_NEW, ChangeKind.THEME_RISING, ChangeKind.THEME_FALLING):
                now = values["now"]
                if isinstance(now, int) and now >= self.k:
                    theme = self.facts.slugs[str(values["slug"])]
                    writers = self.facts.writers(week.window(ZONE), teams, theme)
                    assert now == len(writers), (where, values)
                    self.people(where, str(week), f"week:{theme}", writers)

    def trends(self, trends: Trends) -> None:
        where = f"the trends to {trends.series[-1].week}"
        for point in trends.series:
            self.answers(where, point.week, point.counts, TEAMS)
        for cohort in trends.cohorts:
            for point in cohort.points:
                self.answers(where, point.week, point.counts, point.cohorts)
        for theme in trends.themes:
            theme_id = self.facts.slugs[theme.slug]
            for point, people in zip(trends.series, theme.people, strict=True):
                week = IsoWeek.parse(point.week)
                assert week is not None
                if people >= self.k:  # under k the trends say "fewer than k"
                    writers = self.facts.writers(week.window(ZONE), TEAMS, theme_id)
                    assert people == len(writers), (where, theme.slug)
                    self.people(where, point.week, f"week:{theme_id}", writers)
        last = IsoWeek.parse(trends.series[-1].week)
        assert last is not None
        self._changes(trends.changes, where, last, TEAMS)

    def page(self, page: ReportPage) -> None:
        """A report page: its digest, its teams' weeks, and each theme's people per week."""
        team = page.scope.cohort_id
        teams = (team,) if team else TEAMS
        where = f"the report page of {team or 'the programme'}"
        self.digest(page.digest)
        for cohort in page.teams:
            for point in cohort.points:
                self.answers(where, point.week, point.counts, point.cohorts)
        for theme in page.themes:
            for label, people in zip(page.weeks, theme.weekly, strict=True):
                week = IsoWeek.parse(label)
                assert week is not None
                if not people or week not in WEEKS:
                    continue  # a gap, nobody, or a week with no answers at all
                if theme.family == "written":
                    theme_id = self.facts.slugs[theme.slug]
                    writers = self.facts.writers(week.window(ZONE), teams, theme_id)
                    assert people == len(writers), (where, theme.slug, label)
                    self.people(where, label, f"week:{theme_id}", writers)
                    continue
                [category] = [c for (f, c), slug in FIXED_SLUGS.items() if slug == theme.slug]
                pickers = {
                    pid
                    for picked_week, pid in self.facts.picked[f"{theme.family}:{category}"]
                    if picked_week == week and pid in self.facts.people(teams)
                }
                assert people == len(pickers), (where, theme.slug, label)
                self.people(where, label, f"picked:{theme.family}:{category}", pickers)


def no_subtraction_singles_anyone_out(figures: Sequence[Figure], k: int) -> None:
    """Each figure, each difference of two, and each cell of their common refinement: >= k."""
    by_measure: dict[tuple[str, str], list[Figure]] = defaultdict(list)
    for figure in figures:
        by_measure[(figure.period, figure.measure)].append(figure)
    for (period, measure), shown in by_measure.items():
        for figure in shown:
            assert not figure.people or len(figure.respondents) >= k, (
                f"{figure.where} shows {measure} of {period} for "
                f"{len(figure.respondents)} people (k = {k})"
            )
        for one, other in itertools.permutations(shown, 2):
            if other.people < one.people:
                isolated = one.respondents - other.respondents
                assert len(isolated) >= k, (
                    f"{one.where} minus {other.where} ({measure}, {period}) singles out "
                    f"{len(one.people - other.people)} people, {len(isolated)} of whom "
                    f"answered (k = {k})"
                )
        # Any sum or difference of the figures can reach the cells of their common
        # refinement (the people counted by exactly the same figures): each has k or more.
        cells: dict[tuple[bool, ...], set[int]] = defaultdict(set)
        for person in frozenset().union(*(figure.people for figure in shown)):
            cells[tuple(person in figure.people for figure in shown)].add(person)
        respondents = frozenset().union(*(figure.respondents for figure in shown))
        for key, cell in cells.items():
            named = [figure.where for figure, inside in zip(shown, key, strict=True) if inside]
            assert len(cell & respondents) >= k, (
                f"{measure} of {period}: {named} together single out {len(cell)} people "
                f"({len(cell & respondents)} answered; k = {k})"
            )


Output = Digest | Trends | ReportPage


async def every_output(runtime: Runtime, config: LastmileConfig) -> list[Output]:
    """The programme's and each team's digest of both weeks, the two-week trends, and
    the programme's and each team's report page of the later week."""
    outputs: list[Output] = []
    async with runtime.db.session() as session:
        # The later week first: it places every text, so both weeks see the same themes.
        for week in (W47, W46):
            for team in (None, *TEAMS):
                scope = Scope("pilot", team)
                outputs.append(await build_digest(session, config, scope, week, MONDAY_W48))
        outputs.append(await build_trends(session, config, "pilot", W47, 2))
        for team in (None, *TEAMS):
            report = ReportScope("pilot", team)
            outputs.append(
                await build_page(session, config, runtime.wording, report, W47, MONDAY_W48)
            )
    return outputs


# -- the tests ------------------------------------------------------------------------------


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = MONDAY_W48
    path = tmp_path / "pilot.toml"
    path.write_text(pilot_config(5), encoding="utf-8")
    runtime = await build_runtime(
        Settings(database_url=database_url, lastmile_config=path, _env_file=None),  # type: ignore[call-arg]
        clock=clock,
    )
    try:
        yield runtime
    finally:
        await runtime.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=PILOTS, k=st.sampled_from((3, 4, 5)))
async def test_no_difference_between_shown_figures_singles_out_fewer_than_k(
    pilot: Runtime, generated: dict[str, tuple[Member, ...]], k: int
) -> None:
    await empty_the_pilot(pilot)
    facts = await store_pilot(pilot, generated)
    outputs = await every_output(pilot, with_k(pilot.config, k))
    await read_placement(pilot, facts)
    figures = Figures(facts, k)
    for output in outputs:
        if isinstance(output, Digest) and output.cohort_id is None:
            figures.programme_themes[output.week] = {theme.id for theme in output.written}
    for output in outputs:
        if isinstance(output, Digest):
            figures.digest(output)
        elif isinstance(output, ReportPage):
            figures.page(output)
        else:
            figures.trends(output)
    no_subtraction_singles_anyone_out(figures.found, k)


ISSUE_TEAMS = {"a": ("helped", 8), "b": ("partly", 7), "c": ("no", 4)}
"""The issue's pilot: 8 people who say Yes, 7 who say Partly, 4 who say No; k = 5."""


async def test_the_issues_subtraction_no_longer_finds_the_small_team(pilot: Runtime) -> None:
    answered = {
        team: tuple(
            Member(
                (
                    (Answered(outcome, "old_system", 0, "", "too_slow"),),
                    (Answered(outcome, "old_system", 0, "", "too_slow"),),
                ),
                False,
            )
            for _ in range(size)
        )
        for team, (outcome, size) in ISSUE_TEAMS.items()
    }
    await store_pilot(pilot, answered)
    (programme,) = await say(pilot, "owner", "digest")
    (seven,) = await say(pilot, "owner", "digest b")
    (lead,) = await say(pilot, "lead_b", "digest")
    (trends,) = await say(pilot, "owner", "trends 2")
    assert isinstance(programme, Report) and isinstance(seven, Report)
    assert isinstance(lead, Report) and isinstance(trends, Report)
    text = as_plain_text(programme)
    # The programme digest folds the 7 and the 4: "Other teams, 11 people" ...
    assert "Other teams, 11 people: response 100% · helped 0% · partly 64% · no 36%" in text
    assert "Used the old system [old-system]: 11 people, 22 times" in text
    # ... so the 7-person team's own digest shows no figure of its own that week, to its
    # owner or its lead: 11 - 7 would be the 4 people who said No.
    for team_digest in (seven, lead):
        shown = as_plain_text(team_digest)
        assert "Team B is counted with other teams this week" in shown
        assert "7 people" not in shown and "7 of" not in shown and "%" not in shown
        assert "old-system" not in shown
    # The trends of both weeks show the same groups.
    sections = {section.heading: section.lines for section in trends.sections}
    assert list(sections["Other teams"]) == [
        f"{week}: response 100% · helped 0% · partly 64% · no 36% · not used 0% (11 people)"
        for week in ("2026-W46", "2026-W47")
    ]
    shown = as_plain_text(trends)
    assert "(7 people)" not in shown and "Team B" not in shown and "Team C" not in shown
