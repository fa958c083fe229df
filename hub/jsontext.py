"""JSON text for the database: always valid JSON, whatever Python value a record holds.

Records come from sources that may hand over what JSON cannot hold: a CSV
plugin's ``json.loads`` keeps ``NaN`` and integers of any size. Python's
``json`` would write ``NaN`` (not JSON: SQLite's json functions then fail on
the row, PostgreSQL refuses it) and orjson refuses integers beyond 64 bits.
:func:`dumps` writes non-finite floats as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` and integers of any size as digits, so
nothing is lost and the text is always valid.
"""

from __future__ import annotations

import json
import math
from typing import Any

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
    return json.dumps(
        finite(value), sort_keys=sort_keys, ensure_ascii=False, allow_nan=False, default=str
    )
