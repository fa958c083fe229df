"""The contract between the hub and a connector, modelled on the Airbyte protocol.

A source connector class declares its config model (``config_model``, with
secrets as ``SecretStr``) and is built from a validated config. It then
answers ``check()``, ``discover()`` and ``read(streams, state)``; ``read``
yields :class:`Record` messages and, after each page or chunk, a
:class:`Checkpoint` for the stream. The runner commits the records before a
checkpoint and the checkpoint's state in one transaction, so a crash at any
point re-reads at most one page and never loses or duplicates a row.

A destination pushes canonical rows back out through ``write``; it must be
idempotent (running it twice changes nothing the second time) and honour
``dry_run``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel
from sqlalchemy import select

if TYPE_CHECKING:
    from hub.store import Store


@dataclass(frozen=True)
class Stream:
    """One stream a source offers: its key, its cursor and the shape of its records."""

    name: str
    primary_key: tuple[str, ...]
    cursor_field: str | None = None
    json_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    description: str = ""

    @property
    def incremental(self) -> bool:
        return self.cursor_field is not None


@dataclass(frozen=True, slots=True)
class Record:
    """One source record of ``stream``, as the source returned it (JSON-like)."""

    stream: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Everything of ``stream`` yielded so far is covered by ``state``."""

    stream: str
    state: dict[str, Any]


Message = Record | Checkpoint


class Connector(ABC):
    """A source: reads records of one system, incrementally where it can."""

    #: The name connections use in ``hub.yaml`` (``connector: shopify``).
    name: ClassVar[str]
    #: The pydantic model of this connector's ``config:`` block.
    config_model: ClassVar[type[BaseModel]]
    #: One line for ``hub connectors``.
    summary: ClassVar[str] = ""

    def __init__(self, config: BaseModel, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.transport = transport

    @classmethod
    def spec(cls) -> type[BaseModel]:
        """The config model; its JSON schema documents every option."""
        return cls.config_model

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        """The streams this connector always offers (``discover`` may add more)."""
        return ()

    @abstractmethod
    def check(self) -> None:
        """Prove the config works (credentials, reachability); raise a HubError if not."""

    def discover(self) -> Sequence[Stream]:
        """The streams available with this config."""
        return self.streams()

    @abstractmethod
    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        """Yield records of ``streams`` newer than ``state``, with a checkpoint per page."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections; called once after the run."""


@dataclass
class WriteResult:
    """What a destination did with the rows it was given."""

    sent: int = 0
    unchanged: int = 0
    failed: int = 0
    planned: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for people: the counts, each planned request, each error."""
        lines = [f"{self.sent} sent, {self.unchanged} unchanged, {self.failed} failed"]
        lines += [f"  planned: {request}" for request in self.planned]
        lines += [f"  error: {error}" for error in self.errors]
        return "\n".join(lines)


class Destination(ABC):
    """Pushes canonical rows out to a system (validations, discount codes, conversions)."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    summary: ClassVar[str] = ""
    #: The canonical entity this destination consumes (``conversion``, ``offer`` ...).
    entity: ClassVar[str]

    def __init__(self, config: BaseModel, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.transport = transport

    @classmethod
    def spec(cls) -> type[BaseModel]:
        return cls.config_model

    @abstractmethod
    def check(self) -> None:
        """Prove the config works; raise a HubError if not."""

    @abstractmethod
    def write(self, rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False) -> WriteResult:
        """Push ``rows`` out idempotently; with ``dry_run`` only plan and report."""

    def push(
        self,
        store: Store,
        *,
        tenant: str,
        dry_run: bool = False,
        rows: Iterable[Mapping[str, Any]] | None = None,
    ) -> WriteResult:
        """Write the stored ``entity`` rows of ``tenant`` (what ``hub push`` runs).

        ``rows`` are the rows of ``hub push --input FILE`` (:mod:`hub.rowfile`),
        written instead of the stored ones. Override to choose rows more
        narrowly or to record what was created back on the rows
        (``Store.record_links``).
        """
        if rows is not None:
            return self.write(rows, dry_run=dry_run)
        table = store.table(self.entity)
        query = select(table).where(table.c.tenant == tenant).order_by(table.c.id)
        with store.transaction() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        return self.write(rows, dry_run=dry_run)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections."""
