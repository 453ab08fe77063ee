"""Forge Bot Framework channel tokens and control OpenID metadata for inbound-auth tests.

Findings (botframework-connector 4.17.1, CloudAdapter + ConfigurationBotFrameworkAuthentication
with APP_ID/APP_PASSWORD set; verified in tests/test_fakes_teams.py):

* CloudAdapter.process passes the header (``""`` when absent) to JwtTokenValidation and turns
  only ``PermissionError`` into 401; any other exception escapes and aiohttp answers 500.
* Rejected with 401 BEFORE any network access: no or empty ``Authorization`` header
  ("Required Authorization token was not supplied"), a scheme other than ``Bearer``, and a
  JWT whose ``iss`` is not ``https://api.botframework.com`` (the issuer is read unverified
  before keys are needed). These are the fast, deterministic "forged token -> 401" tests.
* A token with the Bot Framework issuer needs the signing keys: JwtTokenExtractor fetches
  login.botframework.com/v1/.well-known/openidconfiguration and its jwks_uri with a
  SYNCHRONOUS ``requests.get`` and NO timeout, on the event loop. Here DNS fails at once
  (~10 ms, requests.ConnectionError -> 500); on a network that drops packets it would block
  the whole loop until the OS connect timeout. Use ``unreachable_openid_metadata()`` (fails
  instantly, records attempts) or ``trusted_signing_keys()`` (seeds the process-wide
  ``JwtTokenExtractor.metadataCache``; no fetch for a day) so tests never touch the network.
* With trusted keys seeded: a token signed by a trusted key with aud = app id and a
  ``serviceurl`` claim equal to the activity's serviceUrl is accepted (201). Wrong ``aud``,
  missing or different ``serviceurl`` -> 401 (PermissionError).
* But these yield 500, not 401 (non-PermissionError exceptions): malformed JWT
  ("Bearer garbage": jwt.DecodeError), bad signature (jwt.InvalidSignatureError), unknown
  ``kid`` (IndexError in _OpenIdMetadata._find), expired (jwt.ExpiredSignatureError),
  ``msteams`` missing from the key's endorsements (bare Exception), metadata unreachable
  (requests.ConnectionError). To answer 401, authenticate first yourself:
  ``adapter.bot_framework_authentication.authenticate_request(activity, header)`` inside
  try/except (PermissionError, jwt.PyJWTError, IndexError -> 401; requests.RequestException
  -> 503), then ``adapter.process_activity(result, activity, bot.on_turn)``.
* With an app id, OUTBOUND calls first get an AAD token via MSAL from
  login.microsoftonline.com (requests.ConnectionError here). So tests that send replies run
  the adapter with no app id (see teams_connector); tests with an app id must not reply.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from unittest import mock

import jwt
import requests
from botframework.connector.auth import AuthenticationConstants
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor, _OpenIdMetadata
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

BOT_FRAMEWORK_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
CHANNEL_OPENID_METADATA_URL = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
TEAMS_ENDORSEMENTS = ("msteams",)


@dataclass(frozen=True)
class SigningKey:
    """An RSA key and the ``kid`` a token signed with it names."""

    private_key: rsa.RSAPrivateKey
    kid: str

    def jwk(self, endorsements: Iterable[str] = TEAMS_ENDORSEMENTS) -> dict[str, Any]:
        """The public JWK as login.botframework.com publishes it (with endorsements)."""
        public = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "endorsements": list(endorsements)}


def new_signing_key(kid: str | None = None) -> SigningKey:
    """A fresh 2048-bit RSA key with ``kid`` (random when omitted)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(key, kid or uuid.uuid4().hex)


def channel_claims(
    app_id: str,
    service_url: str,
    *,
    issuer: str = BOT_FRAMEWORK_ISSUER,
    lifetime: int = 3600,
    now: float | None = None,
) -> dict[str, Any]:
    """Claims of a Bot Connector -> bot token: iss, aud = app id, serviceurl, nbf, exp."""
    issued = int(now if now is not None else time.time())
    return {
        "serviceurl": service_url,
        "nbf": issued - 5,
        "exp": issued + lifetime,
        "iss": issuer,
        "aud": app_id,
    }


def make_channel_token(
    app_id: str,
    service_url: str,
    *,
    key: SigningKey | None = None,
    issuer: str = BOT_FRAMEWORK_ISSUER,
    lifetime: int = 3600,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """An RS256 JWT with Bot Framework channel claims, signed by ``key``.

    Without ``key`` it is signed by a random throw-away key: a forgery.
    A negative ``lifetime`` gives an expired token.
    """
    signer = key or new_signing_key()
    claims = channel_claims(app_id, service_url, issuer=issuer, lifetime=lifetime)
    claims.update(extra_claims or {})
    headers = {"kid": signer.kid, "x5t": signer.kid, "typ": "JWT"}
    return jwt.encode(claims, signer.private_key, algorithm="RS256", headers=headers)


def forge_token(app_id: str, service_url: str, **kwargs: Any) -> str:
    """A plausible channel token signed by a random key nobody trusts."""
    return make_channel_token(app_id, service_url, key=None, **kwargs)


@contextmanager
def trusted_signing_keys(
    *keys: SigningKey,
    endorsements: Iterable[str] = TEAMS_ENDORSEMENTS,
    metadata_url: str = CHANNEL_OPENID_METADATA_URL,
) -> Iterator[None]:
    """Make the SDK trust ``keys`` as if fetched from login.botframework.com, offline.

    Seeds ``JwtTokenExtractor.metadataCache`` (a process-wide class attribute) with fresh
    keys, so no metadata fetch happens for a day; restores the cache on exit.
    """
    metadata = _OpenIdMetadata(metadata_url)
    metadata.keys = [key.jwk(endorsements) for key in keys]
    metadata.last_updated = datetime.now()
    with _cache_entry(metadata_url, metadata):
        yield


@contextmanager
def unreachable_openid_metadata() -> Iterator[list[str]]:
    """Make every OpenID metadata refresh fail at once with ``requests.ConnectionError``.

    Yields the list of URLs the SDK tried to fetch. Use it around tests whose tokens
    would need metadata, so they never depend on how the network fails (DNS error vs
    a silently dropped connection, which would block the event loop: the SDK fetches
    with a synchronous ``requests.get`` and no timeout).
    """
    attempts: list[str] = []

    async def refuse(metadata: _OpenIdMetadata) -> None:
        attempts.append(metadata.url)
        raise requests.ConnectionError(f"test: no network for {metadata.url}")

    saved = dict(JwtTokenExtractor.metadataCache)
    JwtTokenExtractor.metadataCache.clear()
    try:
        with mock.patch.object(_OpenIdMetadata, "_refresh", refuse):
            yield attempts
    finally:
        JwtTokenExtractor.metadataCache.clear()
        JwtTokenExtractor.metadataCache.update(saved)


@contextmanager
def _cache_entry(url: str, metadata: _OpenIdMetadata) -> Iterator[None]:
    cache = JwtTokenExtractor.metadataCache
    previous = cache.get(url)
    cache[url] = metadata
    try:
        yield
    finally:
        if previous is None:
            cache.pop(url, None)
        else:
            cache[url] = previous
