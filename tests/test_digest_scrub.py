"""Quotes are scrubbed of names, mentions, handles, contact details, addresses and ids."""

from __future__ import annotations

import re

import pytest

from bench.scrub_quality import TARGETS, System, evaluate, load_directory, load_quotes
from bot.digest.findings import Finding, Kind, merged
from bot.digest.scrub import Scrubber, scrub, shorten
from bot.digest.scrub_names import KnownNames

PLACEHOLDERS_SEEN = re.compile(r"\[(email|phone|link|someone|address|id|ip)\]")

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


IDENTIFIERS = [
    # names: common first names in any case, surnames after them, people after a title
    ("asked sarah about the drop", "asked [someone] about the drop"),
    ("Sarah Jones told me to skip it", "[someone] told me to skip it"),
    ("mike o'brien says the map is old", "[someone] says the map is old"),
    ("Mike O'Brien's van was outside", "[someone]'s van was outside"),
    ("Dr Okafor overrode it", "Dr [someone] overrode it"),
    ("nurse Kelly redid the chart", "nurse [someone] redid the chart"),
    ("J. Smith keeps reopening them", "[someone] keeps reopening them"),
    ("Maria de la Cruz has a checklist", "[someone] has a checklist"),
    ("I told Will it was broken", "I told [someone] it was broken"),
    ("Will said the scanner died", "[someone] said the scanner died"),
    ("Rose and Jack did it by hand", "[someone] and [someone] did it by hand"),
    ("Mrs O'Neill called 3 times", "Mrs [someone] called 3 times"),
    # handles and logins
    ("ask jane_doe, she built it", "ask [someone], she built it"),
    ("login jdoe42 keeps timing out", "login [someone] keeps timing out"),
    ("sarah.jones has the sheet", "[someone] has the sheet"),
    ("username: kmensah was locked", "username: [someone] was locked"),
    ("CORP\\jsmith has admin", "[someone] has admin"),
    # e-mail addresses, whole: the part before the @ too
    ("mail sarah.o'brien@acme.com", "mail [email]"),
    ("mail sarah dot jones at acme dot com", "mail [email]"),
    ("mail ines.sanz @ shopco.example", "mail [email]"),
    ("mail bilal at shopco.co.uk", "mail [email]"),
    # national ids, badge, staff and vehicle numbers
    ("NI QQ 12 34 56 C on the form", "NI [id] on the form"),
    ("ni no ab123456c on the payslip", "ni no [id] on the payslip"),
    ("her ssn 123-45-6789 was read out", "her ssn [id] was read out"),
    ("NHS no 485 777 3456 wrong patient", "NHS no [id] wrong patient"),
    ("my badge 4471 wouldnt scan", "my badge [id] wouldnt scan"),
    ("staff no. 88312 wrong shifts", "staff no. [id] wrong shifts"),
    ("employee id E-20931 locked out", "employee id [id] locked out"),
    ("driver EMP-00417 got a ticket", "driver [id] got a ticket"),
    ("van reg AB12 CDE has no tablet", "van reg [id] has no tablet"),
    ("licence MORGA753116SM9IJ stored", "licence [id] stored"),
    ("dni 12345678Z en pantalla", "dni [id] en pantalla"),
    # addresses and postcodes: UK, US, EU
    ("at Flat 3, 14 High Street, LS1 4AP", "at [address], [address]"),
    ("221B Baker Street again", "[address] again"),
    ("1600 Pennsylvania Ave NW, Washington, DC 20500", "[address], [someone], DC [address]"),
    ("42 elm drive is wrong", "[address] is wrong"),
    ("customer lives on Acacia Avenue", "customer lives on [address]"),
    ("postcode m1 1ae routes badly", "postcode [address] routes badly"),
    ("Calle Mayor 12, 28013 Madrid", "[address], [address] Madrid"),
    ("Hauptstraße 5, 10115 Berlin", "[address], [address] Berlin"),
    ("ul. Marszałkowska 10/12, 00-590 Warszawa", "[address], [address] Warszawa"),
    ("Keizersgracht 123, 1012 AB Amsterdam", "[address], [address] Amsterdam"),
    ("PO Box 1234 is no address", "[address] is no address"),
    ("Eircode D02 X285 unknown", "Eircode [address] unknown"),
    # IP addresses, v4 and v6
    ("till at 10.0.0.12 drops", "till at [ip] drops"),
    ("from 192.168.1.20:8443 and 2001:db8::1", "from [ip] and [ip]"),
    ("printer fe80::1ff:fe23:4567:890a", "printer [ip]"),
    # links without a scheme
    ("use bit.ly/x7Kq2 for the map", "use [link] for the map"),
    ("rota is at intranet.shopco.co.uk/rota", "rota is at [link]"),
]


@pytest.mark.parametrize(("written", "quoted"), IDENTIFIERS)
def test_names_ids_addresses_and_handles_are_scrubbed(written: str, quoted: str) -> None:
    assert scrub(written) == quoted


@pytest.mark.parametrize(
    "kept",
    [
        "I will drive the van back and mark it as done",
        "Drive time was 45 min but the app said 20",
        "Bill the customer for the bag",
        "Mark down the reduced items by hand",
        "Will it ever know about the roadworks?",
        "Mark and label them, then chuck them in the cage",
        "version 2.3 broke the scanner, v4.12.1 too",
        "the chart said 10:15:30 for a dose given at 09:00",
        "gave 500mg at 08:00, 4.5C in the fridge",
        "the 5 min drive to the first drop took 25",
        "2 more road closures on the ring road",
        "M6 3hr delay at junction 19",
        "late.no one answered at the door",
        "ticket 48213 reopened, ordered 1200 units",
        "the green bin and the rose bushes",
        "may have to do it by hand again in june",
        "the AI said ETA 3pm, NINO and PAT checks overdue",
        "lorry park full, jack up the trailer",
        "rang 07911123456 5 times",
    ],
)
def test_ordinary_frontline_words_stay(kept: str) -> None:
    assert scrub(kept).replace("[phone]", "07911123456") == kept


def test_a_surname_that_is_a_word_is_kept_after_a_lower_case_name() -> None:
    assert scrub("asked sarah weeks ago") == "asked [someone] weeks ago"
    assert scrub("Sarah Weeks said so") == "[someone] said so"


DIRECTORY = KnownNames.of(
    [
        *("Tamsin Pengelly", "Krzysztof Wiśniewski", "Will Green", "Priya Raghunathan (she/her)"),
        *("Dev Patel - North depot", "Brennan, Fionnuala", "Michael O'Brien"),
    ],
    ["seun.adeyemi@northwind.example", "ops.lead@northwind.example"],
    ["U024BE7LH", "29:1f3aKx9PqZ", "ana", "n1"],
)


@pytest.mark.parametrize(
    ("written", "quoted"),
    [
        ("Pengelly moaned again", "[someone] moaned again"),
        ("tamsin's shift", "[someone]'s shift"),
        ("wisniewski fixed the printer", "[someone] fixed the printer"),
        ("wil green and me swapped", "[someone] and me swapped"),
        ("dev patel's login is old", "[someone]'s login is old"),
        ("fionnuala brennan on ward 7", "[someone] on ward 7"),
        ("Fionnuala Brennan's list", "[someone]'s list"),
        ("Seun covered my drops", "[someone] covered my drops"),
        ("mick said leave it", "[someone] said leave it"),
        ("obrien rang in", "[someone] rang in"),
        ("U024BE7LH pinged me", "[someone] pinged me"),
        ("29:1f3aKx9PqZ pinged me", "[someone] pinged me"),
        ("mail t.pengelly or ask", "mail [someone] or ask"),
        ("login seun.adeyemi locked", "login [someone] locked"),
    ],
)
def test_known_people_are_scrubbed_however_written(written: str, quoted: str) -> None:
    assert Scrubber(DIRECTORY).scrub(written) == quoted


def test_known_names_are_what_only_the_directory_can_catch() -> None:
    assert scrub("Pengelly moaned again") == "Pengelly moaned again"


def test_display_name_notes_and_mailboxes_are_not_names() -> None:
    scrubber = Scrubber(DIRECTORY)
    kept = "she said her north depot lead would check, the ops team too"
    assert scrubber.scrub(kept) == kept
    assert {"priya", "raghunathan", "fionnuala", "brennan", "seun", "adeyemi"} <= DIRECTORY.words
    assert not {"she", "her", "north", "depot", "ops", "lead"} & DIRECTORY.words
    assert DIRECTORY.ids == {"U024BE7LH", "29:1f3aKx9PqZ"}
    assert ("fionnuala", "brennan") in DIRECTORY.pairs
    assert ("brennan", "fionnuala") not in DIRECTORY.pairs


def test_scrubbing_twice_changes_nothing_more() -> None:
    scrubber = Scrubber(DIRECTORY)
    for written, _ in ADVERSARIAL + IDENTIFIERS:
        once = scrubber.scrub(written)
        assert scrubber.scrub(once) == once


def test_overlapping_findings_become_one_union() -> None:
    findings = [
        Finding(0, 10, Kind.LINK),
        Finding(2, 8, Kind.EMAIL),
        Finding(9, 14, Kind.NAME),
        Finding(20, 25, Kind.PHONE),
    ]
    assert merged(findings) == [Finding(0, 14, Kind.LINK), Finding(20, 25, Kind.PHONE)]


def test_the_hostile_quote_set_meets_the_recall_target() -> None:
    quotes = load_quotes()
    assert len(quotes) >= 100
    known = evaluate(
        System("known", Scrubber(load_directory()).scrub, PLACEHOLDERS_SEEN, str), quotes
    )
    for label in TARGETS:
        recall = known.recall(label)
        assert recall is not None and recall >= 0.95, (label, recall, known.misses)
    precision = known.precision("all")
    assert precision is not None and precision >= 0.95, known.extra
    assert known.clean_kept >= known.clean - 2, known.extra
