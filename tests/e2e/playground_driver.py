"""Drive the Microsoft 365 Agents Playground (Teams emulation) headless from async tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from playwright.async_api import Locator, Page, Route, async_playwright

log = logging.getLogger(__name__)

PLAYGROUND_DIR = Path(__file__).resolve().parent / "playground"
PLAYGROUND_CLI = PLAYGROUND_DIR / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# DOM of the playground page (version 0.2.28).
BOT_MESSAGE = ".fai-OutputCard"  # one per bot activity; user messages have no such class
COMPOSER = '[role="textbox"][data-lexical-editor="true"]'  # Lexical editor; the log panel is
# another contenteditable, so never select on [contenteditable] alone
SEND_BUTTON = 'button[aria-label="Send Message"]'
ADAPTIVE_CARD = ".ac-adaptiveCard"  # Action.Submit renders as <button aria-label=title>
MOCK_ACTIVITY_MENU = "Mock an Activity"  # toolbar button; items are role=menuitem
LOG_PANEL = '[contenteditable="true"][spellcheck="false"]'  # right-hand "Log Panel"
BOT_UNREACHABLE = "Cannot connect to your app"  # log panel warning, after ~15 s of retrying

_LISTENING = re.compile(r"Listening on (\d+)")
_NON_LOCAL_URL = re.compile(r"^https?://(?!localhost[:/]|127\.0\.0\.1[:/])")


@dataclass(frozen=True)
class Playground:
    """A running playground process."""

    url: str
    port: int
    bot_endpoint: str
    channel_id: str
    log_dir: Path

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "playground.stdout.log"

    @property
    def log_path(self) -> Path:
        return self.log_dir / "playground.log"


def playground_missing() -> str | None:
    """Why the playground cannot run here (for pytest.skip), or None if it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not PLAYGROUND_CLI.is_file():
        return f"{PLAYGROUND_CLI} is missing: run `npm ci` in {PLAYGROUND_DIR}"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing: apt-get install -y chromium"
    return None


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<missing>"


async def _wait_until_listening(process: asyncio.subprocess.Process, stdout_path: Path) -> int:
    """Port the playground listens on (it falls back to a random one if ours was taken)."""
    port: int | None = None
    async with aiohttp.ClientSession() as session:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"playground exited early with code {process.returncode}")
            if port is None:
                match = _LISTENING.search(_tail(stdout_path))
                port = int(match.group(1)) if match else None
            if port is not None:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    ping = f"http://127.0.0.1:{port}/_debug/ping"
                    async with session.get(ping, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                        if resp.status == 200:
                            return port
            await asyncio.sleep(0.1)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # own session: pgid == pid
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


@contextlib.asynccontextmanager
async def run_playground(
    bot_endpoint: str,
    *,
    channel_id: str = "msteams",
    port: int | None = None,
    conversation_id: str | None = None,
    config_path: Path | None = None,
    log_dir: Path | None = None,
    startup_timeout: float = 30.0,
) -> AsyncIterator[Playground]:
    """Start the playground pointed at bot_endpoint; stop it on exit.

    Logs go to log_dir (kept), or to a temporary folder that is deleted on success and kept,
    with its path and tails logged as errors, on failure.
    """
    reason = playground_missing()
    if reason is not None:
        raise RuntimeError(reason)
    if config_path is not None and not config_path.is_absolute():
        raise ValueError(f"config_path must be absolute: {config_path}")
    keep = log_dir is not None
    work_dir = log_dir if log_dir is not None else Path(tempfile.mkdtemp(prefix="playground-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",  # otherwise it tries to `open` a browser
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(work_dir / "playground.log"),
    }
    if config_path is not None:  # a .m365agentsplayground.yml (users, team, bot name...)
        env["M365_AGENTS_PLAYGROUND_CONFIG_PATH"] = str(config_path)
    args = [
        str(PLAYGROUND_CLI),
        "--app-endpoint", bot_endpoint,
        "--channel-id", channel_id,
        "--port", str(port or free_port()),
        "--disable-telemetry",
    ]  # fmt: skip
    if conversation_id is not None:
        args += ["--conversation-id", conversation_id]
    stdout_path = work_dir / "playground.stdout.log"
    failed = True
    with stdout_path.open("wb") as stdout:
        process = await asyncio.create_subprocess_exec(
            "node",
            *args,
            cwd=work_dir,  # it reads ./.m365agentsplayground.yml and writes ./devTools/
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            started = time.monotonic()
            async with asyncio.timeout(startup_timeout):
                actual_port = await _wait_until_listening(process, stdout_path)
            log.info("playground up on %d in %.1fs", actual_port, time.monotonic() - started)
            yield Playground(
                url=f"http://127.0.0.1:{actual_port}",
                port=actual_port,
                bot_endpoint=bot_endpoint,
                channel_id=channel_id,
                log_dir=work_dir,
            )
            failed = False
        finally:
            await _stop(process)
            if failed:
                log.error(
                    "playground logs kept in %s\n--- stdout ---\n%s\n--- playground.log ---\n%s",
                    work_dir,
                    _tail(stdout_path),
                    _tail(work_dir / "playground.log"),
                )
    if not failed and not keep:
        shutil.rmtree(work_dir, ignore_errors=True)


async def _abort(route: Route) -> None:
    await route.abort()


@contextlib.asynccontextmanager
async def open_playground_page(
    playground: Playground,
    *,
    viewport: tuple[int, int] = (1400, 900),
    load_timeout: float = 30.0,
) -> AsyncIterator[Page]:
    """Headless /usr/bin/chromium showing the playground's personal chat, app installed.

    Loading the page makes the playground send installationUpdate(add) and then
    conversationUpdate(membersAdded: user and bot) to the bot; every reload sends them again,
    with the same conversation id. On failure a screenshot and the DOM go to log_dir.
    """
    async with async_playwright() as pw:
        # Playwright's launch() gives Chromium a fresh, empty temporary user-data-dir.
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]}
            )
            page = await context.new_page()
            page.set_default_timeout(load_timeout * 1000)
            # Segoe UI fonts and animations come from a CDN: fail them fast, offline.
            await page.route(_NON_LOCAL_URL, _abort)
            try:
                async with page.expect_response(
                    lambda r: r.url.endswith("/installation") and r.request.method == "POST",
                    timeout=load_timeout * 1000,
                ) as installed:
                    await page.goto(playground.url + "/")
                response = await installed.value
                if not response.ok:
                    raise RuntimeError(f"installation POST answered {response.status}")
                await page.locator(COMPOSER).wait_for()
                if BOT_UNREACHABLE in await log_panel_text(page):
                    raise RuntimeError(f"playground cannot reach {playground.bot_endpoint}")
                page.set_default_timeout(10_000)
                yield page
            except BaseException:
                with contextlib.suppress(Exception):
                    await page.screenshot(path=playground.log_dir / "page.png", full_page=True)
                    (playground.log_dir / "page.html").write_text(await page.content())
                raise
        finally:
            await browser.close()


async def send_text(page: Page, text: str) -> None:
    """Type text into the composer and press the send button."""
    composer = page.locator(COMPOSER)
    await composer.fill(text)
    await page.locator(SEND_BUTTON).click()
    await page.wait_for_function(
        "sel => (document.querySelector(sel)?.innerText ?? '').trim() === ''", arg=COMPOSER
    )


async def log_panel_text(page: Page) -> str:
    """The playground's own log: activities sent and received with HTTP status, warnings."""
    return await page.locator(LOG_PANEL).inner_text()


def bot_messages(page: Page) -> Locator:
    """All bot messages (text and cards) in the open conversation, oldest first."""
    return page.locator(BOT_MESSAGE)


async def bot_texts(page: Page) -> list[str]:
    """Visible text of every bot message in the open conversation."""
    return await bot_messages(page).all_inner_texts()


async def bot_message_count(page: Page) -> int:
    """How many bot messages the open conversation shows (pass it as after=)."""
    return await bot_messages(page).count()


_FIND_BOT_TEXT = """([selector, text, after]) => {
    const all = document.querySelectorAll(selector);
    for (let i = all.length - 1; i >= after; i--) {
        if (all[i].innerText.includes(text)) return i + 1;  // 0 would read as falsy
    }
    return null;
}"""


async def wait_for_bot_text(
    page: Page,
    substring: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - a Playwright timeout, in seconds
    *,
    after: int = 0,
) -> Locator:
    """The latest bot message containing substring (case-sensitive), once it shows.

    Only messages at index >= after count, so take bot_message_count() before acting to
    wait for a new reply rather than matching an old one.
    """
    handle = await page.wait_for_function(
        _FIND_BOT_TEXT, arg=[BOT_MESSAGE, substring, after], timeout=timeout * 1000
    )
    index: int = await handle.json_value()
    return bot_messages(page).nth(index - 1)


async def click_card_button(
    page: Page,
    label: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - a Playwright timeout, in seconds
) -> None:
    """Click the Adaptive Card action titled label on the latest card that has it."""
    button = page.locator(ADAPTIVE_CARD).get_by_role("button", name=label, exact=True).last
    await button.click(timeout=timeout * 1000)


async def mock_activity(page: Page, item: str) -> None:
    """Send a mocked activity from the "Mock an Activity" menu, e.g. "Install application"."""
    await page.get_by_role("button", name=MOCK_ACTIVITY_MENU).click()
    # Items carry aria-labels like "onInstallationUpdate onInstallationUpdateAdded", so match
    # on the visible text instead of the accessible name.
    exact = re.compile(rf"^\s*{re.escape(item)}\s*$")
    await page.get_by_role("menuitem").filter(has_text=exact).click()
    # A dialog then shows the activity JSON (editable) with "Send activity" / "Cancel".
    await page.get_by_role("dialog").get_by_role("button", name="Send activity").click()
    await page.get_by_role("dialog").wait_for(state="hidden")
