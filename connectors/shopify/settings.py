"""Config of the Shopify connector (``connections.<name>.config`` in hub.yaml)."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_API_VERSION = "2026-10"
DEFAULT_CLICK_REF_ATTRIBUTES = ("awc", "iclid", "click_id", "clickid", "irclickid", "gclid")

_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")


class ShopifySettings(BaseModel):
    """A Shopify shop, read through the REST Admin API with an Admin API access token."""

    model_config = ConfigDict(extra="forbid")

    shop: str = Field(
        description="The shop's permanent myshopify subdomain ('nordlicht-outdoor') or domain "
        "('nordlicht-outdoor.myshopify.com'); not the custom storefront domain."
    )
    access_token: SecretStr = Field(
        description="Admin API access token (shpat_...), with read_orders, read_all_orders, "
        "read_products and read_customers; write_price_rules/write_discounts for the destination."
    )
    api_version: str = Field(
        default=DEFAULT_API_VERSION, description="Admin API version, YYYY-MM (a stable quarter)."
    )
    start_date: date = Field(description="Orders updated on or after this day are read first.")
    lookback_minutes: int = Field(
        default=10,
        ge=0,
        description="Each incremental sync re-reads this much before the saved cursor, so "
        "orders updated while the previous sync paged are not missed.",
    )
    page_size: int = Field(default=250, ge=1, le=250, description="Records per page (max 250).")
    base_url: str | None = Field(
        default=None,
        description="Override of https://{shop}.myshopify.com (proxies, gateways, local fakes).",
    )
    click_ref_attributes: tuple[str, ...] = Field(
        default=DEFAULT_CLICK_REF_ATTRIBUTES,
        description="Names under which the shop stores partner click ids: looked for first in "
        "the order's note_attributes, then as query parameters of landing_site.",
    )
    order_ref: Literal["order_number", "name", "id"] = Field(
        default="order_number",
        description="What becomes conversion.order_ref: the number the shop's tracking sends "
        "to networks.",
    )
    leak_rate: float = Field(
        default=2.0,
        gt=0,
        description="REST requests per second the shop's plan leaks (2 on "
        "standard plans, 4 Advanced, 20 Plus).",
    )

    @field_validator("shop")
    @classmethod
    def _shop_name(cls, value: str) -> str:
        name = value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
        name = name.removesuffix(".myshopify.com")
        if not _SHOP.match(name):
            raise ValueError(
                "not a myshopify shop name: use the subdomain of <name>.myshopify.com "
                "(Settings > Domains in the Shopify admin shows it)"
            )
        return name

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("api_version must look like 2026-10 (a quarter: -01, -04, -07, -10)")
        return value

    @property
    def root_url(self) -> str:
        """Scheme and host of the shop (or the override), without a trailing slash."""
        return (self.base_url or f"https://{self.shop}.myshopify.com").rstrip("/")

    @property
    def api_url(self) -> str:
        """The REST Admin API root of the configured version."""
        return f"{self.root_url}/admin/api/{self.api_version}"
