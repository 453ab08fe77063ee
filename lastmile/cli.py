"""The `lastmile` command: serve, chat, demo, db, config, checkin, digest, report, export,
apikey, platforms' own."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.config import ConfigError, Settings
from bot.safe_logs import configure_logging
from bot.wording import WordingError, require
from lastmile.platforms import PLATFORMS, facts
from storage.migrate import SchemaOutOfDate

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import Runtime

logger = logging.getLogger("lastmile")

EXIT_CTRL_C = 130
"""The exit code after Ctrl-C, as a shell reports a process stopped by SIGINT."""

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "config", None):
        settings = settings.model_copy(update={"lastmile_config": Path(args.config)})
    if getattr(args, "port", None):
        settings = settings.model_copy(update={"port": args.port})
    return settings


async def _demo_check(runtime: Runtime) -> str:
    """Why `serve` must not run on this database ("" when it may): a demo database is
    served with the example config only, so made-up answers never meet real people."""
    from bot.config import example_config_path
    from storage.instance import is_demo

    async with runtime.db.session() as session:
        demo = await is_demo(session)
    if not demo:
        return ""
    if runtime.config_path.resolve() != example_config_path().resolve():
        return (
            "this database holds demo data (lastmile demo made it); serve it with the example "
            "config only, or point DATABASE_URL at your real database"
        )
    logger.warning("serving a DEMO database: every answer in it is made up")
    return ""


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from lastmile.edge import SERVER_OPTIONS
    from lastmile.server import build_app, runtime_for

    runtime = await runtime_for(settings)
    try:
        refusal = await _demo_check(runtime)
        if refusal:
            print(f"lastmile: {refusal}", file=sys.stderr)
            return 2
        app = build_app(runtime, run_jobs=True)
        runner = web.AppRunner(app, access_log=None, **SERVER_OPTIONS)
        await runner.setup()
        try:
            return await _listen(runner, runtime, settings)
        finally:
            # Stops the background jobs too, and waits for them, before the database closes.
            await runner.cleanup()
    finally:
        await runtime.close()


async def _listen(runner: web.AppRunner, runtime: Runtime, settings: Settings) -> int:
    """Answer on the configured port until Ctrl-C or SIGTERM.

    Returns:
        The exit code: 130 after Ctrl-C (as a shell reports it), 0 after SIGTERM.
    """
    from aiohttp import web

    from lastmile.edge import return_free_memory

    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    await return_free_memory()
    platforms = ", ".join(sorted(runtime.platforms)) or "none configured"
    logger.info(
        "lastmile is listening on http://%s:%d (platforms: %s; database: %s)",
        settings.host,
        settings.port,
        platforms,
        "SQLite" if runtime.db.is_sqlite else "PostgreSQL",
    )
    where = "chat with it locally: .venv/bin/lastmile chat --as ana"
    if "web" in runtime.platforms:
        where = f"chat with it in your browser at {settings.public_url}/, or {where}"
    print(f"lastmile is running on http://127.0.0.1:{settings.port}/healthz — {where}", flush=True)
    # Ctrl-C and SIGTERM (`docker stop`, process managers) both end the wait below and
    # stop in order; a second Ctrl-C while stopping quits at once. Left to asyncio, a
    # Ctrl-C only cancels the main task, and a cancel arriving as an awaited call
    # finishes can be lost (Python 3.11), leaving `serve` running.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stopped_by: list[signal.Signals] = []

    def stop_on(received: signal.Signals) -> None:
        stopped_by.append(received)
        stop.set()
        if received == signal.SIGINT:
            loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
        for received in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(received, stop_on, received)
    await stop.wait()
    ctrl_c = stopped_by[0] == signal.SIGINT
    logger.info("lastmile is stopping (%s)", "Ctrl-C" if ctrl_c else "SIGTERM")
    return EXIT_CTRL_C if ctrl_c else 0


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.config import example_config_path
    from bot.demo import fill_demo
    from lastmile.demo import fresh_demo_database, mark_demo
    from lastmile.server import runtime_for

    path = Path(args.database)
    refusal = await fresh_demo_database(path)
    if refusal:
        print(f"lastmile demo: {refusal}", file=sys.stderr)
        return 2
    # The example config's people only, whatever LASTMILE_CONFIG says: demo answers are
    # made up, and must never be put in the mouths of real people.
    demo = settings.model_copy(
        update={"database_url": f"sqlite:///{path}", "lastmile_config": example_config_path()}
    )
    await mark_demo(f"sqlite:///{path}", datetime.now(UTC))
    runtime = await runtime_for(demo)
    try:
        filled = await fill_demo(runtime, args.weeks)
    finally:
        await runtime.close()
    print(
        f"{path} holds demo data: {filled.people} made-up people, {filled.checkins} check-ins, "
        f"{filled.answers} answers, {filled.texts} written texts over {filled.weeks} weeks "
        "and this one. Nothing in it is real."
    )
    if not args.serve:
        print(
            f"Serve it: DATABASE_URL=sqlite:///{path} lastmile serve  (or: lastmile demo --serve)"
        )
        return 0
    return await _serve(args, demo)


async def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.local.chat import run_chat
    from lastmile.platforms import PLATFORMS
    from lastmile.server import connect, runtime_for

    runtime = await runtime_for(settings)
    connect(runtime, None, {"local": PLATFORMS["local"]})
    try:
        await run_chat(runtime, args.as_person, sys.stdin, sys.stdout)
    finally:
        await runtime.close()
    return 0


async def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from storage.migrate import current_revision, upgrade

    await upgrade(settings.database_url)
    revision = await asyncio.to_thread(current_revision, settings.database_url)
    print(f"database is up to date (revision {revision})")
    return 0


async def _db_current(args: argparse.Namespace, settings: Settings) -> int:
    from storage.migrate import current_revision, head_revision

    current = await asyncio.to_thread(current_revision, settings.database_url)
    head = head_revision(settings.database_url)
    state = "up to date" if current == head else "out of date: run lastmile db upgrade"
    print(f"database revision {current or 'none'}, code needs {head} ({state})")
    return 0 if current == head else 1


async def _config_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import load_checked
    from lastmile.platforms import facts

    path, config, _wording = load_checked(settings, facts())
    people = sum(len(cohort.members) for cohort in config.cohorts.values())
    print(
        f"{path} is fine: {len(config.programmes)} programme(s), "
        f"{len(config.cohorts)} cohort(s), {people} member(s)"
    )
    return 0


async def _checkin_send(args: argparse.Namespace, settings: Settings) -> int:
    from bot.scheduling.checkins import send_now
    from lastmile.server import runtime_for

    runtime = await runtime_for(settings)
    try:
        if args.cohort not in runtime.config.cohorts:
            known = ", ".join(sorted(runtime.config.cohorts)) or "none"
            print(f"there is no cohort {args.cohort!r} (known: {known})", file=sys.stderr)
            return 2
        report = await send_now(runtime, args.cohort, args.kind, runtime.clock())
        held = sum(report.held.values())
        parts = [
            f"queued {report.queued} check-in(s) for cohort {args.cohort}",
            f"asked {report.reoffered} person(s) again about the check-in they have open",
            f"held {held}: {report.held['quiet']} in quiet hours or off shift, "
            f"{report.held['cap']} at their weekly cap",
            f"{report.not_asked} paused, stopped or unreachable",
        ]
        print("; ".join(parts))
    finally:
        await runtime.close()
    return 0


async def _digest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.digest.cli import run_digest
    from lastmile.server import runtime_for

    runtime = await runtime_for(settings)
    try:
        return await run_digest(runtime, args, sys.stdout)
    finally:
        await runtime.close()


async def _themes(args: argparse.Namespace, settings: Settings) -> int:
    from bot.themes.cli import run_themes
    from lastmile.server import runtime_for

    runtime = await runtime_for(settings)
    try:
        return await run_themes(runtime, args, sys.stdout, sys.stderr)
    finally:
        await runtime.close()


async def _report_link(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.cli import run_report_link
    from lastmile.server import runtime_for

    runtime = await runtime_for(settings)
    try:
        return await run_report_link(runtime, args, sys.stdout)
    finally:
        await runtime.close()


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.cli import run_export
    from lastmile.server import runtime_for

    runtime = await runtime_for(settings)
    try:
        return await run_export(runtime, args, sys.stdout)
    finally:
        await runtime.close()


async def _apikey_new(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.usage.keys import key_sha256, new_key
    from bot.runtime import load_checked
    from lastmile.platforms import facts

    _path, config, _wording = load_checked(settings, facts())
    if args.programme not in config.programmes:
        known = ", ".join(sorted(config.programmes)) or "none"
        print(f"there is no programme {args.programme!r} (known: {known})", file=sys.stderr)
        return 2
    key = new_key()
    print(f"API key for programme {args.programme} (shown once; give it to the tool):\n  {key}")
    print(f"Put its hash in the config file, under [programmes.{args.programme}]:")
    print(f'  api_key_sha256 = "{key_sha256(key)}"')
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with help for every command."""
    parser = argparse.ArgumentParser(
        prog="lastmile",
        description="Ask frontline people, in the moment, whether an AI tool helps them.",
    )
    parser.add_argument("--config", help="config file (default: LASTMILE_CONFIG or the example)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (web server, platforms, scheduler)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 3978)")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser(
        "demo", help="fill a throwaway database with weeks of made-up answers (example people)"
    )
    demo.add_argument(
        "--database", default="lastmile-demo.db", help="the SQLite file (default lastmile-demo.db)"
    )
    demo.add_argument("--weeks", type=int, default=6, help="complete weeks of answers (default 6)")
    demo.add_argument("--serve", action="store_true", help="then serve it (web chat at /)")
    demo.add_argument("--port", type=int, help="with --serve: port (default: PORT or 3978)")
    demo.set_defaults(handler=_demo)

    chat = commands.add_parser("chat", help="talk to the bot in this terminal as a person")
    chat.add_argument(
        "--as",
        dest="as_person",
        required=True,
        metavar="PERSON",
        help="who you are, e.g. ana (a worker), lee (a lead), olu (an owner) in the example",
    )
    chat.set_defaults(handler=_chat)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db.add_parser("upgrade", help="bring the schema up to date").set_defaults(handler=_db_upgrade)
    db.add_parser("current", help="show the schema revision").set_defaults(handler=_db_current)

    config = commands.add_parser("config", help="config file").add_subparsers(
        dest="config_command", required=True, metavar="ACTION"
    )
    config.add_parser(
        "check", help="check the config file and prompts; list every problem"
    ).set_defaults(handler=_config_check)

    checkin = commands.add_parser("checkin", help="check-ins").add_subparsers(
        dest="checkin_command", required=True, metavar="ACTION"
    )
    send = checkin.add_parser("send", help="queue a check-in now for everyone active in a cohort")
    send.add_argument("--cohort", required=True, help="cohort id from the config file")
    send.add_argument(
        "--kind",
        choices=("scheduled", "day30"),
        default="scheduled",
        help="regular check-in or the day-30 question (default: scheduled)",
    )
    send.set_defaults(handler=_checkin_send)

    apikey = commands.add_parser("apikey", help="API keys for the usage API").add_subparsers(
        dest="apikey_command", required=True, metavar="ACTION"
    )
    new = apikey.add_parser("new", help="make a programme's key and print the hash to configure")
    new.add_argument("--programme", required=True, help="programme id from the config file")
    new.set_defaults(handler=_apikey_new)

    digest = commands.add_parser("digest", help="a programme's or cohort's weekly digest")
    digest.add_argument("--programme", required=True, help="programme id from the config file")
    digest.add_argument("--cohort", help="only this cohort of the programme")
    digest.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last complete one)")
    digest.add_argument(
        "--format", choices=("text", "markdown", "json", "png"), default="text", help="output"
    )
    digest.add_argument("--out", help="write to this file instead of standard output")
    digest.set_defaults(handler=_digest)

    themes = commands.add_parser(
        "themes", help="every theme of what people wrote, shown or below k, with its texts"
    )
    themes.add_argument("--programme", required=True, help="programme id from the config file")
    themes.add_argument("--weeks", type=int, default=4, help="weeks up to this one (default 4)")
    themes.add_argument("--format", choices=("text", "json"), default="text", help="output")
    themes.set_defaults(handler=_themes)

    report = commands.add_parser("report", help="report pages").add_subparsers(
        dest="report_command", required=True, metavar="ACTION"
    )
    link = report.add_parser("link", help="print a signed link to a programme's or team's report")
    link.add_argument("--programme", required=True, help="programme id from the config file")
    link.add_argument("--team", help="only this team (cohort id): what its lead may see")
    link.add_argument("--days", type=int, default=7, help="how long the link works (default 7)")
    link.set_defaults(handler=_report_link)

    export = commands.add_parser(
        "export", help="a report's figures (k applied), or every answer with --raw"
    )
    export.add_argument("--programme", required=True, help="programme id from the config file")
    export.add_argument("--format", choices=("csv", "json"), default="csv", help="output")
    export.add_argument("--team", help="the figures of this team (cohort id) only")
    export.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last complete one)")
    export.add_argument(
        "--raw", action="store_true", help="every check-in and note, people as pseudonyms"
    )
    export.add_argument(
        "--with-identities",
        action="store_true",
        help="with --raw: add each person's platform identity and name",
    )
    export.add_argument("--out", help="write to this file instead of standard output")
    export.set_defaults(handler=_export)

    for plugin in PLATFORMS.values():
        plugin.add_commands(commands)
    return parser


def _quiet_level(args: argparse.Namespace) -> int:
    # A terminal chat is for a person, not an operator: keep start-up logs out of it.
    return logging.WARNING if args.command == "chat" else logging.INFO


def main(argv: list[str] | None = None) -> int:
    """Run the `lastmile` command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as error:
        print(f"lastmile: the environment is not valid: {error}", file=sys.stderr)
        return 2
    configure_logging(logging.DEBUG if args.verbose else _quiet_level(args), settings.log_format)
    handler: Handler = args.handler
    # Every platform's wording keys join the start-up check of the prompts file.
    require(*facts().wording_keys)
    try:
        return asyncio.run(handler(args, settings))
    except (ConfigError, WordingError, SchemaOutOfDate) as error:
        print(f"lastmile: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return EXIT_CTRL_C


if __name__ == "__main__":
    sys.exit(main())
