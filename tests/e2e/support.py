"""Helpers for end-to-end tests: write a hub.yaml, run the real `hub` command, dump the database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml
from sqlalchemy import Row, create_engine, select, text
from sqlmodel import SQLModel

import hub.history
import hub.state  # noqa: F401 - registers the state table
from hub.schema import ENTITIES

HERE = Path(__file__).parent
TOKEN = "fake-token-0123456789"


def write_config(
    directory: Path,
    api_url: str,
    *,
    database: str = "sqlite:///hub.db",
    page_size: int = 7,
    extra_connections: dict[str, Any] | None = None,
) -> Path:
    """A hub.yaml syncing the fake orders API through the rest connector."""
    shutil.copy(HERE / "rest_orders.yaml", directory / "rest_orders.yaml")
    config = {
        "database": database,
        "mappings": ["rest_orders.yaml"],
        "tenants": {"acme": {"name": "Acme Outdoor"}},
        "connections": {
            "acme-orders": {
                "connector": "rest",
                "tenant": "acme",
                "config": {
                    "base_url": api_url,
                    "token": "${FAKE_API_TOKEN}",
                    "streams": {
                        "orders": {
                            "path": "/orders",
                            "records_path": "orders",
                            "cursor_field": "updated_at",
                            "cursor_param": "updated_since",
                            "sorted_by_cursor": True,
                            "page_size": page_size,
                        }
                    },
                },
            },
            **(extra_connections or {}),
        },
    }
    path = directory / "hub.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def hub_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "hub", "--config", str(config), *args]


def hub_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "FAKE_API_TOKEN": TOKEN, **extra}
    env.pop("HUB_CONFIG", None)
    return env


def run_hub(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        hub_command(config, *args), env=hub_env(), capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hub {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def dump_database(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every canonical row (minus synced_at), every cursor and every quarantined record."""
    engine = create_engine(url)
    tables = {name: table.__table__ for name, (_, table) in ENTITIES.items()}  # type: ignore[attr-defined]
    tables["sync_state"] = SQLModel.metadata.tables["sync_state"]
    tables["quarantine"] = SQLModel.metadata.tables["quarantine"]
    skip = {"synced_at", "updated_at", "run_id", "created_at"}
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name, table in tables.items():
            columns = [c for c in table.columns if c.name not in skip]
            order = [c for c in table.primary_key.columns]
            rows = connection.execute(select(*columns).order_by(*order))
            dump[name] = [tuple(repr(v) for v in row) for row in rows]
    engine.dispose()
    return dump


def query(url: str, sql: str, **params: Any) -> list[Row[Any]]:
    """The rows of a raw SQL query on ``url`` (SQLite or PostgreSQL), read through SQLAlchemy.

    Raw SQL skips the column types, so each backend hands back its own Python
    values: money is decimal text on SQLite and ``Decimal`` on PostgreSQL, JSON
    is text on SQLite and parsed on PostgreSQL. Compare money as
    ``Decimal(str(value))`` and read JSON with :func:`json_value`.
    """
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params))
    finally:
        engine.dispose()


def json_value(value: Any) -> Any:
    """A JSON column's value as Python data: SQLite returns its text, PostgreSQL parses it."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value
