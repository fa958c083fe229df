"""A faster, identical twin of :func:`hub.schema.make_id` for the mapping hot path.

``make_id`` builds a ``uuid.UUID`` object per row (about 4 µs); mapping makes
several ids per record, so this computes the same UUIDv5 text straight from
the SHA-1 hex digest (about 1.3 µs). It is checked against ``make_id`` when
the module loads and falls back to ``make_id`` itself if they ever disagree
(for instance if the id scheme in hub.schema changes), so the two can never
drift apart silently.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from hub.schema import make_id

_VARIANT = "89ab"


#: The RFC 4122 variant digit that replaces each hex digit at the 17th place.
_VARIANT_OF = {digit: _VARIANT[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _builtin_sha1() -> Callable[[bytes], Any]:
    """CPython's own SHA-1: for short inputs it skips OpenSSL's per-call setup."""
    try:
        from _sha1 import sha1
    except ImportError:  # pragma: no cover - other interpreters
        return partial(hashlib.sha1, usedforsecurity=False)  # not a security use (FIPS)
    return sha1


_sha1 = _builtin_sha1()


def _make(namespace: uuid.UUID, separator: str) -> Callable[[str, str, str, str], str]:
    prefix = namespace.bytes
    sha1 = _sha1
    variant = _VARIANT_OF
    join = separator.join

    def fast_make_id(tenant: str, source: str, entity: str, external_id: str) -> str:
        name = join((tenant, source, entity, external_id)).encode()
        h = sha1(prefix + name).hexdigest()
        # UUID version 5 (the 13th hex digit) and RFC 4122 variant (the 17th)
        return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:32]}"

    return fast_make_id


def _checked() -> Callable[[str, str, str, str], str]:
    try:
        from hub.schema.ids import _SEPARATOR, HUB_NAMESPACE
    except ImportError:  # the scheme moved: use the reference implementation
        return make_id
    candidate = _make(HUB_NAMESPACE, _SEPARATOR)
    samples = [
        ("acme", "shopify", "conversion", "6123400000042"),
        ("t", "awin", "partner", "300401"),
        ("Zürich AG", "ga4", "click", "20250314:awin:cpc:⛰️"),
        ("", "", "", ""),
    ]
    if all(candidate(*sample) == make_id(*sample) for sample in samples):
        return candidate
    return make_id


fast_make_id = _checked()
