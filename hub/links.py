"""Marks destinations leave on canonical rows: ``extra["_hub_links"][system][key]``.

A destination records what it created or sent on the row it came from (a
Shopify price rule on its offer, an Awin S2S batch on its conversion), keyed
by the system and by the account in it (the shop, the advertiser, the GA4
measurement id), so marks of other accounts stay beside. Through
:meth:`hub.store.Store.record_links`: a targeted update, no new version of
the row, and the marks survive later syncs of the row from its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from hub.store import LINKS_KEY, Store

__all__ = ["marks_of", "record_marks"]


def marks_of(row: Mapping[str, Any], system: str) -> dict[str, Any]:
    """The marks of ``system`` on a canonical ``row`` (``{key: mark}``; empty if none)."""
    links = (row.get("extra") or {}).get(LINKS_KEY) or {}
    return dict(links.get(system) or {})


def record_marks(
    store: Store,
    entity: str,
    system: str,
    key: str,
    marks: Mapping[str, Mapping[str, Any]],
    *,
    tenant: str,
) -> int:
    """Set ``extra._hub_links[system][key] = mark`` for each ``{row id: mark}`` of ``tenant``.

    Returns the rows changed; ids the store does not hold for that tenant are skipped.
    """
    table = store.table(entity)
    changed = 0
    with store.transaction() as connection:
        for row_id, mark in sorted(marks.items()):
            stored = connection.execute(
                select(table.c.extra)
                .where(table.c.id == row_id, table.c.tenant == tenant)
                .with_for_update()
            ).first()
            if stored is None:
                continue
            keyed = marks_of({"extra": stored.extra}, system)
            keyed[key] = dict(mark)
            changed += store.record_links(
                connection, entity, {row_id: {system: keyed}}, tenant=tenant
            )
    return changed
