"""The hub's connector contract suite, run against the Shopify connector and a fake shop."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from connectors.shopify import ShopifyConnector
from hub.errors import AuthError, HubError
from hub.testing import ConnectorContract
from tests.connectors.shopify import samples
from tests.connectors.shopify.fake_shop import FakeShop
from tests.connectors.shopify.samples import SHOP, TOKEN, fresh


class TestShopifyContract(ConnectorContract):
    connector_class = ShopifyConnector
    secrets = (TOKEN, "shpat_wrong_token_4567890")
    bad_credentials_error: ClassVar[type[HubError]] = AuthError
    # updated_at_min is inclusive: the newest records of the first read come again.
    unchanged_source_yields_nothing = False

    def valid_config(self) -> dict[str, Any]:
        return {
            "shop": SHOP,
            "access_token": TOKEN,
            "start_date": "2025-01-01",
            "lookback_minutes": 0,
            "page_size": 2,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.valid_config(), "access_token": "shpat_wrong_token_4567890"}

    def broken_config(self) -> dict[str, Any]:
        return {**self.valid_config(), "shop": "no-such-shop"}  # answers 404

    def transport(self) -> httpx.BaseTransport:
        return FakeShop(
            orders=fresh(samples.ORDERS),
            products=fresh(samples.PRODUCTS),
            customers=fresh(samples.CUSTOMERS),
        ).transport()
