"""Crash anywhere, lose nothing: SIGKILL a sync at many points, re-run, compare with a clean sync.

The source is the Shopify sandbox (two streams, orders and products, paged by
``Link`` headers, several pages each; an override makes the cancelled orders
fail validation, so quarantine writes happen too). A clean ``hub sync`` into a
fresh database is the reference. Then, for each crash point ``(failpoint, n)``
(see hub/failpoints.py): a fresh database, ``hub sync`` with
``HUB_FAILPOINT=<failpoint>:<n>``, which must die by SIGKILL (else the point
was never reached and the test says so); then, right after the kill,

- every row in the database is one the clean sync also wrote, unchanged (no
  half-written row, no row that should not exist);
- the saved state is not ahead of the rows: every row the clean sync wrote
  from records older than a stream's saved cursor is there;

then ``hub sync`` again (every fourth point: killed once more at another
point first), and after it the database equals the clean sync's: the same
rows (none lost, none duplicated, same values), the same quarantine, the same
state, and the run history shows each killed run closed as failed.

The expectations of the clean sync are computed from the sandbox's generator
(``ShopData``), not from what the hub stored. The default run tries a spread
of points of every failpoint on SQLite and PostgreSQL; ``-m slow`` tries every
point a clean sync reaches.

Speed: starting Python and importing the hub costs about a second, more than a
sync of this shop. A fork server (:func:`serve_forks`, one warm interpreter per
module) forks a child per ``hub sync``; the child runs the real CLI (``hub.cli.app``)
with its own engine, arms its failpoint with ``failpoints.configure`` and exits
with the command's status, or dies by SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import hub.history
import hub.state  # noqa: F401 - registers the state table
from connectors.shopify.sandbox import ShopData, ShopifySandbox
from hub.schema import ENTITIES
from tests.reliability.conftest import Figures

REPO = Path(__file__).resolve().parents[2]
TOKEN = "shpat_crash_anywhere_0123456789abcdef"
SEED, ORDERS = 7, 30
PAGE_SIZE = 8  # orders: 4 pages; products: 5 pages
BATCH_SIZE = 12  # rows: batches also fill up (and commit) in the middle of a page
CONNECTION = "nordlicht-shop"
#: stream -> the canonical entities its records become (mappings/shopify.yaml)
STREAM_ENTITIES = {"orders": ("conversion", "conversion_item"), "products": ("sku",)}
#: What the sync reaches, in order (hub/failpoints.py documents each).
FAILPOINTS = (
    "runner.run_started",
    "runner.record",
    "runner.batch_ready",
    "store.upsert",
    "runner.quarantined",
    "runner.before_state",
    "runner.after_state",
    "runner.before_commit",
    "runner.committed",
    "runner.checkpoint",
)
#: columns that differ between two correct syncs (when they ran, which run wrote)
VOLATILE = {"synced_at", "updated_at", "run_id", "created_at"}
DEFAULT_POINTS_PER_FAILPOINT = 5
SECOND_KILL_EVERY = 4
CLOSED_RUN_ERROR = "stopped without finishing"


# --------------------------------------------------------------------------- fork server


def serve_forks() -> None:
    """A warm interpreter that runs one forked ``hub`` command per JSON line on stdin.

    A request: ``{"args": [...], "env": {...}, "failpoint": "name:n" | null,
    "count": bool, "log": path, "hits": path}``; the answer, one JSON line:
    ``{"code": exit status | null, "signal": number | null}``. With ``count``
    the child writes how often it reached each failpoint to ``hits``.
    """
    # What every `hub sync` imports, lazily or not, is imported once, here.
    import certifi  # noqa: F401
    import h11  # noqa: F401
    import httpcore  # noqa: F401
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg
    import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401

    import hub.cli
    import hub.runner
    from hub import failpoints
    from hub.mapping import Mappings, load_mappings
    from hub.plugins import get_registry

    get_registry()
    # Parsing the shipped mapping files is a third of a small sync's time and has
    # nothing to crash: they are parsed once, as a long-lived scheduler would.
    parsed: dict[tuple[str, ...], Mappings] = {}

    def load_once(extra_files: Sequence[Path] = ()) -> Mappings:
        key = tuple(str(path) for path in extra_files)
        if key not in parsed:
            parsed[key] = load_mappings(extra_files)
        return parsed[key]

    hub.runner.load_mappings = load_once
    load_once()
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: one `hub` command
            code = 70
            try:
                log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.environ.update(job["env"])
                os.environ.pop("HUB_CONFIG", None)
                failpoints.configure(job["failpoint"], count=job["count"])
                try:
                    hub.cli.app(job["args"], prog_name="hub")
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
                if job["count"]:
                    Path(job["hits"]).write_text(json.dumps(dict(failpoints.hits())))
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        answer = {
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


@dataclass
class Outcome:
    """How one forked ``hub sync`` ended."""

    code: int | None
    signal: int | None
    log: str
    hits: dict[str, int] = field(default_factory=dict)

    @property
    def killed(self) -> bool:
        return self.signal == signal.SIGKILL


class ForkServer:
    """The test side of :func:`serve_forks`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import serve_forks; serve_forks()"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.jobs = 0

    def sync(self, config: Path, *, failpoint: str | None = None, count: bool = False) -> Outcome:
        """``hub --config <config> sync --batch-size BATCH_SIZE``, killed at ``failpoint``."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.jobs += 1
        log = self.workdir / f"job-{self.jobs}.log"
        hits = self.workdir / f"job-{self.jobs}.hits.json"
        job = {
            "args": ["--config", str(config), "sync", "--batch-size", str(BATCH_SIZE)],
            "env": {"SHOPIFY_SANDBOX_TOKEN": TOKEN},
            "failpoint": failpoint,
            "count": count,
            "log": str(log),
            "hits": str(hits),
        }
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise AssertionError("the fork server died; see the test's captured stderr")
        result = json.loads(answer)
        text_log = log.read_text() if log.exists() else ""
        counted = json.loads(hits.read_text()) if count and hits.exists() else {}
        return Outcome(result["code"], result["signal"], text_log, counted)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def forks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("forks"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(orders=ORDERS, token=TOKEN, seed=SEED, rate_limit=False) as sandbox:
        yield sandbox


# --------------------------------------------------------------------------- databases


class Backend:
    """Fresh, empty databases of one kind, one per sync scenario."""

    name: str
    #: which spread of crash points this backend tries (see :func:`spread`): the two
    #: backends try different points, so a default run covers twice as many
    centred: bool = False

    @contextmanager
    def fresh(self, directory: Path) -> Iterator[str]:
        raise NotImplementedError

    def after_kill(self) -> None:
        """Wait until what the killed process held (locks, sessions) is released."""


class SQLiteBackend(Backend):
    name = "sqlite"

    @contextmanager
    def fresh(self, directory: Path) -> Iterator[str]:
        yield f"sqlite:///{directory / 'hub.db'}"


class PostgresBackend(Backend):
    """A schema of its own in the session's test database, emptied for each scenario.

    The first sync creates the tables; later scenarios start from the same
    tables emptied, which is an empty database to the hub and saves creating
    fifteen tables with their indexes each time. The schema is dropped at the end.
    """

    name = "postgresql"
    centred = True

    def __init__(self, url: str) -> None:
        self.schema = f"crash_{uuid.uuid4().hex[:12]}"
        self.url = (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={self.schema}"})
            .render_as_string(hide_password=False)
        )
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))

    @contextmanager
    def fresh(self, directory: Path) -> Iterator[str]:
        self.after_kill()
        with self.admin.connect() as connection, connection.begin():
            tables = connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                {"schema": self.schema},
            ).scalars()
            for name in list(tables):  # a few hundred rows: DELETE is faster than TRUNCATE
                connection.execute(text(f'DELETE FROM "{self.schema}"."{name}"'))  # noqa: S608
        yield self.url

    def after_kill(self) -> None:
        # The server ends a killed client's session, and so releases its advisory run
        # lock (hub/locks.py), as soon as it notices the closed socket. A re-run that
        # raced it would stop at once with "already being synced".
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        deadline = time.monotonic() + 10
        with self.admin.connect() as connection:
            while connection.execute(query).scalar_one() and time.monotonic() < deadline:
                time.sleep(0.01)

    def dispose(self) -> None:
        self.after_kill()
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield SQLiteBackend()
        return
    postgres = PostgresBackend(request.getfixturevalue("postgres_url"))
    yield postgres
    postgres.dispose()


def write_config(directory: Path, shop: ShopifySandbox, database: str) -> Path:
    """A hub.yaml syncing the sandbox's orders and products in small pages."""
    settings = {
        "shop": shop.shop,
        "access_token": "${SHOPIFY_SANDBOX_TOKEN}",
        "api_version": "2025-01",
        "start_date": "2024-01-01",
        "base_url": shop.url,
        "page_size": PAGE_SIZE,
        "leak_rate": 1000,  # the sandbox does not limit; neither should the client
    }
    connection = {
        "connector": "shopify",
        "tenant": "nordlicht",
        "config": settings,
        # Cancelled orders get their cancel reason as presentment currency, which is
        # not a currency: they are quarantined, so crashes hit quarantine writes too.
        "mapping_overrides": {
            "orders": {
                "fields": {
                    "presentment_currency": {
                        "path": ["cancel_reason", "total_price_set.presentment_money.currency_code"]
                    }
                }
            }
        },
        "quarantine": {"max_ratio": 0.5},
    }
    hub_yaml = {
        "database": database,
        "tenants": {"nordlicht": {"name": "Nordlicht Outdoor"}},
        "connections": {CONNECTION: connection},
    }
    path = directory / "hub.yaml"
    path.write_text(yaml.safe_dump(hub_yaml, sort_keys=False))
    return path


# --------------------------------------------------------------------------- what is stored

Rows = dict[str, tuple[Any, ...]]  # row id -> values without the volatile columns


@dataclass
class Snapshot:
    """Everything a sync leaves behind, in a form two syncs can be compared by."""

    tables: dict[str, Rows]
    state: dict[str, dict[str, Any]]
    runs: list[tuple[str, str | None]]  # (status, error), oldest first
    #: table -> natural keys (tenant, connection, external_id) stored more than once
    duplicates: dict[str, list[tuple[Any, ...]]]
    #: entity -> row id -> source_updated_at
    updated: dict[str, dict[str, datetime | None]]


def snapshot(url: str) -> Snapshot:
    engine = create_engine(url)
    try:
        return _snapshot(engine)
    finally:
        engine.dispose()


def _snapshot(engine: Engine) -> Snapshot:
    tables = {name: table.__table__ for name, (_, table) in ENTITIES.items()}  # type: ignore[attr-defined]
    tables["quarantine"] = SQLModel.metadata.tables["quarantine"]
    result: dict[str, Rows] = {}
    duplicates: dict[str, list[tuple[Any, ...]]] = {}
    updated: dict[str, dict[str, datetime | None]] = {}
    with engine.connect() as connection:
        for name, table in tables.items():
            columns = [c for c in table.columns if c.name not in VOLATILE]
            rows = [tuple(row) for row in connection.execute(select(*columns))]
            result[name] = {row[0]: row[1:] for row in rows}
            if name in ENTITIES:
                natural = Counter(
                    tuple(row)
                    for row in connection.execute(
                        select(table.c.tenant, table.c.connection, table.c.external_id)
                    )
                )
                duplicates[name] = [key for key, seen in natural.items() if seen > 1]
                updated[name] = {
                    key: stamp
                    for key, stamp in connection.execute(
                        select(table.c.id, table.c.source_updated_at)
                    )
                }
        states = SQLModel.metadata.tables["sync_state"]
        state = {
            stream: json.loads(value)
            for stream, value in connection.execute(select(states.c.stream, states.c.state))
        }
        run_table = SQLModel.metadata.tables["sync_run"]
        runs = [
            (status, error)
            for status, error in connection.execute(
                select(run_table.c.status, run_table.c.error).order_by(run_table.c.id)
            )
        ]
    return Snapshot(result, state, runs, duplicates, updated)


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value!r} has no UTC offset"
    return parsed


# --------------------------------------------------------------------------- the clean sync


@dataclass
class Reference:
    """The clean sync of one backend: what it stored and how often it reached each failpoint."""

    snapshot: Snapshot
    hits: dict[str, int]


def expected_from_generator() -> dict[str, Any]:
    """What a correct sync of the sandbox stores, computed from its generator alone."""
    data = ShopData(SEED)
    orders = list(data.orders(ORDERS))
    cancelled = [o for o in orders if o["cancel_reason"] is not None]
    kept = [o for o in orders if o["cancel_reason"] is None]
    return {
        "conversion": len(kept),
        "conversion_item": sum(len(o["line_items"]) for o in kept),
        "sku": len(data.variants),
        "quarantine": len(cancelled),
        "state": {
            "orders": max(instant(o["updated_at"]) for o in orders),
            "products": max(instant(p["updated_at"]) for p in data.products),
        },
    }


def clean_sync(
    forks: ForkServer, backend: Backend, shop: ShopifySandbox, directory: Path
) -> Reference:
    """Sync into a fresh database once, check it against the generator, keep its snapshot."""
    directory.mkdir()
    with backend.fresh(directory) as url:
        outcome = forks.sync(write_config(directory, shop, url), count=True)
        assert outcome.code == 0, f"the clean sync failed:\n{outcome.log}"
        reference = Reference(snapshot(url), outcome.hits)
    expected = expected_from_generator()
    stored = reference.snapshot
    for table in ("conversion", "conversion_item", "sku", "quarantine"):
        assert len(stored.tables[table]) == expected[table], table
    assert expected["quarantine"] > 0, "choose a seed with cancelled orders: quarantine untested"
    assert {s: instant(v["updated_at"]) for s, v in stored.state.items()} == expected["state"]
    assert stored.runs == [("succeeded", None)]
    assert set(reference.hits) == set(FAILPOINTS), "a failpoint was never reached, or is new"
    return reference


# --------------------------------------------------------------------------- crash points


def spread(total: int, count: int, *, centred: bool = False) -> list[int]:
    """``count`` hit numbers spread evenly over 1..total: from the first hit to the last,
    or (``centred``) in the middles of ``count`` equal slices, which misses both ends
    and mostly picks other hits than the uncentred spread."""
    if total <= count:
        return list(range(1, total + 1))
    if centred:
        return sorted({1 + int((i + 0.5) * total / count) for i in range(count)})
    return sorted({1 + round(i * (total - 1) / (count - 1)) for i in range(count)})


def crash_points(
    hits: dict[str, int], per_failpoint: int | None, *, centred: bool = False
) -> list[tuple[str, int]]:
    """A spread of ``per_failpoint`` hits of every failpoint (every hit when None)."""
    return [
        (name, n)
        for name in FAILPOINTS
        for n in (
            range(1, hits[name] + 1)
            if per_failpoint is None
            else spread(hits[name], per_failpoint, centred=centred)
        )
    ]


def second_kill(index: int) -> str:
    """A point every resumed run reaches: each of the two streams re-reads at least its
    newest page, so every failpoint but ``runner.run_started`` is reached twice."""
    name = FAILPOINTS[index % len(FAILPOINTS)]
    return f"{name}:{1 if name == 'runner.run_started' else 1 + index % 2}"


@dataclass
class Tally:
    """What a suite run tried and found, over all its crash points."""

    points: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)


def killed_state_problems(killed: Snapshot, clean: Snapshot, kills: int) -> list[str]:
    """What is wrong with a database right after its ``kills``-th kill (empty when nothing)."""
    problems: list[str] = []
    for table, rows in killed.tables.items():
        reference = clean.tables[table]
        stray = [key for key in rows if key not in reference]
        changed = [key for key in rows if key in reference and rows[key] != reference[key]]
        if stray:
            problems.append(f"{table}: {len(stray)} rows a clean sync never writes")
        if changed:
            problems.append(f"{table}: {len(changed)} rows differ from the clean sync's")
    for stream, state in killed.state.items():
        cursor = instant(state["updated_at"])
        for entity in STREAM_ENTITIES[stream]:
            behind = [
                key
                for key, updated in clean.updated[entity].items()
                if updated is not None and updated < cursor and key not in killed.tables[entity]
            ]
            if behind:
                problems.append(
                    f"state ahead of rows: {stream} cursor {state['updated_at']} but "
                    f"{len(behind)} older {entity} rows are missing"
                )
    # the dead run cannot close itself; the next run closes it (and any before it)
    if [status for status, _ in killed.runs] != ["failed"] * (kills - 1) + ["running"]:
        problems.append(f"run history right after the kill: {killed.runs}")
    return problems


def compare(final: Snapshot, clean: Snapshot, kills: int, tally: Tally) -> list[str]:
    """Differences between a recovered database and the clean one (empty when none)."""
    problems: list[str] = []
    for table, reference in clean.tables.items():
        rows = final.tables[table]
        lost = [key for key in reference if key not in rows]
        extra = [key for key in rows if key not in reference]
        changed = [key for key in reference if key in rows and rows[key] != reference[key]]
        doubles = final.duplicates.get(table, [])
        tally.lost += len(lost)
        tally.duplicated += len(extra) + len(doubles)
        for what, keys in (("lost", lost), ("extra", extra), ("changed", changed)):
            if keys:
                problems.append(f"{table}: {len(keys)} rows {what}, e.g. {keys[0]}")
        if doubles:
            problems.append(f"{table}: external ids stored twice: {doubles[:3]}")
    if final.state != clean.state:
        problems.append(f"state {final.state} != clean sync's {clean.state}")
    statuses = [status for status, _ in final.runs]
    if statuses != ["failed"] * kills + ["succeeded"]:
        problems.append(f"run history {statuses}, expected {kills} failed then succeeded")
    elif not all(CLOSED_RUN_ERROR in (error or "") for _, error in final.runs[:-1]):
        problems.append(f"a killed run was not closed as abandoned: {final.runs[:-1]}")
    return problems


def crash_and_recover(
    forks: ForkServer,
    backend: Backend,
    shop: ShopifySandbox,
    directory: Path,
    clean: Snapshot,
    kills: Sequence[str],
    tally: Tally,
) -> None:
    """Kill a sync at each of ``kills`` in turn, re-run to the end, compare with ``clean``."""
    directory.mkdir()
    label = " then ".join(kills)
    with backend.fresh(directory) as url:
        config = write_config(directory, shop, url)
        for number, point in enumerate(kills):
            outcome = forks.sync(config, failpoint=point)
            backend.after_kill()
            if not outcome.killed:
                tally.problems.append(
                    f"{label}: the sync was not killed at {point} (exit {outcome.code}, signal "
                    f"{outcome.signal}): the point was never reached\n{outcome.log[-2000:]}"
                )
                return
            tally.points += 1
            for problem in killed_state_problems(snapshot(url), clean, number + 1):
                tally.problems.append(f"{label}: after killing at {point}: {problem}")
        outcome = forks.sync(config)
        if outcome.code != 0:
            tally.problems.append(f"{label}: the re-run failed\n{outcome.log[-2000:]}")
            return
        for problem in compare(snapshot(url), clean, len(kills), tally):
            tally.problems.append(f"{label}: {problem}")


def run_suite(
    forks: ForkServer,
    backend: Backend,
    shop: ShopifySandbox,
    tmp_path: Path,
    figures: Figures,
    per_failpoint: int | None,
) -> Tally:
    reference = clean_sync(forks, backend, shop, tmp_path / "clean")
    tally = Tally()
    points = crash_points(reference.hits, per_failpoint, centred=backend.centred)
    for index, (name, n) in enumerate(points):
        kills = [f"{name}:{n}"]
        if index % SECOND_KILL_EVERY == SECOND_KILL_EVERY - 1:
            kills.append(second_kill(index // SECOND_KILL_EVERY))
        crash_and_recover(
            forks, backend, shop, tmp_path / f"point-{index}", reference.snapshot, kills, tally
        )
    figures.add(f"crash points tried ({backend.name})", tally.points)
    figures.add("rows lost", tally.lost)
    figures.add("rows duplicated", tally.duplicated)
    return tally


def check(tally: Tally, minimum: int) -> None:
    assert not tally.problems, "\n".join(tally.problems)
    assert tally.points >= minimum, f"only {tally.points} crash points were tried"
    assert tally.lost == 0 and tally.duplicated == 0


# --------------------------------------------------------------------------- tests


def test_killed_anywhere_a_rerun_equals_a_clean_sync(
    forks: ForkServer,
    backend: Backend,
    shop: ShopifySandbox,
    tmp_path: Path,
    figures: Figures,
) -> None:
    tally = run_suite(forks, backend, shop, tmp_path, figures, DEFAULT_POINTS_PER_FAILPOINT)
    check(tally, minimum=50)


@pytest.mark.slow
def test_killed_at_every_point_a_rerun_equals_a_clean_sync(
    forks: ForkServer,
    backend: Backend,
    shop: ShopifySandbox,
    tmp_path: Path,
    figures: Figures,
) -> None:
    tally = run_suite(forks, backend, shop, tmp_path, figures, None)
    check(tally, minimum=300)
