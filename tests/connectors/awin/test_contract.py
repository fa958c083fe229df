"""The hub's connector contract suite, run against the Awin connector and a fake Awin API."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from connectors.awin import AwinConnector
from hub.errors import AuthError, HubError
from hub.testing import ConnectorContract
from tests.connectors.awin.samples import (
    ADVERTISER_ID,
    BASE_URL,
    PUBLISHER_ID,
    TOKEN,
    WRONG_TOKEN,
    FakeAwin,
)


class TestAwinAdvertiserContract(ConnectorContract):
    connector_class = AwinConnector
    secrets = (TOKEN, WRONG_TOKEN)
    bad_credentials_error: ClassVar[type[HubError]] = AuthError
    # partners and commission_groups are full refreshes: a second read yields them again.
    # Transactions are not re-read with lookback_days 0 (checked by the suite's cursor rule).
    unchanged_source_yields_nothing = False

    def valid_config(self) -> dict[str, Any]:
        return {
            "api_token": TOKEN,
            "account_type": "advertiser",
            "account_id": ADVERTISER_ID,
            "start_date": "2025-01-01",
            "timezone": "Europe/Berlin",
            "base_url": BASE_URL,
            "lookback_days": 0,
            # The contract builds the connector without a fake clock: pace 1 ms, not 3 s.
            "requests_per_minute": 60_000,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.valid_config(), "api_token": WRONG_TOKEN}

    def broken_config(self) -> dict[str, Any]:
        return {**self.valid_config(), "account_id": 999}  # not among the user's accounts

    def transport(self) -> httpx.BaseTransport:
        return FakeAwin().transport()


class TestAwinPublisherContract(TestAwinAdvertiserContract):
    def valid_config(self) -> dict[str, Any]:
        return {
            **super().valid_config(),
            "account_type": "publisher",
            "account_id": PUBLISHER_ID,
        }
