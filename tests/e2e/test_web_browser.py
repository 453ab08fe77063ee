"""Issue 10 in a real browser (Debian's Chromium through Playwright): the browser chat from
a check-in to the owner's report link, and the report page with its charts, k and 403s.

Screenshots go to `test-screenshots/` (or LASTMILE_SCREENSHOTS): look at them.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from bot.config import Settings, example_config_path
from bot.delivery_loop import DeliveryLoop
from bot.reports.links import ReportScope
from bot.runtime import Runtime
from lastmile.platforms import PLATFORMS
from lastmile.server import build_app, runtime_for
from storage.models import Answer, Override, Workaround
from tests.conftest import IN_CI, ROOT, FakeClock
from tests.digest_seed import MONDAY_W48, seed_pilot, start_runtime
from tests.e2e.playground_driver import CHROMIUM, CHROMIUM_ARGS, free_port
from tests.helpers import rows
from tests.test_digest_acceptance import BELOW_K

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(os.environ.get("LASTMILE_SCREENSHOTS", ROOT / "test-screenshots"))


@pytest.fixture(autouse=True)
def needs_chromium() -> None:
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if IN_CI:
            pytest.fail(f"the browser tests cannot run with CI=true: {message}")
        pytest.skip(message)


@asynccontextmanager
async def serving(runtime: Runtime, port: int, plugins: dict[str, object]) -> AsyncIterator[str]:
    """lastmile's web app on a loopback port, with the inbox worker and the delivery loop."""
    app = build_app(runtime, plugins)  # type: ignore[arg-type]
    delivery = DeliveryLoop(runtime, interval=0.2)
    runtime.inbox.worker.on_replies = delivery.wake
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    runtime.inbox.worker.start()
    delivery.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await delivery.stop()
        await runtime.inbox.worker.stop()
        await runner.cleanup()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> Path:
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_a_worker_answers_in_the_browser_and_the_owner_opens_a_report(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'lastmile.db'}",
        lastmile_config=example_config_path(),
        lastmile_public_url=f"http://127.0.0.1:{port}",
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = await runtime_for(settings)
    trial = {name: PLATFORMS[name] for name in ("local", "web")}
    try:
        async with serving(runtime, port, trial) as base, chromium() as browser:
            page = await browser.new_page(viewport={"width": 900, "height": 900})
            page.set_default_timeout(15_000)
            await page.goto(f"{base}/")
            await page.get_by_role("link", name=re.compile(r"^ana, works in North depot")).click()
            await expect(page.get_by_text("You are ana, works in North depot.")).to_be_visible()

            await page.get_by_role("button", name="Check-in now").click()
            # The check-in is one message, each tap showing its next step in place.
            question = page.locator(".msg.bot", has_text=re.compile("Did RoutePilot help you"))
            await expect(question).to_be_visible()
            await question.get_by_role("button", name="Partly").click()
            await expect(question).to_contain_text("What did you do instead?")
            await question.get_by_role("button", name="Did it by hand").click()
            await expect(question).to_contain_text("Did you override or ignore")
            await question.get_by_role("button", name="No").click()
            await expect(question).to_contain_text("Thank you. Your answer is shown")
            await expect(question).to_contain_text("✓ Partly")
            await expect(question.get_by_role("button", name="Partly")).to_have_count(0)
            await page.locator("#text").fill("Scanner screen cracked again")
            photo = {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff"}
            await page.locator("#photos").set_input_files(files=[photo])
            await page.get_by_role("button", name="Send").click()
            await expect(page.locator(".msg.you", has_text="Photo: photo.jpg")).to_be_visible()
            await expect(page.get_by_text("not the photo or file itself")).to_be_visible()
            await shot(page, "web-chat-worker")

            [answer] = await rows(runtime, Answer)
            assert answer.outcome == "partly"
            [workaround] = await rows(runtime, Workaround)
            assert workaround.kind == "by_hand"
            [no_override] = await rows(runtime, Override)
            assert no_override.overridden is False

            await page.get_by_role("link", name="Be someone else").click()
            await page.get_by_role("link", name=re.compile(r"^olu, owns")).click()
            await page.get_by_role("button", name="Report link").click()
            link = page.locator(".msg.bot a[href*='/reports/']")
            await expect(link).to_be_visible()
            await shot(page, "web-chat-owner")
            href = await link.get_attribute("href")
            assert href and href.startswith(f"{base}/reports/")
            async with page.expect_popup() as opened:
                await link.click()
            report = await opened.value
            await report.wait_for_load_state()
            await expect(report.get_by_role("heading", level=1)).to_have_text(
                "RoutePilot report: Route planner pilot"
            )
            await shot(report, "web-chat-report")
    finally:
        await runtime.close()


@pytest.fixture
async def pilot(tmp_path: Path) -> AsyncIterator[tuple[Runtime, FakeClock]]:
    clock = FakeClock(MONDAY_W48)
    runtime = await start_runtime(f"sqlite:///{tmp_path / 'pilot.db'}", tmp_path, clock)
    try:
        await seed_pilot(runtime)
        yield runtime, clock
    finally:
        await runtime.close()


async def test_the_report_page_in_chromium_charts_k_and_refusals(
    pilot: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = pilot
    programme = await runtime.links.link(ReportScope("routing"))
    lead = await runtime.links.link(ReportScope("routing", "north"))
    async with serving(runtime, free_port(), {}) as base, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1100, "height": 900})
        blocked: list[str] = []
        page.on("request", lambda r: blocked.append(r.url) if not r.url.startswith(base) else None)
        answer = await page.goto(f"{base}/reports/{programme.token}")
        assert answer is not None and answer.status == 200
        charts = page.locator("svg.chart")
        assert await charts.count() >= 4  # rates, teams, one line per theme
        for index in range(await charts.count()):
            box = await charts.nth(index).bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 60
        await expect(page.locator("[data-rate=response] .value")).to_have_text("84%")
        text = await page.locator("body").inner_text()
        assert [p for p in BELOW_K if re.search(p, text, re.IGNORECASE)] == []
        for download in ("report.csv", "report.json"):
            got = await page.request.get(f"{base}/reports/{programme.token}/{download}")
            assert got.status == 200
            body = await got.text()
            assert [p for p in BELOW_K if re.search(p, body, re.IGNORECASE)] == []
        await shot(page, "report-programme")
        assert blocked == [], "the page asked for something outside lastmile"

        phone = await browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        await phone.goto(f"{base}/reports/{programme.token}")
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page itself never scrolls sideways on a phone"
        await shot(phone, "report-phone")

        await page.goto(f"{base}/reports/{lead.token}")
        await expect(page.get_by_role("heading", level=1)).to_contain_text("North depot")
        await shot(page, "report-lead")

        tampered = programme.token[:-2] + ("xy" if not programme.token.endswith("xy") else "zz")
        for refused in (
            f"{base}/reports/",
            f"{base}/reports/{tampered}",
            f"{base}/reports/{lead.token}/team/south",
        ):
            answer = await page.goto(refused)
            assert answer is not None and answer.status == 403, refused
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "This link does not open a report"
            )
        await shot(page, "report-refused")
        clock.advance(days=8)
        answer = await page.goto(f"{base}/reports/{programme.token}")
        assert answer is not None and answer.status == 403  # expired
