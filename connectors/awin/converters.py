"""Converters the Awin mapping uses (``convert: <name>`` in mappings/awin.yaml).

They derive a canonical value from the record alone. Those that take a whole
element (``path: $``) read fields without *placing* them, so the fields stay
in the row's ``extra``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hub.mapping.converters import to_decimal, to_int


def awin_basket_amount(product: Any) -> Decimal | None:
    """A basket product's value: ``unitPrice x quantity``, exact (the price is after
    discounts and before tax, apis.md §2.6); null when either is missing."""
    if not isinstance(product, Mapping):
        raise TypeError(f"awin_basket_amount needs a basket product object, not {product!r}")
    price = product.get("unitPrice")
    quantity = product.get("quantity")
    if price is None or quantity is None:
        return None
    unit = to_decimal(price)
    count = to_int(quantity)
    if unit is None or count is None:
        return None
    return unit * count


CONVERTERS: dict[str, Callable[..., Any]] = {"awin_basket_amount": awin_basket_amount}
