"""Config of the Awin connector (``connections.<name>.config`` in hub.yaml)."""

from __future__ import annotations

from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_BASE_URL = "https://api.awin.com"
#: The zones the transactions API accepts for ``timezone`` (apis.md §2.3).
AWIN_TIMEZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/London",
    "Europe/Dublin",
    "Canada/Eastern",
    "Canada/Central",
    "Canada/Mountain",
    "Canada/Pacific",
    "US/Eastern",
    "US/Central",
    "US/Mountain",
    "US/Pacific",
)
#: Awin allows at most 31 days between startDate and endDate.
MAX_WINDOW_DAYS = 31


class AwinSettings(BaseModel):
    """One Awin advertiser or publisher account, read with a user's API token."""

    model_config = ConfigDict(extra="forbid")

    api_token: SecretStr = Field(
        description="The OAuth2 API token of an Awin user (Toolbox/Account > API Credentials). "
        "Sent as `Authorization: Bearer`, never in the URL."
    )
    account_type: Literal["advertiser", "publisher"] = Field(
        description="Whether account_id is an advertiser (merchant) or a publisher account."
    )
    account_id: int = Field(gt=0, description="The Awin advertiser or publisher id.")
    start_date: date = Field(description="Transactions on or after this day are read first.")
    timezone: str = Field(
        default="UTC",
        description="Time zone Awin uses for the date filters and for the (offset-less) "
        f"dates it answers; one of {', '.join(AWIN_TIMEZONES)}.",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="Override of https://api.awin.com (proxies, local fakes).",
    )
    lookback_days: int = Field(
        default=60,
        ge=0,
        le=365,
        description="Each sync re-reads the transactions of this many days before the saved "
        "cursor, so status changes (pending -> approved/declined) and amendments are caught.",
    )
    window_days: int = Field(
        default=30,
        ge=1,
        le=MAX_WINDOW_DAYS,
        description="Days per transactions request (Awin refuses more than 31).",
    )
    poll_status_changes: bool = Field(
        default=True,
        description="On incremental syncs, also ask for transactions validated or amended "
        "since the last sync (dateType=validation and =amendment), whatever their age.",
    )
    requests_per_minute: float = Field(
        default=20.0,
        gt=0,
        le=60_000,
        description="Client-side limit; Awin allows 20 calls per minute per *user*, so lower "
        "it when several connections share one token. Raise it only for local fakes.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in AWIN_TIMEZONES:
            raise ValueError(
                f"Awin accepts only these time zones: {', '.join(AWIN_TIMEZONES)} "
                "(choose the one the account reports in; UTC is safest)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise ValueError("base_url must start with https:// (http:// only for local fakes)")
        return url

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    @property
    def account_path(self) -> str:
        """``/advertisers/{id}`` or ``/publishers/{id}``."""
        return f"/{self.account_type}s/{self.account_id}"
