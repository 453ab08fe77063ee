"""Teams' environment variables: MICROSOFT_APP_ID, _PASSWORD, _TENANT_ID and _TYPE."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class TeamsSettings(BaseSettings):
    """The bot's Microsoft Entra registration (a `.env` file is read too)."""

    model_config = SettingsConfigDict(env_prefix="MICROSOFT_APP_", env_file=".env", extra="ignore")

    id: str | None = None
    password: str | None = None
    tenant_id: str | None = None
    type: str = "MultiTenant"
