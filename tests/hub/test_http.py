"""hub.http: retries, Retry-After, budgets, error classification, redaction, rate limiters.

Every test runs on httpx.MockTransport with an injected sleep: nothing touches
the network and nothing really waits (real ``time.sleep`` fails the test).
"""

from __future__ import annotations

import gc
import logging
import traceback
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import pytest

from hub.errors import (
    AuthError,
    FatalConnectorError,
    HubError,
    RetriableError,
    RetryBudgetExceededError,
)
from hub.http import (
    DEFAULT_TIMEOUT,
    HttpClient,
    LeakyBucketFromHeader,
    RateLimiter,
    RetryPolicy,
    TokenBucket,
    extract_error_message,
    parse_json,
    redact_url,
    retry_after_seconds,
)

BASE = "https://alpenglueck.myshopify.com/admin/api/2025-01"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"
NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
SHOPIFY_401 = "[API] Invalid API key or access token (unrecognized login or wrong password)"

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"a test really slept {seconds}s; inject sleep instead")

    monkeypatch.setattr("time.sleep", refuse)


class FakeAPI:
    """A MockTransport handler that plays ``steps`` in order and records each request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected extra request {request.method} {request.url}")
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)


class Sleeps(list[float]):
    """An injected sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class FakeClock:
    """A monotonic clock whose sleep advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(
    api: FakeAPI, sleeps: Sleeps | None = None, **kwargs: Any
) -> tuple[HttpClient, Sleeps]:
    sleeps = sleeps if sleeps is not None else Sleeps()
    kwargs.setdefault("headers", {"X-Shopify-Access-Token": TOKEN})
    kwargs.setdefault("rand", lambda: 0.0)
    kwargs.setdefault("now", lambda: NOW)
    client = HttpClient(BASE, transport=httpx.MockTransport(api), sleep=sleeps, **kwargs)
    return client, sleeps


def ok(body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"orders": []}, **kwargs)


def throttled(retry_after: str | None = "2.0") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"errors": "Exceeded 2 calls per second for api client. Reduce request rates."}
    return httpx.Response(429, json=body, headers=headers)


# --------------------------------------------------------------------------- retrying


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_status_is_retried_with_the_same_request(status: int) -> None:
    api = FakeAPI(httpx.Response(status, json={"errors": "try later"}), ok({"orders": [1]}))
    client, sleeps = make_client(api)

    data = client.get_json("orders.json", params={"status": "any", "limit": 250})

    assert data == {"orders": [1]}
    assert len(api.requests) == 2
    first, second = api.requests
    assert str(first.url) == str(second.url) == f"{BASE}/orders.json?status=any&limit=250"
    assert first.method == second.method == "GET"
    assert sleeps == [1.0]  # backoff_base * 2**0, no jitter with rand=0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.ReadTimeout("The read operation timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_network_failures_are_retried(failure: Exception) -> None:
    api = FakeAPI(failure, ok({"orders": [7]}))
    client, sleeps = make_client(api)

    assert client.get_json("orders.json") == {"orders": [7]}
    assert len(api.requests) == 2
    assert len(sleeps) == 1


def test_post_body_is_resent_identically_after_a_429() -> None:
    api = FakeAPI(throttled("1"), ok({"rows": []}))
    client, _ = make_client(api)
    body = {"dateRanges": [{"startDate": "2025-03-01", "endDate": "2025-03-07"}], "limit": 3}

    client.post_json("properties/1:runReport", json=body)

    assert [orjson.loads(r.content) for r in api.requests] == [body, body]
    assert api.requests[0].url == api.requests[1].url


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0, jitter=0.5)
    assert [policy.backoff(n, 0.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.backoff(3, 0.999) == pytest.approx(4.0 * (1 - 0.5 * 0.999))
    assert policy.backoff(200, 0.0) == 5.0  # no overflow on absurd attempt numbers

    api = FakeAPI(*(httpx.Response(503) for _ in range(4)), ok())
    client, sleeps = make_client(api, retry=policy, rand=lambda: 0.5)
    client.get("orders.json")
    assert sleeps == [0.75, 1.5, 3.0, 3.75]


def test_retry_policy_validates_its_values() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2.0)
    assert RetryPolicy(retry_statuses={429}).retry_statuses == frozenset({429})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("2.0", 2.0),
        ("0.25", 0.25),
        (format_datetime(NOW + timedelta(seconds=42), usegmt=True), 42.0),
    ],
)
def test_retry_after_wins_over_backoff(header: str, expected: float) -> None:
    api = FakeAPI(throttled(header), ok())
    policy = RetryPolicy(backoff_base=100.0, backoff_max=100.0, jitter=0.0)
    client, sleeps = make_client(api, retry=policy)

    client.get("orders.json")

    assert sleeps == [pytest.approx(expected)]


def test_retry_after_on_a_503_is_honoured_too() -> None:
    api = FakeAPI(httpx.Response(503, headers={"Retry-After": "12"}), ok())
    client, sleeps = make_client(api)
    client.get("shop.json")
    assert sleeps == [12.0]


class TestRetryAfterSeconds:
    def response(self, value: str | None) -> httpx.Response:
        return httpx.Response(429, headers={} if value is None else {"Retry-After": value})

    def test_delay_seconds_integer_and_decimal(self) -> None:
        assert retry_after_seconds(self.response("120"), NOW) == 120.0
        assert retry_after_seconds(self.response("2.0"), NOW) == 2.0
        assert retry_after_seconds(self.response(" 1.5 "), NOW) == 1.5
        assert retry_after_seconds(self.response("0"), NOW) == 0.0

    def test_http_date_is_measured_from_now(self) -> None:
        later = format_datetime(NOW + timedelta(minutes=2), usegmt=True)
        assert retry_after_seconds(self.response(later), NOW) == 120.0
        assert retry_after_seconds(self.response("Fri, 14 Mar 2025 12:00:30 GMT"), NOW) == 30.0

    def test_http_date_in_the_past_means_now(self) -> None:
        assert retry_after_seconds(self.response("Wed, 21 Oct 2015 07:28:00 GMT"), NOW) == 0.0

    def test_absent_or_unreadable_gives_none(self) -> None:
        assert retry_after_seconds(self.response(None), NOW) is None
        for junk in ("soon", "-5", "1e3", "", "inf", "nan"):
            assert retry_after_seconds(self.response(junk), NOW) is None, junk

    def test_header_name_is_case_insensitive(self) -> None:
        response = httpx.Response(429, headers=[("retry-after", "3")])
        assert retry_after_seconds(response, NOW) == 3.0


# --------------------------------------------------------------------------- the budget


def test_budget_of_attempts_exhausted_raises_with_url_status_and_advice() -> None:
    api = FakeAPI(*(httpx.Response(503, json={"errors": "Service unavailable"}) for _ in range(4)))
    client, sleeps = make_client(api, retry=RetryPolicy(max_attempts=4, jitter=0.0))

    with pytest.raises(RetryBudgetExceededError) as caught:
        client.get("orders.json", params={"limit": 250})

    text = str(caught.value)
    assert len(api.requests) == 4
    assert sleeps == [1.0, 2.0, 4.0]
    assert f"GET {BASE}/orders.json?limit=250" in text
    assert "HTTP 503" in text
    assert "Service unavailable" in text
    assert "after 4 attempts" in text
    assert caught.value.hint is not None and "run the sync again later" in caught.value.hint
    assert isinstance(caught.value, FatalConnectorError)


def test_retry_after_beyond_the_wait_budget_gives_up_without_sleeping() -> None:
    api = FakeAPI(throttled("3600"))
    client, sleeps = make_client(api, retry=RetryPolicy(max_total_wait=60))

    with pytest.raises(RetryBudgetExceededError) as caught:
        client.get("orders.json")

    assert sleeps == []
    assert len(api.requests) == 1
    assert "3600.0s more would exceed the retry budget of 60s" in str(caught.value)
    assert "rate limit" in (caught.value.hint or "")


def test_wait_budget_counts_every_sleep() -> None:
    api = FakeAPI(*(throttled("20") for _ in range(5)))
    client, sleeps = make_client(api, retry=RetryPolicy(max_attempts=10, max_total_wait=50))

    with pytest.raises(RetryBudgetExceededError, match=r"40\.0s already spent"):
        client.get("orders.json")

    assert sleeps == [20.0, 20.0]
    assert len(api.requests) == 3


def test_network_failures_exhaust_the_budget_with_a_network_hint() -> None:
    api = FakeAPI(*(httpx.ConnectError("[Errno 111] Connection refused") for _ in range(3)))
    client, _ = make_client(api, retry=RetryPolicy(max_attempts=3))

    with pytest.raises(RetryBudgetExceededError) as caught:
        client.get("shop.json")

    assert "ConnectError" in str(caught.value)
    assert "no response" in str(caught.value)
    assert "network" in (caught.value.hint or "")


def test_no_retries_policy_tries_once() -> None:
    api = FakeAPI(httpx.Response(502))
    client, sleeps = make_client(api)

    with pytest.raises(RetryBudgetExceededError, match="after 1 attempt "):
        client.post("webhooks.json", json={"webhook": {}}, retry=RetryPolicy.no_retries())

    assert len(api.requests) == 1
    assert sleeps == []


def test_retry_statuses_are_configurable() -> None:
    too_many = httpx.Response(422, json={"errors": "Too many requests"})
    api = FakeAPI(too_many, ok())
    statuses = frozenset({422, 429, 500, 502, 503, 504})
    client, sleeps = make_client(api, retry=RetryPolicy(retry_statuses=statuses))
    client.get("orders.json")
    assert len(sleeps) == 1

    api = FakeAPI(httpx.Response(422, json={"errors": "Too many requests"}))
    client, _ = make_client(api)
    with pytest.raises(FatalConnectorError):
        client.get("orders.json")
    assert len(api.requests) == 1


# --------------------------------------------------------------------------- fatal errors


@pytest.mark.parametrize(
    ("status", "body", "error", "vendor_text"),
    [
        (
            401,
            {"errors": SHOPIFY_401},
            AuthError,
            "[API] Invalid API key or access token",
        ),
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "User does not have sufficient permissions for this property.",
                    "status": "PERMISSION_DENIED",
                }
            },
            AuthError,
            "PERMISSION_DENIED: User does not have sufficient permissions",
        ),
        (404, {"errors": "Not Found"}, FatalConnectorError, "Not Found"),
    ],
)
def test_client_errors_fail_at_once_with_the_vendor_message(
    status: int, body: dict[str, Any], error: type[HubError], vendor_text: str
) -> None:
    api = FakeAPI(httpx.Response(status, json=body, headers={"X-Request-Id": "req-42"}))
    client, sleeps = make_client(api)

    with pytest.raises(error) as caught:
        client.get("orders/1.json")

    assert type(caught.value) is error
    assert len(api.requests) == 1
    assert sleeps == []
    text = str(caught.value)
    assert vendor_text in text
    assert f"GET {BASE}/orders/1.json answered HTTP {status}" in text
    assert "X-Request-Id: req-42" in text
    assert caught.value.hint and "Fix:" in text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"errors": {"email": ["has already been taken"], "base": ["Invalid"]}},
            "email: has already been taken; Invalid",
        ),
        ({"errors": ["first problem", "second problem"]}, "first problem, second problem"),
        ({"errors": {"page_info": "Invalid value."}}, "page_info: Invalid value."),
        (
            {
                "error": "unauthorized",
                "description": "Full authentication is required to access this resource",
            },
            "unauthorized: Full authentication is required to access this resource",
        ),
        (
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            "invalid_grant: Token has been expired or revoked.",
        ),
        (
            {
                "error": {
                    "code": 400,
                    "message": "Field foo is not a valid dimension.",
                    "status": "INVALID_ARGUMENT",
                }
            },
            "INVALID_ARGUMENT: Field foo is not a valid dimension.",
        ),
        ({"message": "plain"}, "plain"),
        ([{"message": "graphql one"}, {"message": "graphql two"}], "graphql one; graphql two"),
    ],
)
def test_vendor_error_bodies_are_read(body: Any, expected: str) -> None:
    assert extract_error_message(httpx.Response(400, json=body)) == expected


def test_non_json_error_bodies_fall_back_to_text() -> None:
    html = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body/></html>"
    response = httpx.Response(502, content=html, headers={"Content-Type": "text/html"})
    assert extract_error_message(response) == "an HTML page titled '502 Bad Gateway'"
    assert extract_error_message(httpx.Response(500, text="  upstream\n  timeout ")) == (
        "upstream timeout"
    )
    assert extract_error_message(httpx.Response(500)) == "(empty body)"
    assert len(extract_error_message(httpx.Response(500, text="x" * 5000))) == 500


def test_a_redirect_is_not_followed_silently() -> None:
    api = FakeAPI(httpx.Response(301, headers={"Location": "https://alpenglueck.com/admin"}))
    client, _ = make_client(api)

    with pytest.raises(FatalConnectorError, match=r"redirect to https://alpenglueck\.com/admin"):
        client.get("orders.json")


def test_a_non_retryable_transport_error_is_fatal() -> None:
    client = HttpClient("ftp://example.com", sleep=Sleeps())
    with pytest.raises(FatalConnectorError) as caught:
        client.get("x")
    assert not isinstance(caught.value, RetryBudgetExceededError)
    assert "UnsupportedProtocol" in str(caught.value)
    assert "base_url" in (caught.value.hint or "")


def test_error_message_hook_replaces_the_default_extraction() -> None:
    api = FakeAPI(httpx.Response(400, json={"fault": {"reason": "bad window"}}))
    client, _ = make_client(api, error_message=lambda r: r.json()["fault"]["reason"])
    with pytest.raises(FatalConnectorError, match="answered HTTP 400 Bad Request: bad window"):
        client.get("transactions/")


def test_classify_error_hook_can_make_a_status_retriable_with_its_own_wait() -> None:
    quota = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "message": "Exhausted concurrent requests quota.",
        }
    }

    def classify(response: httpx.Response) -> HubError | None:
        if "Exhausted concurrent requests" in response.text:
            return RetriableError(client.describe(response), retry_after=30.0)
        return None

    api = FakeAPI(httpx.Response(403, json=quota), ok({"rows": []}))
    client, sleeps = make_client(api, classify_error=classify)

    assert client.post_json("properties/1:runReport", json={}) == {"rows": []}
    assert sleeps == [30.0]


def test_classify_error_hook_can_make_a_429_fatal_and_sees_2xx_bodies() -> None:
    daily = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "Exhausted property tokens per day.",
        }
    }
    throttled_200 = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}

    def classify(response: httpx.Response) -> HubError | None:
        if "tokens per day" in response.text:
            return FatalConnectorError(client.describe(response), hint="Run again tomorrow.")
        if "THROTTLED" in response.text:
            return RetriableError(client.describe(response), retry_after=1.0)
        return None

    api = FakeAPI(httpx.Response(200, json=throttled_200), httpx.Response(429, json=daily))
    client, sleeps = make_client(api, classify_error=classify)

    with pytest.raises(FatalConnectorError, match="tokens per day") as caught:
        client.post_json("graphql.json", json={"query": "{ shop { name } }"})
    assert not isinstance(caught.value, RetryBudgetExceededError)
    assert sleeps == [1.0]
    assert len(api.requests) == 2


def test_a_hook_cannot_leak_a_secret_either() -> None:
    api = FakeAPI(httpx.Response(400))
    client, _ = make_client(
        api, classify_error=lambda r: FatalConnectorError(f"bad token {TOKEN}", hint=TOKEN)
    )
    with pytest.raises(FatalConnectorError) as caught:
        client.get("orders.json")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in (caught.value.hint or "")


# --------------------------------------------------------------------------- bodies


def test_truncated_json_is_retried_then_parsed() -> None:
    api = FakeAPI(httpx.Response(200, content=b'{"orders": [{"id": 1}, {"id"'), ok({"orders": []}))
    client, sleeps = make_client(api)

    assert client.get_json("orders.json") == {"orders": []}
    assert len(sleeps) == 1


def test_persistently_truncated_json_exhausts_the_budget_with_a_clear_message() -> None:
    api = FakeAPI(*(httpx.Response(200, content=b'{"orders": [') for _ in range(2)))
    client, _ = make_client(api, retry=RetryPolicy(max_attempts=2))

    with pytest.raises(RetryBudgetExceededError) as caught:
        client.get_json("orders.json")

    assert "invalid JSON (12 bytes" in str(caught.value)
    assert "cut off" in str(caught.value)
    assert "last status HTTP 200" in str(caught.value)


def test_parse_json_classifies_unusable_bodies_as_retriable() -> None:
    request = httpx.Request("GET", f"{BASE}/orders.json?access_token={TOKEN}")
    truncated = httpx.Response(200, content=b'{"a": [1, 2', request=request)
    with pytest.raises(RetriableError, match="invalid JSON") as caught:
        parse_json(truncated)
    assert TOKEN not in str(caught.value)
    assert "access_token=***" in str(caught.value)

    login = b"<!DOCTYPE html>\n<html><head><title>Log in - Shopify</title></head></html>"
    html = httpx.Response(
        200, content=login, headers={"Content-Type": "text/html"}, request=request
    )
    with pytest.raises(RetriableError, match="HTML page titled 'Log in - Shopify'") as caught:
        parse_json(html)
    assert "base_url" in (caught.value.hint or "")

    with pytest.raises(RetriableError, match="empty body"):
        parse_json(httpx.Response(200, content=b"  ", request=request))

    assert parse_json(httpx.Response(204, request=request)) is None
    # JSON labelled as HTML by a sloppy server is still JSON.
    sloppy = httpx.Response(200, content=b'{"ok": true}', headers={"Content-Type": "text/html"})
    assert parse_json(sloppy) == {"ok": True}


def test_html_with_status_200_from_get_json_is_retried_then_reported() -> None:
    page = b"<html><head><title>Store unavailable</title></head></html>"
    api = FakeAPI(*(httpx.Response(200, content=page) for _ in range(2)))
    client, _ = make_client(api, retry=RetryPolicy(max_attempts=2))

    with pytest.raises(RetryBudgetExceededError, match="HTML page titled 'Store unavailable'"):
        client.get_json("orders.json")


# --------------------------------------------------------------------------- secrets


def test_secrets_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    api_key = "awin-oauth-token-9f8e7d6c5b4a"
    query_secret = "query-secret-77"
    echo = {"errors": f"token {TOKEN} is not valid for this shop (key {api_key})"}
    api = FakeAPI(
        httpx.ReadError(f"reset while sending X-Shopify-Access-Token: {TOKEN}"),
        httpx.Response(503, json=echo, headers={"X-Request-Id": "r-1"}),
        httpx.Response(401, json=echo),
    )
    client, _ = make_client(api, secrets=[api_key])

    with caplog.at_level(logging.DEBUG, logger="hub.http"), pytest.raises(AuthError) as caught:
        client.get("orders.json", params={"access_token": query_secret, "limit": 5})

    assert api.requests[0].headers["X-Shopify-Access-Token"] == TOKEN  # it was really sent
    rendered = "".join(traceback.format_exception(caught.value))
    for text in (caplog.text, str(caught.value), rendered, repr(caught.value.args)):
        for secret in (TOKEN, api_key, query_secret):
            assert secret not in text
    assert "access_token=***" in caplog.text
    assert caught.value.__cause__ is None


def test_bearer_tokens_in_headers_are_registered_as_secrets() -> None:
    bearer = "ya29.a0AfH6SMBx-very-secret"
    api = FakeAPI(httpx.Response(401, json={"error": {"message": f"bad {bearer}"}}))
    client, _ = make_client(api, headers={"Authorization": f"Bearer {bearer}"})
    with pytest.raises(AuthError) as caught:
        client.get("x")
    assert bearer not in str(caught.value)

    refreshed = "ya29.refreshed-token-value"
    client.set_header("Authorization", f"Bearer {refreshed}")
    api.steps.append(httpx.Response(403, json={"error": {"message": f"bad {refreshed}"}}))
    with pytest.raises(AuthError) as caught:
        client.get("x")
    assert refreshed not in str(caught.value)
    assert api.requests[-1].headers["Authorization"] == f"Bearer {refreshed}"


def test_redact_url_masks_credentials_even_percent_encoded() -> None:
    from hub.redaction import register_secret

    register_secret("s3cr/et+value")
    url = "https://user:pw@api.example.com/x?accessToken=abc&q=s3cr%2Fet%2Bvalue&limit=5"
    shown = redact_url(url)
    assert shown == "https://***@api.example.com/x?accessToken=***&q=***&limit=5"
    assert redact_url(f"{BASE}/orders.json?page_info=abc") == f"{BASE}/orders.json?page_info=abc"


# --------------------------------------------------------------------------- logging


def test_logs_one_debug_line_per_request_and_a_warning_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeAPI(throttled("2.0"), ok(headers={"X-Request-Id": "abc-123"}))
    client, _ = make_client(api)

    with caplog.at_level(logging.DEBUG, logger="hub.http"):
        client.get("orders.json", params={"limit": 1})

    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(debug) == 2
    assert debug[0].startswith(f"GET {BASE}/orders.json?limit=1 -> 429 in ")
    assert debug[1].startswith(f"GET {BASE}/orders.json?limit=1 -> 200 in ")
    assert debug[1].endswith("s (X-Request-Id: abc-123)")
    assert len(warnings) == 1
    assert "HTTP 429 Too Many Requests: Exceeded 2 calls per second" in warnings[0]
    assert "retry 1 of 5 in 2.00s (Retry-After)" in warnings[0]
    assert all(r.name == "hub.http" for r in caplog.records)


# --------------------------------------------------------------------------- client basics


def test_defaults_and_lifecycle() -> None:
    api = FakeAPI(ok())
    with HttpClient(BASE, transport=httpx.MockTransport(api), sleep=Sleeps()) as client:
        client.get("shop.json", headers={"X-Extra": "1"})
        assert client.resolve_url("orders.json", {"a": 1}) == httpx.URL(f"{BASE}/orders.json?a=1")
    sent = api.requests[0]
    assert sent.headers["User-Agent"].startswith("partner-hub/")
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["X-Extra"] == "1"
    assert sent.extensions["timeout"] == DEFAULT_TIMEOUT.as_dict()
    assert DEFAULT_TIMEOUT.as_dict() == {"connect": 10.0, "read": 60.0, "write": 60.0, "pool": 10.0}
    with pytest.raises(RuntimeError):
        client.get("shop.json")  # closed


# --------------------------------------------------------------------------- rate limiters


def test_token_bucket_paces_to_the_rate_with_a_fake_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket.per_minute(20, clock=clock, sleep=clock.sleep)  # Awin: 20 calls/minute
    assert isinstance(bucket, RateLimiter)

    sent_at = []
    for _ in range(5):
        bucket.acquire()
        sent_at.append(clock.now - 1000.0)

    assert sent_at == pytest.approx([0.0, 3.0, 6.0, 9.0, 12.0])
    # Any 60-second window holds at most 20 calls.
    for _ in range(40):
        bucket.acquire()
        sent_at.append(clock.now - 1000.0)
    assert max(sum(1 for t in sent_at if s <= t < s + 60) for s in sent_at) == 20


def test_token_bucket_allows_a_burst_then_refills() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    assert clock.sleeps == []
    bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.5)]
    clock.now += 10  # idle: refills to the burst, not beyond
    for _ in range(3):
        bucket.acquire()
    assert len(clock.sleeps) == 1
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_token_bucket_in_the_client_acquires_before_every_attempt() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, clock=clock, sleep=clock.sleep)
    api = FakeAPI(httpx.Response(500), ok(), ok())
    client, sleeps = make_client(api, rate_limiter=bucket)
    client.get("a")
    client.get("b")
    assert len(api.requests) == 3
    # The first call used the initial token; the retry and the second call each waited,
    # the retry's 1 s backoff (not advancing the fake clock) aside.
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]
    assert sleeps == [1.0]


class ShopifyBucket:
    """A fake Shopify REST endpoint with a server-side leaky bucket (2/s leak, size 40)."""

    def __init__(self, clock: FakeClock, size: int = 40, leak: float = 2.0) -> None:
        self.clock, self.size, self.leak = clock, size, leak
        self.level, self.updated = 0.0, clock()
        self.statuses: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self.updated) * self.leak)
        self.updated = now
        if self.level + 1 > self.size:
            self.statuses.append(429)
            return throttled("2.0")
        self.level += 1
        self.statuses.append(200)
        limit = f"{round(self.level)}/{self.size}"
        self.clock.now += 0.05  # every request takes 50 ms
        return ok(headers={"X-Shopify-Shop-Api-Call-Limit": limit})


def test_leaky_bucket_from_header_keeps_a_sync_clear_of_429() -> None:
    clock = FakeClock()
    server = ShopifyBucket(clock)
    limiter = LeakyBucketFromHeader(
        "X-Shopify-Shop-Api-Call-Limit", leak_rate_per_second=2.0, clock=clock, sleep=clock.sleep
    )
    client = HttpClient(
        BASE, transport=httpx.MockTransport(server), rate_limiter=limiter, sleep=clock.sleep
    )

    for _ in range(120):
        client.get("orders.json")

    assert server.statuses == [200] * 120
    assert limiter.size == 40
    assert clock.sleeps  # it slowed down ...
    elapsed = clock.now - 1000.0
    # ... but only as much as the bucket needs: 120 calls through a 40-call bucket leaking
    # 2/s need at least 40 s; keeping 4 slots in reserve costs about 2 s more.
    assert (120 - 40) / 2.0 <= elapsed <= (120 - 36) / 2.0 + 1.0


def test_without_the_leaky_bucket_limiter_the_same_sync_hits_429() -> None:
    clock = FakeClock()
    server = ShopifyBucket(clock)
    client = HttpClient(
        BASE,
        transport=httpx.MockTransport(server),
        sleep=clock.sleep,
        retry=RetryPolicy(max_attempts=20, max_total_wait=1000),
    )
    for _ in range(60):
        client.get("orders.json")
    assert 429 in server.statuses  # the control: pacing above is what prevents it


def test_leaky_bucket_waits_for_the_reported_level_and_ignores_bad_headers() -> None:
    clock = FakeClock()
    limiter = LeakyBucketFromHeader(
        "X-Call-Limit", leak_rate_per_second=2.0, headroom=0.1, clock=clock, sleep=clock.sleep
    )
    limiter.acquire()  # nothing known yet: no wait
    assert clock.sleeps == []

    limiter.observe(httpx.Response(200, headers={"x-call-limit": "40/40"}))
    assert limiter.level() == 40
    limiter.acquire()  # must drain to 35 (size 40, reserve 4, +1 for this call)
    assert clock.sleeps == [pytest.approx(2.5)]

    clock.now += 100
    limiter.observe(httpx.Response(200, headers={"X-Call-Limit": "10/40"}))
    limiter.acquire()
    assert len(clock.sleeps) == 1

    for junk in ("garbage", "12", "5/0", "a/b"):
        limiter.observe(httpx.Response(200, headers={"X-Call-Limit": junk}))
    assert limiter.size == 40


def test_a_parsed_page_is_freed_as_soon_as_it_is_dropped_not_by_the_gc() -> None:
    """httpx ties a response to its stream both ways; HttpClient unties them, so a page
    body (a MB each for Shopify) is freed at once instead of piling up for the GC."""

    def api(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"orders": [{"id": n} for n in range(1000)]})

    with HttpClient(BASE, transport=httpx.MockTransport(api), sleep=Sleeps()) as client:
        gc.collect()
        gc.disable()
        try:
            response, data = client.request_json("GET", "/orders.json")
            freed = weakref.ref(response)
            assert data["orders"][999] == {"id": 999} and response.json() == data
            del response
            assert freed() is None
        finally:
            gc.enable()
