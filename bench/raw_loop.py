"""The hand-written limit: Shopify orders into SQLite (or PostgreSQL) with nothing in between.

What a careful engineer writes in an afternoon for one shop and one database:
httpx, ``orjson.loads`` on the body, follow the ``Link`` next URL, two tables,
``INSERT OR REPLACE`` through ``executemany``, one transaction per page (WAL,
``synchronous=NORMAL``, as the hub's SQLite store). No validation, no
mapping, no state, no retries beyond honouring a 429's ``Retry-After``. The
sync benchmark compares the hub with this loop: it is the speed a
general-purpose tool can approach but not beat.

    .venv/bin/python bench/raw_loop.py --base-url http://127.0.0.1:PORT --token T --db raw.db
    .venv/bin/python bench/raw_loop.py --base-url URL --token T --postgres postgresql://127.0.0.1/db

Prints one JSON line: the counts it loaded (read back from the database) and
its own load time in seconds (after imports, up to the last commit).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from typing import Any

import httpx
import orjson

ORDER_COLUMNS = (
    "id",
    "name",
    "order_number",
    "created_at",
    "updated_at",
    "currency",
    "total_price",
    "current_total_price",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
    "source_name",
)
LINE_COLUMNS = ("id", "order_id", "sku", "quantity", "price")
# Money stays text (the exact decimal Shopify sent); timestamps too (with offset).
ORDER_TYPES = (
    "BIGINT PRIMARY KEY",
    "TEXT",
    "BIGINT",
    "TEXT",
    "TEXT",
    "TEXT",
    "TEXT",
    "TEXT",
    "TEXT",
    "TEXT",
    "TEXT",
    "TEXT",
)
LINE_TYPES = ("BIGINT PRIMARY KEY", "BIGINT NOT NULL", "TEXT", "INTEGER", "TEXT")


def _ddl(table: str, columns: tuple[str, ...], types: tuple[str, ...]) -> str:
    body = ", ".join(f"{name} {kind}" for name, kind in zip(columns, types, strict=True))
    return f"CREATE TABLE IF NOT EXISTS {table} ({body})"


def rows(orders: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``orders`` and ``line_items`` rows of one page."""
    order_rows = []
    line_rows = []
    for o in orders:
        oid = o["id"]
        order_rows.append(
            (
                oid,
                o.get("name"),
                o.get("order_number"),
                o.get("created_at"),
                o["updated_at"],
                o.get("currency"),
                o.get("total_price"),
                o.get("current_total_price"),
                o.get("financial_status"),
                o.get("fulfillment_status"),
                o.get("cancelled_at"),
                o.get("source_name"),
            )
        )
        for li in o.get("line_items") or ():
            line_rows.append((li["id"], oid, li.get("sku"), li.get("quantity"), li.get("price")))
    return order_rows, line_rows


class SqliteSink:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(_ddl("orders", ORDER_COLUMNS, ORDER_TYPES))
        self.db.execute(_ddl("line_items", LINE_COLUMNS, LINE_TYPES))
        marks = ", ".join("?" * len(ORDER_COLUMNS))
        self.order_sql = f"INSERT OR REPLACE INTO orders VALUES ({marks})"
        self.line_sql = f"INSERT OR REPLACE INTO line_items VALUES ({', '.join('?' * 5)})"

    def write(self, order_rows: list[tuple[Any, ...]], line_rows: list[tuple[Any, ...]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(self.order_sql, order_rows)
        self.db.executemany(self.line_sql, line_rows)
        self.db.execute("COMMIT")

    def counts(self) -> tuple[int, int, int]:
        orders = self.db.execute("SELECT count(*) FROM orders").fetchone()[0]
        lines, quantity = self.db.execute(
            "SELECT count(*), coalesce(sum(quantity), 0) FROM line_items"
        ).fetchone()
        return int(orders), int(lines), int(quantity)

    def close(self) -> None:
        self.db.close()


class PostgresSink:
    def __init__(self, url: str) -> None:
        import psycopg

        self.db = psycopg.connect(url)
        with self.db.cursor() as cur:
            cur.execute(_ddl("orders", ORDER_COLUMNS, ORDER_TYPES))
            cur.execute(_ddl("line_items", LINE_COLUMNS, LINE_TYPES))
        self.db.commit()
        self.order_sql = _upsert("orders", ORDER_COLUMNS)
        self.line_sql = _upsert("line_items", LINE_COLUMNS)

    def write(self, order_rows: list[tuple[Any, ...]], line_rows: list[tuple[Any, ...]]) -> None:
        with self.db.cursor() as cur:
            cur.executemany(self.order_sql, order_rows)
            cur.executemany(self.line_sql, line_rows)
        self.db.commit()

    def counts(self) -> tuple[int, int, int]:
        with self.db.cursor() as cur:
            cur.execute("SELECT count(*) FROM orders")
            orders = cur.fetchone()[0]  # type: ignore[index]
            cur.execute("SELECT count(*), coalesce(sum(quantity), 0) FROM line_items")
            lines, quantity = cur.fetchone()  # type: ignore[misc]
        return int(orders), int(lines), int(quantity)

    def close(self) -> None:
        self.db.close()


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join(["%s"] * len(columns))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


def load(
    base_url: str,
    token: str,
    sink: SqliteSink | PostgresSink,
    *,
    api_version: str = "2025-01",
    updated_at_min: str = "2024-12-31T00:00:00+00:00",
) -> dict[str, int]:
    """Page every order into ``sink``; the number of requests and pages."""
    url: str | None = f"{base_url.rstrip('/')}/admin/api/{api_version}/orders.json"
    params: dict[str, Any] | None = {
        "status": "any",
        "updated_at_min": updated_at_min,
        "order": "updated_at asc",
        "limit": 250,
    }
    requests = pages = 0
    with httpx.Client(headers={"X-Shopify-Access-Token": token}, timeout=60) as client:
        while url:
            response = client.get(url, params=params)
            requests += 1
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            order_rows, line_rows = rows(orjson.loads(response.content)["orders"])
            sink.write(order_rows, line_rows)
            pages += 1
            params = None  # the next URL carries everything (page_info)
            url = response.links.get("next", {}).get("url")
    return {"requests": requests, "pages": pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--db", help="SQLite file")
    parser.add_argument("--postgres", help="PostgreSQL URL (psycopg 3) instead of --db")
    parser.add_argument("--api-version", default="2025-01")
    args = parser.parse_args(argv)
    if bool(args.db) == bool(args.postgres):
        parser.error("give exactly one of --db and --postgres")
    started = time.perf_counter()
    sink = PostgresSink(args.postgres) if args.postgres else SqliteSink(args.db)
    try:
        traffic = load(args.base_url, args.token, sink, api_version=args.api_version)
        seconds = time.perf_counter() - started
        orders, lines, quantity = sink.counts()
    finally:
        sink.close()
    result = {
        "contender": "raw",
        "database": "postgresql" if args.postgres else "sqlite",
        "orders": orders,
        "line_items": lines,
        "quantity": quantity,
        "load_seconds": round(seconds, 3),
        **traffic,
    }
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
