"""The ``ga4`` source: a GA4 property's traffic, purchases and item revenue (Data API v1beta).

Registered through the project's ``partner_hub`` entry point (``ga4 =
"connectors.ga4"``) like a third-party plugin: the connector class, the
mapping file ``mappings/ga4.yaml``, the ``ga4-measurement`` destination
(Measurement Protocol) and a local sandbox for ``hub demo``. See README.md in
this folder for the config, the credentials, the default reports, the quotas
and how each canonical field is derived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
from pydantic import BaseModel

from hub.connector import Connector, Message, Stream
from hub.errors import FatalConnectorError
from hub.hookspecs import hookimpl
from hub.plugins import shipped_mapping

from .client import GA4Client
from .settings import DEFAULT_REPORTS, GA4Settings
from .streams import read_report, report_body, stream_of

__all__ = ["GA4Connector", "GA4Settings", "mapping_file"]

MAPPING_NAME = "ga4.yaml"


class GA4Connector(Connector):
    """Reads one GA4 property's reports; see the module docstring and README.md."""

    name: ClassVar[str] = "ga4"
    config_model: ClassVar[type[BaseModel]] = GA4Settings
    summary: ClassVar[str] = "GA4 property: sessions by channel, purchases, item revenue"

    config: GA4Settings

    def __init__(
        self,
        config: BaseModel,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """No network I/O here: ``hub check`` and ``hub discover`` build connectors too."""
        super().__init__(config, transport=transport)
        self._transport = transport
        self._sleep = sleep
        self._client: GA4Client | None = None
        self._now = now or (lambda: datetime.now(UTC))

    @property
    def client(self) -> GA4Client:
        """Built on first use: building it reads the service-account key."""
        if self._client is None:
            self._client = GA4Client(self.config, transport=self._transport, sleep=self._sleep)
        return self._client

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        """The default reports' streams (a connection's own reports: :meth:`discover`)."""
        return tuple(stream_of(report) for report in DEFAULT_REPORTS)

    def discover(self) -> Sequence[Stream]:
        return tuple(stream_of(report) for report in self.config.reports)

    def check(self) -> None:
        """One tiny report (yesterday's sessions): proves the token, the property and the API."""
        report = self.config.reports[0]
        today = self._now().astimezone(self.config.zone).date()
        body = report_body(report, today, today, 0, 1)
        body["dimensions"] = [{"name": "date"}]
        body["metrics"] = [{"name": report.metrics[0]}]
        body["orderBys"] = []
        self.client.run_report(body)

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        reports = {report.name: report for report in self.config.reports}
        unknown = [name for name in streams if name not in reports]
        if unknown:
            raise FatalConnectorError(
                f"the ga4 connection has no report {', '.join(map(repr, unknown))}",
                hint=f"use one of: {', '.join(reports)}, or add the report under `reports:`",
            )
        now = self._now()
        for name in streams:
            yield from read_report(
                self.client, self.config, reports[name], state.get(name) or {}, now
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def mapping_file() -> Path:
    """``mappings/ga4.yaml``, wherever the ``mappings`` package data is installed."""
    return shipped_mapping(MAPPING_NAME)


@hookimpl
def hub_register_connectors(register: Callable[[type[Any]], None]) -> None:
    """The ``ga4`` source connector."""
    register(GA4Connector)


@hookimpl
def hub_register_destinations(register: Callable[[type[Any]], None]) -> None:
    """``ga4-measurement``: conversions GA4 did not see, as Measurement Protocol purchases."""
    from .measurement import GA4MeasurementDestination

    register(GA4MeasurementDestination)


@hookimpl
def hub_register_mappings(register: Callable[[Path], None]) -> None:
    """``mappings/ga4.yaml``: traffic -> click, purchases -> conversion, items -> items."""
    register(mapping_file())


@contextmanager
def _sandbox() -> Iterator[dict[str, Any]]:
    """A local fake GA4 property with 60 days of traffic, purchases and items, for ``hub demo``.

    It signs in like production: with a service-account key, at its own token endpoint.
    """
    from .sandbox import GA4Sandbox

    with GA4Sandbox() as ga4:
        yield {
            "connector": "ga4",
            "config": {
                "property_id": ga4.property_id,
                "service_account_key": orjson.dumps(ga4.service_account_info()).decode(),
                "start_date": ga4.first.isoformat(),
                "timezone": ga4.time_zone,
                "base_url": ga4.url,
                "token_url": f"{ga4.url}/token",
            },
        }


@hookimpl
def hub_register_sandboxes(register: Callable[..., None]) -> None:
    """``ga4``: a local fake GA4 property (connectors/ga4/sandbox)."""
    register("ga4", _sandbox)
