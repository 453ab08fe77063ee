"""Who may post to /api/messages: a valid Bot Framework token, or a loopback peer with no app id."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import requests
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    ServiceClientCredentialsFactory,
)

from adapters.loopback import is_direct_loopback as is_direct_loopback
from adapters.loopback import is_loopback as is_loopback
from adapters.teams.settings import TeamsSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BotCredentials:
    """The configuration object botbuilder reads (APP_ID, APP_PASSWORD, …) from Settings."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TENANTID: str | None
    APP_TYPE: str

    @classmethod
    def from_settings(cls, settings: TeamsSettings) -> BotCredentials:
        """MICROSOFT_APP_ID, _PASSWORD, _TENANT_ID and _TYPE."""
        return cls(
            APP_ID=settings.id or None,
            APP_PASSWORD=settings.password or None,
            APP_TENANTID=settings.tenant_id or None,
            APP_TYPE=settings.type or "MultiTenant",
        )


class ReusedCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Hands out one credentials object per audience, so MSAL's token cache is kept.

    The SDK builds new credentials, with a new, empty MSAL token cache, for every turn and
    every proactive send: each outbound call would fetch a token from
    login.microsoftonline.com again. See also `warm_token`.
    """

    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self.inner = inner
        self._credentials: dict[tuple[str, str, str, bool], Any] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        """Whether ``app_id`` is this bot's."""
        valid: bool = await self.inner.is_valid_app_id(app_id)
        return valid

    async def is_authentication_disabled(self) -> bool:
        """True with no app id."""
        disabled: bool = await self.inner.is_authentication_disabled()
        return disabled

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        """The credentials for this audience, made once."""
        key = (app_id or "", oauth_scope or "", login_endpoint or "", validate_authority)
        credentials = self._credentials.get(key)
        if credentials is None:
            credentials = await self.inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
            self._credentials[key] = credentials
        return credentials


async def warm_token(turn: TurnContext) -> None:
    """Get the turn's outbound token in a worker thread before a connector call.

    msrest asks the credentials for the token synchronously, on the event loop; fetched
    here first, that only reads MSAL's cache. Without an app id there is no token.

    Raises:
        requests.RequestException: login.microsoftonline.com is unreachable.
        PermissionError: it refused the app id and password.
    """
    client = turn.turn_state.get(turn.adapter.BOT_CONNECTOR_CLIENT_KEY)
    credentials: Any = getattr(getattr(client, "config", None), "credentials", None)
    if credentials is not None and credentials.microsoft_app_id:
        await asyncio.to_thread(credentials.get_access_token)


def build_adapter(settings: TeamsSettings) -> CloudAdapter:
    """A CloudAdapter with the app's credentials (none: no auth, for local testing)."""
    configuration = BotCredentials.from_settings(settings)
    credentials = ReusedCredentialsFactory(
        ConfigurationServiceClientCredentialFactory(configuration)
    )
    return CloudAdapter(
        ConfigurationBotFrameworkAuthentication(configuration, credentials_factory=credentials)
    )


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
