"""Fixed-answer themes: only with k people, quoting the words given with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.digest.themes import all_themes, normalise_slug
from storage.reports import CategoryCount, FreeText

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def _text(person: int, words: str, family: str = "workaround", category: str = "other") -> FreeText:
    return FreeText(family, category, person, words, START + timedelta(minutes=person))


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


def test_owners_can_type_a_slug_loosely() -> None:
    assert normalise_slug("Old_System") == "old-system"
    assert normalise_slug("`too-slow`") == "too-slow"
    assert normalise_slug("<!channel>") == ""
