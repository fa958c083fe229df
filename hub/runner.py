"""One sync run: read -> map -> validate -> upsert -> checkpoint.

Records stream through in batches, so memory does not grow with the size of
the source. Rows before a checkpoint and the checkpoint's state are committed
in one transaction; rows may also be committed early when a batch fills up,
which is safe because upserts are idempotent. A crash anywhere therefore
re-reads at most what came after the last checkpoint and ends, after a re-run,
exactly where a clean sync would.

A record that cannot be mapped or validated goes to quarantine with the reason
and the run goes on, until the connection's quarantine policy says too many did.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from hub.config import ConnectionConfig, HubConfig, QuarantinePolicy, resolve_connector_config
from hub.connector import Checkpoint, Connector, Message, Stream
from hub.errors import (
    ConfigError,
    HubError,
    Problem,
    QuarantineThresholdError,
    RecordError,
    UnknownConnectorError,
)
from hub.failpoints import failpoint
from hub.history import (
    Quarantined,
    RunCounts,
    RunStatus,
    add_to_quarantine,
    close_abandoned_runs,
    count_quarantine,
    finish_run,
    list_quarantine,
    record_key,
    refresh_reason,
    resolve_by_keys,
    resolve_quarantined,
    start_run,
    update_run,
)
from hub.locks import connection_lock
from hub.mapping import CompiledMapping, Mappings, load_mappings
from hub.plugins import Registry, get_registry
from hub.prefetch import Prefetch
from hub.redaction import redact
from hub.schema.rows import validate_row
from hub.state import load_state, save_state
from hub.store import DEFAULT_BATCH_SIZE, PreparedRow, Store
from hub.yamlfile import format_location, line_at

log = logging.getLogger(__name__)

Row = tuple[str, dict[str, Any]]

#: Messages a connector reads ahead while the runner maps and writes (a Shopify page is
#: 250): the next request is under way while a page is processed, and memory stays
#: bounded (hub.prefetch).
DEFAULT_READ_AHEAD = 256


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays."""

    connection: str
    stream: str
    records: int
    quarantined: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class RunResult:
    """How a run ended and what it moved."""

    run_id: int
    connection: str
    status: str
    counts: RunCounts
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.SUCCEEDED


@dataclass
class Plan:
    """Everything a run needs, resolved and checked before it starts."""

    name: str
    settings: ConnectionConfig
    connector: Connector
    streams: list[str]
    mappings: dict[str, CompiledMapping]
    policy: QuarantinePolicy
    #: stream -> primary key fields (from discover), to match quarantined records
    primary_keys: dict[str, tuple[str, ...]]


def normalize(
    mapping: CompiledMapping,
    record: dict[str, Any],
    *,
    tenant: str,
    connection: str,
    synced_at: datetime,
) -> list[Row]:
    """Map one source record and validate every row it yields; RecordError if any fails."""
    rows = mapping(record, tenant=tenant, connection=connection)
    validated: list[Row] = []
    for entity, row in rows:
        row["synced_at"] = synced_at
        if row.get("tenant") != tenant or row.get("connection") != connection:
            raise RecordError(f"{entity} row was not written for tenant {tenant!r}")
        try:
            validated.append((entity, validate_row(entity, row)))
        except ValidationError as exc:
            raise RecordError(_describe(entity, exc)) from None
    return validated


def _describe(entity: str, error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(p) for p in item["loc"]) or "(row)"
        value = _short_repr(item.get("input"))
        parts.append(f"{entity}.{location}: {item['msg']} (got {value})")
    return "; ".join(parts)


def _short_repr(value: object) -> str:
    """``repr(value)`` in at most 60 characters (a number too long to print is said so)."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more than 4300 digits
        return "a number too long to show"
    return text if len(text) <= 60 else text[:57] + "..."


def open_connector(
    hub: HubConfig,
    name: str,
    *,
    registry: Registry | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Connector:
    """Build the connector of connection ``name`` from its validated config."""
    registry = registry or get_registry()
    settings = hub.connection(name)
    try:
        connector_class = registry.connector(settings.connector)
    except UnknownConnectorError as exc:  # name the file and the line, like hub validate
        location = ("connections", name, "connector")
        raise ConfigError(
            [
                Problem(
                    str(hub.path),
                    format_location(location),
                    exc.message,
                    line_at(hub._document, location),
                    exc.hint,
                )
            ]
        ) from None
    config = resolve_connector_config(hub, name, connector_class.config_model)
    return connector_class(config, transport=transport)


class _Batch:
    """Rows and quarantined records waiting for the next commit."""

    def __init__(self) -> None:
        # entity -> rows prepared for the store (fill rows only fill gaps: Store.upsert)
        self.rows: dict[str, list[PreparedRow]] = {}
        self.quarantined: list[Quarantined] = []
        # stream -> keys of records stored fine (resolve their quarantine entries)
        self.stored_keys: dict[str, list[str]] = {}
        self.size = 0

    def add(self, rows: Sequence[tuple[str, PreparedRow]]) -> None:
        for entity, row in rows:
            self.rows.setdefault(entity, []).append(row)
        self.size += len(rows)

    def quarantine(self, item: Quarantined) -> None:
        self.quarantined.append(item)
        self.size += 1

    def clear(self) -> None:
        self.rows.clear()
        self.quarantined.clear()
        self.stored_keys.clear()
        self.size = 0


class SyncRunner:
    """Runs syncs of the connections in one hub config against one store."""

    def __init__(
        self,
        hub: HubConfig,
        store: Store,
        *,
        registry: Registry | None = None,
        mappings: Mappings | None = None,
        transport: httpx.BaseTransport | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Callable[[Progress], None] | None = None,
        stop: threading.Event | None = None,
        lock_wait: float = 0.0,
        read_ahead: int = DEFAULT_READ_AHEAD,
    ) -> None:
        self.hub = hub
        self.store = store
        self.registry = registry or get_registry()
        self._mappings = mappings
        self.transport = transport
        self.batch_size = batch_size
        self.progress = progress
        self.stop = stop or threading.Event()
        self.lock_wait = lock_wait
        #: messages the connector may read ahead of the writer (0: none, no thread)
        self.read_ahead = read_ahead

    @property
    def mappings(self) -> Mappings:
        if self._mappings is None:
            self._mappings = load_mappings(self.hub.mappings)
        return self._mappings

    def plan(self, name: str, streams: Sequence[str] | None = None) -> Plan:
        """Resolve connector, config, streams and mappings; ConfigError before anything runs."""
        settings = self.hub.connection(name)
        connector = open_connector(self.hub, name, registry=self.registry, transport=self.transport)
        available: dict[str, Stream] = {s.name: s for s in connector.discover()}
        # By default every stream a mapping normalizes; a stream no mapping knows
        # (Shopify customers in schema v1) is read only when asked for by name.
        mapped = [s for s in available if self.mappings.has(settings.connector, s)]
        wanted = list(streams or settings.streams or mapped or available)
        where = f"connections.{name}.streams"
        problems = [
            Problem(
                file=str(self.hub.path),
                location=where,
                message=f"connector {settings.connector!r} has no stream {stream!r}",
                hint=f"use one of: {', '.join(sorted(available))}",
            )
            for stream in wanted
            if stream not in available
        ]
        problems += [
            Problem(
                file=str(self.hub.path),
                location=where,
                message=f"no mapping normalizes stream {stream!r} "
                f"of connector {settings.connector!r}",
                hint="add the stream to a mapping file listed under `mappings:` in the config "
                "(see docs/mapping.md), or leave the stream out",
            )
            for stream in wanted
            if stream in available and not self.mappings.has(settings.connector, stream)
        ]
        if problems:
            connector.close()
            raise ConfigError(problems)
        compiled = {
            stream: self.mappings.compile(
                settings.connector,
                stream,
                settings.mapping_overrides.get(stream),
                origin=str(self.hub.path),
            )
            for stream in wanted
        }
        return Plan(
            name,
            settings,
            connector,
            wanted,
            compiled,
            self.hub.quarantine_policy(name),
            {stream: tuple(available[stream].primary_key) for stream in wanted},
        )

    def sync(
        self, name: str, *, full_refresh: bool = False, streams: Sequence[str] | None = None
    ) -> RunResult:
        """Run one sync of connection ``name``; a HubError ends it as a failed run."""
        plan = self.plan(name, streams)
        started = time.monotonic()
        try:
            with connection_lock(self.store, name, wait=self.lock_wait):
                with self.store.transaction() as db:
                    close_abandoned_runs(db, name)
                    run_id = start_run(
                        db,
                        name=name,
                        tenant=plan.settings.tenant,
                        connector=plan.settings.connector,
                        full_refresh=full_refresh,
                    )
                failpoint("runner.run_started")
                counts = RunCounts()
                for stream in plan.streams:
                    counts.stream(stream)
                log.info("run %s of %s started: streams %s", run_id, name, ", ".join(plan.streams))
                try:
                    status = self._run(plan, run_id, counts, full_refresh, started)
                except HubError as exc:
                    message = redact(str(exc))
                    log.error("run %s of %s failed: %s", run_id, name, message)
                    with self.store.transaction() as db:
                        finish_run(db, run_id, RunStatus.FAILED, counts, message)
                    return RunResult(
                        run_id, name, RunStatus.FAILED, counts, time.monotonic() - started, message
                    )
                except BaseException as exc:
                    message = redact(f"internal error: {type(exc).__name__}: {exc}")
                    with self.store.transaction() as db:
                        finish_run(db, run_id, RunStatus.FAILED, counts, message)
                    raise
                with self.store.transaction() as db:
                    finish_run(db, run_id, status, counts)
                log.info(
                    "run %s of %s %s: %d records, %d quarantined",
                    run_id,
                    name,
                    status,
                    counts.records,
                    counts.quarantined,
                )
                return RunResult(run_id, name, status, counts, time.monotonic() - started)
        finally:
            plan.connector.close()

    def _run(
        self, plan: Plan, run_id: int, counts: RunCounts, full_refresh: bool, started: float
    ) -> str:
        with self.store.transaction() as db:
            state = {} if full_refresh else load_state(db, plan.name)
            # only when something waits in quarantine are good records matched against it
            waiting = count_quarantine(db, plan.name) > 0
        batch = _Batch()
        messages: Iterator[Message] = plan.connector.read(
            plan.streams, {s: state[s] for s in plan.streams if s in state}
        )
        # The connector reads a bounded way ahead in a thread of its own, so the API's
        # round trips are waited out while this thread maps, validates and writes
        # (ADR 0015: a second thread for the mapping only adds GIL contention).
        if self.read_ahead > 0:
            messages = Prefetch(
                messages, max_items=self.read_ahead, flush=_is_checkpoint, name=f"read {plan.name}"
            )
        items = _normalized(plan, messages, self.store, synced_at=datetime.now(UTC), keys=waiting)
        try:
            for item in items:
                if isinstance(item, _Normalized):
                    stream = item.stream
                    stream_counts = counts.stream(stream)
                    stream_counts["records"] += 1
                    if item.error is not None:
                        stream_counts["quarantined"] += 1
                        batch.quarantine(
                            Quarantined(stream, item.record or {}, item.error, item.key)
                        )
                    else:
                        batch.add(item.rows)
                        if waiting and item.key is not None:
                            batch.stored_keys.setdefault(stream, []).append(item.key)
                    if batch.size >= self.batch_size:
                        self._flush(plan, run_id, batch, counts, None)
                        self._report(plan.name, stream, counts, started)
                else:
                    self._flush(plan, run_id, batch, counts, item)
                    self._report(plan.name, item.stream, counts, started)
                    failpoint("runner.checkpoint")
                    if self.stop.is_set():
                        log.warning(
                            "run %s of %s stopped at a checkpoint on request", run_id, plan.name
                        )
                        return RunStatus.INTERRUPTED
            self._flush(plan, run_id, batch, counts, None)
        finally:
            _close(items)
        return RunStatus.SUCCEEDED

    def _flush(
        self,
        plan: Plan,
        run_id: int,
        batch: _Batch,
        counts: RunCounts,
        checkpoint: Checkpoint | None,
    ) -> None:
        # Past the quarantine threshold the run fails without moving its cursor,
        # so the next run (after a mapping fix) reads those records again.
        too_many = plan.policy.exceeded(counts.quarantined, counts.records)
        failpoint("runner.batch_ready")
        with self.store.transaction() as db:
            for entity, rows in batch.rows.items():
                written = self.store.write(db, entity, rows)
                counts.entities[entity] = counts.entities.get(entity, 0) + written
            add_to_quarantine(
                db,
                batch.quarantined,
                run_id=run_id,
                name=plan.name,
                tenant=plan.settings.tenant,
                source=plan.settings.connector,
            )
            # a record stored fine resolves its older quarantine entries, unless a
            # version of it failed in this very batch (conservative: stays open)
            failed_now = {(item.stream, item.key) for item in batch.quarantined}
            for stream, keys in batch.stored_keys.items():
                good = [key for key in keys if (stream, key) not in failed_now]
                resolve_by_keys(db, plan.name, stream, good)
            failpoint("runner.quarantined")
            if checkpoint is not None and not too_many:
                failpoint("runner.before_state")
                save_state(db, plan.name, checkpoint.stream, checkpoint.state)
                failpoint("runner.after_state")
            update_run(db, run_id, counts)
            failpoint("runner.before_commit")
        failpoint("runner.committed")
        batch.clear()
        if too_many:
            raise QuarantineThresholdError(
                f"{counts.quarantined} of {counts.records} records were quarantined, more than "
                f"the allowed share of {plan.policy.max_ratio:.0%}; the cursor was not moved",
                hint=f"see `hub quarantine list {plan.name}`, fix the mapping or the source and "
                "sync again; or raise `quarantine.max_ratio` in the config",
            )

    def _report(self, name: str, stream: str, counts: RunCounts, started: float) -> None:
        if self.progress is not None:
            self.progress(
                Progress(
                    name, stream, counts.records, counts.quarantined, time.monotonic() - started
                )
            )


@dataclass(slots=True)
class _Normalized:
    """A record with its rows validated and converted for the store, or why it failed."""

    stream: str
    #: (entity, row converted for the driver)
    rows: list[tuple[str, PreparedRow]]
    #: the record itself only when it goes to quarantine (memory: rows are enough)
    record: dict[str, Any] | None = None
    error: str | None = None
    #: the record's primary key, when quarantine needs it (a failure, or entries waiting)
    key: str | None = None


def _normalized(
    plan: Plan, messages: Iterator[Message], store: Store, *, synced_at: datetime, keys: bool
) -> Iterator[_Normalized | Checkpoint]:
    """Each record of ``messages`` mapped, validated and prepared for the store;
    checkpoints passed on as they come."""
    tenant, source = plan.settings.tenant, plan.settings.connector
    try:
        for message in messages:
            if isinstance(message, Checkpoint):
                yield message
                continue
            failpoint("runner.record")
            mapping = plan.mappings.get(message.stream)
            if mapping is None:
                raise HubError(
                    f"connector {source!r} yielded a record of stream "
                    f"{message.stream!r}, which was not requested",
                    hint="this is a bug in the connector; report it to its authors",
                )
            try:
                rows = normalize(
                    mapping, message.data, tenant=tenant, connection=plan.name, synced_at=synced_at
                )
            except RecordError as exc:
                key = record_key(message.data, plan.primary_keys[message.stream])
                yield _Normalized(message.stream, [], message.data, exc.message, key)
            else:
                fill = mapping.fill_entities
                prepared = [
                    (entity, store.prepare(entity, row, fill=entity in fill))
                    for entity, row in rows
                ]
                key = record_key(message.data, plan.primary_keys[message.stream]) if keys else None
                yield _Normalized(message.stream, prepared, None, None, key)
    finally:
        _close(messages)


def _is_checkpoint(item: object) -> bool:
    return isinstance(item, Checkpoint)


def _close(messages: Iterator[Any]) -> None:
    close = getattr(messages, "close", None)
    if close is not None:
        close()


@dataclass
class ReplayResult:
    """What a quarantine replay did."""

    resolved: int = 0
    still_failing: int = 0
    reasons: dict[str, str] = field(default_factory=dict)


def replay_quarantine(
    hub: HubConfig,
    store: Store,
    mappings: Mappings,
    *,
    name: str | None = None,
    stream: str | None = None,
) -> ReplayResult:
    """Map quarantined records again (after a mapping fix); store and resolve those that pass."""
    result = ReplayResult()
    compiled: dict[tuple[str, str, str], CompiledMapping] = {}
    synced_at = datetime.now(UTC)
    with store.transaction() as db:
        waiting = list_quarantine(db, name=name, stream=stream)
    for item in waiting:
        connection = item["connection"]
        settings = hub.connections.get(connection)
        if settings is None:
            result.still_failing += 1
            result.reasons[item["id"]] = f"connection {connection!r} is no longer in the config"
            continue
        if (settings.tenant, settings.connector) != (item["tenant"], item["source"]):
            # the connection now belongs to another tenant or connector: its overrides
            # must not decide the rows of the record's own tenant
            result.still_failing += 1
            result.reasons[item["id"]] = (
                f"connection {connection!r} is now {settings.connector!r} of tenant "
                f"{settings.tenant!r}, not {item['source']!r} of tenant {item['tenant']!r}; "
                "sync the records again from their source instead"
            )
            continue
        key = (connection, item["source"], item["stream"])  # overrides are per connection
        if key not in compiled:
            compiled[key] = mappings.compile(
                item["source"],
                item["stream"],
                settings.mapping_overrides.get(item["stream"]),
                origin=str(hub.path),
            )
        with store.transaction() as db:
            try:
                rows = normalize(
                    compiled[key],
                    item["record"],
                    tenant=item["tenant"],
                    connection=connection,
                    synced_at=synced_at,
                )
            except RecordError as exc:
                refresh_reason(db, item["id"], exc.message)
                result.still_failing += 1
                result.reasons[item["id"]] = exc.message
                continue
            fill = compiled[key].fill_entities
            grouped: dict[str, list[PreparedRow]] = {}
            for entity, row in rows:
                prepared_row = store.prepare(entity, row, fill=entity in fill)
                grouped.setdefault(entity, []).append(prepared_row)
            for entity, prepared in grouped.items():
                store.write(db, entity, prepared)
            resolve_quarantined(db, [item["id"]])
            result.resolved += 1
    return result
