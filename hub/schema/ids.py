"""Deterministic row ids: the same source record always gets the same id.

A re-sync therefore updates a row instead of duplicating it, and a child row
(a conversion item) can point at its parent without a database round trip.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would change every id in every database.
HUB_NAMESPACE = uuid.UUID("6f1d3c1e-8f3b-5a57-9c55-2b1f0e4d7a10")
_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in ordinary ids


def make_id(tenant: str, source: str, entity: str, external_id: str) -> str:
    """The canonical id of the ``entity`` row that ``source`` knows as ``external_id``."""
    key = _SEPARATOR.join((tenant, source, entity, str(external_id)))
    return str(uuid.uuid5(HUB_NAMESPACE, key))
