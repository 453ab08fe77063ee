"""The check-in flow as one declared table read by a pure `step()`: no database, no clock."""

from __future__ import annotations

import pytest

from bot.flows.checkin import (
    STEPS,
    Flow,
    FlowState,
    FreeText,
    Moment,
    Pick,
    SaveAnswer,
    SaveDay30,
    SaveNotUsed,
    SaveOverride,
    SaveWorkaround,
    Step,
    Typed,
    close_now,
    start,
    step,
    wording_keys,
)
from bot.replies import Choices, Replace, Text, TextRequest
from bot.wording import Wording, load_wording


@pytest.fixture(scope="module")
def w() -> Wording:
    return load_wording("en")


def first(flow: Flow = Flow.CHECKIN, context: str = "") -> FlowState:
    return FlowState(
        flow=flow,
        checkin_id=7,
        step=Step.FIRST if flow is Flow.CHECKIN else Step.FEELING,
        tool="RoutePilot",
        context=context,
    )


def shown(reply: object) -> Text | Choices | TextRequest:
    assert isinstance(reply, Replace)
    return reply.reply


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


def test_the_question_says_when_in_the_persons_time_or_their_shift(w: Wording) -> None:
    night = FlowState(Flow.CHECKIN, 7, Step.FIRST, "RoutePilot", moment=Moment.NIGHT)
    shift = FlowState(Flow.CHECKIN, 7, Step.FIRST, "RoutePilot", moment=Moment.SHIFT)
    assert shown_text(start(night, w)[0]) == "Did RoutePilot help you tonight?"
    assert shown_text(start(shift, w)[0]) == "Did RoutePilot help you on this shift?"


def shown_text(reply: object) -> str:
    assert isinstance(reply, Choices)
    return reply.text


def test_context_from_the_tool_appears_in_the_question(w: Wording) -> None:
    (reply,) = start(first(context="suggested route 12"), w)
    assert isinstance(reply, Choices)
    assert "suggested route 12" in reply.text


def test_helped_records_and_the_message_becomes_the_receipt(w: Wording) -> None:
    t = step(first(), Pick("first", "helped"), w)
    assert t.state is None
    assert t.records == (SaveAnswer("helped"),)
    (reply,) = t.replies
    assert isinstance(reply, Replace) and reply.token == "checkin:7:first"
    receipt = shown(reply)
    assert isinstance(receipt, Text)
    assert receipt.text.split("\n")[:2] == [
        "Did RoutePilot help you this afternoon?",
        "✓ RoutePilot helped",
    ]
    assert "totals of 5 or more" in receipt.text


def test_partly_by_hand_and_a_reason_is_complete_in_three_taps(w: Wording) -> None:
    t = step(first(), Pick("first", "partly"), w)
    assert t.state is not None and t.state.step is Step.WORKAROUND
    t = step(t.state, Pick("workaround", "by_hand"), w)
    assert t.records == (SaveWorkaround("by_hand"),)
    assert t.state is not None and t.state.step is Step.OVERRIDE
    t = step(t.state, Pick("override", "didnt_fit"), w)
    assert t.records == (SaveOverride(True, "didnt_fit"),)
    # Complete: the message is the receipt, offering (never asking for) a few words.
    assert t.state is not None and t.state.closed
    note = shown(t.replies[0])
    assert isinstance(note, TextRequest) and note.optional and not note.skip_label
    assert "✓ Partly — did it by hand — overrode it: didn't fit the situation" in note.prompt
    t = step(t.state, Typed("override_note", "road closed"), w)
    assert t.records == (SaveOverride(True, "didnt_fit", "road closed"),)
    assert t.state is None
    assert "“road closed”" in shown(t.replies[0]).text  # type: ignore[union-attr]


def test_something_else_asks_for_words_that_can_be_skipped(w: Wording) -> None:
    t = step(first(), Pick("first", "no"), w)
    assert t.state is not None
    t = step(t.state, Pick("workaround", "other"), w)
    assert t.records == (SaveWorkaround("other"),)
    asked = shown(t.replies[0])
    assert isinstance(asked, TextRequest) and asked.skip_label == "Skip"
    assert t.state is not None
    t = step(t.state, Pick("workaround_text", "skip"), w)
    assert t.records == ()
    assert t.state is not None and t.state.step is Step.OVERRIDE


def test_words_for_something_else_are_kept_with_the_workaround(w: Wording) -> None:
    t = step(first(), Pick("first", "no"), w)
    assert t.state is not None
    t = step(t.state, Pick("workaround", "other"), w)
    assert t.state is not None
    t = step(t.state, Typed("workaround_text", "phoned the depot"), w)
    assert t.records == (SaveWorkaround("other", "phoned the depot"),)
    assert t.state is not None
    t = step(t.state, Pick("override", "no"), w)
    assert t.records == (SaveOverride(False),)
    assert t.state is None


def test_not_used_reason_other_asks_for_words(w: Wording) -> None:
    t = step(first(), Pick("first", "not_used"), w)
    assert t.state is not None and t.state.step is Step.NOT_USED_REASON
    t = step(t.state, Pick("not_used_reason", "other"), w)
    assert t.state is not None and t.state.step is Step.NOT_USED_TEXT
    t = step(t.state, Typed("not_used_text", "tablet was flat"), w)
    assert t.records == (SaveNotUsed("other", "tablet was flat"),)
    assert t.state is None


def test_a_tap_for_another_step_is_refused_and_changes_nothing(w: Wording) -> None:
    state = first()
    t = step(state, Pick("workaround", "by_hand"), w)
    assert not t.accepted and t.state == state and t.records == ()


def test_an_unknown_value_or_words_at_a_button_step_are_refused(w: Wording) -> None:
    assert not step(first(), Pick("first", "maybe"), w).accepted
    assert not step(first(), Typed("first", "maybe"), w).accepted


def test_day30_feeling_then_change(w: Wording) -> None:
    state = first(Flow.DAY30)
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


def test_a_flow_closed_part_way_keeps_the_receipt_of_what_was_given(w: Wording) -> None:
    t = step(first(), Pick("first", "no"), w)
    assert t.state is not None
    closed = close_now(t.state, w)
    assert closed.token == "checkin:7:workaround"
    assert isinstance(closed.reply, Text) and "✓ It didn't help" in closed.reply.text


def test_the_table_is_whole_and_every_key_it_builds_is_english(w: Wording) -> None:
    for name, spec in STEPS.items():
        for choice in spec.options:
            assert choice.next is Step.DONE or choice.next in STEPS, (name, choice)
        if spec.text is FreeText.NONE:
            assert spec.options, name
    assert wording_keys() <= w.strings.keys()
