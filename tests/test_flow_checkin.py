"""The check-in flow as pure steps: no database, no clock."""

from __future__ import annotations

import pytest

from bot.flows.checkin import (
    FlowState,
    Pick,
    SaveAnswer,
    SaveDay30,
    SaveNotUsed,
    SaveOverride,
    SaveWorkaround,
    Typed,
    start,
    step,
)
from bot.replies import Answered, Choices, Text, TextRequest
from bot.wording import Wording, load_wording


@pytest.fixture(scope="module")
def w() -> Wording:
    return load_wording("en")


def first(flow: str = "checkin", context: str = "") -> FlowState:
    return FlowState(
        flow=flow,
        checkin_id=7,
        step="first" if flow == "checkin" else "feeling",
        tool="RoutePilot",
        context=context,
    )


def test_first_question_names_the_tool_and_offers_five_answers(w: Wording) -> None:
    (reply,) = start(first(), w)
    assert isinstance(reply, Choices)
    assert reply.text == "Did RoutePilot help you this afternoon?"
    assert [o.label for o in reply.options] == [
        "Yes, it helped",
        "Partly",
        "No",
        "Didn't use it",
        "Not now",
    ]
    assert reply.token == "checkin:7:first"


def test_context_from_the_tool_appears_in_the_question(w: Wording) -> None:
    (reply,) = start(first(context="suggested route 12"), w)
    assert isinstance(reply, Choices)
    assert "suggested route 12" in reply.text


def test_helped_records_and_closes(w: Wording) -> None:
    t = step(first(), Pick("first", "helped"), w)
    assert t.state is None
    assert t.records == (SaveAnswer("helped"),)
    assert isinstance(t.replies[0], Answered) and t.replies[0].token == "checkin:7:first"
    assert isinstance(t.replies[-1], Text) and "totals of 5 or more" in t.replies[-1].text


def test_partly_walks_workaround_then_override_with_reason_and_text(w: Wording) -> None:
    t = step(first(), Pick("first", "partly"), w)
    assert t.state is not None and t.state.step == "workaround"
    t = step(t.state, Pick("workaround", "other"), w)
    assert t.records == (SaveWorkaround("other"),)
    assert t.state is not None and t.state.step == "workaround_text"
    assert isinstance(t.replies[-1], TextRequest)
    t = step(t.state, Typed("workaround_text", "phoned the depot"), w)
    assert t.records == (SaveWorkaround("other", "phoned the depot"),)
    assert t.state is not None and t.state.step == "override"
    t = step(t.state, Pick("override", "yes"), w)
    assert t.records == (SaveOverride(True),)
    assert t.state is not None
    t = step(t.state, Pick("override_reason", "wrong"), w)
    assert t.records == (SaveOverride(True, "wrong"),)
    assert t.state is not None
    t = step(t.state, Typed("override_text", "road closed"), w)
    assert t.records == (SaveOverride(True, "wrong", "road closed"),)
    assert t.state is None


def test_no_override_closes(w: Wording) -> None:
    t = step(first(), Pick("first", "no"), w)
    assert t.state is not None
    t = step(t.state, Pick("workaround", "colleague"), w)
    assert t.state is not None
    t = step(t.state, Pick("override", "no"), w)
    assert t.records == (SaveOverride(False),)
    assert t.state is None


def test_not_used_reason_other_asks_for_words(w: Wording) -> None:
    t = step(first(), Pick("first", "not_used"), w)
    assert t.state is not None and t.state.step == "not_used_reason"
    t = step(t.state, Pick("not_used_reason", "other"), w)
    assert t.state is not None and t.state.step == "not_used_text"
    t = step(t.state, Typed("not_used_text", "tablet was flat"), w)
    assert t.records == (SaveNotUsed("other", "tablet was flat"),)
    assert t.state is None


def test_skipping_a_text_step_moves_on_without_recording(w: Wording) -> None:
    t = step(first(), Pick("first", "no"), w)
    assert t.state is not None
    t = step(t.state, Pick("workaround", "other"), w)
    assert t.state is not None
    t = step(t.state, Pick("workaround_text", "skip"), w)
    assert t.records == ()
    assert t.state is not None and t.state.step == "override"


def test_a_tap_for_another_step_is_refused_and_changes_nothing(w: Wording) -> None:
    state = first()
    t = step(state, Pick("workaround", "by_hand"), w)
    assert not t.accepted and t.state == state and t.records == ()


def test_an_unknown_value_is_refused(w: Wording) -> None:
    t = step(first(), Pick("first", "maybe"), w)
    assert not t.accepted and t.records == ()


def test_day30_feeling_then_change(w: Wording) -> None:
    state = first("day30")
    (reply,) = start(state, w)
    assert isinstance(reply, Choices) and "went away tomorrow" in reply.text
    t = step(state, Pick("feeling", "very"), w)
    assert t.records == (SaveDay30("very"),)
    assert t.state is not None
    t = step(t.state, Typed("change", "faster login"), w)
    assert t.records == (SaveDay30("very", "faster login"),)
    assert t.state is None


def test_overlong_text_is_kept_shortened(w: Wording) -> None:
    # The engine cuts it first and tells the person; the flow never stores more.
    t = step(first(), Pick("first", "no"), w)
    assert t.state is not None
    t = step(t.state, Pick("workaround", "other"), w)
    assert t.state is not None
    t = step(t.state, Typed("workaround_text", "x" * 2001), w)
    assert t.accepted
    assert t.records == (SaveWorkaround("other", "x" * 2000),)
