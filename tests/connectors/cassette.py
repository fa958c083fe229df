"""Replaying hand-written vcrpy cassettes (CONTRIBUTING.md, "Cassettes").

Cassettes live in ``tests/cassettes/<module>/<scenario>.yaml``. They are written
by hand from the API reference notes, never recorded against a live API, and
they are replayed only: ``record_mode="none"``, so a request the cassette does
not hold fails the test (``CannotOverwriteExistingCassetteException``) instead
of going out to the network. vcrpy patches httpx's transports, so the code under
test uses its real ``httpx`` client (``transport=None``).

Use :func:`use_cassette`::

    with use_cassette("shopify/orders_three_pages.yaml") as replay:
        records = list(connector.read(["orders"], {}))
    assert replay.urls == replay.recorded_urls

:class:`Replay` keeps every request the code sent, in order and exactly as
sent, so a test can pin the wire behaviour (URLs, repeats after a 429), and on
leaving the block it checks that every interaction of the cassette was played:
a cassette holding a page the code never asked for is a test that pins less
than it claims. :func:`scan_for_secrets` finds credentials in cassette text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import vcr
import yaml
from vcr.cassette import Cassette
from vcr.request import Request

#: ``tests/cassettes``: one folder per module (``shopify``, ``awin``, ``ga4``).
CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"

#: Request and response headers that carry credentials. vcrpy removes them from
#: anything it would record, and :func:`scan_for_secrets` refuses a cassette
#: that holds one with a real-looking value.
SECRET_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "x-shopify-access-token",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
)
#: Query parameters that carry credentials (Awin's ``accessToken``, OAuth ...).
#: vcrpy compares these names exactly, so each spelling an API uses is listed;
#: the secret scan compares them case-insensitively. ``code`` is deliberately
#: not here (unlike ``hub.http.SENSITIVE_PARAMS``): Shopify's discount-code
#: lookup sends the code as ``?code=``, and filtering it would let any lookup
#: match any recorded one.
SECRET_QUERY_PARAMETERS: tuple[str, ...] = (
    "access_token",
    "accessToken",
    "api_key",
    "apiKey",
    "apikey",
    "key",
    "token",
    "password",
    "secret",
    "client_secret",
    "refresh_token",
    "signature",
    "sig",
)
_SECRET_PARAMETER_NAMES = frozenset(name.lower() for name in SECRET_QUERY_PARAMETERS)
#: What a hand-written cassette may put where a credential was, if anything.
PLACEHOLDERS = frozenset({"", "FILTERED", "REDACTED", "<redacted>", "***"})
MATCH_ON: tuple[str, ...] = ("method", "scheme", "host", "port", "path", "query")

#: Text that looks like a credential wherever it appears in a cassette.
TOKEN_PATTERNS: dict[str, re.Pattern[str]] = {
    "Shopify access token": re.compile(r"\bshp(?:at|ca|pa|ss|tka)_[A-Za-z0-9_]{6,}"),
    "bearer token": re.compile(r"\bBearer\s+(?!FILTERED\b|REDACTED\b)[A-Za-z0-9._~+/-]{8,}=*"),
    "Google OAuth access token": re.compile(r"\bya29\.[A-Za-z0-9._-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}


@dataclass
class Replay:
    """A cassette being replayed, and every request the code sent while it was."""

    cassette: Cassette
    path: Path
    #: The requests as the code sent them (credential headers included), in order.
    sent: list[Request] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        """The URLs the code requested, in order, exactly as sent."""
        return [request.uri for request in self.sent]

    @property
    def recorded_urls(self) -> list[str]:
        """The URLs of the cassette's interactions as the file writes them, in file order.

        Read from the file itself: vcrpy re-encodes the query of the requests it
        loads (sorted) when ``filter_query_parameters`` is set.
        """
        return [uri for _, uri in self._recorded()]

    def unplayed(self) -> list[str]:
        """``METHOD URL`` of every interaction the code has not requested (yet)."""
        return [
            f"{method} {uri}"
            for index, (method, uri) in enumerate(self._recorded())
            if not self.cassette.play_counts[index]
        ]

    def _recorded(self) -> list[tuple[str, str]]:
        document = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        return [
            (str(item["request"]["method"]), str(item["request"]["uri"]))
            for item in document["interactions"]
        ]


def replayer(library: Path = CASSETTES, **options: Any) -> vcr.VCR:
    """A ``vcr.VCR`` with the project's cassette rules; ``options`` override them."""
    settings: dict[str, Any] = {
        "cassette_library_dir": str(library),
        "record_mode": "none",
        "match_on": MATCH_ON,
        "filter_headers": SECRET_HEADERS,
        "filter_query_parameters": SECRET_QUERY_PARAMETERS,
    }
    settings.update(options)
    return vcr.VCR(**settings)


@contextmanager
def use_cassette(
    name: str, *, library: Path = CASSETTES, allow_unplayed: bool = False, **options: Any
) -> Iterator[Replay]:
    """Replay ``<library>/<name>`` (``"shopify/shop.yaml"``) for the ``with`` block.

    ``options`` go to ``vcr.VCR`` (``match_on``, ``allow_playback_repeats`` ...).
    When the block ends without an error, every interaction must have been
    played, unless ``allow_unplayed``.
    """
    path = library / name
    if not path.is_file():
        raise FileNotFoundError(
            f"no cassette {path}; cassettes are written by hand (CONTRIBUTING.md, 'Cassettes')"
        )
    with replayer(library, **options).use_cassette(name) as cassette:
        replay = Replay(cassette, path)
        play_response = cassette.play_response

        def recording_play_response(request: Request) -> Any:
            replay.sent.append(request)
            return play_response(request)

        # vcrpy's httpx stub calls cassette.play_response with the request as sent.
        cassette.play_response = recording_play_response
        yield replay
    missing = replay.unplayed()
    if missing and not allow_unplayed:
        raise AssertionError(
            f"cassette {name} holds interactions the code never requested: {missing}"
        )


def cassette_files(library: Path = CASSETTES) -> list[Path]:
    """Every cassette under ``library``, sorted."""
    return sorted(p for p in library.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def scan_for_secrets(text: str, *, extra_values: Sequence[str] = ()) -> list[str]:
    """What in cassette ``text`` looks like a credential; empty when it is clean.

    Checks the text for token-shaped values (:data:`TOKEN_PATTERNS`) and for
    ``extra_values`` (the fake tokens the tests configure), then every
    interaction for credential headers (:data:`SECRET_HEADERS`) with a value
    that is not a placeholder and for credential query parameters in the URL.
    """
    findings = [
        f"{what}: {match.group(0)[:12]}..."
        for what, pattern in TOKEN_PATTERNS.items()
        for match in pattern.finditer(text)
    ]
    findings += [
        f"the configured test token {value[:6]}..." for value in extra_values if value in text
    ]
    document = yaml.safe_load(text)
    interactions = document.get("interactions") if isinstance(document, dict) else None
    for number, interaction in enumerate(interactions or [], start=1):
        request = interaction.get("request") or {}
        response = interaction.get("response") or {}
        for part, headers in (
            ("request", request.get("headers")),
            ("response", response.get("headers")),
        ):
            for name, values in (headers or {}).items():
                if name.lower() not in SECRET_HEADERS:
                    continue
                listed = values if isinstance(values, list) else [values]
                if any(str(value).strip() not in PLACEHOLDERS for value in listed):
                    findings.append(f"interaction {number}: {part} header {name} has a value")
        query = urlsplit(str(request.get("uri", ""))).query
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key.lower() in _SECRET_PARAMETER_NAMES and value not in PLACEHOLDERS:
                findings.append(f"interaction {number}: query parameter {key} has a value")
    return findings
