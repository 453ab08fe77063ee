"""Exceptions as the logs may show them: what failed and where, never what it was working on.

An exception's message can carry data: a database error quotes the row it could not
write ("Failing row contains (…)"), which may be a payload with what a person wrote;
an SDK error can quote a request. Logs get the exception's type, its database error
code and constraint when it has them, and the frames it passed through, never its
message or arguments.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from traceback import extract_tb
from typing import Literal

PAYLOAD_LOGGERS = {
    "aiosqlite": logging.INFO,
    "slack_sdk": logging.INFO,
    # slack-bolt logs the whole body of a request with a bad signature at INFO.
    "slack_bolt": logging.WARNING,
    "botbuilder": logging.INFO,
    "botframework": logging.INFO,
    "msrest": logging.INFO,
    "msal": logging.INFO,
    "urllib3": logging.INFO,
}
"""Libraries that log whole statements, requests or payloads (parameters, what people
wrote, replies quoting it) below these levels: they log only from them up, even with
--verbose."""

FRAMES = 6
"""Frames shown, innermost first: enough to find the line, short enough for one log line."""


def _name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _short(filename: str) -> str:
    path = Path(filename)
    return f"{path.parent.name}/{path.name}"


def _database_code(error: BaseException) -> str:
    # sqlalchemy.exc.DBAPIError wraps the driver's error as `orig`; psycopg's has `sqlstate`
    # and `diag.constraint_name`, sqlite3's `sqlite_errorname`.
    original = getattr(error, "orig", None)
    if original is None:
        return ""
    parts = [_name(original)]
    for code in (
        getattr(original, "sqlstate", None),
        getattr(original, "sqlite_errorname", None),
        getattr(getattr(original, "diag", None), "constraint_name", None),
    ):
        if isinstance(code, str) and code:
            parts.append(code)
    return f" ({' '.join(parts)})"


def failure(error: BaseException) -> str:
    """One line naming an exception, where it was raised and what caused it, without messages.

    Args:
        error: the exception caught.

    Returns:
        e.g. "sqlalchemy.exc.IntegrityError (psycopg.errors.NotNullViolation 23502)
        at storage/outbox.py:88 enqueue < bot/inbox.py:270 _handle".
    """
    frames = extract_tb(error.__traceback__)[-FRAMES:]
    where = " < ".join(
        f"{_short(frame.filename)}:{frame.lineno} {frame.name}" for frame in reversed(frames)
    )
    text = _name(error) + _database_code(error) + (f" at {where}" if where else "")
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    if cause is not None and cause is not error:
        text += f"; caused by {_name(cause)}{_database_code(cause)}"
    return text


def quiet_payload_loggers() -> None:
    """Keep the libraries that log payloads at DEBUG from doing so (see PAYLOAD_LOGGERS)."""
    for name, lowest in PAYLOAD_LOGGERS.items():
        library = logging.getLogger(name)
        if library.level < lowest:  # NOTSET too: a DEBUG root would let it through
            library.setLevel(lowest)


LogFormat = Literal["text", "json"]

ID_FIELDS = ("inbox_id", "message_id", "checkin_id", "person_id")
"""The `extra` fields a JSON log line carries: ids of rows, never what is in them. Any
other `extra` a call passes is left out, so a log call cannot leak a payload by accident."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the ids the call named, and
    for an exception `failure()`'s line instead of its message and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ID_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, int | str) and not isinstance(value, bool):
                line[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = failure(record.exc_info[1])
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: int, log_format: LogFormat = "text") -> None:
    """Log to standard error as text for a person or JSON lines for a log pipeline,
    with the payload-logging libraries kept quiet either way."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLogFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    logging.basicConfig(level=level, handlers=[handler])
    quiet_payload_loggers()
