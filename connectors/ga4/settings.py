"""Config of the GA4 connector (``connections.<name>.config`` in hub.yaml).

Credentials are either a service-account key (exchanged for an access token
at ``token_url`` through google-auth) or a ready ``access_token``. Reports are
Data API ``runReport`` definitions; the three defaults feed the canonical
schema (``mappings/ga4.yaml``): ``traffic`` (sessions by day and channel ->
``click``), ``purchases`` (by transaction id -> ``conversion``) and ``items``
(item revenue by transaction and item -> ``conversion_item``).
"""

from __future__ import annotations

import json
import re
import stat
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_BASE_URL = "https://analyticsdata.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, no secret
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
#: GA4's limits on one request (apis.md 3.3).
MAX_DIMENSIONS = 9
MAX_METRICS = 10
MAX_PAGE_ROWS = 250_000
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_:]*$")
_STREAM = re.compile(r"^[a-z][a-z0-9_]*$")


class Report(BaseModel):
    """One ``runReport`` definition, synced as the stream of the same name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Stream name (lower case, digits, _).")
    dimensions: list[str] = Field(
        min_length=1,
        max_length=MAX_DIMENSIONS,
        description="Dimension API names; `date` is required (reports are read by day).",
    )
    metrics: list[str] = Field(
        min_length=1, max_length=MAX_METRICS, description="Metric API names."
    )
    key: list[str] | None = Field(
        default=None,
        description="The dimensions that identify one record (default: all). Rows of one "
        "window sharing a key are merged: metrics summed, the other dimensions taken from "
        "the row with the largest first metric. A key holding '(not set)' or '(other)' is "
        "no identity: such rows keep all their dimensions.",
    )

    @field_validator("name")
    @classmethod
    def _stream_name(cls, value: str) -> str:
        if not _STREAM.match(value):
            raise ValueError("a report name is a stream name: lower case letters, digits and _")
        return value

    @field_validator("dimensions", "metrics")
    @classmethod
    def _api_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not _NAME.match(name)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a GA4 API name (camelCase, e.g. sessionSource)")
        if len(set(value)) != len(value):
            raise ValueError("a name is listed twice")
        return value

    @model_validator(mode="after")
    def _date_and_key(self) -> Report:
        if "date" not in self.dimensions:
            raise ValueError(
                f"report {self.name!r} needs the `date` dimension: reports are read by day"
            )
        if self.key is not None:
            unknown = [name for name in self.key if name not in self.dimensions]
            if unknown or not self.key:
                raise ValueError(
                    f"report {self.name!r}: key must list some of its dimensions"
                    + (f" ({unknown[0]!r} is not one)" if unknown else "")
                )
        return self


DEFAULT_REPORTS: tuple[Report, ...] = (
    Report(
        name="traffic",
        dimensions=[
            "date",
            "sessionSource",
            "sessionMedium",
            "sessionCampaignName",
            "sessionManualAdContent",
            "deviceCategory",
            "countryId",
        ],
        metrics=["sessions", "ecommercePurchases", "purchaseRevenue"],
    ),
    Report(
        name="purchases",
        dimensions=[
            "date",
            "transactionId",
            "sessionSource",
            "sessionMedium",
            "sessionCampaignName",
            "deviceCategory",
            "countryId",
        ],
        metrics=["ecommercePurchases", "purchaseRevenue"],
        key=["transactionId"],
    ),
    Report(
        name="items",
        dimensions=["date", "transactionId", "itemId", "itemName", "itemCategory"],
        metrics=["itemRevenue", "itemsPurchased"],
    ),
)


class GA4Settings(BaseModel):
    """One GA4 property, read through the Data API v1beta."""

    model_config = ConfigDict(extra="forbid")

    property_id: int = Field(
        gt=0,
        description="The numeric property id (Admin > Property details), not the G-… "
        "measurement id. `properties/123` is accepted too.",
    )
    service_account_key: SecretStr | None = Field(
        default=None,
        description="A service-account key as JSON text (from the environment: "
        "${GA4_SERVICE_ACCOUNT_KEY}); its client_email must be a Viewer of the property.",
    )
    service_account_file: Path | None = Field(
        default=None, description="The same key as a file path (kept outside the repository)."
    )
    access_token: SecretStr | None = Field(
        default=None,
        description="A ready OAuth2 access token (scope analytics.readonly) instead of a key; "
        "it expires after an hour, so only for one-off runs.",
    )
    start_date: date = Field(description="Days on or after this date are read first.")
    timezone: str = Field(
        default="UTC",
        description="The property's reporting time zone (Admin > Property details); GA4's "
        "dates are days of this zone. The zone each answer reports wins when they differ.",
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="Override of the Data API URL.")
    token_url: str = Field(
        default=DEFAULT_TOKEN_URL, description="Override of Google's OAuth2 token endpoint."
    )
    reports: list[Report] = Field(
        default_factory=lambda: [r.model_copy() for r in DEFAULT_REPORTS],
        min_length=1,
        description="The reports to sync, one stream each (default: traffic, purchases, items).",
    )
    lookback_days: int = Field(
        default=3,
        ge=0,
        le=90,
        description="Each sync re-reads this many days before the saved cursor: GA4 still "
        "revises the last 24-48 hours.",
    )
    window_days: int = Field(
        default=7, ge=1, le=366, description="Days per request (one checkpoint per window)."
    )
    page_size: int = Field(
        default=10_000, ge=1, le=MAX_PAGE_ROWS, description="Rows per page (`limit`)."
    )
    quota_reserve: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Slow down when less than this share of an hourly quota remains.",
    )
    analytics_360: bool = Field(
        default=False,
        description="The property is Analytics 360: its token quotas are ten times a "
        "standard property's (the quota guard's reserve is a share of them).",
    )
    quota_pause_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long to wait before the next request once the reserve is reached.",
    )

    @field_validator("property_id", mode="before")
    @classmethod
    def _property(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().startswith("properties/"):
            return value.strip().removeprefix("properties/")
        if isinstance(value, str) and value.strip().upper().startswith("G-"):
            raise ValueError(
                "that is a measurement id (G-…); give the numeric property id from "
                "Admin > Property details"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Vienna") from None
        return value

    @field_validator("base_url", "token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (http:// only for local fakes)")
        return url

    @field_validator("service_account_key")
    @classmethod
    def _key_json(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _parse_key(value.get_secret_value())
        return value

    @field_validator("service_account_file")
    @classmethod
    def _key_file(cls, value: Path | None) -> Path | None:
        """Checked when the config is validated (``hub validate``), not first at sign-in."""
        if value is not None:
            _parse_key(_read_key_file(value))
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> GA4Settings:
        given = [
            name
            for name in ("service_account_key", "service_account_file", "access_token")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of service_account_key, service_account_file or access_token"
                + (f" (got {', '.join(given)})" if given else "")
            )
        names = [report.name for report in self.reports]
        if len(set(names)) != len(names):
            raise ValueError("two reports have the same name")
        return self

    @property
    def property_path(self) -> str:
        """``properties/<id>``."""
        return f"properties/{self.property_id}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service_account_info(self) -> dict[str, Any] | None:
        """The key as a dict (from the text or the file); None with an access token."""
        if self.service_account_key is not None:
            return _parse_key(self.service_account_key.get_secret_value())
        if self.service_account_file is not None:
            return _parse_key(_read_key_file(self.service_account_file))
        return None


#: A service-account key file is about 2.4 kB; anything much larger is not one.
MAX_KEY_FILE_BYTES = 64 * 1024


def _read_key_file(path: Path) -> str:
    """The text of a key file: a regular, small, UTF-8 file (messages name it, never its text)."""
    where = f"service_account_file {path}"
    try:
        info = path.stat()
    except OSError as exc:
        raise ValueError(f"cannot read {where}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ValueError(f"{where} is {kind}; give the path of the key's JSON file")
    if info.st_size > MAX_KEY_FILE_BYTES:
        raise ValueError(f"{where} has {info.st_size} bytes: not a service-account key file")
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {where}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(
            f"{where} is not UTF-8 text: give the JSON key file Google Cloud downloaded"
        ) from None


def _parse_key(text: str) -> dict[str, Any]:
    """A service-account key's JSON; messages never quote the key."""
    try:
        info = json.loads(text)
    except ValueError:
        raise ValueError(
            "the service-account key is not JSON; paste the whole key file (Google Cloud "
            "console > IAM > Service accounts > Keys > Add key > JSON)"
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError('the key is not a service-account key ("type": "service_account")')
    missing = [k for k in ("client_email", "private_key") if not info.get(k)]
    if missing:
        raise ValueError(f"the service-account key has no {missing[0]}")
    return info
