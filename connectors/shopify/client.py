"""The Shopify REST Admin API client: auth, pacing from the call-limit header, error messages.

Every request carries ``X-Shopify-Access-Token``. The shop's leaky bucket
(``X-Shopify-Shop-Api-Call-Limit: 32/40``) paces requests so that a normal
sync never sees a 429; when one comes anyway, the hub's HTTP client waits
``Retry-After`` and repeats the same URL. 401/403/404/402/423 fail at once
with a message that says what to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from hub.errors import AuthError, FatalConnectorError, HubError, RetriableError
from hub.http import HttpClient, LeakyBucketFromHeader, RetryPolicy, retry_after_seconds
from hub.pagination import LinkHeaderPaginator, Page

from .settings import ShopifySettings

CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"

_HINTS = {
    401: "the access token was refused: check `access_token` (an Admin API token, shpat_...) "
    "and that the app is still installed on the shop",
    402: "the shop is frozen or unpaid; it must be reactivated in Shopify",
    403: "the token lacks an access scope: grant read_orders, read_all_orders, read_products "
    "and read_customers (write_price_rules and write_discounts for discount codes)",
    404: "check `shop` (the myshopify subdomain, not the storefront domain) and `api_version`; "
    "orders older than 60 days also answer 404 without the read_all_orders scope",
    423: "the shop is locked; ask the merchant to contact Shopify support",
}


def _classify(client_ref: list[HttpClient]) -> Callable[[httpx.Response], HubError | None]:
    def classify(response: httpx.Response) -> HubError | None:
        status = response.status_code
        if status == 422 and "too many requests" in response.text.lower():
            return RetriableError(
                client_ref[0].describe(response), retry_after=retry_after_seconds(response)
            )
        if status in (401, 403):
            return AuthError(client_ref[0].describe(response), hint=_HINTS[status])
        if status in _HINTS:
            return FatalConnectorError(client_ref[0].describe(response), hint=_HINTS[status])
        return None

    return classify


class ShopifyClient:
    """Talks to one shop's REST Admin API."""

    def __init__(
        self,
        settings: ShopifySettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        ref: list[HttpClient] = []
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
        self.limiter = LeakyBucketFromHeader(
            CALL_LIMIT_HEADER, leak_rate_per_second=settings.leak_rate, **extra
        )
        self.http = HttpClient(
            settings.api_url,
            headers={"X-Shopify-Access-Token": settings.access_token.get_secret_value()},
            secrets=[settings.access_token],
            transport=transport,
            retry=retry,
            rate_limiter=self.limiter,
            classify_error=_classify(ref),
            **extra,
        )
        ref.append(self.http)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.get_json(path, params=params)

    def post_json(self, path: str, body: Any) -> Any:
        return self.http.post_json(path, json=body)

    def put_json(self, path: str, body: Any) -> Any:
        return self.http.request_json("PUT", path, json=body)[1]

    def pages(self, path: str, params: Mapping[str, Any], records_key: str) -> Iterator[Page]:
        """Follow the Link header: filters go on the first request only (``page_info`` after)."""
        paginator = LinkHeaderPaginator(records_path=records_key)
        return paginator.pages(self.http, "GET", path, params=params)

    def close(self) -> None:
        self.http.close()
