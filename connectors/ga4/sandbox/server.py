"""The sandbox's HTTP side: a fake GA4 on 127.0.0.1 (apis.md 3.1-3.7, Measurement Protocol).

Routes:

- ``POST /v1beta/properties/{id}:runReport``: bearer token (the fixed
  ``token`` or one issued by ``/token``), else 401 ``UNAUTHENTICATED``;
  another property 403 ``PERMISSION_DENIED``; the report (:mod:`.report`)
  with ``propertyQuota`` tokens that run out (429 ``RESOURCE_EXHAUSTED``);
  errors as Google's ``{"error": {"code", "message", "status"}}`` body.
- ``POST /token``: the OAuth 2.0 token endpoint for the sandbox's service
  account (:mod:`.oauth`).
- ``POST /mp/collect`` and ``POST /debug/mp/collect``: the Measurement
  Protocol and its validation server (:mod:`.mp`).
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import orjson

from hub.sandbox import LoopbackServer, Reply

from . import mp, report
from .data import CURRENCY, FIRST_TRANSACTION, PROPERTY_ID, TIME_ZONE, GA4Data
from .oauth import GrantRefused, ServiceAccount

_RUN_REPORT = re.compile(r"^/v1beta/properties/([^/:]+):runReport$")
QUOTA_URL = "https://developers.google.com/analytics/devguides/reporting/data/v1/quotas"
NO_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
BAD_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
NO_PERMISSION = (
    "User does not have sufficient permissions for this property. To learn more about "
    "Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/"
    "property-id."
)
CONCURRENT = "Exhausted concurrent requests quota."
PER_DAY = (
    "Exhausted property tokens per day. These quota tokens will return in under 24 hours. "
    f"To learn more, see {QUOTA_URL}"
)
PER_HOUR = (
    "Exhausted property tokens per hour. These quota tokens will return in under an hour. "
    f"To learn more, see {QUOTA_URL}"
)
PER_PROJECT_HOUR = (
    "Exhausted property tokens for a project per hour. These quota tokens will return in "
    f"under an hour. To learn more, see {QUOTA_URL}"
)


class SandboxRequest(NamedTuple):
    """One request the sandbox answered (for tests that count pages or inspect bodies)."""

    method: str
    path: str  # path and query string, as sent
    status: int
    body: bytes


_Response = Reply


def _json(status: int, body: Any, *headers: tuple[str, str]) -> _Response:
    return _Response(status, orjson.dumps(body), headers)


def google_error(status: int, code: str, message: str) -> dict[str, Any]:
    """Google's ``google.rpc.Status`` JSON error body (apis.md 3.7)."""
    return {"error": {"code": status, "message": message, "status": code}}


@dataclass
class _Bucket:
    """One token quota: ``limit`` tokens per ``period`` seconds of the sandbox's clock."""

    limit: int
    period: float
    message: str
    used: int = 0
    since: float = 0.0

    def roll(self, now: float) -> None:
        if now - self.since >= self.period:
            self.used, self.since = 0, now


class GA4Sandbox(LoopbackServer):
    """A local fake GA4 on 127.0.0.1; a context manager (or :meth:`start`/:meth:`stop`)::

        with GA4Sandbox(days=60, seed=1) as ga4:
            settings = {"property_id": ga4.property_id, "access_token": ga4.token,
                        "base_url": ga4.url, ...}

    Serves ``days`` days of deterministic data (:class:`~.data.GA4Data`)
    ending at ``end`` (default: today in ``time_zone``, so ``hub sync`` with
    the real clock sees recent days). ``end`` is the sandbox's "today":
    ``today``/``yesterday``/``NdaysAgo`` count from it, later days have no
    data, and the last days are still being processed (partly counted);
    :meth:`revise` lets processing catch up, :meth:`advance` moves "today"
    on (new days appear, recent ones are revised).

    Credentials: the fixed bearer ``token``, or a token from ``POST /token``
    for the service account of :meth:`service_account_info`. Failure
    options: ``inject_429_every=N`` refuses every Nth authorised report
    request with 429 "Exhausted concurrent requests quota.";
    ``tokens_per_hour`` (and ``tokens_per_day``,
    ``tokens_per_project_per_hour``) are quotas that run out, refilled after
    an hour (a day) of ``clock``; ``max_page_rows`` returns fewer rows than
    ``limit`` even when more exist.

    Measurement Protocol: ``POST /mp/collect?measurement_id=...&api_secret=...``
    always answers 204; the events it keeps are in :attr:`mp_events`, what it
    drops (wrong secret, invalid) in :attr:`mp_dropped`.
    ``POST /debug/mp/collect`` answers the validation messages.
    """

    thread_name = "ga4-sandbox"
    server_name = "GA4Sandbox"
    content_type = "application/json; charset=UTF-8"

    def __init__(
        self,
        days: int = 60,
        *,
        seed: int = 1,
        property_id: int = PROPERTY_ID,
        token: str = "ya29.sandbox-token",  # noqa: S107 - the sandbox's own, published token
        end: date | None = None,
        time_zone: str = TIME_ZONE,
        first_transaction: int = FIRST_TRANSACTION,
        measurement_id: str = "G-SANDBOX123",
        api_secret: str = "sandbox_api_secret",  # noqa: S107 - published sandbox secret
        port: int = 0,
        inject_429_every: int | None = None,
        tokens_per_day: int = 200_000,
        tokens_per_hour: int = 40_000,
        tokens_per_project_per_hour: int = 14_000,
        max_page_rows: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        if days < 1:
            raise ValueError("days must be at least 1")
        if inject_429_every is not None and inject_429_every < 2:
            raise ValueError(
                "inject_429_every must be at least 2 (every request refused never ends)"
            )
        if max_page_rows is not None and max_page_rows < 1:
            raise ValueError("max_page_rows must be at least 1 (or None: as many as asked)")
        if min(tokens_per_day, tokens_per_hour, tokens_per_project_per_hour) < 1:
            raise ValueError("token quotas must be at least 1")
        self.property_id = property_id
        self.token = token
        self.time_zone = time_zone
        self.currency = CURRENCY
        self.measurement_id = measurement_id
        self.api_secret = api_secret
        self.inject_429_every = inject_429_every
        self.max_page_rows = max_page_rows
        self._end = end if end is not None else datetime.now(ZoneInfo(time_zone)).date()
        #: the first day with data (``end - days + 1``); it never moves
        self.first = self._end - timedelta(days=days - 1)
        self.data = GA4Data(seed, start=self.first, first_transaction=first_transaction)
        self._revision = 0
        self._lock = threading.RLock()
        self._clock = clock
        self._wallclock = wallclock
        now = clock()
        self._quotas = (
            _Bucket(tokens_per_day, 86_400, PER_DAY, since=now),
            _Bucket(tokens_per_hour, 3_600, PER_HOUR, since=now),
            _Bucket(tokens_per_project_per_hour, 3_600, PER_PROJECT_HOUR, since=now),
        )
        self._reports = 0
        self._cache: dict[tuple[report.Request, date, int], list[report.Row]] = {}
        self.account = ServiceAccount()
        #: access tokens issued by ``/token``: token -> expiry on ``clock``
        self.issued: dict[str, float] = {}
        self.requests: list[SandboxRequest] = []
        #: events ``/mp/collect`` accepted
        self.mp_events: list[mp.MPEvent] = []
        #: requests and events ``/mp/collect`` dropped, with the reason
        self.mp_dropped: list[mp.Dropped] = []
        self._listen(port)

    # ----------------------------------------------------------------------- time and data

    @property
    def end(self) -> date:
        """The sandbox's "today" in the property time zone: the last day with data."""
        return self._end

    @property
    def revision(self) -> int:
        """How many times :meth:`revise` let processing catch up."""
        return self._revision

    def advance(self, days: int = 1) -> date:
        """Move "today" on by ``days``: new days appear, the recent ones get revised."""
        if days < 0:
            raise ValueError("the sandbox's clock only moves forward")
        with self._lock:
            self._end += timedelta(days=days)
            return self._end

    def revise(self, times: int = 1) -> None:
        """Let GA4's processing catch up ``times`` days: recent days gain sessions and purchases.

        A day counts as ``age + revision`` days old (:meth:`GA4Data.visible`);
        after three revisions every day is final.
        """
        if times < 0:
            raise ValueError("revisions only add data")
        with self._lock:
            self._revision += times

    def age(self, day: date) -> int:
        """How old ``day`` counts as for processing (``end - day`` plus the revisions)."""
        return (self._end - day).days + self._revision

    # ----------------------------------------------------------------------- credentials

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint (the connector's ``token_url``)."""
        return f"{self.url}/token"

    def service_account_info(self) -> dict[str, str]:
        """A JSON service-account key whose ``token_uri`` is this sandbox's token endpoint."""
        return self.account.info(self.token_url)

    def reset_quota(self) -> None:
        """Refill every token quota now (as if an hour and a day had passed)."""
        with self._lock:
            for bucket in self._quotas:
                bucket.used = 0
                bucket.since = self._clock()

    # ----------------------------------------------------------------------- requests

    def respond(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        return self.handle(method, target, headers, body)

    def failure(self, error: Exception) -> Reply:
        return _json(500, google_error(500, "INTERNAL", f"sandbox error: {error}"))

    def record(self, method: str, target: str, status: int, body: bytes) -> None:
        with self._lock:
            if len(self.requests) >= 100_000:
                del self.requests[:50_000]
            kept = b"" if target.startswith("/token") else body  # no assertions kept
            self.requests.append(SandboxRequest(method, target, status, kept))

    def handle(self, method: str, target: str, headers: Any, body: bytes = b"") -> _Response:
        """Answer one request (the HTTP handler's only call)."""
        url = urlsplit(target)
        if method == "POST" and url.path == "/token":
            return self._token(body)
        if method == "POST" and url.path in ("/mp/collect", "/debug/mp/collect"):
            return self._collect(url.path.startswith("/debug"), parse_qs(url.query), body)
        match = _RUN_REPORT.match(url.path)
        if match is None or method != "POST":
            return _json(
                404, google_error(404, "NOT_FOUND", f"The sandbox has no {method} {url.path}.")
            )
        return self._run_report(match.group(1), headers, body)

    def _authorised(self, headers: Any) -> _Response | None:
        auth = headers.get("Authorization") or ""
        challenge = ("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
        if auth[:7].lower() != "bearer " or not auth[7:].strip():
            return _json(401, google_error(401, "UNAUTHENTICATED", NO_CREDENTIALS), challenge)
        token = auth[7:].strip()
        if hmac.compare_digest(token.encode(), self.token.encode()):
            return None
        with self._lock:
            expiry = self.issued.get(token)
            if expiry is not None and expiry > self._clock():
                return None
        return _json(401, google_error(401, "UNAUTHENTICATED", BAD_CREDENTIALS), challenge)

    def _run_report(self, prop: str, headers: Any, body: bytes) -> _Response:
        refused = self._authorised(headers)
        if refused is not None:
            return refused
        if prop != str(self.property_id):
            return _json(403, google_error(403, "PERMISSION_DENIED", NO_PERMISSION))
        with self._lock:
            self._reports += 1
            if self.inject_429_every and self._reports % self.inject_429_every == 0:
                return _json(429, google_error(429, "RESOURCE_EXHAUSTED", CONCURRENT))
        try:
            try:
                payload = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                raise report.ReportError(
                    400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token."
                ) from None
            with self._lock:
                request = report.parse(payload, self._end)
                rows = self._rows(request)
                quota = self._charge(report.cost(len(rows)))
        except report.ReportError as exc:
            return _json(exc.status, google_error(exc.status, exc.code, exc.message))
        answer = report.page(
            rows,
            request,
            max_page_rows=self.max_page_rows,
            time_zone=self.time_zone,
            currency=self.currency,
            quota=quota if request.return_property_quota else None,
        )
        return _json(200, answer)

    def _rows(self, request: report.Request) -> list[report.Row]:
        """The whole report; kept for the next pages of the same report (paging re-asks it)."""
        key = (replace(request, offset=0, limit=0), self._end, self._revision)
        rows = self._cache.get(key)
        if rows is None:
            rows = report.run(
                self.data, request, first=self.first, end=self._end, revision=self._revision
            )
            if len(self._cache) >= 8:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = rows
        return rows

    def _charge(self, cost: int) -> dict[str, Any]:
        """Take ``cost`` tokens from every quota, or raise 429 naming the one that ran out."""
        now = self._clock()
        for bucket in self._quotas:
            bucket.roll(now)
            if bucket.used + cost > bucket.limit:
                raise report.ReportError(429, "RESOURCE_EXHAUSTED", bucket.message)
        for bucket in self._quotas:
            bucket.used += cost
        day, hour, project = self._quotas
        return {
            "tokensPerDay": {"consumed": cost, "remaining": day.limit - day.used},
            "tokensPerHour": {"consumed": cost, "remaining": hour.limit - hour.used},
            "concurrentRequests": {"remaining": 10},
            "serverErrorsPerProjectPerHour": {"remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"remaining": 120},
            "tokensPerProjectPerHour": {
                "consumed": cost,
                "remaining": project.limit - project.used,
            },
        }

    def _token(self, body: bytes) -> _Response:
        try:
            grant = self.account.exchange(body, audience=self.token_url, now=self._wallclock())
        except GrantRefused as exc:
            return _json(400, exc.body())
        with self._lock:
            self.issued[grant.access_token] = self._clock() + grant.expires_in
        return _json(
            200,
            {
                "access_token": grant.access_token,
                "expires_in": grant.expires_in,
                "token_type": "Bearer",
            },
        )

    def _collect(self, debug: bool, params: dict[str, list[str]], body: bytes) -> _Response:
        now_micros = int(self._wallclock() * 1_000_000)
        checked = mp.validate(body, now_micros=now_micros)
        if debug:
            # [V] the validation server does not check api_secret; it keeps nothing
            return _json(200, {"validationMessages": [m.json() for m in checked.messages]})
        measurement_id = (params.get("measurement_id") or [""])[-1]
        secret = (params.get("api_secret") or [""])[-1]
        with self._lock:
            if measurement_id != self.measurement_id:
                self.mp_dropped.append(
                    mp.Dropped(f"unknown measurement_id {measurement_id!r}", checked.payload)
                )
            elif not secret or not hmac.compare_digest(secret.encode(), self.api_secret.encode()):
                self.mp_dropped.append(mp.Dropped("wrong api_secret", checked.payload))
            elif not checked.request_ok:
                reasons = "; ".join(m.description for m in checked.messages)
                self.mp_dropped.append(mp.Dropped(f"invalid request: {reasons}", checked.payload))
            else:
                self.mp_events.extend(mp.accepted(checked, measurement_id))
                for i in sorted(checked.bad_events):
                    reasons = "; ".join(
                        m.description
                        for m in checked.messages
                        if f"[{i}]" in m.description or m.field_path.startswith(f"events[{i}]")
                    )
                    self.mp_dropped.append(
                        mp.Dropped(f"invalid event: {reasons}", checked.payload["events"][i])
                    )
        return _Response(204, b"")
