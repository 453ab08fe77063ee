"""What a Bot Connector failure means for delivery: try again later, or never."""

from __future__ import annotations

import json
from typing import Any

import requests
from msrest.exceptions import ClientException, ClientRequestError, HttpOperationError

from bot.delivery import RetryLater, Undeliverable, heard_retry_after

# Teams' "Status codes from bot conversational APIs": these pass with time.
TRANSIENT_STATUSES = frozenset({412, 429, 500, 502, 503, 504})
# A bot whose credentials Teams refuses delivers nothing until an admin fixes them;
# the message waits (with backoff) rather than being dropped.
CONFIGURATION_STATUSES = frozenset({401})


def status_of(error: HttpOperationError) -> int:
    """The HTTP status the connector answered with (0 when unknown)."""
    return int(getattr(error.response, "status_code", 0) or 0)


def retry_after(error: HttpOperationError) -> float | None:
    """Seconds from the ``Retry-After`` header, when it gives a number."""
    headers = getattr(error.response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _body(error: HttpOperationError) -> dict[str, Any]:
    try:
        body = error.response.json()
    except (ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def teams_code(error: HttpOperationError) -> str:
    """Teams' error code: ``error.code``, or the ``subCode`` of a MessageWritesBlocked body."""
    envelope = getattr(error.error, "error", None)
    code = getattr(envelope, "code", None)
    if code:
        return str(code)
    body = _body(error)
    inner = body.get("error")
    if isinstance(inner, dict) and inner.get("code"):
        return str(inner["code"])
    # {"errorCode": 209, "message": "{\"subCode\": \"MessageWritesBlocked\", …}"}
    message = body.get("message")
    if isinstance(message, str):
        try:
            detail = json.loads(message)
        except ValueError:
            return ""
        if isinstance(detail, dict) and detail.get("subCode"):
            return str(detail["subCode"])
    return ""


def delivery_failure(error: Exception, *, to_person: bool) -> RetryLater | Undeliverable:
    """Classify a connector failure for the outbox.

    Args:
        error: what the SDK raised.
        to_person: True for a person's chat, whose 403 means they cannot be reached.

    Returns:
        RetryLater for throttling, transient statuses and connection failures;
        Undeliverable otherwise (403 marks the person unreachable).
    """
    if isinstance(error, HttpOperationError):
        status, code = status_of(error), teams_code(error)
        reason = f"Teams answered {status}" + (f" {code}" if code else "")
        if status == 429:
            heard_retry_after(retry_after(error) or 1.0)
        if status in TRANSIENT_STATUSES or status in CONFIGURATION_STATUSES:
            return RetryLater(reason, after=retry_after(error))
        return Undeliverable(reason, person_unreachable=to_person and status == 403)
    if isinstance(error, PermissionError):
        # MSAL refused MICROSOFT_APP_ID/PASSWORD: nothing goes out until an admin fixes them.
        return RetryLater(f"no Bot Framework token: {error}")
    if isinstance(error, ClientRequestError | requests.RequestException | OSError):
        return RetryLater(f"Teams connector unreachable: {error}")
    if isinstance(error, ClientException):
        return RetryLater(f"Teams connector error: {error}")
    raise TypeError(f"not a connector failure: {error!r}")


CONNECTOR_ERRORS: tuple[type[Exception], ...] = (
    ClientException,
    requests.RequestException,
    OSError,  # PermissionError among them: MSAL refused the app's credentials
)
"""Exceptions that mean the Bot Connector call (or getting its token) failed."""
