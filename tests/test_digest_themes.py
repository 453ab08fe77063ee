"""Themes: fixed answers and grouped free text, only with k people, the same every time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.digest.themes import all_themes, free_text_themes, normalise_slug
from storage.reports import CategoryCount, FreeText

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def _text(person: int, words: str, family: str = "workaround", category: str = "other") -> FreeText:
    return FreeText(family, category, person, words, START + timedelta(minutes=person))


SCANNER = [
    "scanner had no signal in the yard",
    "no signal on the scanner again",
    "scanner signal dropped at the gate",
    "scanner lost its signal, wrote it on paper",
    "the scanner signal is hopeless near the dock",
]
PRINTER = ["label printer jammed", "printer jammed again, labels by hand"]


def test_free_text_groups_by_words_and_keeps_only_k_people() -> None:
    texts = [_text(i, words) for i, words in enumerate(SCANNER + PRINTER)]
    themes = free_text_themes(texts, 5, set())
    assert [(t.slug, t.contributors, t.mentions) for t in themes] == [("scanner-signal", 5, 5)]
    assert themes[0].terms[:2] == ("scanner", "signal")
    assert themes[0].person_ids == frozenset(range(5))
    assert len(themes[0].quotes) == 3


def test_one_person_writing_five_times_is_not_a_theme() -> None:
    texts = [_text(1, words) for words in SCANNER] + [_text(2, SCANNER[0])]
    assert free_text_themes(texts, 5, set()) == []


def test_the_same_words_give_the_same_themes_in_any_order() -> None:
    texts = [_text(i, words) for i, words in enumerate(SCANNER * 2 + PRINTER * 3)]
    first = free_text_themes(texts, 3, set())
    shuffled = list(texts)
    random.Random(7).shuffle(shuffled)
    assert free_text_themes(shuffled, 3, set()) == first
    assert [theme.slug for theme in first] == ["scanner-signal", "jammed-printer"]


def test_a_slug_never_repeats_a_fixed_theme() -> None:
    texts = [_text(i, f"old system, the old system again: codes {i}") for i in range(5)]
    themes = all_themes([], texts, 5)
    assert [theme.slug for theme in themes] == ["old-system-codes"]


def test_fixed_answers_need_k_people_and_quote_their_own_words() -> None:
    counts = [
        CategoryCount("override", "wrong", mentions=7, contributors=5),
        CategoryCount("override", "policy", mentions=9, contributors=4),
        CategoryCount("workaround", "other", mentions=9, contributors=9),
    ]
    words = [
        _text(1, "wrong again", "override", "wrong"),
        _text(2, "wrong address", "override", "wrong"),
        _text(2, "wrong address", "override", "wrong"),
        _text(3, "it sent me the wrong way, call 07700 900123", "override", "wrong"),
        _text(4, "policy says no", "override", "policy"),
    ]
    (theme,) = all_themes(counts, words, 5)
    assert (theme.slug, theme.family) == ("wrong", "override")
    assert (theme.contributors, theme.mentions) == (5, 7)
    # Newest first, one quote per person, scrubbed.
    assert theme.quotes == (
        "it sent me the wrong way, call [phone]",
        "wrong address",
        "wrong again",
    )


def test_nothing_to_group_gives_no_theme() -> None:
    texts = [_text(i, "the and of it") for i in range(6)]
    assert free_text_themes(texts, 5, set()) == []


def test_owners_can_type_a_slug_loosely() -> None:
    assert normalise_slug("Old_System") == "old-system"
    assert normalise_slug("`too-slow`") == "too-slow"
    assert normalise_slug("<!channel>") == ""
