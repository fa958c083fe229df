"""The Data API client: bearer tokens, quota care, Google's error bodies read for people.

Quotas (apis.md 3.6): every request asks for ``returnPropertyQuota``; when
less than ``quota_reserve`` of an hourly token quota remains,
:class:`QuotaGuard` waits ``quota_pause_seconds`` before the next request, so
a long backfill slows down instead of running into the wall. A 429
``RESOURCE_EXHAUSTED`` (or a 403 that says "Exhausted", which some clients
have seen) is classified by its message: concurrent requests are retried
after 30 s, an hourly quota after up to an hour (within the retry budget, else
the run stops cleanly and the next one resumes from the checkpoint), the
daily quota stops the run with a hint. A 401 gets one new token and one
retry; 400 and 403 fail at once with Google's message and what to change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from hub.errors import AuthError, FatalConnectorError, HubError, RetriableError
from hub.http import HttpClient, RetryPolicy, extract_error_message

from .settings import GA4Settings

if TYPE_CHECKING:
    from .auth import TokenSource

log = logging.getLogger(__name__)

#: 6 attempts; waits from Google's hints (30 s concurrent, up to an hour hourly) or
#: exponential from 2 s; one request never waits more than 15 minutes in total.
RETRY_POLICY = RetryPolicy(
    max_attempts=6, backoff_base=2.0, backoff_max=120.0, max_total_wait=900.0, jitter=0.2
)
CONCURRENT_WAIT = 30.0
HOURLY_WAIT = 900.0
#: Token quotas of a standard property (apis.md 3.6); Analytics 360 has ten times these.
#: ``propertyQuota`` reports per request what it cost (``consumed``) and what is left
#: (``remaining``), not the quota's size, so the guard needs the sizes.
STANDARD_QUOTAS = {
    "tokensPerHour": 40_000,
    "tokensPerProjectPerHour": 14_000,
    "tokensPerDay": 200_000,
}
HOURLY_QUOTAS = ("tokensPerHour", "tokensPerProjectPerHour")


def google_error(response: httpx.Response) -> tuple[str, str]:
    """``(status, message)`` of Google's ``{"error": {code, message, status}}`` body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "", extract_error_message(response)
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        return str(error.get("status") or ""), str(error.get("message") or "")
    return "", extract_error_message(response)


def google_error_message(response: httpx.Response) -> str:
    status, message = google_error(response)
    return f"{status}: {message}" if status and message else message or status


class QuotaGuard:
    """A rate limiter fed by ``propertyQuota``: pauses once an hourly quota runs low."""

    def __init__(
        self,
        reserve: float,
        pause: float,
        *,
        sizes: Mapping[str, int] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.reserve = reserve
        self.pause = pause
        #: each quota's size; raised to what an answer shows when that is more (a 360 property)
        self.sizes = dict(sizes if sizes is not None else STANDARD_QUOTAS)
        self._sleep = sleep if sleep is not None else time.sleep
        self._pause_next = False
        #: the last ``propertyQuota`` seen (for people and tests)
        self.last: dict[str, Any] = {}

    def acquire(self) -> None:
        if self._pause_next:
            self._pause_next = False
            log.warning(
                "GA4: less than %d %% of an hourly quota left; waiting %g s",
                round(self.reserve * 100),
                self.pause,
            )
            self._sleep(self.pause)

    def observe(self, response: httpx.Response) -> None:
        """Nothing per response: the client hands over the parsed quota (:meth:`note`)."""

    def note(self, quota: Any) -> None:
        """Learn from an answer's ``propertyQuota`` (parsed once, with the report)."""
        if not isinstance(quota, Mapping):
            return
        self.last = dict(quota)
        for name in HOURLY_QUOTAS:
            if self._low(name, quota.get(name)):
                self._pause_next = self.pause > 0
        if self._low("tokensPerDay", quota.get("tokensPerDay")):
            log.warning(
                "GA4: less than %d %% of the property's daily tokens left",
                round(self.reserve * 100),
            )

    def _low(self, name: str, entry: Any) -> bool:
        """Whether less than the reserve of quota ``name`` remains after this request."""
        if not isinstance(entry, Mapping):
            return False
        remaining = entry.get("remaining")
        if not isinstance(remaining, int) or name not in self.sizes:
            return False
        consumed = entry.get("consumed", 0)  # proto3 leaves out zeros
        seen = remaining + (consumed if isinstance(consumed, int) else 0)
        if seen > self.sizes[name]:
            self.sizes[name] = seen  # a bigger (Analytics 360) quota than the standard one
        return remaining < self.reserve * self.sizes[name]


class GA4Client:
    """Calls ``runReport`` for one property."""

    def __init__(
        self,
        settings: GA4Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self.settings = settings
        if tokens is None:
            # google-auth (and its crypto) is loaded only by a GA4 client that signs in,
            # not by every hub command that lists the plugins' converters
            from .auth import token_source

            tokens = token_source(settings, transport=transport)
        self.tokens = tokens
        sizes = {
            name: size * (10 if settings.analytics_360 else 1)
            for name, size in STANDARD_QUOTAS.items()
        }
        self.quota = QuotaGuard(
            settings.quota_reserve, settings.quota_pause_seconds, sizes=sizes, sleep=sleep
        )
        self._renewed = False
        self.http = HttpClient(
            settings.base_url,
            transport=transport,
            retry=RETRY_POLICY,
            rate_limiter=self.quota,
            classify_error=self._classify,
            error_message=google_error_message,
            sleep=sleep,
        )

    def run_report(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1beta/properties/{id}:runReport``; the answer's JSON object."""
        self._authorize()
        self._renewed = False
        path = f"/v1beta/{self.settings.property_path}:runReport"
        answer = self.http.post_json(path, content=orjson.dumps(dict(body)))
        if not isinstance(answer, dict):
            raise FatalConnectorError(
                f"POST {path} answered without a report",
                hint="check that base_url points at https://analyticsdata.googleapis.com",
            )
        self.quota.note(answer.get("propertyQuota"))
        return answer

    def close(self) -> None:
        self.http.close()
        self.tokens.close()

    def _authorize(self) -> None:
        self.http.set_header("Authorization", f"Bearer {self.tokens.token()}")
        self.http.set_header("Content-Type", "application/json")

    def _classify(self, response: httpx.Response) -> HubError | None:
        status = response.status_code
        if status < 400:
            return None
        kind, message = google_error(response)
        described = self.http.describe(response)
        if status == 401:
            if not self._renewed and self.tokens.invalidate():
                self._renewed = True
                self._authorize()  # the retry goes out with the new token
                return RetriableError(described, retry_after=0.0)
            return AuthError(
                described,
                hint="the access token is invalid or expired: give a service_account_key "
                "(tokens are then renewed) or a fresh access_token",
            )
        if status == 429 or "exhausted" in message.lower():
            return _quota_error(described, message)
        if status == 403:
            return AuthError(
                described,
                hint="add the service account's client_email (or the token's user) as a Viewer "
                "of the property (Admin > Property access management), check property_id, and "
                "enable the Google Analytics Data API in the Cloud project (SERVICE_DISABLED)",
            )
        if status == 400:
            return FatalConnectorError(
                described,
                hint="GA4 refused the report: check the reports' dimension and metric names "
                "(GET /v1beta/properties/<id>/metadata lists them) and do not mix item-scoped "
                "ones (itemId, itemRevenue ...) with session-scoped ones (sessions ...)",
            )
        if status == 404:
            return FatalConnectorError(
                described, hint="check property_id and that base_url is the Data API's"
            )
        del kind
        return None


def _quota_error(described: str, message: str) -> HubError:
    text = message.lower()
    if "per day" in text:
        return FatalConnectorError(
            described,
            hint="the property's daily quota is used up; it returns at midnight US Pacific "
            "time, and the next sync resumes where this one stopped",
        )
    if "concurrent" in text:
        return RetriableError(described, retry_after=CONCURRENT_WAIT)
    if "hour" in text:
        return RetriableError(
            described,
            retry_after=HOURLY_WAIT,
            hint="an hourly quota is used up; lower the number of reports or windows per "
            "hour, or let the next scheduled sync resume from the checkpoint",
        )
    return RetriableError(described)
