"""Each person in their own language: Spanish and Polish ship, every key of every locale is
checked at start-up, dates are said the local way, digests speak the programme's language
(issue 11, acceptance 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import pytest

from adapters.local.chat import LocalChat
from bot.config import Settings, example_config_path
from bot.digest.weekly import queue_weekly_digest
from bot.flows.checkin import wording_keys
from bot.runtime import Runtime
from bot.wording import WordingError, load_wordings, require, shipped_locales
from lastmile.platforms import PLATFORMS
from lastmile.server import connect, runtime_for
from storage.models import Answer, OutboxMessage, Workaround
from tests.conftest import FakeClock
from tests.conversation import SlackConversation
from tests.helpers import rows
from tests.slack_support import DANA, running


def test_english_spanish_and_polish_ship_with_every_key() -> None:
    require(*wording_keys())
    wordings = load_wordings("en")
    assert {"en", "es", "pl"} <= set(wordings.by_locale)
    english = wordings.by_locale["en"].strings
    for locale in ("es", "pl"):
        strings = wordings.by_locale[locale].strings
        assert set(english) <= set(strings), locale
        # Translated, not copied: most of the words differ from the English.
        same = [key for key in english if strings[key] == english[key] and len(english[key]) > 12]
        assert len(same) < len(english) // 10, (locale, same[:10])
    assert wordings.get("es-ES").locale == "es"
    assert wordings.get("pl_PL").locale == "pl"
    assert wordings.get("fr-FR", "").locale == "en"


def _prompts_without(tmp_path: Path, locale: str, key: str) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name in shipped_locales():
        source = resources.files("prompts") / f"{name}.toml"
        (folder / f"{name}.toml").write_bytes(source.read_bytes())
    section, _, leaf = key.rpartition(".")
    path = folder / f"{locale}.toml"
    lines = path.read_text(encoding="utf-8").split("\n")
    current = ""
    kept = []
    for line in lines:
        if line.startswith("["):
            current = line.strip("[]")
        if current == section and line.startswith(f"{leaf} = "):
            continue
        kept.append(line)
    path.write_text("\n".join(kept), encoding="utf-8")
    return folder


async def test_a_missing_spanish_key_stops_start_up_with_its_name(
    tmp_path: Path, database_url: str
) -> None:
    # A key built at run time (a receipt's words for one answer) counts like any other.
    folder = _prompts_without(tmp_path, "es", "receipt.workaround.colleague")
    settings = Settings(
        database_url=database_url,
        lastmile_config=example_config_path(),
        lastmile_prompts_dir=folder,
        _env_file=None,  # type: ignore[call-arg]
    )
    with pytest.raises(
        WordingError, match=r"es\.toml is missing the key 'receipt\.workaround\.colleague'"
    ):
        await runtime_for(settings)


def test_a_placeholder_the_english_lacks_is_refused(tmp_path: Path) -> None:
    folder = _prompts_without(tmp_path, "pl", "none")
    path = folder / "pl.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('question = "Czy {tool} pomógł', 'question = "Czy {narzedzie} pomógł'),
        encoding="utf-8",
    )
    with pytest.raises(WordingError, match=r"checkin\.question uses \{narzedzie\}"):
        load_wordings("en", directory=folder)


async def test_a_spanish_speaking_slack_user_is_asked_and_answered_in_spanish(
    database_url: str, clock: FakeClock
) -> None:
    """Acceptance 4: welcome, question, receipt, mydata and dates in Spanish (locale es-ES)."""
    async with running(database_url, clock) as harness:
        harness.fake.users[DANA].locale = "es-ES"
        chat = SlackConversation(harness)
        welcome = "\n".join(await chat.say("hola"))
        assert "Hola, soy lastmile" in welcome
        assert "nunca con tu nombre" in welcome

        await chat.checkin()
        assert "Sí, me ayudó" in chat.buttons()
        assert any(m.startswith("¿Te ayudó RoutePilot") for m in chat.messages())
        await chat.tap("En parte")
        await chat.tap("Pregunté a un compañero")
        await chat.tap("No encajaba con la situación")
        receipt = chat.messages()[-1]
        assert "✓ En parte — pregunté a un compañero — la descarté: no encajaba" in receipt
        assert "sumada a la de 5 personas o más" in receipt
        [workaround] = await rows(chat.runtime, Workaround)
        assert workaround.kind == "colleague"

        mydata = "\n".join(await chat.say("misdatos"))
        assert "Esto es todo lo que guardo sobre ti." in mydata
        assert "En parte" in mydata and "Idioma: español (es-ES)" in mydata
        assert "nov 2026" in mydata  # the date, the Spanish way

        paused = "\n".join(await chat.say("pausa 2 semanas"))
        assert "martes, 1 de diciembre de 2026" in paused


async def example_with(
    tmp_path: Path, database_url: str, clock: FakeClock, after: str, line: str
) -> Runtime:
    """A runtime on the example config with `line` added after the line `after`."""
    config = example_config_path().read_text(encoding="utf-8").replace(after, f"{after}\n{line}")
    path = tmp_path / "lastmile.toml"
    path.write_text(config, encoding="utf-8")
    settings = Settings(
        database_url=database_url,
        lastmile_config=path,
        _env_file=None,  # type: ignore[call-arg]
    )
    return await runtime_for(settings, clock=clock)


@pytest.fixture
async def polish_runtime(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> AsyncIterator[Runtime]:
    runtime = await example_with(
        tmp_path, database_url, clock, 'name = "North depot"', 'locale = "pl"'
    )
    connect(runtime, None, {"local": PLATFORMS["local"]})
    yield runtime
    await runtime.close()


async def test_a_cohort_locale_speaks_polish_to_people_whose_platform_does_not_say(
    polish_runtime: Runtime, tmp_path: Path
) -> None:
    chat = LocalChat(polish_runtime, "ana", tmp_path)
    shown = "\n".join(await chat.send("pytanie"))
    assert "Cześć, jestem lastmile" in shown
    assert "Czy RoutePilot pomógł Ci dziś po południu?" in shown
    await chat.send("2")
    [answer] = await rows(polish_runtime, Answer)
    assert answer.outcome == "partly"
    paused = "\n".join(await chat.send("pauza do piątku"))
    assert "piątek, 20 listopada 2026" in paused
    # Someone in the English cohort is still spoken to in English.
    other = LocalChat(polish_runtime, "sam", tmp_path)
    assert any("Hi, I'm lastmile" in line for line in await other.send("checkin"))


async def test_the_weekly_digest_is_in_the_programmes_language(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    runtime = await example_with(
        tmp_path, database_url, clock, 'digest_schedule = "mon 09:00"', 'locale = "es"'
    )
    try:
        assert await queue_weekly_digest(runtime, "routing", clock.now)
        [row] = await rows(runtime, OutboxMessage, purpose="digest")
        [report] = row.payload["replies"]
        assert report["title"].startswith("Resumen de RoutePilot")
        assert row.payload["locale"] == "es"
    finally:
        await runtime.close()
