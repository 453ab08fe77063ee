"""Quotes are scrubbed of mentions, e-mail addresses, phone numbers and links, however written."""

from __future__ import annotations

import re

import pytest

from bot.digest.scrub import scrub, shorten

ADVERSARIAL = [
    ("ping <@U024BE7LH> now", "ping [someone] now"),
    ("<@U024BE7LH|ana> said so", "[someone] said so"),
    ("<!channel> look", "[someone] look"),
    ("<!here|here> and <!everyone>", "[someone] and [someone]"),
    ("<!subteam^S0123|@drivers> help", "[someone] help"),
    ("see <#C0123|general>", "see [someone]"),
    ("<at>Ana Silva</at> knows", "[someone] knows"),
    ("&lt;!channel&gt; escaped", "[someone] escaped"),
    ("ask @dave.smith or @here", "ask [someone] or [someone]"),
    ("full-width ＠ｄａｖｅ too", "full-width [someone] too"),
    ("zero\u200bwidth <!chan\u200bnel>", "zerowidth [someone]"),
    ("mail ana.silva+depot@example.co.uk today", "mail [email] today"),
    ("mail ana @ example.com", "mail [email]"),
    ("mail ana(at)example(dot)com", "mail [email]"),
    ("mail ana [at] example [dot] org", "mail [email]"),
    ("mail ana at example dot com", "mail [email]"),
    ("john.smith@corp has it", "[email] has it"),
    ("call +44 20 7946 0958", "call [phone]"),
    ("call +44 (0)20 7946 0958", "call [phone]"),
    ("call 020 7946 0958", "call [phone]"),
    ("call 07700 900123", "call [phone]"),
    ("call (312) 555-0147", "call [phone]"),
    ("call 312.555.0147", "call [phone]"),
    ("call +1-202-555-0147", "call [phone]"),
    ("call 0049 30 12345678", "call [phone]"),
    ("call +33 1 23 45 67 89", "call [phone]"),
    ("call +81-3-1234-5678", "call [phone]"),
    ("call +91 98765 43210", "call [phone]"),
    ("call ５５５１２３４５６７", "call [phone]"),
    ("see https://maps.example/r?token=abc123 now", "see [link] now"),
    ("see www.example.com/a", "see [link]"),
    ("<https://evil.example|click here>", "[link]"),
    ("<mailto:ana@example.com|ana@example.com>", "[link]"),
]


@pytest.mark.parametrize(("written", "quoted"), ADVERSARIAL)
def test_adversarial_text_is_scrubbed(written: str, quoted: str) -> None:
    assert scrub(written) == quoted


@pytest.mark.parametrize(
    "kept",
    [
        "route 12 took 45 min at 15:30",
        "on 2026-11-17 the depot was shut",
        "asked at the desk, then did it by hand",
        "3 drops, 2 returns",
    ],
)
def test_ordinary_words_and_numbers_stay(kept: str) -> None:
    assert scrub(kept) == kept


def test_no_markup_survives() -> None:
    quoted = scrub("<b>bold</b> <script>x</script> *stars*\nnew line\tand tab")
    assert "<" not in quoted and ">" not in quoted
    assert quoted == "‹b›bold‹/b› ‹script›x‹/script› *stars* new line and tab"


def test_no_digit_run_long_enough_for_a_phone_survives() -> None:
    text = "a 1 2 3 4 5 6 7 b 12-34-56-78 c (0)7 7 0 0 9 0 0 1 2 3"
    assert not re.search(r"\d[\d\s().-]{5,}\d", scrub(text))


def test_long_quotes_are_cut_at_a_word() -> None:
    cut = shorten("word " * 60, limit=40)
    assert cut.endswith("…") and len(cut) <= 40 and "wor…" not in cut
