"""The shape of ``hub.yaml``: tenants, connections, quarantine policy, database.

Every level the hub owns is a pydantic model with ``extra="forbid"``, so a
misspelt key is an error instead of a silently ignored setting. A
connection's ``config:`` block stays open here: it belongs to the connector
and is checked by :func:`hub.config.resolve_connector_config`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.config.problems import Loc, did_you_mean
from hub.config.schedule import validate_schedule
from hub.errors import ConfigError, Problem
from hub.yamlfile import line_at

DEFAULT_FILE_NAME = "hub.yaml"

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise PydanticCustomError(
            "slug",
            f"{value!r} is not a valid name: use only letters, digits, '-' and '_', "
            "start with a letter or digit, at most 64 characters",
        )
    return value


#: A connection or tenant name: safe in file names, URLs, log lines and SQL values.
Slug = Annotated[str, AfterValidator(_check_slug)]


class TenantConfig(BaseModel):
    """A participant of the ecosystem whose connections produce rows tagged with it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Display name, e.g. Nordlicht Outdoor.")


class QuarantinePolicy(BaseModel):
    """When quarantined (unmappable or invalid) records make a whole run fail.

    A run fails when more than ``max_ratio`` of its records were quarantined,
    but only once at least ``min_records`` were seen, so one bad record out of
    three does not fail a small run.
    """

    model_config = ConfigDict(extra="forbid")

    max_ratio: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Largest share of quarantined records (0..1) a run may have and pass.",
    )
    min_records: int = Field(
        default=100,
        ge=0,
        description="Records a run must have seen before max_ratio is enforced.",
    )

    def exceeded(self, quarantined: int, seen: int) -> bool:
        """True when ``quarantined`` out of ``seen`` records should fail the run."""
        if seen <= 0 or seen < self.min_records:
            return False
        return quarantined / seen > self.max_ratio


class ConnectionConfig(BaseModel):
    """One connection: a connector, the tenant it belongs to, its config and schedule."""

    model_config = ConfigDict(extra="forbid")

    connector: str = Field(
        min_length=1, description="The installed connector to use; `hub connectors` lists them."
    )
    tenant: Slug = Field(description="A tenant declared under `tenants:`.")
    schedule: str | None = Field(
        default=None, description="Cron expression (5 fields, UTC); none means manual runs only."
    )
    enabled: bool = Field(default=True, description="false keeps it out of the scheduler.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The connector's own settings; ${VAR} is taken from the environment.",
    )
    streams: list[str] | None = Field(
        default=None, description="Streams to sync; omitted means every stream."
    )
    mapping_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per stream, a partial stream mapping merged over the shipped one.",
    )
    quarantine: QuarantinePolicy | None = Field(
        default=None, description="Overrides the top-level quarantine policy, key by key."
    )
    push: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per destination (`hub push <destination> -c <this connection>`), settings "
        "added to `config:` for that destination only, e.g. a separate API key.",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else validate_schedule(value)

    @field_validator("streams")
    @classmethod
    def _streams(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise PydanticCustomError(
                "empty_streams", "an empty list would sync nothing; remove the key to sync all", {}
            )
        repeated = sorted({s for s in value if value.count(s) > 1})
        if repeated:
            raise PydanticCustomError(
                "repeated_streams", "stream(s) listed twice: {names}", {"names": repeated}
            )
        return value


#: The database backends the store supports (hub.store.Store).
SUPPORTED_DATABASES = ("sqlite", "postgresql")


def _check_database_url(value: str) -> str:
    try:
        backend = make_url(value).get_backend_name()
    except (ArgumentError, ValueError):
        # The URL may hold a password: never echo it.
        raise PydanticCustomError("database_url", "not a database URL", {}) from None
    if backend not in SUPPORTED_DATABASES:
        # Found at load time, so `hub validate` reports it with its line, not the first sync.
        raise PydanticCustomError("database_url", f"the {backend!r} database is not supported", {})
    return value


#: Broker URL schemes the workers accept (Celery through kombu).
SUPPORTED_BROKERS = ("redis", "rediss", "amqp", "amqps", "pyamqp")


def _check_broker_url(value: str | None) -> str | None:
    if value is None or value.startswith("${"):  # taken from the environment when used
        return value
    scheme, separator, _ = value.partition("://")
    if not separator or scheme not in SUPPORTED_BROKERS:
        # The URL may hold a password: name the scheme only.
        shown = scheme if separator else "(none)"
        raise PydanticCustomError(
            "broker_url",
            f"the broker scheme {shown!r} is not supported: use redis://host:6379/0 or "
            "amqp://user:password@host:5672//, or ${{VAR}} to take it from the environment",
            {},
        )
    return value


class WorkersConfig(BaseModel):
    """Celery workers (`hub worker`) and where syncs are enqueued (`hub sync --enqueue`).

    The broker URL may be a ``${VAR}`` reference (it usually holds a password);
    it is substituted and registered as a secret when a worker or an enqueue
    connects, never printed.
    """

    model_config = ConfigDict(extra="forbid")

    broker_url: Annotated[str | None, AfterValidator(_check_broker_url)] = Field(
        default=None,
        description="Redis (redis://host:6379/0) or RabbitMQ (amqp://user:pw@host:5672//) URL; "
        "${VAR} takes it from the environment.",
    )
    queue: Slug = Field(default="hub", description="The queue syncs are sent to and read from.")
    concurrency: int = Field(
        default=2, ge=1, le=256, description="Syncs one worker process runs at once (threads)."
    )
    prefetch_multiplier: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Tasks a worker reserves per thread; 1 keeps long syncs from waiting "
        "behind a busy worker while another is idle.",
    )
    task_time_limit: int | None = Field(
        default=None,
        ge=1,
        description="Seconds after which a sync task is killed (hard limit); none means no limit.",
    )
    lock_wait: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a task waits for a connection already being synced before it is "
        "skipped.",
    )
    visibility_timeout: int = Field(
        default=3600,
        ge=1,
        description="Redis only: seconds before a task taken by a worker that died is delivered "
        "again; keep it above the longest sync (a duplicate is skipped by the run lock).",
    )
    distributed: bool = Field(
        default=False,
        description="true makes `hub scheduler` enqueue due connections for the workers "
        "instead of running them itself.",
    )


class HubConfig(BaseModel):
    """The whole config file, plus the path it was read from."""

    model_config = ConfigDict(extra="forbid")

    database: Annotated[str, AfterValidator(_check_database_url)] = Field(
        default="sqlite:///hub.db",
        description="SQLAlchemy URL; a relative SQLite path is relative to the config file.",
    )
    tenants: dict[Slug, TenantConfig] = Field(default_factory=dict)
    mappings: list[Path] = Field(
        default_factory=list, description="Extra mapping files, relative to the config file."
    )
    quarantine: QuarantinePolicy = Field(default_factory=QuarantinePolicy)
    connections: dict[Slug, ConnectionConfig] = Field(default_factory=dict)
    workers: WorkersConfig = Field(default_factory=WorkersConfig)
    #: The file this config came from (not a key of the file).
    path: Path = Field(default=Path(DEFAULT_FILE_NAME), exclude=True)

    #: The file as parsed by hub.yamlfile (YDict with lines); None when built in code.
    _document: Any = PrivateAttr(default=None)

    @field_validator("tenants", mode="before")
    @classmethod
    def _bare_tenants(cls, value: Any) -> Any:
        # `tenants: {acme: }` (no display name) is a tenant with defaults.
        if isinstance(value, Mapping):
            return {key: ({} if item is None else item) for key, item in value.items()}
        return value

    def line_of(self, location: Loc) -> int | None:
        """The file line of ``location`` (or of its nearest parent present in the file)."""
        return line_at(self._document, location)

    def connection(self, name: str) -> ConnectionConfig:
        """The connection called ``name``; a :class:`ConfigError` lists the known ones."""
        try:
            return self.connections[name]
        except KeyError:
            pass
        known = sorted(self.connections)
        hint = did_you_mean(name, known)
        listing = ", ".join(known) if known else "(none: add one under `connections:`)"
        raise ConfigError(
            [
                Problem(
                    file=str(self.path),
                    location="connections",
                    message=f"no connection is called {name!r}",
                    line=line_at(self._document, ("connections",)),
                    hint=f"{hint}use one of: {listing}",
                )
            ]
        )

    def quarantine_policy(self, name: str) -> QuarantinePolicy:
        """The policy for connection ``name``: its own keys over the top-level defaults."""
        override = self.connection(name).quarantine
        if override is None:
            return self.quarantine
        changed = {key: getattr(override, key) for key in override.model_fields_set}
        return self.quarantine.model_copy(update=changed)

    def database_url(self) -> str:
        """The database URL, with a relative SQLite path made absolute.

        The path is relative to the config file's directory (not the working
        directory), so ``hub sync`` and the scheduler find the same database
        wherever they are started from. In-memory SQLite is kept as it is.
        """
        url = make_url(self.database)
        database = url.database
        if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return self.database
        if database.startswith("file:"):  # SQLite URI filenames are left to the user
            return self.database
        path = Path(database).expanduser()
        if not path.is_absolute():
            path = self.path.parent.absolute() / path
        return url.set(database=str(path)).render_as_string(hide_password=False)
