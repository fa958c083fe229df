"""Celery workers: the `workers:` block, the app, the sync task, enqueueing, the scheduler."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery.exceptions import Reject
from kombu import Connection
from kombu import Queue as KombuQueue
from typer.testing import CliRunner

from hub import cli as cli_module
from hub.cli import app as cli_app
from hub.config import HubConfig, load_config
from hub.errors import ConfigError
from hub.history import list_runs
from hub.locks import connection_lock
from hub.redaction import redact
from hub.scheduler import Scheduler, enqueuing_run
from hub.store import Store
from hub.worker import SYNC_TASK, broker_url, celery_app, enqueue, run_sync_task
from tests.conftest import require_service
from tests.e2e.support import TOKEN, write_config
from tests.fakes.paged_api import FakeApi

REDIS_URL = "redis://127.0.0.1:6379/15"


def hub_config(directory: Path, api_url: str, workers: dict[str, Any] | None) -> HubConfig:
    path = write_config(directory, api_url)
    data = yaml.safe_load(path.read_text())
    if workers is not None:
        data["workers"] = workers
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    monkeypatch.setenv("FAKE_API_TOKEN", TOKEN)
    with FakeApi(orders=20, token=TOKEN) as fake:
        yield fake


# --- the workers: block ---------------------------------------------------------


def test_workers_block_defaults_and_overrides(tmp_path: Path) -> None:
    defaults = hub_config(tmp_path, "http://127.0.0.1:1", None).workers
    assert (defaults.broker_url, defaults.queue, defaults.prefetch_multiplier) == (None, "hub", 1)
    assert not defaults.distributed
    hub = hub_config(
        tmp_path,
        "http://127.0.0.1:1",
        {"broker_url": "amqp://u:p@rabbit:5672//", "concurrency": 8, "task_time_limit": 600},
    )
    assert hub.workers.concurrency == 8 and hub.workers.task_time_limit == 600


@pytest.mark.parametrize(
    ("workers", "location"),
    [
        ({"broker_url": "http://user:s3cr3t-pw@host/"}, "workers.broker_url"),
        ({"broker_url": "redis://h", "prefetch_multiplier": 0}, "workers.prefetch_multiplier"),
        ({"broker_url": "redis://h", "concurrency": 0}, "workers.concurrency"),
        ({"queue": "has spaces"}, "workers.queue"),
        ({"brokr_url": "redis://h"}, "workers.brokr_url"),
    ],
)
def test_bad_workers_settings_are_located_and_never_echo_the_url(
    tmp_path: Path, workers: dict[str, Any], location: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        hub_config(tmp_path, "http://127.0.0.1:1", workers)
    text = str(caught.value)
    assert location in text
    assert "s3cr3t-pw" not in text


def test_broker_url_from_the_environment_is_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_BROKER", "amqp://hub:pa55-w0rd-x@rabbit:5672//")
    hub = hub_config(tmp_path, "http://127.0.0.1:1", {"broker_url": "${HUB_BROKER}"})
    assert broker_url(hub) == "amqp://hub:pa55-w0rd-x@rabbit:5672//"
    assert "pa55-w0rd-x" not in redact("connecting to amqp://hub:pa55-w0rd-x@rabbit:5672//")


def test_missing_broker_tells_what_to_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = hub_config(tmp_path, "http://127.0.0.1:1", None)
    with pytest.raises(ConfigError, match="no broker is configured") as caught:
        broker_url(hub)
    assert "workers:" in str(caught.value)
    monkeypatch.delenv("NOT_SET_BROKER", raising=False)
    unset = hub_config(tmp_path, "http://127.0.0.1:1", {"broker_url": "${NOT_SET_BROKER}"})
    with pytest.raises(ConfigError, match="NOT_SET_BROKER"):
        broker_url(unset)


# --- the Celery app ---------------------------------------------------------------


def test_app_acknowledges_late_speaks_json_and_keeps_no_results(tmp_path: Path) -> None:
    hub = hub_config(
        tmp_path,
        "http://127.0.0.1:1",
        {
            "broker_url": REDIS_URL,
            "queue": "q1",
            "prefetch_multiplier": 2,
            "visibility_timeout": 90,
        },
    )
    app = celery_app(hub)
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.task_ignore_result
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert (conf.task_default_queue, conf.worker_prefetch_multiplier) == ("q1", 2)
    assert conf.broker_transport_options["visibility_timeout"] == 90
    # dead workers' tasks are looked for well within the visibility timeout
    assert conf.broker_transport_options["unacked_restore_interval"] < 90
    task = app.tasks[SYNC_TASK]
    assert task.acks_late and task.reject_on_worker_lost and task.ignore_result


# --- the sync task ------------------------------------------------------------------


def task_state(hub: HubConfig) -> Any:
    return celery_app(hub).hub_state


def runs_of(hub: HubConfig) -> list[dict[str, Any]]:
    store = Store(hub.database_url())
    store.create_all()
    with store.transaction() as db:
        runs = list_runs(db)
    store.dispose()
    return runs


def test_task_runs_the_sync_and_records_it(tmp_path: Path, api: FakeApi) -> None:
    hub = hub_config(tmp_path, api.url, {"broker_url": REDIS_URL})
    state = task_state(hub)
    state.get_store().create_all()
    summary = run_sync_task(state, "acme-orders")
    runs = runs_of(hub)
    assert [(r["id"], r["status"]) for r in runs] == [(summary["run_id"], "succeeded")]
    assert runs[0]["counts"]["streams"]["orders"]["records"] == len(api.orders)


def test_task_for_a_connection_already_running_is_skipped_not_retried(
    tmp_path: Path, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    hub = hub_config(tmp_path, api.url, {"broker_url": REDIS_URL, "lock_wait": 0.3})
    state = task_state(hub)
    store = state.get_store()
    store.create_all()
    with caplog.at_level(logging.WARNING, "hub.worker"), connection_lock(store, "acme-orders"):
        summary = run_sync_task(state, "acme-orders")
    assert summary["status"] == "skipped"
    assert "acme-orders: skipped: it is already being synced" in caplog.text
    assert runs_of(hub) == [] and api.requests == []


def test_worker_shutdown_hands_the_task_back_after_a_checkpoint(
    tmp_path: Path, api: FakeApi
) -> None:
    hub = hub_config(tmp_path, api.url, {"broker_url": REDIS_URL})
    state = task_state(hub)
    state.get_store().create_all()
    state.shut_down()
    with pytest.raises(Reject) as caught:
        run_sync_task(state, "acme-orders")
    assert caught.value.requeue
    runs = runs_of(hub)
    assert [r["status"] for r in runs] == ["interrupted"]
    # stopped at the first checkpoint (one page of 7), not the end; the connector may
    # have read a little ahead (hub.prefetch), which is fetched but never stored
    assert runs[0]["counts"]["streams"]["orders"]["records"] == 7


def test_time_limit_stops_at_a_checkpoint_without_requeue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_TOKEN", TOKEN)
    slow = threading.Event()

    def crawl(_number: int, _path: str) -> None:
        slow.wait(0.6)

    with FakeApi(orders=40, token=TOKEN, on_request=crawl) as fake:
        hub = hub_config(tmp_path, fake.url, {"broker_url": REDIS_URL, "task_time_limit": 1})
        state = task_state(hub)
        state.get_store().create_all()
        summary = run_sync_task(state, "acme-orders")
    assert summary["status"] == "interrupted"
    pages = -(-40 // 7)
    assert len(fake.requests) < pages


# --- enqueueing and the distributed scheduler (real Redis) ------------------------


def _redis_reason() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError as exc:
        return f"Redis is not reachable at 127.0.0.1:6379 ({type(exc).__name__})"
    return None


@pytest.fixture
def queue() -> Iterator[str]:
    require_service(_redis_reason())
    name = f"hub-unit-{uuid.uuid4().hex[:10]}"
    yield name
    with Connection(REDIS_URL) as connection:
        channel = connection.channel()
        KombuQueue(name, channel=channel).delete()
        for key in channel.client.keys(f"*{name}*"):  # kombu's bindings of the queue
            channel.client.delete(key)


def queued(name: str) -> list[dict[str, Any]]:
    """The sync tasks waiting in queue ``name``: task name, args, kwargs of each."""
    messages = []
    with Connection(REDIS_URL) as connection:
        simple = connection.SimpleQueue(name)
        while True:
            try:
                message = simple.get(timeout=0.2)
            except simple.Empty:
                break
            args, kwargs, _ = message.decode()
            messages.append({"task": message.headers["task"], "args": args, "kwargs": kwargs})
            message.ack()
        simple.close()
    return messages


def test_enqueue_sends_one_json_task_per_connection(tmp_path: Path, queue: str) -> None:
    hub = hub_config(tmp_path, "http://127.0.0.1:1", {"broker_url": REDIS_URL, "queue": queue})
    sent = enqueue(hub, ["acme-orders"], full_refresh=True)
    assert [name for name, _ in sent] == ["acme-orders"]
    assert queued(queue) == [
        {"task": SYNC_TASK, "args": ["acme-orders"], "kwargs": {"full_refresh": True}}
    ]


def test_enqueue_of_an_unknown_connection_sends_nothing(tmp_path: Path, queue: str) -> None:
    hub = hub_config(tmp_path, "http://127.0.0.1:1", {"broker_url": REDIS_URL, "queue": queue})
    with pytest.raises(ConfigError, match="no connection is called 'acme-ordres'"):
        enqueue(hub, ["acme-orders", "acme-ordres"])
    assert queued(queue) == []


def test_distributed_scheduler_enqueues_due_connections(tmp_path: Path, queue: str) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:1")
    data = yaml.safe_load(path.read_text())
    data["connections"]["acme-orders"]["schedule"] = "*/15 * * * *"
    data["workers"] = {"broker_url": REDIS_URL, "queue": queue}
    path.write_text(yaml.safe_dump(data))
    hub = load_config(path)
    start = datetime(2026, 1, 1, 10, 7, tzinfo=UTC)
    loop = Scheduler(hub, enqueuing_run(hub), clock=lambda: start, max_workers=1)
    try:
        assert loop.tick(start) == []  # nothing due before 10:15
        assert loop.tick(start + timedelta(minutes=8)) == ["acme-orders"]
        assert loop.join(timeout=10)
    finally:
        loop.stop()
    assert queued(queue) == [
        {"task": SYNC_TASK, "args": ["acme-orders"], "kwargs": {"full_refresh": False}}
    ]


# --- the CLI ----------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("FAKE_API_TOKEN", TOKEN)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    yield CliRunner()
    logging.getLogger().removeHandler(cli_module._log_handler)
    for name in ("hub", "connectors"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_sync_enqueue_without_a_broker_says_what_to_configure(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:1")
    result = cli.invoke(cli_app, ["--config", str(path), "sync", "--enqueue"])
    assert result.exit_code == 1
    assert "no broker is configured" in result.output and "broker_url" in result.output
    assert not (tmp_path / "hub.db").exists()  # nothing ran here


def test_sync_enqueue_prints_task_ids(cli: CliRunner, tmp_path: Path, queue: str) -> None:
    hub = hub_config(tmp_path, "http://127.0.0.1:1", {"broker_url": REDIS_URL, "queue": queue})
    result = cli.invoke(cli_app, ["--config", str(hub.path), "sync", "--enqueue", "acme-orders"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("acme-orders: enqueued as task ")
    assert len(queued(queue)) == 1
