"""Who may post to /api/messages: a valid Bot Framework token, or a loopback peer with no app id."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult

from bot.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BotCredentials:
    """The configuration object botbuilder reads (APP_ID, APP_PASSWORD, …) from Settings."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TENANTID: str | None
    APP_TYPE: str

    @classmethod
    def from_settings(cls, settings: Settings) -> BotCredentials:
        """MICROSOFT_APP_ID, _PASSWORD, _TENANT_ID and _TYPE."""
        return cls(
            APP_ID=settings.microsoft_app_id or None,
            APP_PASSWORD=settings.microsoft_app_password or None,
            APP_TENANTID=settings.microsoft_app_tenant_id or None,
            APP_TYPE=settings.microsoft_app_type or "MultiTenant",
        )


def build_adapter(settings: Settings) -> CloudAdapter:
    """A CloudAdapter with the app's credentials (none: no auth, for local testing)."""
    return CloudAdapter(
        ConfigurationBotFrameworkAuthentication(BotCredentials.from_settings(settings))
    )


PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def is_direct_loopback(remote: str | None, headers: Mapping[str, str]) -> bool:
    """True for a loopback peer that is not a reverse proxy relaying someone else."""
    return is_loopback(remote) and not any(name in headers for name in PROXY_HEADERS)


def is_loopback(remote: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (IPv4-mapped too); False for anything else or unknown."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class Unauthorized(Exception):
    """The request's token is missing, forged, expired or not for this bot."""


class AuthUnavailable(Exception):
    """The token could not be checked: the signing keys could not be fetched."""


async def authenticate(
    adapter: CloudAdapter, activity: Activity, auth_header: str
) -> AuthenticateRequestResult:
    """Validate the request's JWT with the SDK, mapping every refusal to Unauthorized.

    The SDK itself answers 401 only for PermissionError and lets a malformed token,
    a bad signature or an unknown key escape as a 500; here all of them are 401.
    It also fetches the signing keys with a blocking ``requests.get``, so the check
    runs in a worker thread (with its own event loop) and never stalls this one.

    Raises:
        Unauthorized: the request must get 401.
        AuthUnavailable: the keys could not be fetched (503, Teams retries).
    """
    authentication = adapter.bot_framework_authentication

    async def check() -> AuthenticateRequestResult:
        result: AuthenticateRequestResult = await authentication.authenticate_request(
            activity, auth_header
        )
        return result

    try:
        # Without a token there is nothing to fetch keys for: no thread needed.
        if auth_header:
            result = await asyncio.to_thread(asyncio.run, check())
        else:
            result = await check()
    except requests.RequestException as error:
        logger.error("Teams: cannot fetch Bot Framework signing keys: %s", error)
        raise AuthUnavailable(str(error)) from error
    except Exception as error:
        # PermissionError, jwt errors, IndexError for an unknown key id, and a bare
        # Exception for a key without the msteams endorsement: all mean "not Teams".
        raise Unauthorized(f"{type(error).__name__}: {error}") from error
    return result
