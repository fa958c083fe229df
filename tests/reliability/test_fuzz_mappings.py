"""Bad input, records: arbitrary JSON fed to every stream of every shipped mapping.

A connector hands the runner whatever its source sent. Whatever that is, one
record must never stop a sync: it is either stored or quarantined with a
reason. These property-based tests (hypothesis) check that for every stream
of every mapping the hub ships, found through the plugin registry (plus the
example plugin in ``examples/``), so a new mapping is fuzzed without touching
this file.

Three kinds of input, per stream:

- **arbitrary JSON**: nested objects and lists, unicode text, huge and
  negative integers, floats including NaN and infinities (Python's
  ``json.loads``, which the csv example uses for JSON Lines, accepts them);
- **shaped JSON**: records that hold something at exactly the paths the
  mapping reads (``saleAmount.amount``, ``line_items[].price``,
  ``note_attributes[name=awc].value`` ...), with plausible and hostile values
  there, so converters, maps and children really run;
- **almost valid**: real records from each plugin's sandbox (the fakes
  ``hub demo`` syncs) with fields deleted, nulled, blanked, retyped or
  replaced by huge values.

Each record goes (1) through the compiled mapping and the canonical models,
exactly as :func:`hub.runner.normalize` does: rows or a ``RecordError`` with a
message, any other exception is a bug; and, fewer of them, (2) through the real
:class:`hub.runner.SyncRunner` with a fake connector into SQLite: the run
succeeds, records = stored + quarantined, and every quarantine entry has a
reason. The ``slow`` variants run many more examples.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from hub.config import load_config
from hub.connector import Checkpoint, Connector, Message, Record, Stream
from hub.errors import RecordError
from hub.history import list_quarantine
from hub.mapping import CompiledMapping, Mappings
from hub.mapping.paths import Each, Filter, Key
from hub.mapping.paths import Path as MappingPath
from hub.mapping.spec import EntitySpec, StreamSpec
from hub.plugins import Registered, Registry, get_registry
from hub.runner import SyncRunner, normalize
from hub.store import Store
from tests.reliability.conftest import Figures

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TENANT = "fuzz-tenant"
CONNECTION = "fuzz"
SYNCED_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
#: records kept per stream from a sandbox, spread evenly over what it served
SAMPLES_PER_STREAM = 40


# --- what the hub ships ------------------------------------------------------


def _example_plugins() -> list[Any]:
    """Plugins shipped in this repository's ``examples/`` but maybe not installed."""
    modules = []
    for folder in sorted(EXAMPLES.glob("hub-connector-*")):
        package = folder.name.replace("-", "_")
        if not (folder / package / "__init__.py").is_file():
            continue
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        modules.append(__import__(package))
    return modules


@dataclass(frozen=True)
class Shipped:
    """Every mapping, connector and sandbox the installed and example plugins register."""

    mappings: Mappings
    connectors: Mapping[str, type[Connector]]
    sandboxes: Mapping[str, Callable[[], AbstractContextManager[Mapping[str, Any]]]]


@cache
def shipped() -> Shipped:
    registry = get_registry()
    files = list(registry.mapping_files)
    converters = {name: item.obj for name, item in registry.converters.items()}
    connectors: dict[str, type[Connector]] = {
        name: item.obj for name, item in registry.connectors.items()
    }
    sandboxes = {name: item.obj for name, item in registry.sandboxes.items()}
    for module in _example_plugins():
        found: list[type[Connector]] = []
        if hasattr(module, "hub_register_connectors"):
            module.hub_register_connectors(register=found.append)
        if any(cls.name in connectors for cls in found):
            continue  # installed: the registry already has everything it registers
        connectors.update({cls.name: cls for cls in found})
        if hasattr(module, "hub_register_mappings"):
            module.hub_register_mappings(register=lambda path: files.append(Path(path)))
        if hasattr(module, "hub_register_converters"):
            module.hub_register_converters(register=converters.__setitem__)
        if hasattr(module, "hub_register_sandboxes"):
            module.hub_register_sandboxes(register=sandboxes.__setitem__)
    return Shipped(Mappings(files, converters), connectors, sandboxes)


def _streams() -> list[tuple[str, str]]:
    mappings = shipped().mappings
    return [
        (source, stream) for source in mappings.sources() for stream in mappings.streams(source)
    ]


STREAMS = _streams()
STREAM_IDS = [f"{source}.{stream}" for source, stream in STREAMS]


def test_every_shipped_connector_has_its_streams_fuzzed() -> None:
    """The discovery above really finds the shipped mappings (a guard against fuzzing nothing)."""
    sources = {source for source, _ in STREAMS}
    assert {"shopify", "awin", "ga4", "csv"} <= sources
    assert len(STREAMS) >= 10


def _collect_samples() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Real records of every mapped stream that some sandbox serves."""
    items = shipped()
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name in sorted(items.sandboxes):
        with items.sandboxes[name]() as block:
            source = block["connector"]
            connector_class = items.connectors[source]
            config = connector_class.config_model.model_validate(block["config"])
            connector = connector_class(config)
            try:
                offered = [stream.name for stream in connector.discover()]
                wanted = [s for s in offered if items.mappings.has(source, s)]
                seen: dict[str, list[dict[str, Any]]] = {}
                for message in connector.read(wanted, {}):
                    if isinstance(message, Record):
                        seen.setdefault(message.stream, []).append(message.data)
            finally:
                connector.close()
        for stream, records in seen.items():
            step = max(1, len(records) // SAMPLES_PER_STREAM)
            samples[(source, stream)] = records[::step][:SAMPLES_PER_STREAM]
    return samples


@pytest.fixture(scope="module")
def samples() -> dict[tuple[str, str], list[dict[str, Any]]]:
    return _collect_samples()


# --- strategies ----------------------------------------------------------------

#: What Python's json.loads can return for a scalar (NaN and infinities included).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats()
    | st.text()
)

#: Scalars a source plausibly sends where a mapping reads: numbers as text,
#: timestamps with and without offset, dates, codes, blanks, and hostile values.
plausible_scalars = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.decimals().map(str),
    st.datetimes(timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1e400",
            "NaN",
            "Infinity",
            "12,30",
            "EUR",
            "eur",
            "€",
            "true",
            "yes",
            "(not set)",
            "(other)",
            "pending",
            "approved",
            "paid",
            "refunded",
            "https://example.com/?awc=1_2_3&utm_source=x",
            "/relative?utm_medium=email",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-12:00",
            "2025-02-30T10:00:00Z",
            "x" * 100_000,
            "\x00\ud7ff\ufffd",
            "👩‍👩‍👧‍👦" * 50,
        ]
    ),
    json_scalars,
)

json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=24,
)

shaped_leaves = st.recursive(
    plausible_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)

arbitrary_records = st.dictionaries(st.text(max_size=12), json_values, max_size=8)


def _deep_merge(left: Any, right: Any) -> Any:
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = _deep_merge(merged[key], value) if key in merged else value
        return merged
    return right


def _placed(segments: Sequence[Any], leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value holding ``leaf`` where ``segments`` (of a mapping path) lead."""
    if not segments:
        return leaf
    head, rest = segments[0], segments[1:]
    inner = _placed(rest, leaf)
    if isinstance(head, Key):
        as_key = inner.map(lambda value, name=head.name: {name: value})
        if head.index is None:
            return as_key
        # an integer step reads a list index too: put the value at that position
        position = head.index if head.index >= 0 else 0
        as_index = st.tuples(st.lists(json_scalars, min_size=position, max_size=position), inner)
        return as_key | as_index.map(lambda pair: [*pair[0], pair[1]])
    if isinstance(head, Each):
        return st.lists(inner, max_size=3)
    if isinstance(head, Filter):
        conditions = head.conditions

        def element(match: bool, value: Any, junk: str) -> Any:
            wanted = {key: (text if match else junk) for key, text in conditions}
            return _deep_merge(value, wanted) if isinstance(value, dict) else wanted

        return st.lists(st.builds(element, st.booleans(), inner, st.text(max_size=4)), max_size=3)
    raise AssertionError(f"unknown path segment {head!r}")


def _read_paths(entity: EntitySpec) -> list[MappingPath]:
    paths = entity.external_id.read_paths()
    if entity.updated_at is not None:
        paths += entity.updated_at.read_paths()
    for item in entity.fields:
        paths += item.value.read_paths()
    return paths + list(entity.drop)


def _shape(paths: Sequence[MappingPath], base: str) -> st.SearchStrategy[dict[str, Any]]:
    """A record with something at each of ``paths`` starting from ``base`` (in random order)."""
    parts = [
        _placed(path.segments, shaped_leaves)
        for path in paths
        if path.base == base and path.segments
    ]
    if not parts:
        return st.just({})

    def combine(fragments: list[Any], noise: dict[str, Any]) -> dict[str, Any]:
        record: Any = noise
        for fragment in fragments:
            record = _deep_merge(record, fragment)
        return record if isinstance(record, dict) else {}

    chosen = st.lists(st.sampled_from(parts), max_size=len(parts) + 2).flatmap(
        lambda picked: st.tuples(*picked).map(list) if picked else st.just([])
    )
    return st.builds(
        combine, chosen, st.dictionaries(st.text(max_size=6), json_scalars, max_size=2)
    )


def shaped_records(spec: StreamSpec) -> st.SearchStrategy[dict[str, Any]]:
    """Records that hold plausible or hostile values at the paths ``spec`` reads."""
    root_paths = _read_paths(spec.root)
    parts: list[st.SearchStrategy[Any]] = [_shape(root_paths, "record")]
    for child in spec.children:
        own = _read_paths(child)
        parts.append(_shape(own, "parent"))  # ^.currency: keys of the record itself
        if child.each is None:
            parts.append(_shape(own, "record"))
        else:
            elements = st.lists(_shape(own, "record"), max_size=3) | json_values
            parts.append(_placed(child.each.segments, elements))

    def combine(fragments: tuple[Any, ...]) -> dict[str, Any]:
        record: Any = {}
        for fragment in fragments:
            record = _deep_merge(record, fragment)
        return record if isinstance(record, dict) else {}

    return st.tuples(*parts).map(combine)


# "almost valid": one real record, a few of its fields broken


def _locations(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*here, key)
            yield from _locations(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*here, index)
            yield from _locations(item, (*here, index))


BREAKAGES: dict[str, st.SearchStrategy[Any] | None] = {
    "delete": None,
    "null": st.just(None),
    "blank": st.sampled_from(["", " ", "\t\n"]),
    "huge text": st.sampled_from(["9" * 5000, "é" * 100_000, "[" * 10_000]),
    "huge number": st.sampled_from(
        [2**64, -(2**64), 10**400, -(10**30), 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan]
    ),
    "negative": st.integers(max_value=-1) | st.floats(max_value=-1e-9),
    "wrong type": st.sampled_from([True, False, 0, 1.5, [], {}, [1, "a"], {"a": None}, "text"]),
    "anything": json_values,
}


def almost_valid(records: Sequence[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """One of ``records`` with one to four of its fields broken (see BREAKAGES)."""

    @st.composite
    def broken(draw: st.DrawFn) -> dict[str, Any]:
        record = copy.deepcopy(records[draw(st.integers(0, len(records) - 1))])
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            locations = list(_locations(record))
            if not locations:
                break
            location = draw(st.sampled_from(locations))
            kind = draw(st.sampled_from(sorted(BREAKAGES)))
            holder: Any = record
            for step in location[:-1]:
                holder = holder[step]
            replacement = BREAKAGES[kind]
            if replacement is None:
                del holder[location[-1]]
            else:  # a copy: later breakages may edit inside it
                holder[location[-1]] = copy.deepcopy(draw(replacement))
        return record

    return broken()


def records_for(
    spec: StreamSpec, samples: Sequence[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Every kind of input for one stream, mixed."""
    kinds = [arbitrary_records, shaped_records(spec)]
    if samples:
        kinds.append(almost_valid(samples))
    return st.one_of(kinds)


# --- checks ----------------------------------------------------------------------


def _fingerprint(record: Any) -> str:
    """Text equal for equal records (NaN included), independent of the hub's own encoders."""
    return json.dumps(record, sort_keys=True, default=repr, allow_nan=True)


def mapped_or_refused(
    mapping: CompiledMapping, spec: StreamSpec, record: dict[str, Any]
) -> tuple[list[Any] | None, str | None]:
    """(rows, None) when the record is stored, (None, reason) when it is quarantined.

    Anything else than a RecordError escapes and fails the test: that is a crash.
    """
    before = _fingerprint(record)
    try:
        rows = normalize(mapping, record, tenant=TENANT, connection=CONNECTION, synced_at=SYNCED_AT)
    except RecordError as exc:
        assert _fingerprint(record) == before, "mapping the record changed it"
        assert exc.message.strip(), "a quarantined record needs a reason"
        return None, exc.message
    assert _fingerprint(record) == before, "mapping the record changed it"
    assert rows, "a stored record yields at least its root row"
    assert rows[0][0] == spec.root.entity
    allowed = set(spec.entities)
    for entity, row in rows:
        assert entity in allowed
        assert row["tenant"] == TENANT and row["connection"] == CONNECTION
        assert isinstance(row["id"], str) and row["id"]
    return rows, None


DEFAULT = settings(max_examples=100, deadline=None)
LONG = settings(max_examples=3000, deadline=None)


@pytest.mark.parametrize(("source", "stream"), STREAMS, ids=STREAM_IDS)
def test_arbitrary_records_are_mapped_or_refused_with_a_reason(
    source: str,
    stream: str,
    samples: dict[tuple[str, str], list[dict[str, Any]]],
    figures: Figures,
) -> None:
    spec = shipped().mappings.spec(source, stream)
    records = records_for(spec, samples.get((source, stream), []))
    _run_with(DEFAULT, source, stream, records, figures)


@pytest.mark.slow
@pytest.mark.parametrize(("source", "stream"), STREAMS, ids=STREAM_IDS)
def test_many_more_arbitrary_records_are_mapped_or_refused(
    source: str,
    stream: str,
    samples: dict[tuple[str, str], list[dict[str, Any]]],
    figures: Figures,
) -> None:
    spec = shipped().mappings.spec(source, stream)
    records = records_for(spec, samples.get((source, stream), []))
    _run_with(LONG, source, stream, records, figures)


def _run_with(
    budget: settings,
    source: str,
    stream: str,
    records: st.SearchStrategy[dict[str, Any]],
    figures: Figures,
) -> None:
    mappings = shipped().mappings
    mapping = mappings.compile(source, stream)
    spec = mappings.spec(source, stream)
    tally = {"fed": 0, "refused": 0}

    @budget
    @given(record=records)
    def check(record: dict[str, Any]) -> None:
        _, reason = mapped_or_refused(mapping, spec, record)
        tally["fed"] += 1
        tally["refused"] += reason is not None

    check()
    figures.add("records fuzzed", tally["fed"])
    figures.add("records quarantined with a reason", tally["refused"])
    figures.add("runner crashes", 0)


def test_the_samples_are_real_records_the_mappings_store(
    samples: dict[tuple[str, str], list[dict[str, Any]]],
) -> None:
    """The "almost valid" inputs start from records that map cleanly (else they prove little)."""
    mappings = shipped().mappings
    assert samples, "no sandbox served any record"
    for (source, stream), records in samples.items():
        mapping, spec = mappings.compile(source, stream), mappings.spec(source, stream)
        stored = sum(mapped_or_refused(mapping, spec, r)[0] is not None for r in records)
        assert stored >= len(records) * 0.9, f"{source}.{stream}: only {stored} stored"


# --- through the real runner -------------------------------------------------------------


class _NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FuzzConnector(Connector):
    """Yields the records a test hands it (``pending``), then one checkpoint."""

    name: ClassVar[str] = "fuzz"
    config_model = _NoConfig
    offers: ClassVar[Sequence[Stream]] = ()
    pending: ClassVar[list[Record]] = []

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        return cls.offers

    def check(self) -> None:
        pass

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        yield from type(self).pending
        for stream in streams:
            yield Checkpoint(stream, {"done": len(type(self).pending)})


def _fake_connector(source: str) -> type[FuzzConnector]:
    """A connector called ``source`` offering its mapped streams with the real primary keys."""
    items = shipped()
    real = {s.name: s for s in items.connectors[source].streams()}
    offers = []
    for stream in items.mappings.streams(source):
        if stream in real:
            offers.append(real[stream])
            continue
        external = items.mappings.spec(source, stream).root.external_id.paths
        offers.append(Stream(stream, tuple(p.text for p in external[:1] if p.is_simple)))
    return type(
        f"Fuzz_{source}", (FuzzConnector,), {"name": source, "offers": offers, "pending": []}
    )


RUNNER_DEFAULT = settings(
    max_examples=10,
    report_multiple_bugs=False,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RUNNER_LONG = settings(
    max_examples=300,
    report_multiple_bugs=False,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _runner_for(
    source: str, stream: str, directory: Path
) -> tuple[SyncRunner, Store, type[FuzzConnector]]:
    """A SyncRunner over a SQLite file in ``directory`` whose connection reads a fake ``source``."""
    connector = _fake_connector(source)
    document = {
        "database": f"sqlite:///{directory / 'hub.db'}",
        "tenants": {TENANT: {"name": "Fuzz"}},
        "connections": {
            CONNECTION: {
                "connector": source,
                "tenant": TENANT,
                "streams": [stream],
                # every record may be bad here: the policy must not end the run
                "quarantine": {"max_ratio": 1.0},
            }
        },
    }
    (directory / "hub.yaml").write_text(yaml.safe_dump(document))
    hub = load_config(directory / "hub.yaml")
    store = Store(hub.database_url())
    store.create_all()
    registry = Registry(connectors={source: Registered(source, connector, "fuzz", "tests", "0")})
    runner = SyncRunner(hub, store, registry=registry, mappings=shipped().mappings, batch_size=3)
    return runner, store, connector


def _sync_with(
    budget: settings,
    source: str,
    stream: str,
    records: st.SearchStrategy[dict[str, Any]],
    directory: Path,
    figures: Figures,
) -> None:
    runner, store, connector = _runner_for(source, stream, directory)
    mappings = shipped().mappings
    mapping, spec = mappings.compile(source, stream), mappings.spec(source, stream)
    tally = {"fed": 0, "refused": 0}

    @budget
    @given(batch=st.lists(records, min_size=1, max_size=5))
    def check(batch: list[dict[str, Any]]) -> None:
        # what should happen, worked out record by record before the run
        outcomes = [mapped_or_refused(mapping, spec, copy.deepcopy(r)) for r in batch]
        refused = [r for r, (rows, _) in zip(batch, outcomes, strict=True) if rows is None]
        connector.pending = [Record(stream, copy.deepcopy(r)) for r in batch]
        result = runner.sync(CONNECTION)
        assert result.ok, result.error
        assert result.counts.records == len(batch)
        assert result.counts.quarantined == len(refused)
        with store.transaction() as db:
            entries = [
                item
                for item in list_quarantine(db, name=CONNECTION, include_resolved=True)
                if item["run_id"] == result.run_id
            ]
            for rows, _ in outcomes:
                for entity, row in rows or []:
                    table = store.table(entity)
                    found = db.execute(select(table.c.id).where(table.c.id == row["id"]))
                    assert found.first() is not None, f"{entity} row {row['id']} was not stored"
        # one entry per distinct bad record (the quarantine keeps a record once per content)
        assert len(entries) == len({_fingerprint(r) for r in refused})
        assert all(isinstance(e["error"], str) and e["error"].strip() for e in entries)
        tally["fed"] += len(batch)
        tally["refused"] += len(refused)

    try:
        check()
    finally:
        store.dispose()
    figures.add("records fuzzed", tally["fed"])
    figures.add("records fuzzed through the runner", tally["fed"])
    figures.add("records quarantined with a reason", tally["refused"])
    figures.add("runner crashes", 0)


@pytest.mark.parametrize(("source", "stream"), STREAMS, ids=STREAM_IDS)
def test_the_runner_stores_or_quarantines_every_record(
    source: str,
    stream: str,
    samples: dict[tuple[str, str], list[dict[str, Any]]],
    tmp_path: Path,
    figures: Figures,
) -> None:
    spec = shipped().mappings.spec(source, stream)
    records = records_for(spec, samples.get((source, stream), []))
    _sync_with(RUNNER_DEFAULT, source, stream, records, tmp_path, figures)


@pytest.mark.slow
@pytest.mark.parametrize(("source", "stream"), STREAMS, ids=STREAM_IDS)
def test_the_runner_survives_many_more_records(
    source: str,
    stream: str,
    samples: dict[tuple[str, str], list[dict[str, Any]]],
    tmp_path: Path,
    figures: Figures,
) -> None:
    spec = shipped().mappings.spec(source, stream)
    records = records_for(spec, samples.get((source, stream), []))
    _sync_with(RUNNER_LONG, source, stream, records, tmp_path, figures)


# Found by the fuzz above and fixed (hub/jsontext.py, hub/history.py, the bounded
# integer columns): these keep them fixed.


def test_an_integer_beyond_64_bits_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    # the csv example reads JSON Lines with json.loads, which keeps any integer
    runner, store, connector = _runner_for("csv", "partners", tmp_path)
    connector.pending = [Record("partners", {"id": 2**64, "name": "Wide", "kind": "no such"})]
    try:
        result = runner.sync(CONNECTION)
    finally:
        store.dispose()
    assert result.ok and result.counts.quarantined == 1


def test_nan_left_in_extra_does_not_break_the_next_sync(tmp_path: Path) -> None:
    # json.loads('{"score": NaN}') is {"score": nan}: the csv example's JSON Lines allow it
    runner, store, connector = _runner_for("csv", "partners", tmp_path)
    connector.pending = [Record("partners", {"id": "P-1", "name": "Nan", "score": math.nan})]
    try:
        results = [runner.sync(CONNECTION), runner.sync(CONNECTION)]
    finally:
        store.dispose()
    assert all(result.ok for result in results)
