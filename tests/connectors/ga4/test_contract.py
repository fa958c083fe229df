"""The hub's connector contract suite, run against the GA4 connector and a fake Data API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

import httpx

from connectors.ga4 import GA4Connector
from hub.errors import AuthError, HubError
from hub.testing import ConnectorContract
from tests.connectors.ga4.fake import PROPERTY, TOKEN, FakeGA4

WRONG_TOKEN = "ya29.wrong-token-9876543210"
START = date.today() - timedelta(days=9)


def rows() -> list[dict[str, Any]]:
    """Ten days up to today, in two channels, with purchases and items."""
    out: list[dict[str, Any]] = []
    for n in range(10):
        day = (START + timedelta(days=n)).isoformat()
        for source, medium in (("google", "organic"), ("awin", "affiliate")):
            out.append(
                {
                    "date": day,
                    "sessionSource": source,
                    "sessionMedium": medium,
                    "sessionCampaignName": "(not set)",
                    "sessionManualAdContent": "(not set)",
                    "deviceCategory": "desktop",
                    "countryId": "AT",
                    "sessions": 10 + n,
                    "ecommercePurchases": 1,
                    "purchaseRevenue": 19.9 + n,
                    "transactionId": f"{2000 + 2 * n + (medium == 'affiliate')}",
                }
            )
        out.append(
            {
                "date": day,
                "transactionId": f"{2000 + 2 * n}",
                "itemId": "SKU-1",
                "itemName": "Rucksack",
                "itemCategory": "Rucksäcke",
                "itemRevenue": 19.9 + n,
                "itemsPurchased": 1,
            }
        )
    return out


class TestGA4Contract(ConnectorContract):
    connector_class = GA4Connector
    secrets = (TOKEN, WRONG_TOKEN)
    bad_credentials_error: ClassVar[type[HubError]] = AuthError
    # GA4 revises recent days: the day of the saved cursor (today) is always read again.
    unchanged_source_yields_nothing = False

    def valid_config(self) -> dict[str, Any]:
        return {
            "property_id": PROPERTY,
            "access_token": TOKEN,
            "start_date": START.isoformat(),
            "timezone": "UTC",
            "lookback_days": 0,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.valid_config(), "access_token": WRONG_TOKEN}

    def broken_config(self) -> dict[str, Any]:
        return {**self.valid_config(), "property_id": 1}  # a property the token cannot read

    def transport(self) -> httpx.BaseTransport:
        return FakeGA4(rows(), time_zone="UTC").transport()
