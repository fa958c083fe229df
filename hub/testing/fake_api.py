"""A small in-memory HTTP API for connector tests, served through ``httpx.MockTransport``.

Connector tests need a source that answers like the real one, refuses bad
credentials and records what it was asked, without touching the network::

    api = FakeAPI(require_headers={"X-Api-Key": "fake-key-123"})
    api.add("GET", "/v1/items", {"items": [...]})

    @api.route("GET", "/v1/items/{item_id}")
    def item(request, item_id):
        return {"id": item_id}

    connector = MyConnector(config, transport=api.transport())
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

Handler = Callable[..., Any]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(path: str) -> re.Pattern[str]:
    """``/v1/items/{item_id}`` -> a regex with a named group per placeholder."""
    parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", path)
    regex = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(f"^{regex}$")


def _response(result: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Any:
    if isinstance(result, httpx.Response):
        return result
    return httpx.Response(status, json=result, headers=dict(headers or {}))


class FakeAPI:
    """Routes ``(method, path)`` to canned JSON or handler functions; checks credentials.

    Requests whose headers do not carry every ``require_headers`` value get a
    401 (so connectors can be tested for bad credentials); unknown routes get a
    404 naming the route. Every request is kept in :attr:`requests`.
    """

    def __init__(self, *, require_headers: Mapping[str, str] | None = None) -> None:
        self.require_headers = dict(require_headers or {})
        self.requests: list[httpx.Request] = []
        self._routes: list[_Route] = []

    def add(
        self,
        method: str,
        path: str,
        response: Any,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer ``method path`` with ``response``: a handler, an ``httpx.Response`` or JSON."""
        if callable(response):
            handler: Handler = response
        else:

            def handler(request: httpx.Request, **params: str) -> Any:
                return _response(response, status, headers)

        self._routes.append(_Route(method.upper(), _compile(path), handler))

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`; ``{name}`` placeholders become keyword arguments."""

        def decorate(handler: Handler) -> Handler:
            self.add(method, path, handler)
            return handler

        return decorate

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the ``MockTransport`` handler)."""
        self.requests.append(request)
        for name, value in self.require_headers.items():
            if request.headers.get(name) != value:
                return httpx.Response(401, json={"error": "invalid credentials"})
        for route in self._routes:
            match = route.pattern.match(request.url.path)
            if match is not None and route.method == request.method:
                return _response(route.handler(request, **match.groupdict()))
        return httpx.Response(
            404, json={"error": f"no fake route for {request.method} {request.url.path}"}
        )

    def transport(self) -> httpx.MockTransport:
        """A transport to inject into a connector (``Connector(config, transport=...)``)."""
        return httpx.MockTransport(self.handle)
