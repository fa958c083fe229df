"""The sync runner: stream, map, validate, upsert, checkpoint; quarantine; policy; stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from sqlalchemy import func, select

from hub.config import HubConfig, load_config
from hub.connector import Checkpoint, Connector, Message, Record, Stream
from hub.errors import ConfigError, FatalConnectorError, RunLockedError
from hub.history import list_quarantine, list_runs
from hub.locks import connection_lock
from hub.mapping import Mappings
from hub.plugins import Registered, Registry
from hub.runner import SyncRunner, replay_quarantine
from hub.state import load_state
from hub.store import Store

SECRET = "memory-secret-1a2b3c4d"

MAPPING = """\
source: memory
version: 1
streams:
  sales:
    entity: conversion
    external_id: id
    updated_at: updated_at
    fields:
      order_ref: {path: id, convert: string}
      amount: {path: amount, convert: decimal}
      currency: currency
"""


class MemorySettings(BaseModel):
    api_key: SecretStr
    pages: list[list[dict[str, Any]]]
    fail_after_pages: int | None = None


class MemoryConnector(Connector):
    """Yields pre-set pages with a checkpoint after each; can fail mid-stream."""

    name: ClassVar[str] = "memory"
    config_model = MemorySettings
    config: MemorySettings
    reads: ClassVar[list[dict[str, Any]]] = []
    threads: ClassVar[list[str]] = []

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        # "notes" has no mapping: read only when asked for by name
        return [Stream("sales", ("id",), "updated_at"), Stream("notes", ("id",))]

    def check(self) -> None:
        pass

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        MemoryConnector.reads.append(dict(state))
        MemoryConnector.threads.append(threading.current_thread().name)
        start = state.get("sales", {}).get("page", 0)
        for number, page in enumerate(self.config.pages[start:], start=start):
            if self.config.fail_after_pages is not None and number >= self.config.fail_after_pages:
                raise FatalConnectorError(f"source broke using key {SECRET}")
            for record in page:
                yield Record("sales", record)
            yield Checkpoint("sales", {"page": number + 1})


def registry() -> Registry:
    return Registry(
        connectors={"memory": Registered("memory", MemoryConnector, "test", "tests", "0")}
    )


def sale(i: int, amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {
        "id": i,
        "amount": amount,
        "currency": "EUR",
        "updated_at": f"2025-01-01T00:{i:02d}:00+00:00",
        **extra,
    }


MakeHub = Callable[..., HubConfig]


@pytest.fixture
def make_hub(tmp_path: Path, database_url: str) -> MakeHub:
    """Writes a hub.yaml (and the mapping) for the memory connector; SQLite and PostgreSQL."""

    def make(pages: list[list[dict[str, Any]]], **connection: Any) -> HubConfig:
        (tmp_path / "memory.yaml").write_text(MAPPING)
        settings = {"api_key": "${MEMORY_KEY}", "pages": pages}
        settings.update(connection.pop("config", {}))
        document = {
            "database": database_url,
            "mappings": ["memory.yaml"],
            "tenants": {"acme": {"name": "Acme"}},
            "connections": {
                "shop": {"connector": "memory", "tenant": "acme", "config": settings, **connection}
            },
        }
        (tmp_path / "hub.yaml").write_text(yaml.safe_dump(document))
        return load_config(tmp_path / "hub.yaml")

    return make


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMORY_KEY", SECRET)
    MemoryConnector.reads.clear()
    MemoryConnector.threads.clear()


def runner_for(hub: HubConfig, **kwargs: Any) -> tuple[SyncRunner, Store]:
    store = Store(hub.database_url())
    store.create_all()
    mappings = Mappings([Path(hub.path).parent / "memory.yaml"])
    return SyncRunner(hub, store, registry=registry(), mappings=mappings, **kwargs), store


def count(store: Store, entity: str = "conversion") -> int:
    with store.transaction() as db:
        return int(db.execute(select(func.count()).select_from(store.table(entity))).scalar_one())


def test_a_sync_stores_rows_and_checkpoints(make_hub: MakeHub) -> None:
    hub = make_hub([[sale(1), sale(2)], [sale(3)]])
    runner, store = runner_for(hub)
    result = runner.sync("shop")
    assert result.ok and result.counts.records == 3 and result.counts.entities == {"conversion": 3}
    assert count(store) == 3
    with store.transaction() as db:
        assert load_state(db, "shop") == {"sales": {"page": 2}}
        (run,) = list_runs(db)
    assert run["status"] == "succeeded"
    assert run["counts"]["streams"]["sales"] == {"records": 3, "quarantined": 0}


def test_the_next_sync_gets_the_saved_state_and_full_refresh_ignores_it(make_hub: MakeHub) -> None:
    runner, _ = runner_for(make_hub([[sale(1)]]))
    runner.sync("shop")
    runner.sync("shop")
    runner.sync("shop", full_refresh=True)
    assert MemoryConnector.reads == [{}, {"sales": {"page": 1}}, {}]


def test_bad_records_are_quarantined_and_the_run_goes_on(make_hub: MakeHub) -> None:
    pages = [[sale(1), sale(2, amount="12,3x"), sale(3, currency=None)], [sale(4)]]
    hub = make_hub(pages)
    runner, store = runner_for(hub)
    result = runner.sync("shop")
    assert result.ok
    assert result.counts.quarantined == 2 and count(store) == 2
    with store.transaction() as db:
        waiting = list_quarantine(db, name="shop")
    reasons = {row["record"]["id"]: row["error"] for row in waiting}
    assert set(reasons) == {2, 3}
    assert "12,3x" in reasons[2] and "amount" in reasons[2]
    assert "currency" in reasons[3]
    # the same bad records seen again are stored once
    runner.sync("shop", full_refresh=True)
    with store.transaction() as db:
        assert len(list_quarantine(db, name="shop")) == 2


def test_replay_after_a_mapping_fix_resolves_quarantined_records(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    hub = make_hub([[sale(1), sale(2, currency="eur")]])
    runner, store = runner_for(hub)
    assert runner.sync("shop").counts.quarantined == 1
    (tmp_path / "memory.yaml").write_text(
        MAPPING.replace("currency: currency", "currency: {path: currency, convert: upper}")
    )
    fixed = Mappings([tmp_path / "memory.yaml"])
    result = replay_quarantine(hub, store, fixed, name="shop")
    assert (result.resolved, result.still_failing) == (1, 0)
    assert count(store) == 2
    with store.transaction() as db:
        assert list_quarantine(db, name="shop") == []


def test_replay_keeps_to_the_records_tenant_and_each_connections_overrides(
    make_hub: MakeHub, tmp_path: Path
) -> None:
    hub = make_hub([[sale(1, currency="eur")]])
    runner, store = runner_for(hub)
    assert runner.sync("shop").counts.quarantined == 1
    document = yaml.safe_load((tmp_path / "hub.yaml").read_text())
    document["tenants"]["other"] = {"name": "Other"}
    document["connections"]["shop"]["tenant"] = "other"  # the connection changed hands
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(document))
    moved = load_config(tmp_path / "hub.yaml")
    fixed = Mappings([tmp_path / "memory.yaml"])
    result = replay_quarantine(moved, store, fixed, name="shop")
    assert (result.resolved, result.still_failing) == (0, 1)
    assert "now 'memory' of tenant 'other'" in next(iter(result.reasons.values()))
    assert count(store) == 0


def test_too_many_quarantined_records_fail_the_run(make_hub: MakeHub) -> None:
    pages = [[sale(i, amount="bad") for i in range(5)], [sale(9)]]
    hub = make_hub(pages, quarantine={"max_ratio": 0.5, "min_records": 3})
    runner, store = runner_for(hub)
    result = runner.sync("shop")
    assert result.status == "failed"
    assert result.error is not None and "quarantined" in result.error
    assert "hub quarantine list shop" in result.error and "cursor was not moved" in result.error
    with store.transaction() as db:
        assert load_state(db, "shop") == {}  # the failing page's checkpoint was not kept


def test_a_failure_mid_stream_keeps_the_last_good_checkpoint_and_no_secret(
    make_hub: MakeHub,
) -> None:
    hub = make_hub([[sale(1)], [sale(2)], [sale(3)]], config={"fail_after_pages": 2})
    runner, store = runner_for(hub)
    result = runner.sync("shop")
    assert result.status == "failed"
    assert (
        result.error is not None and SECRET not in result.error and "source broke" in result.error
    )
    with store.transaction() as db:
        assert load_state(db, "shop") == {"sales": {"page": 2}}
        (run,) = list_runs(db)
    assert SECRET not in str(run)
    assert count(store) == 2


def test_a_stop_request_ends_the_run_at_the_next_checkpoint(make_hub: MakeHub) -> None:
    stop = threading.Event()
    hub = make_hub([[sale(1)], [sale(2)], [sale(3)]])
    seen: list[int] = []

    def progress(snapshot: Any) -> None:
        seen.append(snapshot.records)
        stop.set()

    runner, store = runner_for(hub, stop=stop, progress=progress)
    result = runner.sync("shop")
    assert result.status == "interrupted"
    assert count(store) == 1
    with store.transaction() as db:
        assert load_state(db, "shop") == {"sales": {"page": 1}}
    assert runner_for(hub)[0].sync("shop").ok
    assert count(store) == 3


def test_a_connection_already_running_is_refused(make_hub: MakeHub) -> None:
    runner, store = runner_for(make_hub([[sale(1)]]))
    with connection_lock(store, "shop"), pytest.raises(RunLockedError):
        runner.sync("shop")


def test_unknown_streams_and_streams_without_mapping_fail_before_running(make_hub: MakeHub) -> None:
    runner, store = runner_for(make_hub([[sale(1)]]))
    with pytest.raises(ConfigError) as info:
        runner.sync("shop", streams=["refunds"])
    assert "connections.shop.streams" in str(info.value) and "sales" in str(info.value)
    empty = SyncRunner(runner.hub, store, registry=registry(), mappings=Mappings([]))
    with pytest.raises(ConfigError, match="no mapping normalizes stream 'sales'"):
        empty.sync("shop")
    with store.transaction() as db:
        assert list_runs(db) == []


def test_money_is_stored_exactly(make_hub: MakeHub) -> None:
    runner, store = runner_for(make_hub([[sale(1, amount="313.70")]]))
    runner.sync("shop")
    with store.transaction() as db:
        (amount,) = db.execute(select(store.table("conversion").c.amount)).scalars()
    assert amount == Decimal("313.70")


def test_by_default_only_mapped_streams_are_synced(make_hub: MakeHub) -> None:
    runner, _ = runner_for(make_hub([[sale(1)]]))
    assert runner.plan("shop").streams == ["sales"]
    with pytest.raises(ConfigError, match="no mapping normalizes stream 'notes'"):
        runner.plan("shop", ["sales", "notes"])


def test_a_record_fixed_at_the_source_resolves_its_quarantine_entry(make_hub: MakeHub) -> None:
    hub = make_hub([[sale(1), sale(2, amount="12,3x")]])
    runner, store = runner_for(hub)
    runner.sync("shop")
    with store.transaction() as db:
        (waiting,) = list_quarantine(db, name="shop")
    assert waiting["record_key"] == "[2]"
    fixed = make_hub([[sale(2, amount="12.30"), sale(3, amount="bad")]])
    runner_for(fixed)[0].sync("shop", full_refresh=True)
    with store.transaction() as db:
        still = list_quarantine(db, name="shop")
    assert [row["record"]["id"] for row in still] == [3]  # 2 is stored now, 3 is new trouble
    assert count(store) == 2


@pytest.mark.parametrize(("read_ahead", "thread"), [(256, "read shop"), (0, "MainThread")])
def test_the_connector_reads_ahead_in_its_own_thread_unless_turned_off(
    make_hub: MakeHub, read_ahead: int, thread: str
) -> None:
    pages = [[sale(i) for i in range(page * 5, page * 5 + 5)] for page in range(6)]
    runner, store = runner_for(make_hub(pages), read_ahead=read_ahead, batch_size=3)
    result = runner.sync("shop")
    assert result.ok and count(store) == 30
    assert MemoryConnector.threads == [thread]
    with store.transaction() as db:
        assert load_state(db, "shop") == {"sales": {"page": 6}}


def test_a_failure_read_ahead_still_stores_everything_before_it(make_hub: MakeHub) -> None:
    pages = [[sale(1), sale(2)], [sale(3)], [sale(4)]]
    runner, store = runner_for(make_hub(pages, config={"fail_after_pages": 2}), read_ahead=100)
    result = runner.sync("shop")
    assert not result.ok and SECRET not in (result.error or "")
    assert count(store) == 3
    with store.transaction() as db:
        assert load_state(db, "shop") == {"sales": {"page": 2}}
