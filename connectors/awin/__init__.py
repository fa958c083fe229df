"""The ``awin`` source: an Awin advertiser's or publisher's transactions, partners and
commission groups (Awin API, https://api.awin.com).

Registered through the project's ``partner_hub`` entry point (``awin =
"connectors.awin"``) like a third-party plugin: the connector class and the
mapping file ``mappings/awin.yaml``. See README.md in this folder for the
config, the streams, the API's limits and how each canonical field is derived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from hub.connector import Connector, Message, Stream
from hub.errors import FatalConnectorError
from hub.hookspecs import hookimpl
from hub.plugins import shipped_mapping

from .client import AwinClient
from .converters import CONVERTERS
from .settings import AwinSettings
from .streams import (
    COMMISSION_GROUPS,
    PARTNERS,
    TRANSACTIONS,
    fetch_partners,
    read_commission_groups,
    read_partners,
    read_transactions,
)

__all__ = ["AwinConnector", "AwinSettings", "mapping_file"]

MAPPING_NAME = "awin.yaml"
STREAMS: tuple[Stream, ...] = (TRANSACTIONS, PARTNERS, COMMISSION_GROUPS)


class AwinConnector(Connector):
    """Reads one Awin account; see the module docstring and README.md."""

    name: ClassVar[str] = "awin"
    config_model: ClassVar[type[BaseModel]] = AwinSettings
    summary: ClassVar[str] = (
        "Awin advertiser or publisher: transactions with basket products, partners, "
        "commission groups"
    )

    config: AwinSettings

    def __init__(
        self,
        config: BaseModel,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """No network I/O here: ``hub check`` and ``hub discover`` build connectors too.

        ``sleep`` and ``clock`` drive the rate limiter and retries, ``now`` the
        end of the last transactions window (tests inject all three).
        """
        super().__init__(config, transport=transport)
        self.client = AwinClient(self.config, transport=transport, sleep=sleep, clock=clock)
        self._now = now or (lambda: datetime.now(UTC))

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        """Every stream the connector knows (``commission_groups``: publisher accounts)."""
        return STREAMS

    def discover(self) -> Sequence[Stream]:
        """The streams this account offers: advertisers have no ``commission_groups``."""
        if self.config.account_type == "publisher":
            return STREAMS
        return (TRANSACTIONS, PARTNERS)

    def check(self) -> None:
        """``GET /accounts``: proves the token works and that it reaches ``account_id``."""
        settings = self.config
        body = self.client.get_json("/accounts", {"type": settings.account_type})
        accounts = body.get("accounts") if isinstance(body, Mapping) else body
        if not isinstance(accounts, list):
            raise FatalConnectorError(
                "GET /accounts answered without an `accounts` list",
                hint="check that base_url points at the Awin API (https://api.awin.com)",
            )
        reachable = {
            (str(account.get("accountId")), str(account.get("accountType") or "").lower())
            for account in accounts
            if isinstance(account, Mapping)
        }
        wanted = str(settings.account_id)
        if (wanted, settings.account_type) in reachable:
            return
        other = [kind for acc, kind in reachable if acc == wanted]
        if other:
            raise FatalConnectorError(
                f"Awin account {wanted} is a {other[0]} account, not a {settings.account_type}",
                hint=f"set account_type: {other[0]}",
            )
        listed = ", ".join(sorted(acc for acc, _ in reachable)) or "none"
        raise FatalConnectorError(
            f"the token's user cannot reach {settings.account_type} account {wanted} "
            f"(reachable {settings.account_type} accounts: {listed})",
            hint="check account_id, or give the user access to the account in the Awin UI",
        )

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        offered = {stream.name for stream in self.discover()}
        unknown = [name for name in streams if name not in offered]
        if unknown:
            raise FatalConnectorError(
                f"the awin connector has no stream {', '.join(map(repr, unknown))} for "
                f"{self.config.account_type} accounts",
                hint=f"use one of: {', '.join(sorted(offered))}",
            )
        settings = self.config
        for name in streams:
            if name == TRANSACTIONS.name:
                yield from read_transactions(
                    self.client, settings, state.get(name) or {}, self._now()
                )
            elif name == PARTNERS.name:
                yield from read_partners(self.client, settings)
            else:
                yield from read_commission_groups(
                    self.client, settings, lambda: fetch_partners(self.client, settings)
                )

    def close(self) -> None:
        self.client.close()


def mapping_file() -> Path:
    """``mappings/awin.yaml``, wherever the ``mappings`` package data is installed."""
    return shipped_mapping(MAPPING_NAME)


@hookimpl
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    """The ``awin`` source connector."""
    register(AwinConnector)


@hookimpl
def hub_register_destinations(register: Callable[[type[Any]], None]) -> None:
    """``awin-validations`` (approve/decline/amend) and ``awin-conversions`` (S2S orders)."""
    from .conversion_api import AwinConversionDestination
    from .validations import AwinValidationDestination

    register(AwinValidationDestination)
    register(AwinConversionDestination)


@hookimpl
def hub_register_mappings(register: Callable[[Path], None]) -> None:
    """``mappings/awin.yaml``: transactions -> conversion (+ items, partner, offers)."""
    register(mapping_file())


@hookimpl
def hub_register_converters(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """The converters ``mappings/awin.yaml`` uses (``awin_basket_amount``)."""
    for name, function in CONVERTERS.items():
        register(name, function)


@contextmanager
def _sandbox() -> Iterator[dict[str, Any]]:
    """A local fake Awin advertiser account with 300 transactions, for ``hub demo``."""
    from .sandbox import AwinSandbox

    with AwinSandbox() as awin:
        yield {
            "connector": "awin",
            "config": {
                "api_token": awin.token,
                "account_type": "advertiser",
                "account_id": awin.account_id,
                "start_date": "2025-03-01",
                "timezone": "Europe/Berlin",
                "base_url": awin.url,
                "requests_per_minute": 6000,
            },
        }


@hookimpl
def hub_register_sandboxes(register: Callable[..., None]) -> None:
    """``awin``: a local fake Awin advertiser account (connectors/awin/sandbox)."""
    register("awin", _sandbox)
