"""The HTTP toolkit every HTTP connector uses: one client, retries, rate limits, safe errors.

Every source API fails in the same few ways: rate limits, 5xx, dropped
connections, an HTML page where JSON was promised. Each failure must end as the
same classified :class:`~hub.errors.HubError`, with a message that names the
(redacted) URL, says what to do, and never leaks a token. Connectors add only
what is vendor-specific: their auth headers, a rate limiter tuned to the vendor,
and optionally a ``classify_error`` hook for errors hidden in response bodies.

The rules (docs/decisions/0003-http-retries-and-rate-limits.md):

- 429, 500, 502, 503, 504 (configurable) and network failures are retried with
  tenacity. A ``Retry-After`` header (seconds, possibly decimal, or an HTTP
  date) wins over the exponential backoff with jitter.
- Retrying stops at ``max_attempts`` or when the next wait would overspend the
  ``max_total_wait`` budget; then :class:`~hub.errors.RetryBudgetExceededError`.
- 401/403 raise :class:`~hub.errors.AuthError`; other 4xx (and unexpected
  redirects) :class:`~hub.errors.FatalConnectorError`, at once.
- Rate limiters pace requests *before* they are sent (:class:`TokenBucket`) and
  learn from responses (:class:`LeakyBucketFromHeader`), so a normal sync never
  sees a 429 at all.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import Any, NoReturn, Protocol, runtime_checkable
from urllib.parse import unquote_plus

import httpx
import orjson
import tenacity
from pydantic import SecretStr

from hub.errors import (
    AuthError,
    FatalConnectorError,
    HubError,
    RetriableError,
    RetryBudgetExceededError,
)
from hub.redaction import MASK, RedactingFilter, redact, register_secret

log = logging.getLogger("hub.http")

#: Connect fast, allow slow report endpoints (GA4) to answer, never wait forever for the pool.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
#: Statuses retried unless a :class:`RetryPolicy` says otherwise.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
#: Header names whose values are credentials; they are registered as secrets.
SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-shopify-access-token",
        "x-api-key",
        "api-key",
        "cookie",
    }
)
#: Query parameter names whose values are always masked in URLs shown to people.
SENSITIVE_PARAMS: frozenset[str] = frozenset(
    {
        "access_token",
        "accesstoken",
        "api_key",
        "apikey",
        "key",
        "token",
        "password",
        "secret",
        "client_secret",
        "refresh_token",
        "code",
        "signature",
        "sig",
    }
)

# Failures of the connection itself that a later attempt may not meet.
_RETRYABLE_TRANSPORT_ERRORS = (
    httpx.TimeoutException,  # connect, read, write and pool timeouts
    httpx.NetworkError,  # connect errors, connection resets (ReadError/WriteError)
    httpx.RemoteProtocolError,  # the server dropped the connection mid-response
    httpx.DecodingError,  # a compressed body cut off in transit
)
_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)

_STATUS_HINTS: dict[int, str] = {
    400: "The API rejected the request as invalid; check the connection's options "
    "(dates, filters, ids) against the message above.",
    401: "The credentials were refused; check the token or API key in the connection "
    "config (it may be mistyped, revoked or expired).",
    402: "The vendor account is frozen or unpaid; check it with the vendor.",
    403: "The credentials are valid but lack permission; grant the missing scope or "
    "account access to the token's app or user, then run again.",
    404: "Nothing at this address; check base_url, the API version and the ids in the "
    "connection config (shop name, account id, property id).",
    406: "The API refused the Accept header; check the connector's headers.",
    415: "The API refused the Content-Type; check the connector's request body.",
    422: "The API refused the data; fix the values named in the message above.",
    423: "The vendor account is locked; contact the vendor.",
}


def default_user_agent() -> str:
    """``partner-hub/<version> (+httpx)``: identifies the hub to API vendors."""
    try:
        version = metadata.version("partner-hub")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "0"
    return f"partner-hub/{version} httpx/{httpx.__version__}"


def redact_url(url: httpx.URL | str) -> str:
    """``url`` safe to show: credentials in user-info and sensitive query values masked.

    Query values are compared after percent-decoding, so a registered secret is
    masked even when the URL carries it encoded (``%2F`` for ``/`` ...).
    """
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, TypeError, ValueError):
        return redact(str(url))
    if parsed.userinfo:
        parsed = parsed.copy_with(userinfo=MASK.encode())
    if parsed.query:
        parts = []
        for part in parsed.query.split(b"&"):
            name, sep, value = part.partition(b"=")
            decoded = unquote_plus(value.decode("ascii", errors="replace"))
            key = unquote_plus(name.decode("ascii", errors="replace")).lower()
            if sep and (key in SENSITIVE_PARAMS or redact(decoded) != decoded):
                part = name + b"=" + MASK.encode()
            parts.append(part)
        parsed = parsed.copy_with(query=b"&".join(parts))
    return redact(str(parsed))


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``), or None when it does not say.

    Both forms of RFC 9110 are understood: delay seconds (Shopify sends decimals
    such as ``2.0``) and an HTTP date, measured from ``now`` (default: the
    current UTC time). A date in the past means "retry now" (0.0); an
    unparseable value is ignored, so the caller falls back to its backoff.
    """
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.match(value):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def extract_error_message(response: httpx.Response, *, limit: int = 500) -> str:
    """The vendor's own error message from ``response``, redacted and shortened.

    Understands the shapes of the APIs the hub talks to: Shopify
    ``{"errors": str | {field: [messages]} | [...]}``, Google
    ``{"error": {"code", "message", "status"}}``, Awin / OAuth
    ``{"error": str, "description" | "error_description": str}`` and the common
    ``message`` / ``detail`` / ``title`` keys. Anything else falls back to the
    body's text (an HTML page is reduced to its title).
    """
    content = response.content
    message: str | None = None
    if content.strip():
        try:
            message = _message_from_json(orjson.loads(content))
        except orjson.JSONDecodeError:
            message = None
        if not message:
            if _looks_html(response):
                title = _html_title(content)
                message = f"an HTML page titled {title!r}" if title else "an HTML page"
            else:
                message = " ".join(response.text.split())
    return redact(_shorten(message or "(empty body)", limit))


def parse_json(response: httpx.Response) -> Any:
    """The JSON body of a successful ``response``, parsed with orjson.

    A body that is HTML, empty or not valid JSON (typically cut off in transit)
    raises :class:`~hub.errors.RetriableError` naming the request: asking
    again often helps, and :meth:`HttpClient.request_json` does so within its
    retry budget. A 204 (no content) gives None.
    """
    if response.status_code == 204:
        return None
    content = response.content
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        problem = str(exc)
    where = _describe_request(response)
    status = f"HTTP {response.status_code}"
    if _looks_html(response):
        title = _html_title(content)
        titled = f" titled {redact(title)!r}" if title else ""
        raise RetriableError(
            f"{where} answered {status} with an HTML page{titled} where JSON was expected.",
            hint="Check that base_url points at the API itself, not a web page, a login page "
            "or a proxy; if it does, the API is degraded and a later run may succeed.",
        )
    if not content.strip():
        raise RetriableError(
            f"{where} answered {status} with an empty body where JSON was expected.",
            hint="Usually a dropped connection or a degraded API; run the sync again later.",
        )
    raise RetriableError(
        f"{where} answered {status} with invalid JSON ({len(content)} bytes, {problem}); "
        "the body was probably cut off in transit.",
        hint="Usually a dropped connection; run the sync again later. If it keeps "
        "happening, check for a proxy that truncates large responses.",
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    ``max_attempts`` counts the first try (1 disables retrying);
    ``max_total_wait`` is the retry budget: the total seconds one request may
    spend waiting between attempts. A ``Retry-After`` that would overspend it
    ends retrying at once rather than sleeping first and failing afterwards.
    Backoff without ``Retry-After`` is ``backoff_base * 2**(n-1)`` capped at
    ``backoff_max``, lowered by up to ``jitter`` (a fraction) at random so that
    many clients do not retry in lockstep.
    """

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_total_wait: float = 300.0
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    jitter: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1 (1 = no retries)")
        if min(self.backoff_base, self.backoff_max, self.max_total_wait) < 0:
            raise ValueError("RetryPolicy waits must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """A policy that tries once (for calls that must not be repeated)."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int, rand: float) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = first) given ``rand`` in [0, 1)."""
        exponent = min(max(retry_number - 1, 0), 62)
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**exponent)
        return ceiling * (1.0 - self.jitter * rand)


# --------------------------------------------------------------------------- rate limits


@runtime_checkable
class RateLimiter(Protocol):
    """Paces requests: ``acquire`` before each attempt, ``observe`` after each response."""

    def acquire(self) -> None:
        """Block until one more request may be sent."""

    def observe(self, response: httpx.Response) -> None:
        """Learn from a response (rate-limit headers, quota fields); may do nothing."""


class TokenBucket:
    """Client-side limiter: at most ``rate_per_second`` requests on average, ``burst`` at once.

    For a hard "N calls per minute" limit such as Awin's 20/minute use
    ``TokenBucket.per_minute(20)`` with the default ``burst=1`` (one call every
    3 s): a larger burst can put more than N calls into one sliding minute.
    ``clock`` and ``sleep`` are injectable so tests need no real time.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("TokenBucket rate_per_second must be positive")
        if burst < 1:
            raise ValueError("TokenBucket burst must be at least 1")
        self.rate = float(rate_per_second)
        self.burst = burst
        self._clock = clock
        self._sleep = sleep if sleep is not None else time.sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    @classmethod
    def per_minute(cls, calls: float, burst: int = 1, **kwargs: Any) -> TokenBucket:
        """A bucket allowing ``calls`` per minute."""
        return cls(calls / 60.0, burst, **kwargs)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> None:
        with self._lock:
            self._refill()
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate
                log.debug("rate limit: waiting %.2fs for a token", wait)
                self._sleep(wait)
                self._refill()
            # May go slightly negative if the sleep woke early; the debt is paid next time.
            self._tokens -= 1.0

    def observe(self, response: httpx.Response) -> None:
        """A fixed-rate bucket learns nothing from responses."""


class LeakyBucketFromHeader:
    """Paces requests from a server-side leaky bucket reported as ``used/size`` in a header.

    Shopify REST reports ``X-Shopify-Shop-Api-Call-Limit: 32/40`` on every
    response and leaks 2 requests/s on standard plans. This limiter tracks the
    bucket's estimated level (the last reported ``used``, drained at
    ``leak_rate_per_second`` since, plus the requests sent after it) and, once
    the next request would fill it beyond ``size`` minus a reserve of
    ``headroom`` (a fraction of the size, at least one slot), waits for enough
    to leak out. So a sync runs at full speed while the bucket is empty and
    slows to the leak rate as it fills, never reaching the 429. Until a first
    header arrives nothing is known and requests are not delayed.
    """

    def __init__(
        self,
        header: str,
        *,
        leak_rate_per_second: float,
        headroom: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if leak_rate_per_second <= 0:
            raise ValueError("LeakyBucketFromHeader leak_rate_per_second must be positive")
        if not 0.0 <= headroom < 1.0:
            raise ValueError("LeakyBucketFromHeader headroom must be in [0, 1)")
        self.header = header
        self.leak_rate = float(leak_rate_per_second)
        self.headroom = headroom
        self._clock = clock
        self._sleep = sleep if sleep is not None else time.sleep
        self._size: float | None = None
        self._level = 0.0
        self._updated = clock()
        self._lock = threading.Lock()

    @property
    def size(self) -> float | None:
        """The bucket size last reported by the server (None before the first response)."""
        return self._size

    def level(self) -> float:
        """The bucket's estimated level now."""
        with self._lock:
            return self._drained(self._clock())

    def _drained(self, now: float) -> float:
        return max(0.0, self._level - (now - self._updated) * self.leak_rate)

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            level = self._drained(now)
            if self._size is not None:
                reserve = max(1.0, math.ceil(self._size * self.headroom))
                ceiling = max(1.0, self._size - reserve)
                if level + 1.0 > ceiling:
                    wait = (level + 1.0 - ceiling) / self.leak_rate
                    log.debug(
                        "rate limit: bucket at %.1f/%g, waiting %.2fs", level, self._size, wait
                    )
                    self._sleep(wait)
                    now = self._clock()
                    level = self._drained(now)
            self._level = level + 1.0
            self._updated = now

    def observe(self, response: httpx.Response) -> None:
        value = response.headers.get(self.header)
        if value is None:
            return
        used, slash, size = value.partition("/")
        try:
            used_f, size_f = float(used), float(size)
        except ValueError:
            used_f = size_f = math.nan
        if not slash or not (math.isfinite(used_f) and math.isfinite(size_f)) or size_f <= 0:
            log.debug("ignoring unreadable %s header %r", self.header, value)
            return
        with self._lock:
            self._size = size_f
            self._level = used_f
            self._updated = self._clock()


# --------------------------------------------------------------------------- the client


class _Transient(Exception):
    """One failed attempt that may succeed when repeated (internal to the retry loop)."""

    def __init__(
        self,
        reason: str,
        *,
        kind: str,
        status: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # a key of _GIVE_UP_HINTS
        self.status = status
        self.retry_after = retry_after
        self.hint = hint


_GIVE_UP_HINTS = {
    "rate-limit": "The API's rate limit kept being hit: lower this connection's request rate "
    "or run the sync later; raise the retry budget (max_total_wait) if the API asks for "
    "long pauses.",
    "server": "The API is having trouble: run the sync again later (it resumes from the last "
    "checkpoint). If it persists, report it to the vendor with the request id.",
    "network": "Check the network connection, any proxy and base_url, then run the sync again.",
    "body": "The API kept sending an unusable body: check that base_url points at the API "
    "(not a web page or a login proxy), then run the sync again later.",
    "other": "The API kept reporting a transient error: run the sync again later.",
}


@dataclass(frozen=True)
class _Call:
    method: str
    url: httpx.URL | str
    kwargs: dict[str, Any]
    parse: bool
    policy: RetryPolicy


def _redact_httpx_log() -> None:
    """Redact httpx's own request log (``HTTP Request: POST <url>``) at the source.

    httpx logs every URL in full at INFO, and some APIs take a credential in
    the query (GA4's Measurement Protocol ``api_secret``). A filter on the
    ``httpx`` logger rewrites the record before any handler sees it, handlers
    without the hub's redaction included (idempotent).
    """
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


class HttpClient:
    """An ``httpx.Client`` with the hub's retry, rate-limit, error and redaction rules.

    ``secrets`` (and the values of credential headers such as ``Authorization``)
    are registered with :func:`hub.redaction.register_secret`, so no log line or
    error message shows them. ``transport`` is injectable: tests pass an
    ``httpx.MockTransport``. ``sleep``, ``now`` and ``rand`` are injectable so
    tests never really wait.

    Two hooks let a connector read its vendor's error bodies (pass them as
    arguments or override the methods of the same name):

    - ``classify_error(response) -> HubError | None`` is called for *every*
      response, 2xx included (GraphQL APIs report throttling in a 200 body).
      Return a :class:`~hub.errors.RetriableError` (optionally with
      ``retry_after``) to retry, any other HubError to fail at once, or None
      for the default rules. Build its message with :meth:`describe`.
    - ``error_message(response) -> str`` extracts the vendor's message
      (default: :func:`extract_error_message`).
    """

    def __init__(
        self,
        base_url: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str | SecretStr | None] = (),
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        user_agent: str | None = None,
        classify_error: Callable[[httpx.Response], HubError | None] | None = None,
        error_message: Callable[[httpx.Response], str] | None = None,
        follow_redirects: bool = False,
        request_id_header: str = "X-Request-Id",
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        for secret in secrets:
            register_secret(secret)
        _redact_httpx_log()
        merged = {"User-Agent": user_agent or default_user_agent(), "Accept": "application/json"}
        merged.update(headers or {})
        _register_header_secrets(merged)
        self.base_url = base_url
        self.retry = retry if retry is not None else RetryPolicy()
        self.rate_limiter = rate_limiter
        self.request_id_header = request_id_header
        self._classify_hook = classify_error
        self._message_hook = error_message
        self._sleep = sleep if sleep is not None else time.sleep
        self._now = now or (lambda: datetime.now(UTC))
        self._rand = rand
        self._client = httpx.Client(
            base_url=base_url,
            headers=merged,
            transport=transport,
            timeout=timeout,
            follow_redirects=follow_redirects,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_header(self, name: str, value: str) -> None:
        """Set a default header (e.g. a refreshed ``Authorization``); credentials are registered."""
        _register_header_secrets({name: value})
        self._client.headers[name] = value

    def resolve_url(
        self, url: httpx.URL | str, params: Mapping[str, Any] | None = None
    ) -> httpx.URL:
        """The absolute URL a request for ``url`` with ``params`` would go to."""
        return self._client.build_request("GET", url, params=params).url

    # -- requests ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request with retries; return the successful response or raise a HubError.

        ``kwargs`` are those of ``httpx.Client.build_request`` (``params``,
        ``json``, ``content``, ``data``, ``headers``, ``timeout`` ...); ``retry``
        overrides the client's policy for this call. Every attempt sends the same
        method, URL, parameters and body.
        """
        response, _ = self._run(method, url, kwargs, parse=False, policy=retry)
        return response

    def get(self, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        """``request("POST", url, ...)``; POSTs are retried too, so they must be idempotent
        (or pass ``retry=RetryPolicy.no_retries()``)."""
        return self.request("POST", url, **kwargs)

    def request_json(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response, Any]:
        """Like :meth:`request`, and parse the JSON body; an unusable body is retried too."""
        return self._run(method, url, kwargs, parse=True, policy=retry)

    def get_json(self, url: httpx.URL | str, **kwargs: Any) -> Any:
        """GET ``url`` and return its parsed JSON body."""
        return self.request_json("GET", url, **kwargs)[1]

    def post_json(self, url: httpx.URL | str, **kwargs: Any) -> Any:
        """POST to ``url`` (e.g. GA4 ``runReport``) and return its parsed JSON body."""
        return self.request_json("POST", url, **kwargs)[1]

    # -- hooks -------------------------------------------------------------------------------

    def classify_error(self, response: httpx.Response) -> HubError | None:
        """Map a vendor-specific failure to a HubError, or None for the default rules."""
        return self._classify_hook(response) if self._classify_hook is not None else None

    def error_message(self, response: httpx.Response) -> str:
        """The vendor's error message in ``response`` (redacted)."""
        if self._message_hook is not None:
            return redact(self._message_hook(response))
        return extract_error_message(response)

    def describe(self, response: httpx.Response) -> str:
        """``GET <url> answered HTTP 404 Not Found: <vendor message> (X-Request-Id: ...)``."""
        text = (
            f"{_describe_request(response)} answered HTTP {response.status_code} "
            f"{response.reason_phrase}: {self.error_message(response)}"
        )
        request_id = response.headers.get(self.request_id_header)
        if request_id:
            text += f" ({self.request_id_header}: {redact(request_id)})"
        return text

    # -- internals ---------------------------------------------------------------------------

    def _run(
        self,
        method: str,
        url: httpx.URL | str,
        kwargs: dict[str, Any],
        *,
        parse: bool,
        policy: RetryPolicy | None,
    ) -> tuple[httpx.Response, Any]:
        if isinstance(kwargs.get("headers"), Mapping):
            _register_header_secrets(kwargs["headers"])
        call = _Call(method.upper(), url, kwargs, parse, policy or self.retry)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            wait=lambda state: self._wait(call, state),
            stop=lambda state: self._should_stop(call, state),
            sleep=self._sleep,
            before_sleep=lambda state: self._log_retry(call, state),
            retry_error_callback=lambda state: self._give_up(call, state),
        )
        return retrying(self._attempt, call)

    def _attempt(self, call: _Call) -> tuple[httpx.Response, Any]:
        try:
            request = self._client.build_request(call.method, call.url, **call.kwargs)
        except httpx.InvalidURL as exc:
            raise FatalConnectorError(
                f"Invalid URL {redact_url(call.url)!r}: {redact(str(exc))}",
                hint="Check base_url and the paths in the connection config.",
            ) from None
        shown = f"{call.method} {redact_url(request.url)}"
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        started = time.perf_counter()
        try:
            response = self._client.send(request)
        except httpx.RequestError as exc:
            self._raise_transport_error(shown, exc, time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        # httpx links a response and its (already read) stream both ways: a cycle that
        # only the garbage collector frees, and with it every page body, several MB at a
        # time. The body is in response.content; the stream is no longer needed.
        response.stream = httpx.ByteStream(b"")
        request_id = response.headers.get(self.request_id_header)
        log.debug(
            "%s -> %s in %.3fs%s",
            shown,
            response.status_code,
            elapsed,
            f" ({self.request_id_header}: {redact(request_id)})" if request_id else "",
        )
        if self.rate_limiter is not None:
            self.rate_limiter.observe(response)
        self._check(call, response)
        if not call.parse:
            return response, None
        try:
            return response, parse_json(response)
        except RetriableError as exc:
            raise _Transient(
                exc.message, kind="body", status=response.status_code, hint=exc.hint
            ) from None

    def _raise_transport_error(
        self, shown: str, exc: httpx.RequestError, elapsed: float
    ) -> NoReturn:
        detail = f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
        log.debug("%s -> %s after %.3fs", shown, type(exc).__name__, elapsed)
        if isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS):
            raise _Transient(f"{shown} failed: {detail}", kind="network") from None
        hint = "Check base_url (scheme, host, port) and any proxy settings in the config."
        raise FatalConnectorError(f"{shown} failed: {detail}", hint=hint) from None

    def _check(self, call: _Call, response: httpx.Response) -> None:
        error = self.classify_error(response)
        if error is None:
            if response.is_success:
                return
            error = self._default_error(call, response)
        _sanitize(error)
        if isinstance(error, RetriableError):
            status = response.status_code
            retry_after = error.retry_after
            if retry_after is None:
                retry_after = retry_after_seconds(response, self._now())
            kind = "rate-limit" if status == 429 else "server" if status >= 500 else "other"
            raise _Transient(
                error.message, kind=kind, status=status, retry_after=retry_after, hint=error.hint
            )
        raise error

    def _default_error(self, call: _Call, response: httpx.Response) -> HubError:
        status = response.status_code
        message = self.describe(response)
        if status in call.policy.retry_statuses:
            return RetriableError(message, retry_after=retry_after_seconds(response, self._now()))
        if status in (401, 403):
            return AuthError(message, hint=_STATUS_HINTS[status])
        if 300 <= status < 400:
            target = redact_url(response.headers.get("location", "(no Location header)"))
            return FatalConnectorError(
                f"{message} (redirect to {target})",
                hint="Set base_url to the address the API redirects to (often https:// or "
                "the permanent *.myshopify.com host).",
            )
        if 400 <= status < 500:
            default = "The API refused the request; the message above says why."
            return FatalConnectorError(message, hint=_STATUS_HINTS.get(status, default))
        return FatalConnectorError(
            message,
            hint="The server failed in a way retrying is not configured for; run the sync "
            "again later or report it to the vendor with the request id.",
        )

    def _wait(self, call: _Call, state: tenacity.RetryCallState) -> float:
        failure = _transient_of(state)
        if failure.retry_after is not None:
            return failure.retry_after
        return call.policy.backoff(state.attempt_number, self._rand())

    def _should_stop(self, call: _Call, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= call.policy.max_attempts:
            return True
        return state.idle_for + state.upcoming_sleep > call.policy.max_total_wait

    def _log_retry(self, call: _Call, state: tenacity.RetryCallState) -> None:
        failure = _transient_of(state)
        source = "Retry-After" if failure.retry_after is not None else "backoff"
        log.warning(
            "%s; retry %d of %d in %.2fs (%s)",
            redact(failure.reason),
            state.attempt_number,
            call.policy.max_attempts - 1,
            state.upcoming_sleep,
            source,
        )

    def _give_up(self, call: _Call, state: tenacity.RetryCallState) -> NoReturn:
        failure = _transient_of(state)
        attempts = state.attempt_number
        plural = "s" if attempts != 1 else ""
        if attempts >= call.policy.max_attempts:
            why = f"gave up after {attempts} attempt{plural} and {state.idle_for:.1f}s of waiting"
        else:
            why = (
                f"gave up after {attempts} attempt{plural}: waiting {state.upcoming_sleep:.1f}s "
                f"more would exceed the retry budget of {call.policy.max_total_wait:g}s "
                f"({state.idle_for:.1f}s already spent)"
            )
        status = f"last status HTTP {failure.status}" if failure.status else "no response"
        message = redact(f"{failure.reason}\n  Still failing ({status}); {why}.")
        hint = failure.hint or _GIVE_UP_HINTS[failure.kind]
        raise RetryBudgetExceededError(message, hint=hint) from None


def _transient_of(state: tenacity.RetryCallState) -> _Transient:
    outcome = state.outcome
    failure = outcome.exception() if outcome is not None else None
    if not isinstance(failure, _Transient):  # pragma: no cover - only _Transient is retried
        raise TypeError(f"unexpected retry outcome: {failure!r}")
    return failure


def _register_header_secrets(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if name.lower() in SENSITIVE_HEADERS and value:
            register_secret(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.lower() in {"bearer", "basic", "token"}:
                register_secret(credential.strip())


def _sanitize(error: HubError) -> None:
    """Redact a hook-built error in place, so vendor hooks cannot leak a secret either."""
    error.message = redact(error.message)
    error.hint = redact(error.hint) if error.hint is not None else None
    error.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in error.args)


def _describe_request(response: httpx.Response) -> str:
    try:
        request = response.request
    except RuntimeError:
        return "The request"
    return f"{request.method} {redact_url(request.url)}"


def _looks_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    head = response.content.lstrip()[:15].lower()
    return "html" in content_type or head.startswith((b"<!doctype", b"<html"))


def _html_title(content: bytes) -> str:
    match = _HTML_TITLE.search(content[:65536])
    if match is None:
        return ""
    return " ".join(match.group(1).decode("utf-8", errors="replace").split())[:120]


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _message_from_json(body: Any) -> str | None:
    """The human message inside a JSON error body, for the shapes listed above."""
    if isinstance(body, list):
        parts = [m for m in (_message_from_json(item) for item in body) if m]
        return "; ".join(parts) or None
    if isinstance(body, str):
        return body or None
    if not isinstance(body, dict):
        return None
    if "errors" in body:
        return _flatten_errors(body["errors"])
    error = body.get("error")
    if isinstance(error, dict):
        status, text = error.get("status"), error.get("message")
        joined = ": ".join(str(p) for p in (status, text) if p)
        return joined or _flatten_errors(error)
    detail = next(
        (body[k] for k in ("description", "error_description", "message", "detail") if body.get(k)),
        None,
    )
    if isinstance(error, str) and error:
        return f"{error}: {detail}" if detail else error
    if detail:
        return str(detail)
    title = body.get("title")
    return str(title) if title else None


def _flatten_errors(errors: Any) -> str | None:
    """Shopify's ``errors``: a string, ``{field: [messages]}`` or a list of either."""
    if isinstance(errors, str):
        return errors or None
    if isinstance(errors, dict):
        if "message" in errors and isinstance(errors["message"], str):
            return errors["message"]
        parts = []
        for key, value in errors.items():
            text = _flatten_errors(value)
            parts.append(f"{key}: {text}" if key != "base" else (text or ""))
        return "; ".join(p for p in parts if p) or None
    if isinstance(errors, list):
        parts = [p for p in (_flatten_errors(item) for item in errors) if p]
        return ", ".join(parts) or None
    return None if errors is None else str(errors)
