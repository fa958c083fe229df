"""The ``shopify`` source: a shop's orders, products and customers (REST Admin API).

Registered through the project's ``partner_hub`` entry point exactly as a
third-party plugin would be: the connector class, the mapping file
``mappings/shopify.yaml`` (package data of the ``mappings`` namespace
package) and the converters that file uses. See README.md in this folder for
the config, the streams, the access scopes and how each canonical field is
derived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from hub.connector import Connector, Message, Stream
from hub.errors import FatalConnectorError
from hub.hookspecs import hookimpl
from hub.plugins import shipped_mapping

from .client import ShopifyClient
from .converters import CONVERTERS
from .settings import ShopifySettings
from .streams import (
    CUSTOMERS,
    ORDERS,
    PRODUCTS,
    STREAMS,
    prepare_customer,
    prepare_order,
    product_records,
    read_incremental,
    shop_details,
)

__all__ = ["ShopifyConnector", "ShopifySettings", "mapping_file"]

MAPPING_NAME = "shopify.yaml"


class ShopifyConnector(Connector):
    """Reads one Shopify shop incrementally; see the module docstring and README.md."""

    name: ClassVar[str] = "shopify"
    config_model: ClassVar[type[BaseModel]] = ShopifySettings
    summary: ClassVar[str] = "Shopify shop: orders with line items and refunds, products, customers"

    config: ShopifySettings

    def __init__(
        self,
        config: BaseModel,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """No network I/O here: ``hub check`` and ``hub discover`` build connectors too.

        ``sleep`` replaces ``time.sleep`` for rate-limit pacing and retries (tests).
        """
        super().__init__(config, transport=transport)
        self.client = ShopifyClient(self.config, transport=transport, sleep=sleep)

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        return STREAMS

    def check(self) -> None:
        """``GET /shop.json``: proves the shop name, the token and the API version work.

        It needs no access scope, so a token missing ``read_orders`` passes here
        and fails on the first sync with a 403 that names the scopes to grant.
        """
        self._shop_currency()

    def _shop_currency(self) -> str:
        currency = shop_details(self.client).get("currency")
        if not isinstance(currency, str) or not currency.strip():
            raise FatalConnectorError(
                "GET /shop.json answered a shop without a currency; product prices could "
                "not be stored.",
                hint="check that base_url points at the Shopify Admin API",
            )
        return currency

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        readers: dict[str, Callable[[Mapping[str, Any]], Iterator[Message]]] = {
            ORDERS.name: self._orders,
            PRODUCTS.name: self._products,
            CUSTOMERS.name: self._customers,
        }
        unknown = [name for name in streams if name not in readers]
        if unknown:
            raise FatalConnectorError(
                f"the shopify connector has no stream {', '.join(map(repr, unknown))}",
                hint=f"use one of: {', '.join(readers)}",
            )
        for name in streams:
            yield from readers[name](state.get(name) or {})

    def _orders(self, state: Mapping[str, Any]) -> Iterator[Message]:
        settings = self.config
        return read_incremental(
            self.client,
            settings,
            ORDERS.name,
            state,
            path="/orders.json",
            records_key="orders",
            params={"status": "any"},  # the default, open, would miss closed and cancelled
            prepare=lambda order: [prepare_order(order, settings)],
        )

    def _products(self, state: Mapping[str, Any]) -> Iterator[Message]:
        # Products carry no currency: their prices are in the shop's, asked once per run.
        currency = self._shop_currency()
        shop = self.config.shop
        return read_incremental(
            self.client,
            self.config,
            PRODUCTS.name,
            state,
            path="/products.json",
            records_key="products",
            prepare=lambda product: product_records(product, shop_currency=currency, shop=shop),
        )

    def _customers(self, state: Mapping[str, Any]) -> Iterator[Message]:
        return read_incremental(
            self.client,
            self.config,
            CUSTOMERS.name,
            state,
            path="/customers.json",
            records_key="customers",
            prepare=lambda customer: [prepare_customer(customer)],
        )

    def close(self) -> None:
        self.client.close()


def mapping_file() -> Path:
    """``mappings/shopify.yaml``, wherever the ``mappings`` package data is installed."""
    return shipped_mapping(MAPPING_NAME)


@hookimpl
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    """The ``shopify`` source connector."""
    register(ShopifyConnector)


@hookimpl
def hub_register_destinations(register: Callable[[type[Any]], None]) -> None:
    """``shopify-discounts``: co-op and voucher offers become price rules and discount codes."""
    from .destination import ShopifyDiscountDestination

    register(ShopifyDiscountDestination)


@contextmanager
def _sandbox() -> Iterator[dict[str, Any]]:
    """A local fake shop with 500 deterministic orders, for ``hub demo``."""
    from .sandbox import ShopifySandbox

    with ShopifySandbox(orders=500, leak_rate=40.0) as shop:
        yield {
            "connector": "shopify",
            "config": {
                "shop": "sandbox",
                "access_token": shop.token,
                "start_date": "2024-01-01",
                "base_url": shop.url,
            },
            "streams": ["orders", "products"],
        }


@hookimpl
def hub_register_sandboxes(register: Callable[..., None]) -> None:
    """``shopify``: a local fake shop (connectors/shopify/sandbox)."""
    register("shopify", _sandbox)


@hookimpl
def hub_register_mappings(register: Callable[[Path], None]) -> None:
    """``mappings/shopify.yaml``: orders -> conversion + conversion_item, products -> sku."""
    register(mapping_file())


@hookimpl
def hub_register_converters(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """The converters ``mappings/shopify.yaml`` uses (``user_agent_device``, ``shopify_*``)."""
    for name, function in CONVERTERS.items():
        register(name, function)
