"""Access tokens for the Data API: a service-account key through google-auth, or a given token.

The JWT of the service-account flow is built and signed by google-auth
(``google.oauth2.service_account.Credentials``), never by hand. Its token
request goes through :class:`HttpxAuthRequest`, an adapter that lets
google-auth use httpx, so the same injected transport serves tests and the
``token_url`` override reaches local fakes. Every token obtained and the
key's private key are registered as secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from google.auth import exceptions as google_exceptions
from google.auth import transport as google_transport
from google.oauth2 import service_account

from hub.errors import AuthError, RetriableError
from hub.redaction import redact, register_secret

from .settings import SCOPE, GA4Settings

_KEY_HINT = (
    "check the service-account key: it must be a current key of a service account (Google "
    "Cloud console > IAM > Service accounts > Keys); a deleted key or a wrong machine clock "
    "is refused"
)


class TokenSource(Protocol):
    """Gives the bearer token for the next request; ``invalidate`` forces a new one."""

    def token(self) -> str: ...

    def invalidate(self) -> bool:
        """Drop the current token; False when no new one can be had (a fixed token)."""
        ...

    def close(self) -> None: ...


class StaticToken:
    """A ready access token (it expires after about an hour; nothing can renew it)."""

    def __init__(self, value: str) -> None:
        register_secret(value)
        self._value = value

    def token(self) -> str:
        return self._value

    def invalidate(self) -> bool:
        return False

    def close(self) -> None:
        pass


class _Response(google_transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxAuthRequest(google_transport.Request):
    """google-auth's transport interface over an ``httpx.Client``."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> google_transport.Response:
        try:
            response = self.client.request(
                method, url, content=body, headers=dict(headers or {}), timeout=timeout or 30.0
            )
        except httpx.HTTPError as exc:
            raise google_exceptions.TransportError(redact(str(exc))) from exc
        return _Response(response)


class ServiceAccountToken:
    """Tokens for a service-account key, refreshed by google-auth before they expire."""

    def __init__(
        self,
        info: Mapping[str, Any],
        token_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        register_secret(str(info.get("private_key") or ""))
        register_secret(str(info.get("private_key_id") or ""))
        try:
            self.credentials = service_account.Credentials.from_service_account_info(
                {**info, "token_uri": token_url}, scopes=[SCOPE]
            )
        except (ValueError, KeyError) as exc:
            raise AuthError(
                f"the service-account key cannot be used: {redact(str(exc))}", hint=_KEY_HINT
            ) from None
        self.client_email = str(info.get("client_email"))
        self._http = httpx.Client(transport=transport)
        self._request = HttpxAuthRequest(self._http)

    def token(self) -> str:
        if not self.credentials.valid:
            self._refresh()
        token = self.credentials.token
        if not isinstance(token, str) or not token:
            raise AuthError("Google's token endpoint answered without an access token")
        return token

    def invalidate(self) -> bool:
        self.credentials.token = None
        return True

    def close(self) -> None:
        self._http.close()

    def _refresh(self) -> None:
        try:
            self.credentials.refresh(self._request)
        except google_exceptions.RefreshError as exc:
            raise AuthError(
                f"Google refused the service-account key of {self.client_email}: "
                f"{redact(_first(exc))}",
                hint=_KEY_HINT,
            ) from None
        except google_exceptions.TransportError as exc:
            raise RetriableError(
                f"the token endpoint could not be reached: {redact(_first(exc))}"
            ) from None
        register_secret(str(self.credentials.token or ""))


def token_source(
    settings: GA4Settings, *, transport: httpx.BaseTransport | None = None
) -> TokenSource:
    """The token source the settings ask for."""
    if settings.access_token is not None:
        return StaticToken(settings.access_token.get_secret_value())
    try:
        info = settings.service_account_info()
    except ValueError as exc:
        raise AuthError(str(exc), hint=_KEY_HINT) from None
    assert info is not None  # the settings hold exactly one credential
    return ServiceAccountToken(info, settings.token_url, transport=transport)


def _first(exc: Exception) -> str:
    """google-auth's errors carry (message, response body): the message is enough."""
    return str(exc.args[0]) if exc.args else str(exc)
