"""Syncs as Celery tasks: `hub worker` runs them, `hub sync --enqueue` and the scheduler send them.

A sync task is the same :meth:`SyncRunner.sync` as a local run, so it takes
the connection's run lock (:mod:`hub.locks`), writes the run history, and
resumes from the connection's last checkpoint. What makes it safe to run on a
pool of machines:

- **Late acknowledgement.** A task is acknowledged when the sync has ended,
  not when a worker takes it. A worker killed mid-sync (SIGKILL, OOM, a lost
  machine) never acknowledges, so the broker delivers the task again
  (RabbitMQ at once when the worker's connection drops; Redis after
  ``workers.visibility_timeout``) and the new run resumes from the last
  checkpoint. The killed run is closed as failed by the next run.
- **One run per connection.** A task for a connection that is already being
  synced waits ``workers.lock_wait`` seconds for the lock, then is skipped with
  a log line; it is not retried (the next schedule tick syncs it again).
- **JSON only.** Tasks carry a connection name and a flag, nothing pickled.
- **Warm shutdown.** On SIGTERM a worker asks its running syncs to stop at
  their next checkpoint and hands their tasks back to the broker, so another
  worker resumes them instead of the shutdown waiting for long syncs.

Workers use Celery's thread pool: a sync mostly waits on HTTP and the
database, and a killed worker process takes all its syncs with it (no orphan
child keeps writing).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from hub.config import HubConfig
from hub.config.env import _substitute_text
from hub.errors import ConfigError, HubError, Problem, RunLockedError
from hub.history import RunStatus
from hub.plugins import Registry, get_registry
from hub.redaction import install_log_redaction, register_secret
from hub.runner import SyncRunner
from hub.store import Store
from hub.yamlfile import line_at

try:
    from celery import Celery, signals
    from celery.exceptions import Reject
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise HubError(
        "workers need Celery, which is not installed",
        hint="install the extra: pip install 'partner-hub[workers]'",
    ) from exc

log = logging.getLogger("hub.worker")

#: The Celery name of the sync task; its arguments are (connection, full_refresh=False).
SYNC_TASK = "hub.sync"


def broker_url(hub: HubConfig) -> str:
    """The broker URL of ``workers.broker_url``, ``${VAR}`` substituted and registered as secret."""
    location = ("workers", "broker_url")
    raw = hub.workers.broker_url

    def problem(message: str, hint: str) -> ConfigError:
        return ConfigError(
            [
                Problem(
                    str(hub.path),
                    ".".join(location),
                    message,
                    line_at(hub._document, location),
                    hint,
                )
            ]
        )

    if not raw:
        raise problem(
            "no broker is configured for workers",
            "add `workers: {broker_url: redis://127.0.0.1:6379/0}` (or an amqp:// URL, "
            "or ${BROKER_URL}) to the config file",
        )
    url, used, missing, malformed = _substitute_text(raw)
    for value in used:
        register_secret(value)
    if missing or malformed:
        names = ", ".join(missing) if missing else ", ".join(malformed)
        raise problem(
            f"the broker URL refers to {names}, which is not set or not a valid reference",
            "export the environment variable before starting the command",
        )
    parsed = make_password_secret(url)
    if "://" not in parsed:
        raise problem("the broker URL from the environment is not a URL", "use redis:// or amqp://")
    return parsed


def make_password_secret(url: str) -> str:
    """Register the password part of ``url`` (if any) so it is masked everywhere; return ``url``."""
    _, _, rest = url.partition("://")
    credentials, at, _ = rest.rpartition("@")
    if at and ":" in credentials:
        password = credentials.split(":", 1)[1]
        if password:
            register_secret(password)
    return url


class _WorkerState:
    """What the sync task needs in this process: the config, a shared store, the running syncs."""

    def __init__(self, hub: HubConfig, registry: Registry) -> None:
        self.hub = hub
        self.registry = registry
        self.store: Store | None = None
        #: Set on warm shutdown: running syncs stop at their next checkpoint and are requeued.
        self.stopping = threading.Event()
        self._running: set[threading.Event] = set()
        self._guard = threading.Lock()

    def get_store(self) -> Store:
        with self._guard:
            if self.store is None:
                self.store = Store(self.hub.database_url())
            return self.store

    def started(self, stop: threading.Event) -> None:
        with self._guard:
            self._running.add(stop)
            if self.stopping.is_set():
                stop.set()

    def finished(self, stop: threading.Event) -> None:
        with self._guard:
            self._running.discard(stop)

    def shut_down(self) -> None:
        """Ask every running sync of this process to stop at its next checkpoint."""
        with self._guard:
            self.stopping.set()
            for stop in self._running:
                stop.set()


def celery_app(hub: HubConfig) -> Celery:
    """A Celery app for ``hub``: broker, queue and limits from ``workers:``, with the sync task."""
    settings = hub.workers
    url = broker_url(hub)
    app = Celery("hub", set_as_current=False)
    transport_options: dict[str, Any] = {}
    if url.startswith(("redis://", "rediss://")):
        # Look for the tasks of dead workers a few times per visibility timeout
        # (kombu's default sweep is about every 100 s, whatever the timeout).
        transport_options.update(
            visibility_timeout=settings.visibility_timeout,
            unacked_restore_interval=max(1, min(10, settings.visibility_timeout // 3)),
            unacked_restore_throttle=1,
        )
    app.conf.update(
        broker_url=url,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=settings.queue,
        worker_prefetch_multiplier=settings.prefetch_multiplier,
        worker_concurrency=settings.concurrency,
        worker_pool="threads",
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
    )
    state = _WorkerState(hub, get_registry())  # built once: the task threads share it
    app.hub_state = state

    @app.task(
        name=SYNC_TASK,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )
    def sync(connection: str, full_refresh: bool = False) -> dict[str, Any]:
        return run_sync_task(state, connection, full_refresh=full_refresh)

    return app


def run_sync_task(
    state: _WorkerState, connection: str, *, full_refresh: bool = False
) -> dict[str, Any]:
    """One sync of ``connection`` inside a worker; the body of the ``hub.sync`` task.

    Returns a small summary (for logs and tests; results are not stored).
    Raises :class:`celery.exceptions.Reject` with requeue when the worker is
    shutting down mid-sync, so another worker resumes it from the checkpoint.
    """
    settings = state.hub.workers
    stop = threading.Event()
    timer: threading.Timer | None = None
    timed_out = threading.Event()

    if settings.task_time_limit is not None:

        def time_is_up() -> None:
            timed_out.set()
            stop.set()

        timer = threading.Timer(settings.task_time_limit, time_is_up)
        timer.daemon = True
        timer.start()
    state.started(stop)
    runner = SyncRunner(
        state.hub,
        state.get_store(),
        registry=state.registry,
        stop=stop,
        lock_wait=settings.lock_wait,
    )
    try:
        result = runner.sync(connection, full_refresh=full_refresh)
    except RunLockedError:
        log.warning(
            "%s: skipped: it is already being synced by another worker or process "
            "(waited %.0f s for its lock); not retried, the next schedule tick syncs it",
            connection,
            settings.lock_wait,
        )
        return {"connection": connection, "status": "skipped"}
    except HubError as exc:  # config or mapping problem: retrying would fail the same way
        log.error("%s: not synced: %s", connection, exc)
        return {"connection": connection, "status": "refused", "error": str(exc)}
    finally:
        state.finished(stop)
        if timer is not None:
            timer.cancel()
    if result.status == RunStatus.INTERRUPTED:
        if state.stopping.is_set() and not timed_out.is_set():
            log.warning(
                "%s: run %s stopped at a checkpoint for the worker shutdown; "
                "handed back to the broker to resume elsewhere",
                connection,
                result.run_id,
            )
            raise Reject("worker shutting down", requeue=True)
        if timed_out.is_set():
            log.warning(
                "%s: run %s hit workers.task_time_limit (%s s) and stopped at a checkpoint; "
                "the next run resumes from it",
                connection,
                result.run_id,
                settings.task_time_limit,
            )
    log.info(
        "%s: run %s %s: %d records, %d quarantined in %.1f s",
        connection,
        result.run_id,
        result.status,
        result.counts.records,
        result.counts.quarantined,
        result.seconds,
    )
    return {"connection": connection, "status": result.status, "run_id": result.run_id}


def enqueue(
    hub: HubConfig, names: list[str], *, full_refresh: bool = False, app: Celery | None = None
) -> list[tuple[str, str]]:
    """Send one sync task per connection of ``names``; return (connection, task id) pairs.

    Every name is checked against the config first, so a typo sends nothing.
    """
    for name in names:
        hub.connection(name)  # ConfigError naming the known connections
    app = app or celery_app(hub)
    sent = []
    with app.connection_for_write() as connection:
        for name in names:
            message = app.send_task(
                SYNC_TASK,
                args=[name],
                kwargs={"full_refresh": full_refresh},
                queue=hub.workers.queue,
                connection=connection,
            )
            sent.append((name, str(message.id)))
    return sent


def run_worker(
    hub: HubConfig,
    *,
    concurrency: int | None = None,
    queue: str | None = None,
    loglevel: str = "INFO",
) -> None:
    """Run a Celery worker for ``hub`` in this process until it is shut down."""
    app = celery_app(hub)
    state: _WorkerState = app.hub_state
    store = state.get_store()
    store.create_all()

    def on_shutdown(**_: Any) -> None:
        state.shut_down()

    def on_logging(**_: Any) -> None:
        install_log_redaction()  # Celery's handlers replace ours: they must redact too

    signals.worker_shutting_down.connect(on_shutdown, weak=False)
    signals.after_setup_logger.connect(on_logging, weak=False)
    signals.after_setup_task_logger.connect(on_logging, weak=False)
    node = f"hub-{os.getpid()}@{socket.gethostname()}"
    argv = [
        "worker",
        f"--hostname={node}",
        f"--queues={queue or hub.workers.queue}",
        f"--concurrency={concurrency or hub.workers.concurrency}",
        "--pool=threads",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    try:
        app.worker_main(argv)
    finally:
        signals.worker_shutting_down.disconnect(on_shutdown)
        store.dispose()
