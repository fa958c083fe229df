"""The proof of issue 7: a broker, two `hub worker` processes, one SIGKILLed mid-run.

Twenty connections are enqueued with `hub sync --enqueue`; one worker is
killed with SIGKILL while syncs are in flight. Late acknowledgement must get
its tasks delivered again, the survivors must resume from the last
checkpoint, and in the end every connection has exactly one succeeded run and
the database equals sequential clean syncs (`hub sync` of every connection).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_service, scratch_database
from tests.e2e.support import TOKEN, dump_database, hub_command, hub_env, run_hub, write_config
from tests.fakes.paged_api import FakeApi

ORDERS, PAGE = 30, 7  # five pages per connection
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("HUB_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _reachable(url: str, default_port: int) -> str | None:
    rest = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = rest.partition(":")
    try:
        socket.create_connection((host, int(port or default_port)), timeout=2).close()
    except OSError as exc:
        return f"no broker at {host}:{port or default_port} ({type(exc).__name__})"
    return None


BROKERS = {
    "redis": (REDIS_URL, 6379),
    "rabbitmq": (RABBITMQ_URL, 5672),
}


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(broker URL, a queue name used by this test only); the queue is deleted afterwards.

    The broker's name (a key of BROKERS) comes from the test's parametrization.
    """
    url, port = BROKERS[request.param]
    require_service(_reachable(url, port))
    queue = f"hub-test-{uuid.uuid4().hex[:12]}"
    yield url, queue
    _delete_queue(url, queue)


def _delete_queue(url: str, queue: str) -> None:
    from kombu import Connection
    from kombu import Queue as KombuQueue

    with Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        with contextlib.suppress(Exception):  # already gone is fine
            KombuQueue(queue, channel=channel).delete()
        if url.startswith("redis"):
            client = channel.client
            for key in client.keys(f"*{queue}*"):
                client.delete(key)
            # tasks a killed worker took and nobody restored yet: kombu keeps them
            # in one hash for all queues, as [message, exchange, routing key]
            for tag, entry in client.hgetall("unacked").items():
                if json.loads(entry)[2] == queue:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)


def write_workers_config(
    directory: Path, api_url: str, connections: int, broker_url: str, queue: str, database: str
) -> Path:
    """A hub.yaml with ``connections`` copies of the fake-API connection and a workers block."""
    config = write_config(directory, api_url, database=database, page_size=PAGE)
    data = yaml.safe_load(config.read_text())
    template = data["connections"].pop("acme-orders")
    for i in range(connections):  # one tenant each: the rows of two shops never collide
        data["tenants"][f"merchant-{i:02d}"] = {"name": f"Merchant {i}"}
        data["connections"][f"shop-{i:02d}"] = {**template, "tenant": f"merchant-{i:02d}"}
    data["workers"] = {
        "broker_url": "${TEST_BROKER_URL}",
        "queue": queue,
        "concurrency": 2,
        "prefetch_multiplier": 1,
        "visibility_timeout": 6,  # Redis: the killed worker's tasks come back after 6 s
        "lock_wait": 2,
    }
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def start_worker(config: Path, broker_url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            hub_command(config, "worker"),
            env=hub_env(TEST_BROKER_URL=broker_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def wait_ready(process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{log.read_text()}")
        if " ready." in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"worker not ready after {timeout} s:\n{log.read_text()}")


def runs_by_connection(config: Path) -> dict[str, list[dict[str, Any]]]:
    runs = json.loads(run_hub(config, "runs", "--json", "--limit", "1000").stdout)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(run["connection"], []).append(run)
    return grouped


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_proof(
    tmp_path: Path, broker: tuple[str, str], backend: str, connections: int, kill_at: int
) -> None:
    """Clean sequential syncs, then the same through two workers with one SIGKILLed; compare.

    Both databases are on ``backend`` (sqlite or postgresql), each new and empty.
    """
    with (
        scratch_database(backend, tmp_path, "clean.db") as clean_url,
        scratch_database(backend, tmp_path, "distributed.db") as distributed_url,
    ):
        _run_proof(tmp_path, broker, connections, kill_at, clean_url, distributed_url)


def _run_proof(
    tmp_path: Path,
    broker: tuple[str, str],
    connections: int,
    kill_at: int,
    clean_url: str,
    distributed_url: str,
) -> None:
    broker_url, queue = broker
    names = [f"shop-{i:02d}" for i in range(connections)]

    clean = tmp_path / "clean"
    clean.mkdir()
    with FakeApi(orders=ORDERS, token=TOKEN) as api:
        write_workers_config(clean, api.url, connections, broker_url, queue, clean_url)
        run_hub(clean / "hub.yaml", "sync")  # sequential, in this process: the reference
    expected = dump_database(clean_url)
    assert len(expected["conversion"]) == ORDERS * connections  # the reference is complete

    workers: list[subprocess.Popen[bytes]] = []
    killed: list[float] = []

    def slow_and_kill(number: int, _path: str) -> None:
        time.sleep(0.03)  # keeps syncs in flight long enough to kill one mid-run
        if number == kill_at and not killed:
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(time.monotonic())

    distributed = tmp_path / "distributed"
    distributed.mkdir()
    try:
        with FakeApi(orders=ORDERS, token=TOKEN, on_request=slow_and_kill) as api:
            config = write_workers_config(
                distributed, api.url, connections, broker_url, queue, distributed_url
            )
            for i in range(2):
                log = distributed / f"worker-{i}.log"
                workers.append(start_worker(config, broker_url, log))
                wait_ready(workers[-1], log)  # one at a time: the first creates the tables
            enqueued = subprocess.run(
                hub_command(config, "sync", "--enqueue"),
                env=hub_env(TEST_BROKER_URL=broker_url),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert enqueued.returncode == 0, enqueued.stderr
            task_ids = [line.rsplit(" ", 1)[-1] for line in enqueued.stdout.splitlines()]
            assert len(set(task_ids)) == connections

            deadline = time.monotonic() + 60
            while True:
                runs = runs_by_connection(config)
                done = all(
                    any(r["status"] == "succeeded" for r in runs.get(name, [])) for name in names
                )
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert killed, "the worker was never killed: the fake API saw too few requests"
            assert workers[0].wait(timeout=5) == -signal.SIGKILL
            logs = "\n".join(p.read_text() for p in sorted(distributed.glob("worker-*.log")))
            assert done, f"not every connection was synced: {runs}\n{logs}"
    finally:
        for process in workers:
            stop(process)

    runs = runs_by_connection(config)
    for name in names:
        statuses = sorted(r["status"] for r in runs[name])
        assert statuses.count("succeeded") == 1, f"{name}: {statuses}"
        assert "running" not in statuses, f"{name}: {statuses}"
    # the kill landed mid-run: at least one run was left unfinished and closed by the resume
    abandoned = [r for rs in runs.values() for r in rs if r["status"] == "failed"]
    assert abandoned, "no run was interrupted by the SIGKILL"
    assert all("stopped without finishing" in r["error"] for r in abandoned)
    assert dump_database(distributed_url) == expected
    assert "guest:guest" not in logs  # the RabbitMQ password never reaches the logs


#: (broker, database backend): both brokers on SQLite, Redis on PostgreSQL by default.
SETUPS = [
    ("rabbitmq", "sqlite"),
    ("redis", "sqlite"),
    pytest.param("redis", "postgresql", marks=pytest.mark.postgres),
    pytest.param("rabbitmq", "postgresql", marks=[pytest.mark.postgres, pytest.mark.slow]),
]


@pytest.mark.parametrize(("broker", "backend"), SETUPS, indirect=["broker"])
def test_killed_worker_syncs_resume_and_equal_clean_syncs(
    tmp_path: Path, broker: tuple[str, str], backend: str
) -> None:
    run_proof(tmp_path, broker, backend, connections=20, kill_at=30)


@pytest.mark.slow
@pytest.mark.parametrize(("broker", "backend"), SETUPS, indirect=["broker"])
def test_killed_worker_many_connections(
    tmp_path: Path, broker: tuple[str, str], backend: str
) -> None:
    run_proof(tmp_path, broker, backend, connections=60, kill_at=150)
