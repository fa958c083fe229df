"""A local fake Shopify Admin REST API: demos without credentials, end-to-end tests, benchmarks.

``python -m connectors.shopify.sandbox --orders 500`` serves a shop on
127.0.0.1 and prints the hub.yaml block to sync it; in Python,
``with ShopifySandbox(orders=500, token=..., seed=1) as shop: shop.url``.
``ShopData(seed).order(i)`` is order ``i`` exactly as served, for computing
what a sync must produce. docs/decisions/0008-shopify-sandbox.md lists what it
imitates and how faithfully.
"""

from .data import ShopData
from .server import ShopifySandbox

__all__ = ["ShopData", "ShopifySandbox"]
