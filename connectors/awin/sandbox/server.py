"""The sandbox's HTTP side: a fake Awin API on 127.0.0.1 (apis.md 2.1-2.5).

What a client sees is what Awin does: a bearer token (header or
``accessToken`` query parameter) or 401 with Awin's observed body; 403 for an
account the token's user cannot reach; transaction lists as a bare, unsorted
JSON array for a window of at most 31 days, filtered by ``dateType`` and
rendered in the requested ``timezone``; the asynchronous validation batch
(``POST .../transactions/batch``, then ``GET .../transactions/jobs/{id}``,
:mod:`.validations`); and, when switched on, Awin's limit of 20 calls a
minute per user, answered with a 429 that carries no ``Retry-After`` and no
body (nothing is documented for either).
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

from hub.sandbox import LoopbackServer, Reply

from .conversions import BatchRefused, OrderBook
from .data import (
    ADVERTISER_ID,
    PUBLISHER_ACCOUNT_ID,
    PUBLISHERS,
    SPACING,
    TIMEZONES,
    AwinData,
    Facts,
    accounts_json,
    commission_groups_json,
    programmes,
    programmes_json,
    publishers_json,
    zone,
)
from .validations import OUTPUTS, Validations
from .validations import BatchRefused as ValidationRefused

UNAUTHORIZED = {
    "error": "unauthorized",
    "description": "Full authentication is required to access this resource",
}
DATE_TYPES = ("transaction", "validation", "amendment")
STATUSES = ("pending", "approved", "declined", "deleted")
MAX_WINDOW = timedelta(days=31)
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_PATH = re.compile(r"^/(advertisers|publishers)/(\d+)/([a-z]+)(/?)$")
_S2S = re.compile(r"^/s2s/advertiser/(\d+)/orders$")
_BATCH = re.compile(r"^/advertisers/(\d+)/transactions/batch$")
_JOB = re.compile(r"^/advertisers/(\d+)/transactions/jobs/([^/]+)$")
_JOBS = re.compile(r"^/advertisers/(\d+)/transactions/jobs$")
#: the sandbox's "now" is this long after the last transaction's nominal instant
_SETTLE = 2 * 86400


class SandboxRequest(NamedTuple):
    """One request the sandbox answered (for tests that count or inspect requests)."""

    method: str
    path: str  # path and query string, as sent
    status: int


_Response = Reply


class _Refused(Exception):
    """A request the API refuses: the status and Awin's ``{"error","description"}`` body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.response = _json(status, {"error": error, "description": description})


def _json(status: int, body: Any) -> _Response:
    return _Response(status, orjson.dumps(body))


def _bad(description: str) -> _Refused:
    # [B] Awin's 400 body is undocumented; the sandbox uses the 401 body's shape
    return _Refused(400, "bad request", description)


class AwinSandbox(LoopbackServer):
    """A local fake Awin API on 127.0.0.1; a context manager (or :meth:`start`/:meth:`stop`)::

        with AwinSandbox(transactions=300, token="awin_sandbox", account_id=15880) as awin:
            settings = {"api_token": awin.token, "base_url": awin.url, ...}

    ``transactions`` transactions of advertiser ``account_id`` are generated
    from ``seed`` (:class:`~.data.AwinData`). The token's user reaches that
    advertiser account and the publisher account ``publisher_id``; any other
    id answers 403.

    Statuses change over time: each transaction is pending until its
    validation instant, then approved or declined (some stay pending; some
    approvals amend the amounts). The first transaction is at ``start``
    (default 2025-03-01 UTC, floored to the minute); the sandbox's "now"
    starts two days after the last one (or at ``now``); :meth:`advance` moves
    it on, so a client's lookback re-read sees the new states.
    :meth:`anchored_now` builds a sandbox whose "now" is the real clock's, for
    a connector run in another process that computes its windows from it.

    ``POST /advertisers/{account_id}/transactions/batch`` approves, declines
    and amends pending transactions (:mod:`.validations`): the decisions are
    applied at once, stamped with "now", survive :meth:`advance`, and are
    kept with their jobs in :attr:`validations`.

    ``POST /s2s/advertiser/{account_id}/orders`` (the Conversion API, header
    ``x-api-key: s2s_api_key``) checks orders and keeps the good ones in
    :attr:`conversions` (:mod:`.conversions`); it does not count against the
    rate limit.

    ``rate_limit_per_minute=N`` refuses a request with 429 when N requests
    were admitted in the last 60 s (Awin: 20 per user); ``inject_429_every=N``
    refuses every Nth authorised request anyway. ``clock`` (monotonic seconds)
    lets tests drive the rate-limit window.
    """

    thread_name = "awin-sandbox"
    server_name = "AwinSandbox"
    content_type = "application/json;charset=UTF-8"

    def __init__(
        self,
        transactions: int = 300,
        *,
        token: str = "awin_sandbox_token",  # noqa: S107 - the sandbox's own, published token
        s2s_api_key: str = "awin_sandbox_s2s_key",
        account_id: int = ADVERTISER_ID,
        publisher_id: int = PUBLISHER_ACCOUNT_ID,
        seed: int = 1,
        port: int = 0,
        rate_limit_per_minute: int | None = None,
        inject_429_every: int | None = None,
        now: datetime | None = None,
        start: datetime | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if transactions < 0:
            raise ValueError("transactions must be >= 0")
        if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1 (or None: no limit)")
        if inject_429_every is not None and inject_429_every < 2:
            raise ValueError(
                "inject_429_every must be at least 2 (every request refused never ends)"
            )
        if publisher_id not in {p.id for p in PUBLISHERS}:
            known = ", ".join(str(p.id) for p in PUBLISHERS)
            raise ValueError(f"publisher_id must be one of the sandbox's publishers: {known}")
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        self.transaction_count = transactions
        self.token = token
        self.s2s_api_key = s2s_api_key
        #: orders received by the Conversion API (``POST /s2s/advertiser/{id}/orders``)
        self.conversions = OrderBook()
        self._lock = threading.RLock()
        #: the validation batches received (jobs, operations) and the decisions they made
        self.validations = Validations(self._lock)
        self.account_id = account_id
        self.publisher_id = publisher_id
        self.data = AwinData(seed, account_id, start=start, decisions=self.validations.decisions)
        self.rate_limit_per_minute = rate_limit_per_minute
        self.inject_429_every = inject_429_every
        self.requests: list[SandboxRequest] = []
        self._clock = clock
        self._admitted: deque[float] = deque()
        self._authorised = 0
        self._facts = [self.data.facts(i) for i in range(transactions)]
        default_now = self.data.start + transactions * SPACING + _SETTLE
        self._now = int(now.timestamp()) if now is not None else default_now
        self._listen(port)

    @classmethod
    def anchored_now(
        cls, transactions: int = 300, *, ago: timedelta = timedelta(0), **options: Any
    ) -> AwinSandbox:
        """A sandbox whose "now" is the real clock's now minus ``ago``, its data just before.

        The transactions are spread over the ``transactions * 4 h`` before
        "now" (less two days), exactly as the default data is before its own
        "now", so a connector run by ``hub sync`` in another process, whose
        windows end at the real now, reads them all. With ``ago``, statuses
        can be made to change later: ``advance(...)`` by up to ``ago`` keeps
        "now" at or before the real clock. ``options`` are the constructor's.
        """
        if ago < timedelta(0):
            raise ValueError("ago must be >= 0: the sandbox's now cannot be in the future")
        now = datetime.now(UTC) - ago
        start = now - timedelta(seconds=transactions * SPACING + _SETTLE)
        return cls(transactions, start=start, now=now, **options)

    # ----------------------------------------------------------------------- time and data

    @property
    def now(self) -> datetime:
        """The sandbox's "now" (UTC): statuses and amendments are served as of this instant."""
        return datetime.fromtimestamp(self._now, UTC)

    def advance(self, *, days: float = 0, hours: float = 0) -> datetime:
        """Move "now" forward: pending transactions whose validation time passes change status."""
        if days < 0 or hours < 0:
            raise ValueError("the sandbox's clock only moves forward")
        with self._lock:
            self._now += int(timedelta(days=days, hours=hours).total_seconds())
            return self.now

    @property
    def anchor(self) -> datetime:
        """The data's ``start`` (UTC, floored to the minute): no transaction is earlier."""
        return datetime.fromtimestamp(self.data.start, UTC)

    def facts(self) -> list[Facts]:
        """The facts of every transaction served (index order), with the advertiser's decisions."""
        with self._lock:
            return list(self._facts)

    def transaction(
        self, index: int, *, tz: str = "UTC", view: str = "advertiser", basket: bool = False
    ) -> dict[str, Any]:
        """Transaction ``index`` as the sandbox serves it now."""
        with self._lock:
            return self.data.transaction(index, now=self._now, tz=tz, view=view, basket=basket)

    # ----------------------------------------------------------------------- requests

    def respond(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        return self.handle(method, target, headers, body)

    def failure(self, error: Exception) -> Reply:
        return _json(500, {"error": "exception", "description": f"sandbox error: {error}"})

    def record(self, method: str, target: str, status: int, body: bytes) -> None:
        with self._lock:
            if len(self.requests) >= 1_000_000:  # a demo running for weeks
                del self.requests[:500_000]
            self.requests.append(SandboxRequest(method, target, status))

    def handle(self, method: str, target: str, headers: Any, body: bytes = b"") -> _Response:
        """Answer one request (the HTTP handler's only call)."""
        url = urlsplit(target)
        params = parse_qs(url.query, keep_blank_values=True)
        s2s = _S2S.match(url.path)
        if s2s is not None and method == "POST":
            return self._conversions(int(s2s.group(1)), headers, body)
        auth = headers.get("Authorization") or ""
        token = (
            auth[7:] if auth[:7].lower() == "bearer " else (params.get("accessToken") or [""])[-1]
        )
        if not token or not hmac.compare_digest(token.encode(), self.token.encode()):
            return _json(401, UNAUTHORIZED)
        if not self._admit():
            return _Response(429, b"")  # no body and no Retry-After are documented
        try:
            batch = _BATCH.match(url.path)
            if method == "POST" and batch is not None:
                return self._batch(int(batch.group(1)), headers, body)
            if method != "GET":
                raise _Refused(404, "exception", f"No handler found for {method} {url.path}")
            jobs = _JOBS.match(url.path)
            if jobs is not None:
                self._advertiser(int(jobs.group(1)))
                with self._lock:
                    return _json(200, [job.summary() for job in self.validations.jobs.values()])
            job = _JOB.match(url.path)
            if job is not None:
                return self._job(int(job.group(1)), job.group(2), params)
            return self._route(url.path, params)
        except _Refused as exc:
            return exc.response

    def _advertiser(self, account: int) -> None:
        if account != self.account_id:
            raise _Refused(403, "forbidden", f"Access to advertiser account {account} is denied")

    def _batch(self, advertiser: int, headers: Any, body: bytes) -> _Response:
        """``POST /advertisers/{id}/transactions/batch``: apply the operations; 202, a job id."""
        self._advertiser(advertiser)
        kind = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            # [B] Awin's answer to another media type is undocumented
            raise _Refused(415, "unsupported media type", "send the operations as application/json")
        try:
            operations = orjson.loads(body or b"null")
        except orjson.JSONDecodeError:
            raise _bad("the body is not JSON; send a JSON array of operations") from None
        with self._lock:
            try:
                job = self.validations.receive(
                    operations, data=self.data, count=self.transaction_count, now=self._now
                )
            except ValidationRefused as exc:
                raise _bad(str(exc)) from None
            for outcome in job.outcomes:
                if outcome.ok and outcome.index is not None:
                    self._facts[outcome.index] = self.data.facts(outcome.index)
        return _json(202, {"jobId": job.id})

    def _job(self, advertiser: int, job_id: str, params: dict[str, list[str]]) -> _Response:
        """``GET /advertisers/{id}/transactions/jobs/{jobId}[?output=errors|all]``."""
        self._advertiser(advertiser)
        output = _param(params, "output")
        if output is not None and output not in OUTPUTS:
            raise _bad(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        with self._lock:
            job = self.validations.job(job_id)
            if job is None:
                raise _Refused(404, "exception", f"job {job_id} not found")
            return _json(200, job.read(output))

    def _conversions(self, advertiser: int, headers: Any, body: bytes) -> _Response:
        key = headers.get("x-api-key") or ""
        if not key or not hmac.compare_digest(key.encode(), self.s2s_api_key.encode()):
            return _json(401, UNAUTHORIZED)  # [B] the Conversion API's 401 body
        if advertiser != self.account_id:
            return _json(403, {"error": "forbidden", "description": f"advertiser {advertiser}"})
        try:
            status, answer = self.conversions.receive(orjson.loads(body or b"null"), advertiser)
        except orjson.JSONDecodeError:
            return _bad("the body is not JSON").response
        except BatchRefused as exc:
            return _bad(str(exc)).response
        return _json(status, answer)

    def _admit(self) -> bool:
        """Count an authorised request; False: refuse it with 429."""
        with self._lock:
            self._authorised += 1
            if self.inject_429_every and self._authorised % self.inject_429_every == 0:
                return False
            limit = self.rate_limit_per_minute
            if limit is None:
                return True
            now = self._clock()
            while self._admitted and self._admitted[0] <= now - 60:
                self._admitted.popleft()
            if len(self._admitted) >= limit:
                return False
            self._admitted.append(now)
            return True

    def _route(self, path: str, params: dict[str, list[str]]) -> _Response:
        if path == "/accounts":
            kind = _param(params, "type")
            if kind not in (None, "advertiser", "publisher"):
                raise _bad("type must be advertiser or publisher")
            return _json(200, accounts_json(kind, self.account_id, self.publisher_id))
        match = _PATH.match(path)
        if match is None:
            raise _Refused(404, "exception", f"No handler found for GET {path}")
        side, account, resource, slash = match.groups()
        view = side[:-1]  # advertiser or publisher
        if int(account) != (self.account_id if view == "advertiser" else self.publisher_id):
            raise _Refused(403, "forbidden", f"Access to {view} account {account} is denied")
        if resource == "transactions" and slash:
            return self._list(view, params)
        if resource == "transactions" and "ids" in params:
            return self._by_ids(view, params)
        if slash:  # only the transaction list is documented with a trailing slash
            raise _Refused(404, "exception", f"No handler found for GET {path}")
        if view == "advertiser" and resource == "publishers":
            return _json(200, publishers_json())
        if view == "publisher" and resource == "programmes":
            relationship = _param(params, "relationship")
            if relationship not in (
                None,
                "joined",
                "pending",
                "suspended",
                "rejected",
                "notjoined",
            ):
                raise _bad("relationship must be joined, pending, suspended, rejected or notjoined")
            return _json(200, programmes_json(self.account_id, self.publisher_id, relationship))
        if view == "publisher" and resource == "commissiongroups":
            advertiser = _ints(params, "advertiserId")
            if not advertiser or len(advertiser) != 1:
                raise _bad("advertiserId is required (one advertiser id)")
            if advertiser[0] not in {p[0] for p in programmes(self.account_id)}:
                raise _Refused(404, "exception", f"advertiser {advertiser[0]} not found")
            groups = commission_groups_json(advertiser[0], self.publisher_id, self.account_id)
            return _json(200, groups)
        raise _Refused(404, "exception", f"No handler found for GET {path}")

    def _list(self, view: str, params: dict[str, list[str]]) -> _Response:
        """``GET /{advertisers|publishers}/{id}/transactions/``: one window, unsorted."""
        tz = _timezone(params)
        start, end = _window(params, tz)
        date_type = _param(params, "dateType") or "transaction"
        if date_type not in DATE_TYPES:
            raise _bad(f"dateType must be one of {', '.join(DATE_TYPES)}, not {date_type!r}")
        status = _param(params, "status")
        if status is not None and status not in STATUSES:
            raise _bad(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        other = _ints(params, "publisherId" if view == "advertiser" else "advertiserId")
        basket = _param(params, "showBasketProducts") == "true"
        with self._lock:  # a validation batch is seen whole or not at all
            return self._filter(view, tz, start, end, date_type, status, other, basket)

    def _filter(
        self,
        view: str,
        tz: str,
        start: int,
        end: int,
        date_type: str,
        status: str | None,
        other: list[int] | None,
        basket: bool,
    ) -> _Response:
        now = self._now
        chosen = []
        for f in self._visible(view, now):
            instant = {
                "transaction": f.transaction_at,
                "validation": f.validated_at if f.status(now) != "pending" else None,
                "amendment": f.amended_at if f.amended(now) else None,
            }[date_type]
            if instant is None or not start <= instant <= end:
                continue
            if status is not None and f.status(now) != status:
                continue
            if other is not None:
                wanted = f.publisher.id if view == "advertiser" else self.account_id
                if wanted not in other:
                    continue
            chosen.append(f.index)
        return self._serve(chosen, now, tz, view, basket)

    def _by_ids(self, view: str, params: dict[str, list[str]]) -> _Response:
        """``GET /{advertisers|publishers}/{id}/transactions?ids=1,2``; unknown ids are left out."""
        tz = _timezone(params)
        ids = set(_ints(params, "ids") or ())
        basket = _param(params, "showBasketProducts") == "true"
        with self._lock:
            now = self._now
            chosen = [f.index for f in self._visible(view, now) if f.id in ids]
            return self._serve(chosen, now, tz, view, basket)

    def _visible(self, view: str, now: int) -> list[Facts]:
        """The transactions the account sees at ``now`` (a publisher only its own)."""
        return [
            f
            for f in self._facts
            if f.transaction_at <= now
            and (view == "advertiser" or f.publisher.id == self.publisher_id)
        ]

    def _serve(self, indices: list[int], now: int, tz: str, view: str, basket: bool) -> _Response:
        # apis.md 2.7 #7: the array is not sorted; the shuffle is a fixed function of the ids
        indices.sort(key=lambda i: (i * 2654435761 + self.data.seed * 40503 + 7919) % 4294967291)
        build = self.data.transaction
        return _json(200, [build(i, now=now, tz=tz, view=view, basket=basket) for i in indices])


# ---------------------------------------------------------------------------- parameters


def _param(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _ints(params: dict[str, list[str]], name: str) -> list[int] | None:
    value = _param(params, name)
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise _bad(f"{name} must be a comma-separated list of ids, not {value!r}") from None


def _timezone(params: dict[str, list[str]]) -> str:
    tz = _param(params, "timezone") or "UTC"
    if tz not in TIMEZONES:
        raise _bad(f"timezone {tz!r} is not supported; use one of {', '.join(TIMEZONES)}")
    return tz


def _window(params: dict[str, list[str]], tz: str) -> tuple[int, int]:
    """``startDate``/``endDate`` (local times in ``tz``) as epoch seconds, at most 31 days apart."""
    local: list[datetime] = []
    for name in ("startDate", "endDate"):
        value = _param(params, name)
        if not value:
            raise _bad(f"{name} is required (format yyyy-MM-ddTHH:mm:ss)")
        try:
            local.append(datetime.strptime(value, _DATE_FORMAT))
        except ValueError:
            raise _bad(
                f"{name} {value!r} is not a date in the format yyyy-MM-ddTHH:mm:ss"
            ) from None
    start, end = local
    if end < start:
        raise _bad("endDate is before startDate")
    if end - start > MAX_WINDOW:
        raise _bad("The date range between startDate and endDate cannot be longer than 31 days")
    z = zone(tz)
    return int(start.replace(tzinfo=z).timestamp()), int(end.replace(tzinfo=z).timestamp())
