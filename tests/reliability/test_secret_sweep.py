"""The secret sweep: plant recognisable fake credentials everywhere, then look for them everywhere.

Every credential a connection can hold gets a value nobody could mistake for
anything else (``shpat_SWEEP_...``, ``awin-SWEEP-token-...``, the GA4 sandbox
key's private key and the tokens its ``/token`` endpoint issues, ...). The
sandboxes accept the right ones; some connections carry deliberately wrong
ones (401s, a refused JWT signature), so errors are produced, and a mapping
override sends a third of one connection's records to quarantine. The values
reach the hub the way a user gives them: ``${ENV}`` references in hub.yaml,
plus one inline in the file (the database password, and Awin's wrong token).

Then every CLI command runs as a real subprocess (``--debug`` where it
exists, with the root logger at DEBUG so httpx's, httpcore's and google-auth's
debug lines come out too), and every connector's check, discover and read
runs in-process under :func:`hub.testing.leaks.capture_raw_logs` (the raw
text, before any redacting filter, extras included). The places scanned:

- the stdout and stderr of each command;
- every raw log record and every exception (with its traceback and causes);
- the records, checkpoints and config reprs a connector produced;
- every row of every table in the database (run history with its error text,
  quarantine rows with records and reasons, state, canonical rows' extras);
- the bytes of every file the commands wrote (the SQLite file and its
  journal included: deleted rows linger there);
- every cassette under tests/cassettes (``scan_for_secrets``).

A test fails naming each place where a secret was found, never the secret.
"""

from __future__ import annotations

import csv
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import make_url

from connectors.awin.sandbox import AwinSandbox
from connectors.ga4.sandbox import GA4Sandbox
from connectors.ga4.sandbox.oauth import ServiceAccount
from connectors.shopify.sandbox import ShopifySandbox
from hub import redaction
from hub.config import load_config
from hub.connector import Checkpoint, Record
from hub.plugins import get_registry, reset_registry
from hub.runner import open_connector
from hub.schema import ConversionItemRow, ConversionRow, OfferRow, make_id
from hub.store import Store
from hub.testing.leaks import capture_raw_logs, exception_text, find_leaks
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_available
from tests.connectors.cassette import CASSETTES, scan_for_secrets
from tests.fakes.paged_api import FakeApi
from tests.reliability.conftest import Figures

ROOT = Path(__file__).resolve().parents[2]
REST_MAPPING = ROOT / "tests" / "e2e" / "rest_orders.yaml"
HUB = Path(sys.executable).with_name("hub")
TENANT = "sweep"

#: Fixed fake credentials: label -> value. Each is planted once and looked for everywhere.
FIXED_SECRETS: dict[str, str] = {
    "Shopify access token": "shpat_SWEEP_1f2e3d4c5b6a",
    "Shopify wrong access token": "shpat_SWEEP_wrong_0a9b8c7d6e",
    "Awin API token": "awin-SWEEP-token-2b3c4d5e6f70",
    "Awin wrong API token (inline in hub.yaml)": "awin-SWEEP-wrong-token-81a2b3c4",
    "Awin S2S API key": "SWEEP-s2s-key-93c4d5e6f7",
    "Awin wrong S2S API key": "SWEEP-s2s-wrong-a4b5c6d7",
    "GA4 static access token": "ya29.SWEEP-static-4e5f6a7b8c",
    "GA4 wrong access token": "ya29.SWEEP-wrong-5f6a7b8c9d",
    "GA4 Measurement Protocol api_secret": "SWEEP-mp-secret-6a7b8c9d0e",
    "REST API token": "SWEEP-rest-token-7b8c9d0e1f",
    "REST wrong API token": "SWEEP-rest-wrong-8c9d0e1f2a",
    "GA4 malformed api_secret": "SWEEP mp secret with spaces",
    "database password (inline in hub.yaml)": "SWEEP-db-pw-9d0e1f2a3b",
}

#: Environment variable -> label of the secret it carries (``${VAR}`` in hub.yaml).
ENV_SECRETS: dict[str, str] = {
    "SWEEP_SHOPIFY_TOKEN": "Shopify access token",
    "SWEEP_SHOPIFY_WRONG_TOKEN": "Shopify wrong access token",
    "SWEEP_AWIN_TOKEN": "Awin API token",
    "SWEEP_AWIN_S2S_KEY": "Awin S2S API key",
    "SWEEP_AWIN_S2S_WRONG_KEY": "Awin wrong S2S API key",
    "SWEEP_GA4_TOKEN": "GA4 static access token",
    "SWEEP_GA4_WRONG_TOKEN": "GA4 wrong access token",
    "SWEEP_GA4_MP_SECRET": "GA4 Measurement Protocol api_secret",
    "SWEEP_GA4_MP_BAD_SECRET": "GA4 malformed api_secret",
    "SWEEP_REST_TOKEN": "REST API token",
    "SWEEP_REST_WRONG_TOKEN": "REST wrong API token",
}

#: The root logger at DEBUG (as a user's logging config could set it) before the real CLI runs:
#: httpx, httpcore and google-auth then log everything they have, through the CLI's handler.
DEBUG_PRELUDE = (
    "import logging, sys\n"
    "logging.getLogger().setLevel(logging.DEBUG)\n"
    "logging.getLogger('google').setLevel(logging.DEBUG)\n"
    "sys.argv[0] = 'hub'\n"
    "from hub.cli import main\n"
    "main()\n"
)


#: Every destination, pushed from a connection (dry run, then for real); the input file, if any.
PUSHES: tuple[tuple[str, str, str | None], ...] = (
    ("shopify-discounts", "shop", None),
    ("awin-conversions", "awin", None),
    ("awin-validations", "awin", "decisions"),
    ("ga4-measurement", "ga4", None),
)


# ---------------------------------------------------------------------- the secrets


def key_fragments(pem: str) -> list[str]:
    """The base64 lines of a PEM private key: any of them in the open is part of the key.

    A leak of the key rarely shows the whole PEM verbatim (JSON escapes its
    newlines, a traceback shortens it); every 64-character body line is
    looked for on its own, so a partial or re-encoded key is caught too.
    """
    return [line for line in pem.strip().splitlines() if line and not line.startswith("-----")]


@dataclass
class Sweep:
    """Everything the sweep planted and everything it collected to scan."""

    secrets: dict[str, str] = field(default_factory=dict)  # label -> value
    outputs: dict[str, str] = field(default_factory=dict)  # command -> stdout+stderr
    codes: dict[str, int] = field(default_factory=dict)  # command -> exit code
    logs: dict[str, list[str]] = field(default_factory=dict)  # in-process step -> log texts
    values: dict[str, Any] = field(default_factory=dict)  # in-process step -> errors, records
    outcomes: dict[str, str] = field(default_factory=dict)  # in-process step -> ok / error kind
    database: dict[str, Any] = field(default_factory=dict)  # table -> rows
    files: dict[str, str] = field(default_factory=dict)  # written file -> its bytes as text
    quarantined: int = 0
    stored: int = 0
    issued_tokens: int = 0
    database_kind: str = "sqlite"

    def add(self, label: str, value: str) -> None:
        self.secrets[label] = value

    def values_to_find(self) -> list[str]:
        return list(self.secrets.values())


def leaks_in(sweep: Sweep, places: Mapping[str, Any]) -> list[str]:
    """Where any planted secret appears; each finding names the place and the secret's label."""
    found = []
    for label, value in sweep.secrets.items():
        for leak in find_leaks([value], places):
            found.append(f"{leak.split(': contains')[0]}: the {label}")
    return found


def fail_on(leaks: list[str], figures: Figures, what: str) -> None:
    figures.add("secrets leaked", len(leaks))
    if leaks:
        pytest.fail(f"{len(leaks)} secret leak(s) in {what}:\n  " + "\n  ".join(leaks))


# ---------------------------------------------------------------------- the config


def connection(connector: str, config: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"connector": connector, "tenant": TENANT, "config": config, **more}


def write_hub_yaml(
    directory: Path,
    database: str,
    shop: ShopifySandbox,
    awin: AwinSandbox,
    ga4: GA4Sandbox,
    api: FakeApi,
) -> Path:
    """hub.yaml: every credential as a ${ENV} reference, but the two deliberately inline."""
    shopify = {"shop": "sweep", "start_date": "2024-01-01", "base_url": shop.url}
    awin_config = {
        "account_type": "advertiser",
        "account_id": awin.account_id,
        "start_date": awin.anchor.date().isoformat(),
        "timezone": "Europe/Berlin",
        "base_url": awin.url,
        "requests_per_minute": 60000,
    }
    ga4_config = {
        "property_id": ga4.property_id,
        "start_date": (ga4.end - timedelta(days=6)).isoformat(),
        "timezone": ga4.time_zone,
        "base_url": ga4.url,
        "token_url": ga4.token_url,
    }
    measurement = {
        "measurement_id": ga4.measurement_id,
        "api_secret": "${SWEEP_GA4_MP_SECRET}",
        "mp_base_url": ga4.url,
        "settle_hours": 0,
        "seen_sources": [],
        "sources": ["shopify"],
    }
    rest_streams = {
        "orders": {
            "path": "/orders",
            "records_path": "orders",
            "cursor_field": "updated_at",
            "cursor_param": "updated_since",
            "sorted_by_cursor": True,
            "page_size": 10,
        }
    }
    document = {
        "database": database,
        "mappings": [str(REST_MAPPING)],
        "tenants": {TENANT: {"name": "Secret sweep"}},
        "connections": {
            "shop": connection(
                "shopify",
                {**shopify, "access_token": "${SWEEP_SHOPIFY_TOKEN}"},
                schedule="* * * * *",
            ),
            "shop-bad": connection(
                "shopify", {**shopify, "access_token": "${SWEEP_SHOPIFY_WRONG_TOKEN}"}
            ),
            "awin": connection(
                "awin",
                {**awin_config, "api_token": "${SWEEP_AWIN_TOKEN}"},
                push={
                    "awin-conversions": {
                        "s2s_api_key": "${SWEEP_AWIN_S2S_KEY}",
                        "max_age_days": 100_000,
                    },
                    "awin-validations": {"job_poll_seconds": 0.05},
                },
            ),
            "awin-bad": connection(
                "awin",
                # inline on purpose: a SecretStr field registers it although no ${ENV} carried it
                {
                    **awin_config,
                    "api_token": FIXED_SECRETS["Awin wrong API token (inline in hub.yaml)"],
                },
                push={
                    "awin-conversions": {
                        "s2s_api_key": "${SWEEP_AWIN_S2S_WRONG_KEY}",
                        "max_age_days": 100_000,
                    }
                },
            ),
            "ga4": connection(
                "ga4",
                {**ga4_config, "service_account_key": "${SWEEP_GA4_KEY}"},
                push={"ga4-measurement": measurement},
            ),
            "ga4-static": connection(
                "ga4",
                {**ga4_config, "access_token": "${SWEEP_GA4_TOKEN}"},
                # a pasted secret with spaces: the destination's config is refused
                push={
                    "ga4-measurement": {
                        **measurement,
                        "api_secret": "${SWEEP_GA4_MP_BAD_SECRET}",
                    }
                },
            ),
            "ga4-bad": connection(
                "ga4", {**ga4_config, "access_token": "${SWEEP_GA4_WRONG_TOKEN}"}
            ),
            "ga4-badkey": connection(
                "ga4", {**ga4_config, "service_account_key": "${SWEEP_GA4_FOREIGN_KEY}"}
            ),
            "rest": connection(
                "rest",
                {"base_url": api.url, "token": "${SWEEP_REST_TOKEN}", "streams": rest_streams},
                # three orders lose their (required) order_ref: they go to quarantine
                mapping_overrides={
                    "orders": {
                        "fields": {
                            "order_ref": {
                                "path": "number",
                                "convert": "string",
                                "map": {"5000": None, "5010": None, "5020": None},
                                "unmapped": "keep",
                                "required": True,
                            }
                        }
                    }
                },
            ),
            "rest-bad": connection(
                "rest",
                {
                    "base_url": api.url,
                    "token": "${SWEEP_REST_WRONG_TOKEN}",
                    "streams": rest_streams,
                },
            ),
            # a key cut short while pasting: not JSON any more, but most of the private key.
            # Last: `hub sync` (all) stops at a connection whose config is refused.
            "ga4-brokenkey": connection(
                "ga4", {**ga4_config, "service_account_key": "${SWEEP_GA4_BROKEN_KEY}"}
            ),
        },
    }
    path = directory / "hub.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


# ---------------------------------------------------------------------- the database


@contextmanager
def sweep_database(directory: Path) -> Iterator[tuple[str, str]]:
    """(URL with the planted password, kind): its own PostgreSQL database where PG answers.

    The PostgreSQL used by the suite trusts local connections, so the
    password is carried (and could leak) but is not checked. Without
    PostgreSQL the sweep uses SQLite, and the password is still planted in
    the URL of an unreachable PostgreSQL (see :func:`run_cli`).
    """
    password = FIXED_SECRETS["database password (inline in hub.yaml)"]
    if _postgres_available() is not None:
        yield f"sqlite:///{directory / 'hub.db'}", "sqlite"
        return
    name = f"hub_sweep_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name, password=password)
    try:
        yield url.render_as_string(hide_password=False), "postgresql"
    finally:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def dump_database(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the hub created, as plain values."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as db:
            return {
                name: [dict(row._mapping) for row in db.execute(select(table))]
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- the CLI


@dataclass
class Command:
    """One `hub` run: its arguments, whether under the DEBUG prelude, and its config."""

    args: tuple[str, ...]
    debug: bool = True
    config: Path | None = None
    stop_after: str | None = None  # long-running: SIGTERM once this appears on stdout

    @property
    def name(self) -> str:
        name = ("hub --debug " if self.debug else "hub ") + " ".join(self.args)
        return name if self.config is None else f"{name} (config {self.config.name})"


def run_command(command: Command, env: dict[str, str], cwd: Path) -> tuple[str, int]:
    """Run ``hub`` (the console script, or the CLI under the DEBUG prelude); output and code."""
    argv = (
        [sys.executable, "-c", DEBUG_PRELUDE, "--debug", *command.args]
        if command.debug
        else [str(HUB), *command.args]
    )
    env = dict(env)
    if command.config is not None:
        env["HUB_CONFIG"] = str(command.config)
    if command.stop_after is None:
        done = subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
        return done.stdout + done.stderr, done.returncode
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    for line in process.stdout:  # the scheduler prints its start line, then serves
        seen.append(line)
        if command.stop_after in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    return "".join(seen) + out + err, process.returncode


def run_all(
    commands: list[Command], env: dict[str, str], cwd: Path, sweep: Sweep, workers: int
) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda c: run_command(c, env, cwd), commands))
    for command, (output, code) in zip(commands, results, strict=True):
        sweep.outputs[command.name] = output
        sweep.codes[command.name] = code


# ---------------------------------------------------------------------- in-process runs


_STANDARD_RECORD_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class ExtrasCapture(logging.Handler):
    """The ``extra=`` attributes of every record (google-auth logs requests there).

    A JSON log formatter prints them; :func:`capture_raw_logs` keeps the
    message text only, so the sweep keeps these beside it.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_KEYS}
        if extras:
            self.texts.append(repr(extras))


@contextmanager
def debug_logging() -> Iterator[list[str]]:
    """Raw log texts (and extras) of every logger at DEBUG, google-auth's included."""
    google = logging.getLogger("google")
    previous = (google.level, google.propagate)
    google.setLevel(logging.DEBUG)
    google.propagate = True
    extras = ExtrasCapture()
    try:
        with capture_raw_logs(logging.DEBUG) as texts:
            logging.getLogger().handlers.insert(0, extras)
            try:
                yield texts
            finally:
                logging.getLogger().removeHandler(extras)
                texts.extend(extras.texts)
    finally:
        google.setLevel(previous[0])
        google.propagate = previous[1]


def attempt(sweep: Sweep, step: str, action: Callable[[], Any]) -> Any:
    """Run one in-process step with its log captured; errors are kept to scan, not raised."""
    with debug_logging() as texts:
        try:
            result = action()
        except Exception as exc:
            sweep.values[f"{step}: the error"] = [str(exc), repr(exc), exception_text(exc)]
            sweep.outcomes[step] = type(exc).__name__
            result = None
        else:
            sweep.outcomes[step] = "ok"
    sweep.logs[step] = list(texts)
    return result


def read_some(connector: Any, streams: list[str], limit: int = 400) -> list[Any]:
    """The first ``limit`` messages of a read (records and checkpoints), as plain values."""
    messages = []
    iterator = connector.read(streams, {})
    try:
        for message in iterator:
            if isinstance(message, Record | Checkpoint):
                messages.append(repr(message))
            if len(messages) >= limit:
                break
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return messages


def run_in_process(sweep: Sweep, config: Path) -> None:
    """check, discover and read of every connection's connector; every destination's check."""
    reset_registry()
    try:
        hub = load_config(config)
        registry = get_registry()
        for name, settings in hub.connections.items():
            connector = attempt(sweep, f"{name}: open", partial(open_connector, hub, name))
            if connector is None:
                continue
            sweep.values[f"{name}: config repr"] = [repr(connector.config), str(connector.config)]
            attempt(sweep, f"{name}: check", connector.check)
            streams = attempt(sweep, f"{name}: discover", connector.discover) or []
            sweep.values[f"{name}: discovered"] = [repr(s) for s in streams]
            chosen = settings.streams or [s.name for s in streams][:3]
            records = attempt(sweep, f"{name}: read", partial(read_some, connector, chosen))
            sweep.values[f"{name}: records and checkpoints"] = records or []
            connector.close()
            for destination in settings.push:
                step = f"{name}: {destination} check"

                def check_destination(n: str = name, d: str = destination) -> None:
                    from hub.config import resolve_connector_config

                    target_class = registry.destination(d)
                    target = target_class(
                        resolve_connector_config(hub, n, target_class.config_model, destination=d)
                    )
                    try:
                        target.check()
                    finally:
                        target.close()

                attempt(sweep, step, check_destination)
        run_csv_example(sweep)
    finally:
        reset_registry()


def run_csv_example(sweep: Sweep) -> None:
    """The third-party example connector (it has no credential, but its logs are scanned too)."""
    example = ROOT / "examples" / "hub-connector-csv"
    if str(example) not in sys.path:
        sys.path.insert(0, str(example))
    from hub_connector_csv import SAMPLE_DIRECTORY, CsvConfig, CsvConnector

    connector = CsvConnector(CsvConfig(directory=SAMPLE_DIRECTORY))
    attempt(sweep, "csv example: check", connector.check)
    streams = attempt(sweep, "csv example: discover", connector.discover) or []
    sweep.values["csv example: records"] = attempt(
        sweep, "csv example: read", lambda: read_some(connector, [s.name for s in streams])
    )
    connector.close()


# ---------------------------------------------------------------------- inputs for push


def write_decisions(directory: Path, database: str) -> Path:
    """A decisions file for awin-validations: approve two pending Awin transactions."""
    engine = create_engine(database)
    try:
        with engine.connect() as db:
            pending = db.execute(
                text(
                    "select external_id from conversion where source = 'awin' "
                    "and status = 'pending' order by external_id limit 2"
                )
            ).all()
    finally:
        engine.dispose()
    decisions = directory / "decisions.csv"
    with decisions.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["action", "transaction_id", "reason"])
        for (external_id,) in pending:
            writer.writerow(["approve", external_id, ""])
    return decisions


def store_push_rows(database: str) -> None:
    """Rows the destinations push that no sync creates: two offers, a fresh shop order.

    The order (two hours old, with a GA client id) is what ga4-measurement
    sends; the offers are what shopify-discounts creates.
    """
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    envelope = {"tenant": TENANT, "source_updated_at": now, "synced_at": now}
    offers = [
        OfferRow.model_validate(
            {
                "id": make_id(TENANT, "partners", "offer", code),
                "source": "partners",
                "connection": "partner-list",
                "external_id": code,
                "name": f"Sweep {code}",
                "kind": "voucher",
                "commission_rules": [
                    {"kind": "shopper_discount", "type": "percentage", "value": "10"}
                ],
                "voucher_code": code,
                "valid_from": today - timedelta(days=1),
                "valid_to": today + timedelta(days=30),
                "status": "active",
                **envelope,
            }
        ).model_dump()
        for code in ("SWEEP10", "SWEEP20")
    ]
    order = make_id(TENANT, "shopify", "conversion", "SWEEP-1")
    conversion = ConversionRow.model_validate(
        {
            "id": order,
            "source": "shopify",
            "connection": "shop",
            "external_id": "SWEEP-1",
            "order_ref": "SWEEP-1",
            "occurred_at": now - timedelta(hours=2),
            "status": "pending",
            "amount": Decimal("42.00"),
            "currency": "EUR",
            "extra": {"note_attributes": [{"name": "ga_client_id", "value": "123.456"}]},
            **envelope,
        }
    ).model_dump()
    item = ConversionItemRow.model_validate(
        {
            "id": make_id(TENANT, "shopify", "conversion_item", "SWEEP-1-1"),
            "source": "shopify",
            "connection": "shop",
            "external_id": "SWEEP-1-1",
            "conversion_id": order,
            "line_ref": "1",
            "sku": "SKU-SWEEP",
            "quantity": 1,
            "amount": Decimal("42.00"),
            "currency": "EUR",
            **envelope,
        }
    ).model_dump()
    store = Store(database)
    try:
        store.create_all()
        with store.transaction() as db:
            store.upsert(db, "offer", offers)
            store.upsert(db, "conversion", [conversion])
            store.upsert(db, "conversion_item", [item])
    finally:
        store.dispose()


# ---------------------------------------------------------------------- the sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    """Plant every secret, run every command and every connector, collect every place."""
    directory = tmp_path_factory.mktemp("sweep")
    result = Sweep()
    for label, value in FIXED_SECRETS.items():
        result.add(label, value)
    foreign = ServiceAccount()  # a key the GA4 sandbox does not know: its JWT is refused
    with ExitStack() as stack:
        shop = stack.enter_context(
            ShopifySandbox(orders=40, token=FIXED_SECRETS["Shopify access token"], rate_limit=False)
        )
        awin = stack.enter_context(
            AwinSandbox.anchored_now(
                transactions=60,
                token=FIXED_SECRETS["Awin API token"],
                s2s_api_key=FIXED_SECRETS["Awin S2S API key"],
            )
        )
        ga4 = stack.enter_context(
            GA4Sandbox(
                days=10,
                token=FIXED_SECRETS["GA4 static access token"],
                api_secret=FIXED_SECRETS["GA4 Measurement Protocol api_secret"],
            )
        )
        api = stack.enter_context(FakeApi(orders=30, token=FIXED_SECRETS["REST API token"]))
        key = ga4.service_account_info()
        foreign_key = foreign.info(ga4.token_url)
        result.add("GA4 service-account key (the JSON)", orjson.dumps(key).decode())
        result.add("GA4 private key (PEM)", key["private_key"])
        for n, line in enumerate(key_fragments(key["private_key"]), start=1):
            result.add(f"GA4 private key, line {n} of its body", line)
        result.add("GA4 private key id", key["private_key_id"])
        broken_key = orjson.dumps(key).decode()[:-200]
        result.add("GA4 service-account key cut short", broken_key)
        result.add("foreign private key (PEM)", foreign_key["private_key"])
        for n, line in enumerate(key_fragments(foreign_key["private_key"]), start=1):
            result.add(f"foreign private key, line {n} of its body", line)
        result.add("foreign private key id", foreign_key["private_key_id"])

        database, result.database_kind = stack.enter_context(sweep_database(directory))
        config = write_hub_yaml(directory, database, shop, awin, ga4, api)
        unreachable = directory / "unreachable.yaml"
        unreachable.write_text(
            yaml.safe_dump(
                {
                    "database": "postgresql+psycopg://hub:"
                    + FIXED_SECRETS["database password (inline in hub.yaml)"]
                    + "@127.0.0.1:1/hub",
                    "tenants": {TENANT: {"name": "Secret sweep"}},
                }
            )
        )
        env = {
            **os.environ,
            **{var: FIXED_SECRETS[label] for var, label in ENV_SECRETS.items()},
            "SWEEP_GA4_KEY": orjson.dumps(key).decode(),
            "SWEEP_GA4_FOREIGN_KEY": orjson.dumps(foreign_key).decode(),
            "SWEEP_GA4_BROKEN_KEY": broken_key,
            "HUB_CONFIG": str(config),
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",  # the scheduler's start line arrives as it is printed
        }

        # Commands are grouped so that those that can share the CPUs do: each costs about a
        # second of interpreter start. check/discover of every connection run in-process below.
        first = [
            Command(("demo", "--dir", str(directory / "demo-data"), "--sandbox", "awin")),
            Command(("connectors", "--json")),
            Command(("spec", "ga4-measurement"), debug=False),
            Command(("validate",)),
            Command(("runs",), config=unreachable),
            Command(("state", "show", "shop"), debug=False, config=unreachable),
            Command(("check", "shop")),
            Command(("check", "shop-bad"), debug=False),
            Command(("check", "awin-bad")),
            Command(("check", "ga4")),
            Command(("check", "ga4-badkey")),
            Command(("check", "rest-bad")),
            Command(("discover", "ga4")),
            Command(("scheduler",), stop_after="scheduler started"),
        ]
        run_all(first, env, directory, result, workers=3)
        run_all([Command(("sync",))], env, directory, result, workers=1)

        store_push_rows(database)
        decisions = write_decisions(directory, database)
        inputs = {"decisions": str(decisions)}
        pushes = [(d, c, *(("--input", inputs[i]) if i else ())) for d, c, i in PUSHES]
        readers = [
            *(Command(("push", d, "-c", c, "--dry-run", *extra)) for d, c, *extra in pushes),
            Command(("push", "shopify-discounts", "-c", "shop-bad")),
            Command(("push", "awin-conversions", "-c", "awin-bad"), debug=False),
            Command(("sync", "rest-bad", "ga4-bad"), debug=False),
            Command(("runs",)),
            Command(("runs", "--json"), debug=False),
            Command(("state", "show", "shop")),
            Command(("quarantine", "list")),
            Command(("quarantine", "list", "--json"), debug=False),
        ]
        run_all(readers, env, directory, result, workers=3)
        # one writer at a time: SQLite takes one
        writers = [Command(("push", d, "-c", c, *extra)) for d, c, *extra in pushes]
        writers += [Command(("quarantine", "replay")), Command(("state", "reset", "rest", "--yes"))]
        run_all(writers, env, directory, result, workers=1)

        with pytest.MonkeyPatch.context() as patch:
            for variable in (*ENV_SECRETS, *(v for v in env if v.startswith("SWEEP_GA4_"))):
                patch.setenv(variable, env[variable])
            run_in_process(result, config)

        result.issued_tokens = len(ga4.issued)
        for n, token in enumerate(sorted(ga4.issued), start=1):
            result.add(f"GA4 access token issued by /token ({n})", token)

        result.database = dump_database(database)
        result.quarantined = len(result.database.get("quarantine", []))
        result.stored = len(result.database.get("conversion", []))
        given = {config, unreachable, decisions}  # the sweep's own input files
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path not in given:
                result.files[str(path.relative_to(directory))] = path.read_bytes().decode(
                    "utf-8", errors="replace"
                )
    yield result
    redaction.forget_secrets()


# ---------------------------------------------------------------------- the tests


def test_the_sweep_planted_every_secret_and_produced_errors_and_quarantine(
    sweep: Sweep, figures: Figures
) -> None:
    """Without errors, quarantine rows and real use of every credential the scan proves little."""
    figures.add("secret sweep: secrets planted", len(sweep.secrets))
    codes, outputs = sweep.codes, sweep.outputs
    sync = outputs["hub --debug sync"]
    assert codes["hub --debug sync"] == 1 and "401" in sync, sync[-3000:]
    validate = outputs["hub --debug validate"]
    assert codes["hub --debug validate"] == 1 and "ga4-brokenkey" in validate, validate[-3000:]
    for command in ("check shop", "check ga4", "discover ga4"):
        assert codes[f"hub --debug {command}"] == 0, outputs[f"hub --debug {command}"][-3000:]
    for command in ("check awin-bad", "check ga4-badkey", "check rest-bad"):
        assert codes[f"hub --debug {command}"] == 1, outputs[f"hub --debug {command}"][-3000:]
    assert codes["hub check shop-bad"] == 1
    assert codes["hub --debug runs (config unreachable.yaml)"] == 1  # an unreachable PostgreSQL
    assert codes["hub state show shop (config unreachable.yaml)"] == 1
    for destination, name, *_ in PUSHES:
        dry = next(
            c for c in codes if c.startswith(f"hub --debug push {destination} -c {name} --dry-run")
        )
        assert codes[dry] == 0 and "POST" in outputs[dry], outputs[dry][-3000:]
    for good in ("shop", "awin", "ga4", "ga4-static", "rest"):
        for step in ("check", "discover", "read"):
            assert sweep.outcomes[f"{good}: {step}"] == "ok", (good, step)
    for bad in ("shop-bad", "awin-bad", "ga4-bad", "ga4-badkey", "rest-bad"):
        assert sweep.outcomes[f"{bad}: check"] == "AuthError", bad
    assert sweep.outcomes["ga4-brokenkey: open"] == "ConfigError"
    assert sweep.outcomes["ga4-static: ga4-measurement check"] == "ConfigError"
    assert sweep.quarantined > 0 and sweep.stored > 0, [
        line for line in sync.splitlines() if "records read" in line or "error" in line
    ]
    assert sweep.issued_tokens > 0  # the service-account flow really ran
    assert any(row["error"] for row in sweep.database["sync_run"]), "no run recorded an error"
    # the scanner sees each planted value wherever it is
    for label, value in sweep.secrets.items():
        assert find_leaks([value], {"canary": f"…{value}…"}), label


def test_no_secret_in_cli_output(sweep: Sweep, figures: Figures) -> None:
    figures.add("secret sweep: places scanned", len(sweep.outputs))
    fail_on(leaks_in(sweep, sweep.outputs), figures, "the output of `hub` commands")


def test_no_secret_in_logs_errors_records_or_reprs(sweep: Sweep, figures: Figures) -> None:
    places = {f"log of {step}": texts for step, texts in sweep.logs.items()}
    places.update(sweep.values)
    figures.add("secret sweep: places scanned", len(places))
    fail_on(leaks_in(sweep, places), figures, "in-process logs, errors, records and reprs")


def test_no_secret_in_the_database(sweep: Sweep, figures: Figures) -> None:
    places = {
        f"table {table}, row {n}": row
        for table, rows in sweep.database.items()
        for n, row in enumerate(rows, start=1)
    }
    figures.add("secret sweep: places scanned", len(places))
    fail_on(leaks_in(sweep, places), figures, f"the {sweep.database_kind} database")


def test_no_secret_in_written_files(sweep: Sweep, figures: Figures) -> None:
    """Every file the commands wrote, byte by byte (the SQLite file keeps deleted rows too).

    demo-data/hub.yaml holds the sandboxes' own published tokens by design
    (``hub demo`` writes the config of the sandboxes it started); they are
    not planted secrets, so scanning it for the planted ones is still right.
    """
    assert sweep.files, "the commands wrote no file"
    figures.add("secret sweep: places scanned", len(sweep.files))
    fail_on(leaks_in(sweep, sweep.files), figures, "files written by the commands")


def test_no_secret_or_credential_in_cassettes(sweep: Sweep, figures: Figures) -> None:
    cassettes = sorted(CASSETTES.rglob("*.yaml"))
    assert cassettes
    texts = {f"cassette {path.relative_to(CASSETTES)}": path.read_text() for path in cassettes}
    # credential-shaped values and credential headers/parameters with a value ...
    findings = [
        f"{place}: {found}" for place, text in texts.items() for found in scan_for_secrets(text)
    ]
    # ... and the planted secrets (reported by label: scan_for_secrets would show a prefix)
    findings += leaks_in(sweep, texts)
    figures.add("secret sweep: places scanned", len(cassettes))
    fail_on(findings, figures, "the cassettes")
