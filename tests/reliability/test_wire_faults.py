"""Faults on the wire: every way an API misbehaves, through the real runner into a real database.

Each test runs the built-in ``rest`` connector under :class:`hub.runner.SyncRunner`
against :class:`tests.fakes.faulty_api.FaultyApi` (a real server on 127.0.0.1)
into a real database. For every fault the sync either

- completes, and the database equals a clean sync's, row for row; or
- fails with a message that says what happened and what to do, after a bounded
  retry budget, keeping the last checkpoint before the fault, with exactly the
  rows of the pages before it, and a re-run against the healed API completes to
  the clean result.

The retry budget asserted here is the hub's default :class:`hub.http.RetryPolicy`
(docs/decisions/0003-http-retries-and-rate-limits.md), per request: at most
``MAX_ATTEMPTS`` attempts and ``MAX_TOTAL_WAIT`` seconds of waiting between
them; without ``Retry-After`` the n-th wait is at most ``2**(n-1)`` seconds, so
a request gives up after at most 31 s of backoff. ``time.sleep`` is replaced by
a recorder, so no test really waits; read timeouts are real but short.

Databases: the fault-by-fault matrices run on SQLite by default and on
PostgreSQL too with ``-m slow``; the tests using ``scenario_on_every_backend``
(a storm then a lasting fault, duplicates, an unsorted API failing mid-stream,
a fault on the first page) run on both in every run.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlmodel import SQLModel

from hub.config import HubConfig, load_config
from hub.history import list_runs
from hub.http import RetryPolicy
from hub.mapping import Mappings
from hub.runner import RunResult, SyncRunner
from hub.schema import ENTITIES
from hub.state import load_state
from hub.store import Store
from tests.fakes.faulty_api import (
    Fault,
    FaultPlan,
    FaultyApi,
    scrambled,
    status,
    storm,
)
from tests.fakes.paged_api import make_orders
from tests.reliability.conftest import Figures

TOKEN = "wire-fault-token-5f3a9c17"
CONNECTION = "acme-orders"
ORDERS, PAGE = 23, 5  # pages of 5, 5, 5, 5, 3
MAPPING = Path(__file__).resolve().parents[1] / "e2e" / "rest_orders.yaml"
#: A silent server costs this much real time per attempt. 0.2 s made a loaded 2-core
#: machine time out on healthy pages now and then (an extra retry the tests rightly count).
READ_TIMEOUT = 1.0

POLICY = RetryPolicy()
MAX_ATTEMPTS = POLICY.max_attempts  # 6: the first try and 5 retries
MAX_TOTAL_WAIT = POLICY.max_total_wait  # 300 s of waiting per request
#: The most exponential backoff can wait in total before giving up (1 + 2 + 4 + 8 + 16).
MAX_BACKOFF_TOTAL = sum(
    min(POLICY.backoff_max, POLICY.backoff_base * 2**n) for n in range(MAX_ATTEMPTS - 1)
)

Paging = Literal["link", "cursor"]
Rows = dict[str, dict[str, tuple[Any, ...]]]
SKIPPED_COLUMNS = {"synced_at", "run_id", "created_at"}


# --------------------------------------------------------------------------- harness


class ShortReadTimeout(httpx.HTTPTransport):
    """The real socket transport, with a read timeout short enough for a test."""

    def __init__(self) -> None:
        # plain http to 127.0.0.1: skip loading the CA bundle (80 ms per sync)
        super().__init__(verify=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["timeout"] = httpx.Timeout(5.0, read=READ_TIMEOUT).as_dict()
        return super().handle_request(request)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep the HTTP client asks for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def write_hub(
    directory: Path, database: str, api_url: str, *, paging: Paging, sorted_by_cursor: bool
) -> HubConfig:
    """A hub.yaml with one rest connection reading the fake's /orders."""
    shutil.copy(MAPPING, directory / MAPPING.name)
    document = {
        "database": database,
        "mappings": [MAPPING.name],
        "tenants": {"acme": {"name": "Acme Outdoor"}},
        "connections": {
            CONNECTION: {
                "connector": "rest",
                "tenant": "acme",
                "config": {
                    "base_url": api_url,
                    "token": TOKEN,
                    "streams": {
                        "orders": {
                            "path": "/orders",
                            "records_path": "orders",
                            "cursor_field": "updated_at",
                            "cursor_param": "updated_since",
                            "sorted_by_cursor": sorted_by_cursor,
                            "pagination": paging,
                            "page_size": PAGE,
                        }
                    },
                },
            }
        },
    }
    (directory / "hub.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return load_config(directory / "hub.yaml")


_MAPPINGS: list[Mappings] = []


def sync(hub: HubConfig, store: Store) -> RunResult:
    """One run of the connection, in process, as `hub sync` runs it."""
    if not _MAPPINGS:  # parsed once: the same file for every scenario
        _MAPPINGS.append(Mappings([MAPPING]))
    runner = SyncRunner(hub, store, mappings=_MAPPINGS[0], transport=ShortReadTimeout())
    return runner.sync(CONNECTION)


def stored_rows(store: Store) -> Rows:
    """Every canonical row, by entity and external id, minus the columns a run stamps."""
    rows: Rows = {}
    with store.transaction() as db:
        for entity in ENTITIES:
            table = store.table(entity)
            columns = [c for c in table.columns if c.name not in SKIPPED_COLUMNS]
            found: dict[str, tuple[Any, ...]] = {}
            for row in db.execute(select(*columns)):
                values = row._mapping
                key = str(values["external_id"])
                assert key not in found, f"{entity} {key} is stored twice"
                found[key] = tuple(values[c.name] for c in columns)
            rows[entity] = found
    return rows


def stored_state(store: Store) -> dict[str, Any]:
    with store.transaction() as db:
        return load_state(db, CONNECTION)


@dataclass
class Clean:
    """What a clean sync of a data set stores: rows and the saved state."""

    rows: Rows
    state: dict[str, Any]


_CLEAN: dict[tuple[int, bool, bool], Clean] = {}


def clean_sync(
    tmp: Path, *, orders: int = ORDERS, sorted_by_cursor: bool = True, out_of_order: bool = False
) -> Clean:
    """A clean sync's result (on SQLite, computed once per data set and reused)."""
    key = (orders, sorted_by_cursor, out_of_order)
    if key not in _CLEAN:
        directory = tmp / f"clean-{orders}-{sorted_by_cursor}-{out_of_order}"
        directory.mkdir(exist_ok=True)
        (directory / "clean.db").unlink(missing_ok=True)
        plan = FaultPlan(out_of_order=out_of_order)
        with FaultyApi(orders, token=TOKEN, plan=plan) as api:
            hub = write_hub(
                directory,
                f"sqlite:///{directory / 'clean.db'}",
                api.url,
                paging="link",
                sorted_by_cursor=sorted_by_cursor,
            )
            store = Store(hub.database_url())
            store.create_all()
            result = sync(hub, store)
            assert result.ok, result.error
            _CLEAN[key] = Clean(stored_rows(store), stored_state(store))
            store.dispose()
    return _CLEAN[key]


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clean")


class Scenario:
    """One fault scenario: the fake API, the hub config and the store it writes."""

    def __init__(
        self,
        api: FaultyApi,
        hub: HubConfig,
        store: Store,
        waits: list[float],
        figures: Figures,
    ) -> None:
        self.api = api
        self.hub = hub
        self.store = store
        self.waits = waits
        self.figures = figures
        self.started_at = 0

    def sync(self) -> RunResult:
        self.waits.clear()
        self.started_at = len(self.api.requests)
        return sync(self.hub, self.store)

    def first_query(self) -> dict[str, list[str]]:
        """The query of the last run's first request."""
        return parse_qs(urlparse(self.api.requests[self.started_at]).query)

    def rows(self) -> Rows:
        return stored_rows(self.store)

    def state(self) -> dict[str, Any]:
        return stored_state(self.store)

    def count_faults(self) -> None:
        assert self.api.injected, "the plan injected nothing: the test would prove nothing"
        for kind, times in self.api.injected.items():
            self.figures.add(f"faults injected: {kind}", times)

    def assert_equals_clean(self, clean: Clean) -> None:
        """The database holds exactly the clean sync's rows and state."""
        rows = self.rows()
        lost = sum(len(clean.rows[e].keys() - rows[e].keys()) for e in clean.rows)
        extra = sum(len(rows[e].keys() - clean.rows[e].keys()) for e in clean.rows)
        self.figures.add("rows lost", lost)
        self.figures.add("rows duplicated", extra)
        assert (lost, extra) == (0, 0)
        assert rows == clean.rows
        assert self.state() == clean.state


MakeScenario = Callable[..., Scenario]


def _scenarios(
    tmp_path: Path, database_url: str, waits: list[float], figures: Figures
) -> Iterator[MakeScenario]:
    opened: list[tuple[FaultyApi, Store]] = []

    def make(
        plan: FaultPlan,
        *,
        orders: int = ORDERS,
        paging: Paging = "link",
        sorted_by_cursor: bool = True,
    ) -> Scenario:
        api = FaultyApi(orders, token=TOKEN, paging=paging, plan=plan).__enter__()
        hub = write_hub(
            tmp_path, database_url, api.url, paging=paging, sorted_by_cursor=sorted_by_cursor
        )
        store = Store(hub.database_url())
        store.create_all()
        opened.append((api, store))
        return Scenario(api, hub, store, waits, figures)

    yield make
    for api, store in opened:
        api.__exit__()
        store.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow]),
    ]
)
def matrix_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """For the long fault-by-fault matrices: SQLite by default, PostgreSQL too with ``-m slow``.

    The storage path is the same for every wire fault; the tests that run on
    both backends by default (``scenario_on_every_backend``) cover PostgreSQL.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as connection:
        SQLModel.metadata.drop_all(connection)
    engine.dispose()


@pytest.fixture
def scenario(
    tmp_path: Path, matrix_database_url: str, waits: list[float], figures: Figures
) -> Iterator[MakeScenario]:
    """Builds a :class:`Scenario` on SQLite (and on PostgreSQL with ``-m slow``)."""
    yield from _scenarios(tmp_path, matrix_database_url, waits, figures)


@pytest.fixture
def scenario_on_every_backend(
    tmp_path: Path, database_url: str, waits: list[float], figures: Figures
) -> Iterator[MakeScenario]:
    """Builds a :class:`Scenario` on SQLite and on PostgreSQL, in every run."""
    yield from _scenarios(tmp_path, database_url, waits, figures)


def page_ids(pages: range, *, out_of_order: bool = False, orders: int = ORDERS) -> list[int]:
    """Order ids on ``pages`` (1-based) of a first sync, computed from the data set alone."""
    everything = make_orders(orders)
    if out_of_order:
        everything = [everything[i] for i in scrambled(orders)]
    ids = []
    for page in pages:
        ids += [o["id"] for o in everything[(page - 1) * PAGE : page * PAGE]]
    return ids


def expected_partial(clean: Clean, order_ids: list[int], orders: int = ORDERS) -> Rows:
    """The clean rows that belong to ``order_ids``: their conversions, items and partners."""
    chosen = [o for o in make_orders(orders) if o["id"] in set(order_ids)]
    keys = {
        "conversion": {str(o["id"]) for o in chosen},
        # a child's external id is its parent's and its own: "<order id>:<item id>"
        "conversion_item": {f"{o['id']}:{item['id']}" for o in chosen for item in o["items"]},
        "partner": {o["partner_id"] for o in chosen},
    }
    return {
        entity: {k: v for k, v in rows.items() if k in keys.get(entity, set())}
        for entity, rows in clean.rows.items()
    }


def cursor_state(order_ids: list[int], orders: int = ORDERS) -> dict[str, Any]:
    """The state a sorted stream checkpoints after ``order_ids``: their newest updated_at."""
    if not order_ids:
        return {}
    newest = max(o["updated_at"] for o in make_orders(orders) if o["id"] in set(order_ids))
    return {"orders": {"cursor": newest}}


def assert_kept_checkpoint(
    s: Scenario, clean: Clean, pages_before: int, *, sorted_by_cursor: bool = True
) -> None:
    """A failure left exactly the pages before the fault and their checkpoint."""
    ids = page_ids(range(1, pages_before + 1), out_of_order=not sorted_by_cursor)
    assert s.rows() == expected_partial(clean, ids)
    if sorted_by_cursor:
        assert s.state() == cursor_state(ids)
    else:  # an unsorted stream moves its cursor only at the end of the stream
        assert s.state() in ({}, {"orders": {}})
    with s.store.transaction() as db:
        assert list_runs(db, name=CONNECTION)[0]["status"] == "failed"


# --------------------------------------------------------------------------- transient faults

RECOVERABLE: dict[str, list[Fault]] = {
    "429 storm, Retry-After seconds": storm(status(429, retry_after="2"), 4),
    "429 storm, Retry-After decimal seconds": storm(status(429, retry_after="1.5"), 3),
    "429 storm, Retry-After HTTP date": storm(status(429, date_in=3), 3),
    "429 without Retry-After": storm(status(429), 2),
    "500": [status(500)],
    "502": [status(502), status(502)],
    "503 with Retry-After": [status(503, retry_after="4")],
    "504": [status(504)],
    "connection reset": storm(Fault("reset"), 2),
    "read timeout": [Fault("read_timeout")],
    "truncated JSON": [Fault("truncated_json")],
    "body cut off mid-transfer": [Fault("cut_body")],
    "HTML page with status 200": [Fault("html_200")],
    "empty body": [Fault("empty_body")],
    "every kind in a row": [
        status(429, retry_after="1"),
        status(500),
        Fault("reset"),
        Fault("truncated_json"),
        Fault("html_200"),
    ],
}


@pytest.mark.parametrize("faults", RECOVERABLE.values(), ids=RECOVERABLE.keys())
def test_a_transient_fault_is_retried_and_the_sync_completes_exactly(
    scenario: MakeScenario, clean_dir: Path, faults: list[Fault]
) -> None:
    s = scenario(FaultPlan(wire={1: faults[:1], 3: faults}))
    result = s.sync()
    assert result.ok, result.error
    s.count_faults()
    s.assert_equals_clean(clean_sync(clean_dir))
    # page 1 failed once, page 3 len(faults) times; each failure cost one retry, no more
    assert s.api.attempts[1] == 2 and s.api.attempts[3] == len(faults) + 1
    assert len(s.waits) == 1 + len(faults)
    assert sum(s.waits) <= MAX_TOTAL_WAIT
    for retry, (fault, waited) in enumerate(zip(faults, s.waits[1:], strict=True), start=1):
        if fault.retry_after is not None:
            assert waited == float(fault.retry_after)  # the server's wish, exactly
        elif fault.retry_after_date is not None:  # the date has whole seconds
            assert fault.retry_after_date - 1.5 <= waited <= fault.retry_after_date
        else:  # exponential backoff, lowered by jitter
            assert 0 < waited <= POLICY.backoff_base * 2 ** (retry - 1)


# --------------------------------------------------------------------------- lasting faults


@dataclass(frozen=True)
class Lasting:
    """A fault that does not go away, and what the failure must say."""

    fault: Fault
    says: tuple[str, ...]  # (regular expressions) what happened and what to do
    attempts: int = MAX_ATTEMPTS
    waits: Callable[[list[float]], bool] = lambda w: sum(w) <= MAX_BACKOFF_TOTAL


GAVE_UP = rf"gave up after {MAX_ATTEMPTS} attempts"
RESUMES = r"run the sync again later \(it resumes from the last checkpoint\)"
LASTING: dict[str, Lasting] = {
    "429 storm, Retry-After 2 s": Lasting(
        status(429, retry_after="2"),
        (r"HTTP 429", GAVE_UP, r"10\.0s of waiting", r"rate limit", r"max_total_wait"),
        waits=lambda w: w == [2.0] * 5,
    ),
    "429 asking for longer than the budget": Lasting(
        status(429, retry_after="120"),
        (r"HTTP 429", r"gave up after 3 attempts", r"exceed the retry budget of 300s"),
        attempts=3,
        waits=lambda w: w == [120.0, 120.0],
    ),
    "429 with an HTTP date past the budget": Lasting(
        status(429, date_in=200),
        (r"HTTP 429", r"gave up after 2 attempts", r"exceed the retry budget of 300s"),
        attempts=2,
        waits=lambda w: len(w) == 1 and 198 <= w[0] <= 200,
    ),
    "500": Lasting(status(500), (r"HTTP 500", GAVE_UP, RESUMES)),
    "502": Lasting(status(502), (r"HTTP 502", GAVE_UP, RESUMES)),
    "503": Lasting(status(503), (r"HTTP 503", GAVE_UP, RESUMES)),
    "504": Lasting(status(504), (r"HTTP 504", GAVE_UP, RESUMES)),
    "connection reset": Lasting(
        Fault("reset"),
        (r"(ReadError|RemoteProtocolError|ConnectError)", GAVE_UP, r"no response", r"network"),
    ),
    "read timeout": Lasting(
        Fault("read_timeout"), (r"ReadTimeout", GAVE_UP, r"no response", r"network")
    ),
    "truncated JSON": Lasting(
        Fault("truncated_json"), (r"invalid JSON", r"cut off in transit", GAVE_UP, r"proxy")
    ),
    "body cut off mid-transfer": Lasting(
        Fault("cut_body"), (r"RemoteProtocolError", r"incomplete|complete message", GAVE_UP)
    ),
    "HTML page with status 200": Lasting(
        Fault("html_200"),
        (
            r"HTTP 200 with an HTML page titled 'Just a moment\.\.\. \| Partner CDN'",
            r"where JSON was expected",
            GAVE_UP,
            r"base_url points at the API",
        ),
    ),
    "empty body": Lasting(
        Fault("empty_body"), (r"HTTP 200 with an empty body where JSON was expected", GAVE_UP)
    ),
}


@pytest.mark.parametrize("case", LASTING.values(), ids=LASTING.keys())
def test_a_lasting_fault_fails_clearly_within_the_budget_and_keeps_the_last_checkpoint(
    scenario: MakeScenario, clean_dir: Path, case: Lasting
) -> None:
    s = scenario(FaultPlan(wire={3: storm(case.fault, 20)}))
    result = s.sync()
    assert result.status == "failed"
    s.count_faults()
    message = result.error or ""
    for expected in case.says:
        assert re.search(expected, message), f"{expected!r} not in:\n{message}"
    assert "/orders" in message and TOKEN not in message
    # the budget: bounded attempts, bounded waiting
    assert s.api.attempts[3] == case.attempts
    assert len(s.waits) == case.attempts - 1
    assert sum(s.waits) <= MAX_TOTAL_WAIT and case.waits(s.waits), s.waits
    assert s.api.attempts[4] == 0, "the sync went on past a page it could not read"
    clean = clean_sync(clean_dir)
    assert_kept_checkpoint(s, clean, pages_before=2)

    s.api.heal()
    rerun = s.sync()
    assert rerun.ok, rerun.error
    # the re-run resumed from the kept checkpoint, not from scratch
    assert s.first_query().get("updated_since") == [
        cursor_state(page_ids(range(1, 3)))["orders"]["cursor"]
    ]
    s.assert_equals_clean(clean)


def test_a_fault_on_the_very_first_page_leaves_nothing_behind(
    scenario_on_every_backend: MakeScenario, clean_dir: Path
) -> None:
    s = scenario_on_every_backend(FaultPlan(wire={1: storm(status(503), 20)}))
    result = s.sync()
    assert result.status == "failed" and "HTTP 503" in (result.error or "")
    s.count_faults()
    assert all(not rows for rows in s.rows().values())
    assert s.state() == {}
    s.api.heal()
    assert s.sync().ok
    s.assert_equals_clean(clean_sync(clean_dir))


def test_on_every_backend_a_storm_then_a_lasting_fault_keeps_the_checkpoint_and_resumes(
    scenario_on_every_backend: MakeScenario, clean_dir: Path
) -> None:
    """The fault matrix in short, on SQLite and PostgreSQL in every run."""
    s = scenario_on_every_backend(
        FaultPlan(
            wire={
                2: storm(status(429, retry_after="2"), 3),
                3: [Fault("reset"), Fault("truncated_json")],
                4: storm(status(503), 20),
            }
        )
    )
    result = s.sync()
    assert result.status == "failed"
    s.count_faults()
    assert re.search(GAVE_UP, result.error or "") and "HTTP 503" in (result.error or "")
    assert s.api.attempts[2] == 4 and s.api.attempts[3] == 3 and s.api.attempts[4] == MAX_ATTEMPTS
    assert s.api.attempts[5] == 0
    assert sum(s.waits) <= 6.0 + 1.0 + 2.0 + MAX_BACKOFF_TOTAL
    clean = clean_sync(clean_dir)
    assert_kept_checkpoint(s, clean, pages_before=3)
    s.api.heal()
    assert s.sync().ok
    s.assert_equals_clean(clean)


# --------------------------------------------------------------------------- data faults


def test_the_same_record_on_two_pages_is_stored_once(
    scenario_on_every_backend: MakeScenario, clean_dir: Path
) -> None:
    s = scenario_on_every_backend(
        FaultPlan(duplicate_pages=frozenset({2, 4}), repeat_within_pages=frozenset({3}))
    )
    result = s.sync()
    assert result.ok, result.error
    s.count_faults()
    assert s.api.injected["same record on two pages"] == 2
    assert s.api.injected["same record twice on one page"] == 1
    assert result.counts.records == ORDERS + 3  # every copy was read ...
    s.assert_equals_clean(clean_sync(clean_dir))  # ... and stored once


@pytest.mark.parametrize("paging", ["link", "cursor"])
def test_records_out_of_cursor_order_save_the_newest_cursor_and_miss_nothing_next_time(
    scenario: MakeScenario, clean_dir: Path, paging: Paging
) -> None:
    s = scenario(FaultPlan(out_of_order=True), paging=paging, sorted_by_cursor=False)
    listed = [o["updated_at"] for o in s.api.listing("")]
    assert listed != sorted(listed), "the fake must really serve records out of order"
    result = s.sync()
    assert result.ok, result.error
    s.count_faults()
    newest = max(o["updated_at"] for o in make_orders(ORDERS))
    assert s.state() == {"orders": {"cursor": newest}}
    s.assert_equals_clean(clean_sync(clean_dir, sorted_by_cursor=False, out_of_order=True))

    # New and changed orders arrive, still out of order: the incremental run gets them all.
    grown = ORDERS + 9
    s.api.orders = make_orders(grown)
    assert s.sync().ok
    assert s.first_query()["updated_since"] == [newest]
    s.assert_equals_clean(
        clean_sync(clean_dir, orders=grown, sorted_by_cursor=False, out_of_order=True)
    )


def test_a_fault_mid_stream_of_an_unsorted_api_does_not_move_the_cursor(
    scenario_on_every_backend: MakeScenario, clean_dir: Path
) -> None:
    s = scenario_on_every_backend(
        FaultPlan(out_of_order=True, wire={3: storm(status(502), 20)}), sorted_by_cursor=False
    )
    result = s.sync()
    assert result.status == "failed" and "HTTP 502" in (result.error or "")
    s.count_faults()
    clean = clean_sync(clean_dir, sorted_by_cursor=False, out_of_order=True)
    assert_kept_checkpoint(s, clean, pages_before=2, sorted_by_cursor=False)
    s.api.heal()
    s.api.plan = FaultPlan(out_of_order=True)
    assert s.sync().ok
    s.assert_equals_clean(clean)


@pytest.mark.parametrize("paging", ["link", "cursor"])
def test_an_empty_last_page_ends_the_stream(
    scenario: MakeScenario, clean_dir: Path, paging: Paging
) -> None:
    # 20 orders fill four pages; the API still offers a fifth, which is empty
    s = scenario(FaultPlan(next_after_last=True), orders=20, paging=paging)
    result = s.sync()
    assert result.ok, result.error
    s.count_faults()
    assert len(s.api.requests) == 5
    s.assert_equals_clean(clean_sync(clean_dir, orders=20))


@pytest.mark.parametrize("paging", ["link", "cursor"])
def test_an_empty_page_mid_stream_ends_the_run_and_the_next_run_reads_on(
    scenario: MakeScenario, clean_dir: Path, paging: Paging
) -> None:
    """ADR 0003: an empty page is the last page, whatever the API says next.

    For a sorted stream that is safe: the cursor stops at the last record
    read, so the next run asks from there and gets the rest.
    """
    s = scenario(FaultPlan(empty_pages=frozenset({3})), paging=paging)
    result = s.sync()
    assert result.ok, result.error
    s.count_faults()
    clean = clean_sync(clean_dir)
    before = page_ids(range(1, 3))
    assert s.rows() == expected_partial(clean, before)
    assert s.state() == cursor_state(before)
    s.api.heal()
    assert s.sync().ok
    s.assert_equals_clean(clean)


BACKWARDS: dict[str, tuple[Paging, dict[int, int], int]] = {
    # page 3's Link points to page 2's URL again: refused before page 3 is used
    "link to an earlier page": ("link", {3: 2}, 2),
    # page 3's cursor points to page 1 (a new URL): page 1 comes again and its
    # next cursor (page 2) repeats a request, which is refused; pages 1-3 were kept
    "cursor back to the first page": ("cursor", {3: 1}, 3),
    "cursor pointing at its own page": ("cursor", {2: 2}, 1),
}


@pytest.mark.parametrize(("paging", "backwards", "kept"), BACKWARDS.values(), ids=BACKWARDS.keys())
def test_a_cursor_going_backwards_is_stopped_clearly_not_looped(
    scenario: MakeScenario, clean_dir: Path, paging: Paging, backwards: dict[int, int], kept: int
) -> None:
    s = scenario(FaultPlan(backwards=backwards), paging=paging)
    result = s.sync()
    assert result.status == "failed"
    s.count_faults()
    message = result.error or ""
    assert "already fetched" in message and "endless loop" in message, message
    assert "pagination settings" in message or "report it to the vendor" in message
    assert len(s.api.requests) <= ORDERS // PAGE + 2  # stopped, never looping
    clean = clean_sync(clean_dir)
    assert_kept_checkpoint(s, clean, pages_before=kept)
    s.api.heal()
    assert s.sync().ok
    s.assert_equals_clean(clean)


def test_the_clean_baseline_reads_every_order_once(clean_dir: Path) -> None:
    """The baseline itself is what the data set says, not just what the code produced."""
    clean = clean_sync(clean_dir)
    orders = make_orders(ORDERS)
    assert set(clean.rows["conversion"]) == {str(o["id"]) for o in orders}
    assert set(clean.rows["conversion_item"]) == {
        f"{o['id']}:{i['id']}" for o in orders for i in o["items"]
    }
    assert set(clean.rows["partner"]) == {o["partner_id"] for o in orders}
    assert clean.state == cursor_state([o["id"] for o in orders])


# --------------------------------------------------------------------------- long variants


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_random_fault_mixes_on_every_page(
    scenario: MakeScenario, clean_dir: Path, seed: int
) -> None:
    """Long variant: a random mix of recoverable faults on every page still syncs exactly."""
    import random

    rng = random.Random(seed)
    kinds = [f for faults in RECOVERABLE.values() for f in faults if f.retry_after_date is None]
    plan = {
        page: [rng.choice(kinds) for _ in range(rng.randint(0, MAX_ATTEMPTS - 1))]
        for page in range(1, ORDERS // PAGE + 2)
    }
    s = scenario(FaultPlan(wire=plan, duplicate_pages=frozenset({2})))
    result = s.sync()
    assert result.ok, result.error
    if s.api.injected:
        s.count_faults()
    s.assert_equals_clean(clean_sync(clean_dir))


@pytest.mark.slow
def test_a_long_storm_on_every_page_stays_within_the_budget(
    scenario: MakeScenario, clean_dir: Path
) -> None:
    plan = {page: storm(status(429, retry_after="30"), 5) for page in range(1, 6)}
    s = scenario(FaultPlan(wire=plan))
    result = s.sync()
    assert result.ok, result.error
    s.count_faults()
    assert s.waits == [30.0] * 25
    s.assert_equals_clean(clean_sync(clean_dir))


@pytest.mark.parametrize("paging", ["link", "cursor"])
def test_an_empty_page_mid_stream_of_an_unsorted_api_loses_nothing(
    scenario: MakeScenario, clean_dir: Path, paging: Paging
) -> None:
    """Paging ends at the empty page, so the records after it are not read in this run.

    The stream is unsorted: records after the empty page may have older cursor
    values than the newest one read, so the cursor must not move past them.
    """
    s = scenario(
        FaultPlan(empty_pages=frozenset({3}), out_of_order=True),
        paging=paging,
        sorted_by_cursor=False,
    )
    result = s.sync()
    assert result.ok, result.error
    s.count_faults()
    clean = clean_sync(clean_dir, sorted_by_cursor=False, out_of_order=True)
    assert s.rows() == expected_partial(clean, page_ids(range(1, 3), out_of_order=True))
    assert s.state() in ({}, {"orders": {}})  # regression: it used to jump to the newest
    s.api.heal()
    s.api.plan = FaultPlan(out_of_order=True)
    assert s.sync().ok
    s.assert_equals_clean(clean)
