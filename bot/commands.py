"""The commands people type (or send with /lastmile): a table from word to handler."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta

from bot.checkin_runner import begin, finish_note_step, open_checkin, open_checkin_of, reoffer
from bot.mydata import mydata_json, render_mydata
from bot.replies import Confirm, File, Option, Reply, Text
from bot.turn import Turn
from bot.understand import MAX_PAUSE, normal, parse_pause, word_list
from bot.wording import language_of
from storage.checkins import set_checkin_status
from storage.models import CheckInKind, CheckInStatus, PersonStatus
from storage.people import clear_state, person_data

Command = Callable[[Turn, str], Awaitable[list[Reply]]]


async def help_command(turn: Turn, _args: str) -> list[Reply]:
    """What the person can type; leads and owners see their extra commands."""
    parts = [turn.w("commands.help")]
    if turn.has_role("owner") or turn.has_role("admin"):
        parts.append(turn.w("commands.help_owner"))
    elif turn.has_role("lead"):
        parts.append(turn.w("commands.help_lead"))
    return [Text("\n\n".join(part.strip() for part in parts))]


def long_date(day: date, turn: Turn) -> str:
    """A day as people say it in their language: "Friday, December 4, 2026"."""
    from babel.dates import format_date

    return format_date(day, format="full", locale=language_of(turn.w.locale))


async def pause_command(turn: Turn, args: str) -> list[Reply]:
    """Pause check-ins until a day (the person's local midnight), said back in words."""
    zone = turn.timezone
    today = turn.now.astimezone(zone).date()
    resume_on = parse_pause(args, today, turn.w) if args.strip() else today + timedelta(weeks=1)
    if resume_on is None:
        return [Text(turn.w("commands.pause_usage"))]
    if resume_on <= today:
        return [Text(turn.w("commands.pause_past", when=long_date(resume_on, turn)))]
    if resume_on - today > MAX_PAUSE:
        return [Text(turn.w("commands.pause_too_long"))]
    turn.person.status = PersonStatus.PAUSED
    turn.person.paused_until = datetime.combine(resume_on, time(0, 0), tzinfo=zone)
    turn.session.add(turn.person)
    days = (resume_on - today).days
    return [Text(turn.w("commands.paused", until=long_date(resume_on, turn), days=days))]


async def resume_command(turn: Turn, _args: str) -> list[Reply]:
    """Start check-ins again."""
    turn.person.status = PersonStatus.ACTIVE
    turn.person.paused_until = None
    turn.session.add(turn.person)
    return [Text(turn.w("commands.resumed"))]


async def stop_command(turn: Turn, _args: str) -> list[Reply]:
    """No more check-ins; the current one, if any, is dropped."""
    turn.person.status = PersonStatus.STOPPED
    turn.person.paused_until = None
    turn.session.add(turn.person)
    await clear_state(turn.session, turn.person_id)
    return [Text(turn.w("commands.stopped"))]


async def mydata_command(turn: Turn, args: str) -> list[Reply]:
    """Everything stored about the person, in words; `mydata json` as a file too."""
    await turn.session.flush()
    data = await person_data(turn.session, turn.person)
    if normal(args) in word_list(turn.w, "words.json"):
        content = json.dumps(mydata_json(data), ensure_ascii=False, indent=2)
        return [
            Text(turn.w("mydata.file_sent")),
            File(
                content=content.encode("utf-8"),
                filename=turn.w("mydata.filename"),
                title=turn.w("mydata.file_title"),
            ),
        ]
    return [Text(render_mydata(data, turn.w, turn.timezone, turn.config))]


async def forget_command(turn: Turn, _args: str) -> list[Reply]:
    """Ask before erasing everything stored about the person."""
    return [
        Confirm(
            text=turn.w("commands.forget_confirm"),
            token=f"forget:{turn.person_id}:confirm",
            yes=Option("yes", turn.w("commands.forget_yes")),
            no=Option("no", turn.w("commands.forget_no")),
        )
    ]


async def checkin_command(turn: Turn, _args: str) -> list[Reply]:
    """A check-in the person asked for: the open one again, else a new one."""
    found = await open_checkin_of(turn.session, turn.person, turn.config, turn.now)
    if found is not None:
        return [reoffer(found, turn.w, turn.w("checkin.still_open"))]
    closed = await finish_note_step(turn.session, turn.person, turn.w, turn.now)
    checkin = await open_checkin(
        turn.session,
        turn.person,
        turn.config,
        kind=CheckInKind.TRIGGERED,
        slot=f"self:{turn.now.isoformat()}",
        now=turn.now,
    )
    if checkin is None:
        return [Text(turn.w("commands.not_enrolled"))]
    assert checkin.id is not None
    await set_checkin_status(turn.session, checkin.id, CheckInStatus.SENT, sent_at=turn.now)
    started = await begin(turn.session, checkin, turn.config, turn.w, turn.now, turn.timezone)
    return [*closed, *started]


BASE_COMMANDS: dict[str, Command] = {
    "help": help_command,
    "pause": pause_command,
    "resume": resume_command,
    "stop": stop_command,
    "mydata": mydata_command,
    "forget": forget_command,
    "checkin": checkin_command,
}
