"""The Awin API client: bearer auth, the 20-calls-per-minute limit, readable errors.

Awin counts **20 calls per minute per user** (the token's owner, not the
account) and documents neither rate-limit headers nor ``Retry-After``
(apis.md §2.1). So every request first takes a token from a client-side
:class:`~hub.http.TokenBucket` (one call every 3 s at the default rate, burst
1, so no sliding minute ever holds more than 20 calls). Should a 429 come
anyway (another program uses the same user's token), the request waits
:data:`RATE_LIMIT_WAIT` seconds, the whole per-minute window, and is repeated,
within the retry budget of :data:`RETRY_POLICY` (5 attempts, at most 300 s of
waiting per request). 401/403/404 fail at once with a hint saying what to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from hub.errors import AuthError, FatalConnectorError, HubError, RetriableError
from hub.http import (
    HttpClient,
    RetryPolicy,
    TokenBucket,
    extract_error_message,
    retry_after_seconds,
)

from .settings import AwinSettings

#: Seconds to wait after a 429 without Retry-After: Awin's limit is per minute.
RATE_LIMIT_WAIT = 60.0
#: 5 attempts; 429 waits RATE_LIMIT_WAIT, 5xx and network errors back off 5, 10, 20, 40 s
#: (minus up to 20 % jitter); a request gives up rather than wait more than 300 s in total.
RETRY_POLICY = RetryPolicy(
    max_attempts=5, backoff_base=5.0, backoff_max=60.0, max_total_wait=300.0, jitter=0.2
)

_HINTS = {
    401: "Awin refused the token: check `api_token` (Toolbox/Account > API Credentials in the "
    "Awin UI); regenerating it there revokes the old one",
    403: "the token's user cannot reach this account, or the account's plan has no API access "
    "(the Advertiser API needs Awin Accelerate or Advanced): check `account_id`, "
    "`account_type` and the user's access in the Awin UI",
    404: "Awin knows no such path or id: check `account_type` (advertiser or publisher) and "
    "`account_id`, and that base_url is https://api.awin.com",
}


def awin_error_message(response: httpx.Response) -> str:
    """Awin's ``{"error": ..., "description": ...}`` body as one line (else the default)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return extract_error_message(response)
    if isinstance(body, Mapping) and ("error" in body or "description" in body):
        parts = [str(body[key]) for key in ("error", "description") if body.get(key)]
        if parts:
            return ": ".join(parts)
    return extract_error_message(response)


def _classify(ref: list[HttpClient]) -> Callable[[httpx.Response], HubError | None]:
    def classify(response: httpx.Response) -> HubError | None:
        status = response.status_code
        if status == 429:
            waited = retry_after_seconds(response)
            return RetriableError(
                ref[0].describe(response),
                retry_after=waited if waited is not None else RATE_LIMIT_WAIT,
                hint="Awin allows 20 calls per minute per user: lower `requests_per_minute` "
                "when other tools or connections use the same user's token",
            )
        if status in (401, 403):
            return AuthError(ref[0].describe(response), hint=_HINTS[status])
        if status == 404:
            return FatalConnectorError(ref[0].describe(response), hint=_HINTS[status])
        if status == 400:
            return FatalConnectorError(
                ref[0].describe(response),
                hint="Awin refused the parameters (a date range over 31 days or a malformed "
                "date): check `window_days` and `timezone`",
            )
        return None

    return classify


class AwinClient:
    """Talks to the Awin API for one user token."""

    def __init__(
        self,
        settings: AwinSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        bucket: dict[str, Any] = {}
        if sleep is not None:
            bucket["sleep"] = sleep
        if clock is not None:
            bucket["clock"] = clock
        self.limiter = TokenBucket.per_minute(settings.requests_per_minute, **bucket)
        ref: list[HttpClient] = []
        self.http = HttpClient(
            settings.base_url,
            headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"},
            secrets=[settings.api_token],
            transport=transport,
            retry=retry if retry is not None else RETRY_POLICY,
            rate_limiter=self.limiter,
            classify_error=_classify(ref),
            error_message=awin_error_message,
            sleep=sleep,
        )
        ref.append(self.http)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to base_url) and return its JSON body."""
        return self.http.get_json(path, params=dict(params or {}))

    def close(self) -> None:
        self.http.close()
