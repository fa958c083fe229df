"""The ``hub`` command: a thin layer over config, plugins, runner and scheduler.

Errors print as one readable message (``--debug`` shows the traceback);
secrets never reach the terminal.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import hub.lean_imports  # noqa: F401 - before anything imports httpx
from hub import gc_tuning
from hub.config import (
    HubConfig,
    check_config,
    find_config_path,
    load_config,
    resolve_connector_config,
)
from hub.errors import ConfigError, HubError, InputFileError, Problem
from hub.history import count_quarantine, list_quarantine, list_runs
from hub.mapping import load_mappings
from hub.plugins import get_registry
from hub.reader import TenantReader
from hub.redaction import install_log_redaction, redact
from hub.runner import (
    DEFAULT_READ_AHEAD,
    Progress,
    RunResult,
    SyncRunner,
    open_connector,
    replay_quarantine,
)
from hub.state import load_state, reset_state
from hub.store import DEFAULT_BATCH_SIZE, Store

app = typer.Typer(
    help="Partner Ecosystem Hub: pull, normalize and push partner-marketing data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
state_app = typer.Typer(help="Show or reset the incremental cursors of a connection.")
quarantine_app = typer.Typer(help="Records that failed mapping: list them, replay them.")
app.add_typer(state_app, name="state")
app.add_typer(quarantine_app, name="quarantine")
db_app = typer.Typer(help="The database schema: upgrade it, show its revision.")
app.add_typer(db_app, name="db")

# Piped output (logs, CI) gets wide tables instead of rich's 80-column default.
_PIPE_WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, soft_wrap=True, width=_PIPE_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, width=_PIPE_WIDTH)


class _Options:
    config: str | None = None
    debug: bool = False


options = _Options()


@app.callback()
def _main(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: $HUB_CONFIG, else ./hub.yaml)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info logs.")] = False,
) -> None:
    options.config = config
    options.debug = debug
    _setup_logging(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is at the time of each log line."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_log_handler = _StderrHandler()
_log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


def _setup_logging(level: int) -> None:
    """Log lines to stderr; every handler, this one included, redacts secrets."""
    root = logging.getLogger()
    if _log_handler not in root.handlers:
        root.addHandler(_log_handler)
    logging.getLogger("hub").setLevel(level)
    logging.getLogger("connectors").setLevel(level)
    install_log_redaction()


def _fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {redact(message)}", soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn HubErrors (and, without --debug, any error) into one readable message."""
    try:
        yield
    except typer.Exit:
        raise
    except HubError as exc:
        if options.debug:
            err_console.print(redact(traceback.format_exc()))
        _fail(str(exc))
    except Exception as exc:
        if options.debug:
            err_console.print(redact(traceback.format_exc()))
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")


def _config() -> HubConfig:
    return load_config(find_config_path(options.config))


def _store(hub: HubConfig) -> Store:
    store = Store(hub.database_url())
    store.create_all()
    return store


@app.command()
def connectors(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List installed connectors with their package, version and streams."""
    with _errors():
        registry = get_registry()
        entries = [
            {
                "name": item.name,
                "kind": kind,
                "package": item.package,
                "version": item.version,
                "streams": [s.name for s in item.obj.streams()] if kind == "source" else [],
                "summary": item.obj.summary,
            }
            for kind, items in (
                ("source", registry.connectors),
                ("destination", registry.destinations),
            )
            for item in sorted(items.values(), key=lambda i: i.name)
        ]
        if as_json:
            console.print_json(json.dumps(entries))
        else:
            table = Table("connector", "kind", "package", "version", "streams", "summary")
            for entry in entries:
                table.add_row(
                    entry["name"],
                    entry["kind"],
                    entry["package"],
                    entry["version"],
                    ", ".join(entry["streams"]) or "-",
                    entry["summary"],
                )
            console.print(table)
        for plugin, reason in registry.failed.items():
            err_console.print(f"[yellow]warning:[/] plugin {plugin!r} failed to load: {reason}")


@app.command()
def spec(connector: Annotated[str, typer.Argument(help="Connector name.")]) -> None:
    """Print a connector's config schema (JSON Schema)."""
    with _errors():
        registry = get_registry()
        model = (
            registry.connector(connector)
            if connector in registry.connectors or connector not in registry.destinations
            else registry.destination(connector)
        ).config_model
        console.print_json(json.dumps(model.model_json_schema()))


@app.command()
def check(
    connection: Annotated[str, typer.Argument(help="Connection name from the config.")],
) -> None:
    """Check that a connection's credentials and settings work."""
    with _errors():
        connector = open_connector(_config(), connection)
        try:
            connector.check()
        finally:
            connector.close()
        console.print(f"[green]ok[/]: {connection} can reach its source")


@app.command()
def discover(connection: Annotated[str, typer.Argument(help="Connection name.")]) -> None:
    """List a connection's streams with primary key, cursor field and JSON schema."""
    with _errors():
        connector = open_connector(_config(), connection)
        try:
            streams = connector.discover()
        finally:
            connector.close()
        console.print_json(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "primary_key": list(s.primary_key),
                        "cursor_field": s.cursor_field,
                        "json_schema": s.json_schema,
                    }
                    for s in streams
                ]
            )
        )


def _progress_display() -> tuple[Callable[[Progress], None], Callable[[], None]]:
    """A live display on a terminal, plain log lines elsewhere."""
    if console.is_terminal:
        display = RichProgress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        )
        task = display.add_task("starting", total=None)
        display.start()

        def show(p: Progress) -> None:
            display.update(
                task,
                description=f"{p.connection} · {p.stream} · {p.records:,} records "
                f"({p.rate:,.0f}/s) · {p.quarantined} quarantined",
            )

        return show, display.stop

    last = [0.0]

    def log_line(p: Progress) -> None:
        if p.elapsed - last[0] >= 2.0:
            last[0] = p.elapsed
            print(
                f"{p.connection}: {p.stream}: {p.records} records ({p.rate:.0f}/s), "
                f"{p.quarantined} quarantined",
                file=sys.stderr,
            )

    return log_line, lambda: None


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM: finish at the next checkpoint. Second: abort at once."""

    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print(
            f"[yellow]{signal.Signals(signum).name}[/]: stopping at the next checkpoint "
            "(send it again to abort now)"
        )

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _summary(result: RunResult) -> None:
    colour = {"succeeded": "green", "interrupted": "yellow"}.get(result.status, "red")
    console.print(
        f"[bold]{result.connection}[/]: run {result.run_id} [{colour}]{result.status}[/] in "
        f"{result.seconds:.1f}s — {result.counts.records} records read, "
        f"{result.counts.quarantined} quarantined"
    )
    if result.counts.entities:
        table = Table("entity", "rows written")
        for entity, count in sorted(result.counts.entities.items()):
            table.add_row(entity, str(count))
        console.print(table)
    if result.counts.quarantined:
        console.print(f"  see them with: hub quarantine list {result.connection}")
    if result.error:
        err_console.print(f"[bold red]error:[/] {redact(result.error)}", soft_wrap=True)


@app.command()
def sync(
    connections: Annotated[
        list[str] | None, typer.Argument(help="Connections to sync (default: all enabled).")
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Ignore saved cursors and read everything.")
    ] = False,
    stream: Annotated[
        list[str] | None, typer.Option("--stream", "-s", help="Only these streams.")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows per database transaction at most.")
    ] = DEFAULT_BATCH_SIZE,
    read_ahead: Annotated[
        int,
        typer.Option(
            "--read-ahead",
            min=0,
            help="Records the connector may read ahead in a thread while rows are written "
            "(0: read and write in turn, in one thread).",
        ),
    ] = DEFAULT_READ_AHEAD,
    enqueue: Annotated[
        bool,
        typer.Option(
            "--enqueue",
            help="Send the syncs to the workers' queue (`hub worker`); run nothing here.",
        ),
    ] = False,
) -> None:
    """Sync connections now: read, normalize, store, checkpoint."""
    with _errors():
        hub = _config()
        names = connections or [n for n, c in hub.connections.items() if c.enabled]
        if not names:
            _fail(f"{hub.path}: no connections to sync; add one under `connections:`")
        if enqueue:
            if stream:
                _fail("--stream cannot be used with --enqueue: a queued sync syncs every stream")
            from hub.worker import enqueue as send

            for name, task_id in send(hub, names, full_refresh=full_refresh):
                console.print(f"{name}: enqueued as task {task_id}")
            return
        stop = threading.Event()
        ok = _sync_all(
            hub,
            names,
            stop=stop,
            batch_size=batch_size,
            read_ahead=read_ahead,
            full_refresh=full_refresh,
            streams=stream or None,
        )
        if not ok or stop.is_set():
            raise typer.Exit(1)


def _refused_before_start(runner: SyncRunner, names: list[str], streams: list[str] | None) -> None:
    """Raise the first problem when no connection of ``names`` could start a sync.

    Checked before the database is created or touched: a config or mapping
    that cannot run leaves nothing behind. When some can run, those run and
    the others are reported one by one.
    """
    first: HubError | None = None
    for name in names:
        try:
            plan = runner.plan(name, streams)
        except HubError as exc:
            first = first or exc
            continue
        plan.connector.close()
        return
    if first is not None:
        raise first


def _sync_all(
    hub: HubConfig,
    names: list[str],
    *,
    stop: threading.Event,
    batch_size: int = DEFAULT_BATCH_SIZE,
    read_ahead: int = DEFAULT_READ_AHEAD,
    full_refresh: bool = False,
    streams: list[str] | None = None,
) -> bool:
    """Sync ``names`` one after the other with a progress display and a summary each.

    The first SIGINT/SIGTERM stops at the next checkpoint; a second aborts.
    Returns whether every run succeeded.
    """
    store = Store(hub.database_url())  # no file or table yet: see _refused_before_start
    runner = SyncRunner(hub, store, stop=stop, batch_size=batch_size, read_ahead=read_ahead)
    ok = True
    try:
        _refused_before_start(runner, names, streams)
        store.create_all()
        with _stop_on_signals(stop):
            for name in names:
                if stop.is_set():
                    break
                runner.progress, done = _progress_display()
                try:
                    result = runner.sync(name, full_refresh=full_refresh, streams=streams)
                except HubError as exc:
                    if len(names) == 1:
                        raise
                    # one connection's bad config must not keep the others from syncing
                    if options.debug:
                        err_console.print(redact(traceback.format_exc()))
                    err_console.print(
                        f"[bold]{name}[/]: [bold red]not synced:[/] {redact(str(exc))}",
                        soft_wrap=True,
                    )
                    ok = False
                    continue
                finally:
                    done()
                _summary(result)
                ok = ok and result.ok
    except KeyboardInterrupt:
        _fail("aborted; the last checkpoint is kept, run `hub sync` again to resume", 130)
    finally:
        store.dispose()
    return ok


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo's hub.yaml and database go.")
    ] = Path("demo-data"),
    sandbox: Annotated[
        list[str] | None, typer.Option("--sandbox", help="Only these sandboxes.")
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the sandboxes running until Ctrl-C.")
    ] = False,
) -> None:
    """Start the local sandboxes of the installed connectors and sync them: no credentials."""
    from hub.demo import running_sandboxes, write_demo_config

    with _errors(), running_sandboxes(get_registry(), sandbox) as connections:
        if not connections:
            _fail("no installed connector ships a sandbox")
        config = write_demo_config(directory, connections)
        hub = load_config(config)
        stop = threading.Event()
        ok = _sync_all(hub, list(hub.connections), stop=stop)
        console.print(
            f"\nThe data is in {directory / 'hub.db'}. Explore it with "
            f"`export HUB_CONFIG={config}`, then `hub runs`, `hub quarantine list`, "
            "`hub state show <connection>`."
        )
        if serve and not stop.is_set():
            console.print("Sandboxes running (Ctrl-C stops them); `hub sync` works meanwhile.")
            with _stop_on_signals(stop):
                while not stop.wait(0.5):
                    pass
        if not ok:
            raise typer.Exit(1)


@app.command()
def push(
    destination: Annotated[str, typer.Argument(help="Destination name (`hub connectors`).")],
    connection: Annotated[
        str,
        typer.Option(
            "--connection", "-c", help="Connection whose tenant and config (credentials) to use."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send nothing.")
    ] = False,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="Push the rows of this .csv, .json or .jsonl file (decisions, for example) "
            "instead of the stored ones.",
        ),
    ] = None,
) -> None:
    """Push the stored rows of a connection's tenant (or an --input file) out through a destination.

    The destination's config is the connection's `config:` block, plus the
    connection's `push.<destination>:` block where one is given.
    """
    from hub.rowfile import read_rows

    with _errors():
        hub = _config()
        settings = hub.connection(connection)
        destination_class = get_registry().destination(destination)
        config = resolve_connector_config(
            hub, connection, destination_class.config_model, destination=destination
        )
        rows = read_rows(input_file) if input_file is not None else None
        store = _store(hub)
        target = destination_class(config)
        try:
            result = target.push(store, tenant=settings.tenant, dry_run=dry_run, rows=rows)
        finally:
            target.close()
            store.dispose()
        console.print(redact(result.summary()))
        if result.failed:
            raise typer.Exit(1)


_TENANT_HELP = "Only this tenant's: nothing of another tenant is shown."


def _tenant_reader(
    hub: HubConfig, store: Store, tenant: str, connection: str | None
) -> TenantReader:
    """A reader scoped to ``tenant``; ConfigError if ``connection`` is not one of its own."""
    reader = TenantReader.from_config(hub, store, tenant)
    if connection is not None and connection not in reader.connections:
        hub.connection(connection)  # an unknown name gets the usual "use one of" error
        raise ConfigError(
            [
                Problem(
                    file=str(hub.path),
                    location=f"connections.{connection}.tenant",
                    message=f"connection {connection!r} is not a connection of tenant {tenant!r}",
                    line=hub.line_of(("connections", connection, "tenant")),
                    hint=f"connections of {tenant}: {', '.join(reader.connections) or '(none)'}",
                )
            ]
        )
    return reader


@app.command()
def runs(
    connection: Annotated[str | None, typer.Argument(help="Only this connection.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 20,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help=_TENANT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the run history (of one connection, of one tenant)."""
    with _errors():
        hub = _config()
        store = _store(hub)
        if tenant is not None:
            rows = _tenant_reader(hub, store, tenant, connection).runs(
                connection=connection, limit=limit
            )
        else:
            with store.transaction() as db:
                rows = list_runs(db, name=connection, limit=limit)
        if as_json:
            console.print_json(json.dumps(rows, default=str))
            return
        table = Table(
            "run",
            "tenant",
            "connection",
            "status",
            "started (UTC)",
            "seconds",
            "records",
            "quarantined",
            "error",
        )
        for row in rows:
            counts = row["counts"] or {}
            streams = counts.get("streams", {})
            seconds = (
                f"{(row['finished_at'] - row['started_at']).total_seconds():.1f}"
                if row["finished_at"]
                else "-"
            )
            table.add_row(
                str(row["id"]),
                row["tenant"],
                row["connection"],
                row["status"],
                row["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
                seconds,
                str(sum(s.get("records", 0) for s in streams.values())),
                str(sum(s.get("quarantined", 0) for s in streams.values())),
                (row["error"] or "")[:80],
            )
        console.print(table)


@state_app.command("show")
def state_show(connection: Annotated[str, typer.Argument(help="Connection name.")]) -> None:
    """Print the saved cursor of each stream."""
    with _errors():
        hub = _config()
        hub.connection(connection)
        store = _store(hub)
        with store.transaction() as db:
            console.print_json(json.dumps(load_state(db, connection), default=str))


@state_app.command("reset")
def state_reset(
    connection: Annotated[str, typer.Argument(help="Connection name.")],
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Forget saved cursors: the next sync reads from the start date again."""
    with _errors():
        hub = _config()
        hub.connection(connection)
        if not yes:
            typer.confirm(f"Reset the cursors of {connection}?", abort=True)
        store = _store(hub)
        with store.transaction() as db:
            removed = reset_state(db, connection, stream)
        console.print(f"reset {removed} stream cursor(s) of {connection}")


@quarantine_app.command("list")
def quarantine_list(
    connection: Annotated[str | None, typer.Argument(help="Only this connection.")] = None,
    stream: Annotated[str | None, typer.Option("--stream", "-s")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help=_TENANT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Full records as JSON.")] = False,
) -> None:
    """List records waiting in quarantine, with the reason (of one connection, of one tenant)."""
    with _errors():
        hub = _config()
        store = _store(hub)
        if tenant is not None:
            reader = _tenant_reader(hub, store, tenant, connection)
            rows = reader.quarantine(connection=connection, stream=stream, limit=limit)
            total = reader.quarantine_count(connection=connection, stream=stream)
        else:
            with store.transaction() as db:
                rows = list_quarantine(db, name=connection, stream=stream, limit=limit)
                total = count_quarantine(db, connection) if connection else len(rows)
        if as_json:
            console.print_json(json.dumps(rows, default=str))
            return
        table = Table("id", "tenant", "connection", "stream", "run", "reason")
        for row in rows:
            table.add_row(
                row["id"][:12],
                row["tenant"],
                row["connection"],
                row["stream"],
                str(row["run_id"]),
                row["error"],
            )
        console.print(table)
        where = f" for tenant {tenant}" if tenant is not None else ""
        console.print(f"{total} record(s) in quarantine{where}")


@quarantine_app.command("replay")
def quarantine_replay(
    connection: Annotated[str | None, typer.Argument(help="Only this connection.")] = None,
    stream: Annotated[str | None, typer.Option("--stream", "-s")] = None,
) -> None:
    """Map quarantined records again (after fixing a mapping); store those that now pass."""
    with _errors():
        hub = _config()
        if connection:
            hub.connection(connection)
        store = _store(hub)
        runner = SyncRunner(hub, store)
        result = replay_quarantine(hub, store, runner.mappings, name=connection, stream=stream)
        console.print(f"replayed: {result.resolved} stored, {result.still_failing} still failing")


def _json_value(value: Any) -> Any:
    """JSON for a stored value: instants and dates as ISO 8601, Decimal as exact text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@app.command()
def rows(
    entity: Annotated[str, typer.Argument(help="Canonical entity: conversion, partner, ...")],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Whose rows (required).")],
    connection: Annotated[
        str | None, typer.Option("--connection", help="Only rows this connection produced.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Only rows of this connector.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0)] = 100,
) -> None:
    """Print one tenant's stored rows of an entity as JSON Lines (one row per line).

    Money is exact decimal text and times are ISO 8601 UTC, so the output
    pipes into jq or a file without losing anything.
    """
    with _errors():
        hub = _config()
        store = _store(hub)
        try:
            reader = _tenant_reader(hub, store, tenant, connection)
            for row in reader.rows(entity, connection=connection, source=source, limit=limit):
                print(json.dumps(row, default=_json_value, ensure_ascii=False))
        finally:
            store.dispose()


@app.command()
def validate() -> None:
    """Check the config file and the mappings; print every problem with its place."""
    with _errors():
        path = find_config_path(options.config)
        hub = load_config(path)
        registry = get_registry()
        problems = list(check_config(hub, registry))
        try:
            mappings = load_mappings(hub.mappings)
        except InputFileError as exc:  # every problem of every mapping file at once
            problems.extend(exc.problems)
        else:
            for settings in hub.connections.values():
                for stream_name, override in settings.mapping_overrides.items():
                    try:
                        mappings.compile(
                            settings.connector, stream_name, override, origin=str(hub.path)
                        )
                    except InputFileError as exc:
                        problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        console.print(f"[green]ok[/]: {path} is valid ({len(hub.connections)} connection(s))")


@app.command()
def scheduler(
    max_workers: Annotated[int, typer.Option("--workers", help="Runs at once.")] = 4,
    distributed: Annotated[
        bool,
        typer.Option(
            "--distributed",
            help="Enqueue due connections for `hub worker` instead of running them here "
            "(also `workers: {distributed: true}`).",
        ),
    ] = False,
) -> None:
    """Run due connections on their cron schedules until stopped (SIGINT/SIGTERM)."""
    from hub.scheduler import Scheduler, enqueuing_run

    with _errors():
        hub = _config()
        if distributed or hub.workers.distributed:
            run = enqueuing_run(hub)
            _run_scheduler(Scheduler(hub, run, max_workers=1), None, "distributed scheduler")
            return
        store = _store(hub)

        def run_here(name: str, stop: threading.Event) -> RunResult:
            return SyncRunner(hub, store, stop=stop).sync(name)

        _run_scheduler(Scheduler(hub, run_here, max_workers=max_workers), store, "scheduler")


def _run_scheduler(loop: Any, store: Store | None, title: str) -> None:
    """Run ``loop`` (a hub.scheduler.Scheduler) until SIGINT/SIGTERM, reporting every run."""
    hub_logger = logging.getLogger("hub")
    if hub_logger.level > logging.INFO:  # a long-running service reports every run
        hub_logger.setLevel(logging.INFO)
    loop.install_signal_handlers()
    console.print(f"{title} started: {', '.join(loop.scheduled) or 'nothing scheduled'}")
    try:
        loop.run_forever()
    finally:
        if store is not None:
            store.dispose()
    console.print(f"{title} stopped")


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, help="Syncs at once (default: workers.concurrency)."),
    ] = None,
    queue: Annotated[
        str | None, typer.Option("--queue", "-Q", help="Queue to consume (default: workers.queue).")
    ] = None,
) -> None:
    """Run a Celery worker that executes enqueued syncs until stopped (SIGTERM: warm shutdown)."""
    with _errors():
        hub = _config()
        from hub.worker import run_worker

        hub_logger = logging.getLogger("hub")
        if hub_logger.level > logging.INFO:  # a long-running service reports every run
            hub_logger.setLevel(logging.INFO)
        run_worker(
            hub,
            concurrency=concurrency,
            queue=queue,
            loglevel="DEBUG" if options.debug else "INFO",
        )


def _revision_label(revision: str | None, head: str) -> str:
    if revision is None:
        return "none (not migration-managed yet: run `hub db upgrade`)"
    if revision == head:
        return f"{revision} (head)"
    return f"{revision} (head is {head}: run `hub db upgrade`)"


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[
        str, typer.Option("--revision", "-r", help="Target revision (default: the newest).")
    ] = "head",
) -> None:
    """Migrate the configured database to a revision (creates it when empty)."""
    from hub import migrate

    with _errors():
        url = _config().database_url()
        Store(url).engine.dispose()  # validates the URL and creates a SQLite file's folder
        before = migrate.current(url)
        after = migrate.upgrade(url, revision)
        if before == after:
            console.print(f"database already at {_revision_label(after, migrate.head())}")
        else:
            console.print(
                f"database upgraded from {before or 'empty'} to "
                f"{_revision_label(after, migrate.head())}"
            )


@db_app.command("current")
def db_current(
    check: Annotated[
        bool, typer.Option("--check", help="Exit with status 1 unless the database is at head.")
    ] = False,
) -> None:
    """Print the database's schema revision and whether it is the newest."""
    from hub import migrate

    with _errors():
        url = _config().database_url()
        Store(url).engine.dispose()
        found, head = migrate.current(url), migrate.head()
        console.print(_revision_label(found, head))
    if check and found != head:
        raise typer.Exit(1)


@db_app.command("history")
def db_history() -> None:
    """List the migrations this hub ships, oldest first."""
    from hub import migrate

    with _errors():
        head = migrate.head()
        for item in migrate.history():
            marker = " (head)" if item.revision == head else ""
            console.print(
                f"{item.down_revision or '<base>'} -> {item.revision}{marker}: {item.message}"
            )


def main() -> None:
    gc_tuning.tune()  # after the imports above: they are what it freezes
    app()
