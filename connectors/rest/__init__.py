"""A generic REST connector: any JSON API with Link, cursor or offset paging.

Partners with a plain JSON API (a publisher platform, an in-house order
service) can be pulled without writing a plugin: describe the endpoints in the
connection's config and normalize them with a mapping file for ``source: rest``.
It is also the hub's smallest built-in HTTP connector, registered through the
project's own entry point exactly as a third-party plugin would be.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from hub.connector import Connector, Message, Stream
from hub.errors import FatalConnectorError
from hub.hookspecs import hookimpl
from hub.http import HttpClient, TokenBucket

from .settings import RestSettings
from .streams import read_stream


class RestConnector(Connector):
    name: ClassVar[str] = "rest"
    config_model = RestSettings
    summary: ClassVar[str] = "Any JSON API with Link, cursor or offset paging"

    config: RestSettings

    def __init__(self, config: Any, *, transport: Any = None) -> None:
        super().__init__(config, transport=transport)
        headers = {}
        if self.config.token is not None:
            token = self.config.token.get_secret_value()
            scheme = self.config.auth_scheme
            headers[self.config.auth_header] = f"{scheme} {token}" if scheme else token
        limiter = (
            TokenBucket(self.config.requests_per_second, burst=1)
            if self.config.requests_per_second
            else None
        )
        self.client = HttpClient(
            self.config.base_url,
            headers=headers,
            secrets=[self.config.token],
            transport=transport,
            rate_limiter=limiter,
        )

    def discover(self) -> Sequence[Stream]:
        return [
            Stream(
                name=name,
                primary_key=(settings.primary_key,),
                cursor_field=settings.cursor_field,
                json_schema={"type": "object", "required": [settings.primary_key]},
                description=f"GET {settings.path}",
            )
            for name, settings in self.config.streams.items()
        ]

    def check(self) -> None:
        settings = next(iter(self.config.streams.values()))
        params = {settings.page_size_param: 1} if settings.pagination != "none" else None
        self.client.get_json(settings.path, params=params)

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        unknown = [name for name in streams if name not in self.config.streams]
        if unknown:
            raise FatalConnectorError(
                f"the rest connection has no stream {', '.join(map(repr, unknown))}",
                hint=f"configured streams: {', '.join(self.config.streams)}",
            )
        for name in streams:
            yield from read_stream(
                self.client,
                name,
                self.config.streams[name],
                state.get(name),
                self.config.start_cursor,
            )

    def close(self) -> None:
        self.client.close()


@hookimpl
def hub_register_connectors(register: Any) -> None:
    register(RestConnector)
