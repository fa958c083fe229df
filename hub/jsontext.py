"""JSON text for the database: always valid JSON, whatever Python value a record holds.

Records come from sources that may hand over what JSON cannot hold: a CSV
plugin's ``json.loads`` keeps ``NaN`` and integers of any size. Python's
``json`` would write ``NaN`` (not JSON: SQLite's json functions then fail on
the row, PostgreSQL refuses it) and orjson refuses integers beyond 64 bits.
:func:`dumps` writes non-finite floats as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` and integers of any size as digits, so
nothing is lost and the text is always valid.

Rows are written with orjson when that is exact: the text orjson writes is
read back and must equal the value (a ``NaN`` would come back as ``None``,
a ``Decimal`` as text, a tuple as a list), else the exact, slower path
writes it. The check costs a fraction of Python's encoder (about 20 µs for
a Shopify order's ``extra`` against 210 µs; bench/README.md). Text with sorted
keys (content-derived ids) always comes from the exact path, byte for byte
as before.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = ["dumps", "finite"]


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Valid JSON text for ``value`` (other types as ``str``; see the module docstring)."""
    if not sort_keys:
        try:
            text = orjson.dumps(value)
        except TypeError:  # an integer beyond 64 bits, a type orjson does not know
            pass
        else:
            if orjson.loads(text) == value:
                return text.decode()
    return json.dumps(
        finite(value), sort_keys=sort_keys, ensure_ascii=False, allow_nan=False, default=str
    )
