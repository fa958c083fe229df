"""How fast the store upserts canonical rows, by batch size, on SQLite and PostgreSQL.

The runner flushes a batch of rows in one transaction per checkpoint or every
``batch_size`` rows (``hub.store.DEFAULT_BATCH_SIZE``). This measures rows per
second for a range of batch sizes, inserting fresh rows and then upserting the
same rows again (a re-sync), so the default can be chosen from figures:

    .venv/bin/python bench/store_bench.py                       # SQLite in a temp dir
    .venv/bin/python bench/store_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

PostgreSQL: a scratch database is created and dropped. Numbers depend on the
machine; compare sizes within one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.schema import ConversionRow, make_id
from hub.store import Store

SIZES = (50, 100, 250, 500, 1000, 2500, 5000)
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def rows(count: int) -> list[dict[str, Any]]:
    """``count`` validated canonical conversions, as the runner hands them to the store."""
    out = []
    for n in range(count):
        out.append(
            ConversionRow(
                id=make_id("bench", "shop", "conversion", str(n)),
                tenant="bench",
                source="shop",
                connection="shop",
                external_id=str(n),
                source_updated_at=T0 + timedelta(minutes=n),
                synced_at=T0,
                order_ref=str(1000 + n),
                occurred_at=T0 + timedelta(minutes=n),
                status="approved",
                amount=Decimal("101.61") + n % 50,
                currency="EUR",
                voucher_codes=["SPRING10"] if n % 7 == 0 else [],
                extra={"note_attributes": [{"name": "awc", "value": f"15880_{n}"}], "n": n},
            ).model_dump()
        )
    return out


def measure(url: str, count: int) -> list[tuple[int, float, float]]:
    """(batch size, inserted rows/s, re-upserted rows/s) for every size."""
    data = rows(count)
    results = []
    for size in SIZES:
        store = Store(url)
        store.create_all()
        with store.transaction() as db:
            db.execute(store.table("conversion").delete())
        timings = []
        for _ in range(2):  # insert, then the same rows again
            started = time.perf_counter()
            for start in range(0, count, size):
                with store.transaction() as db:
                    store.upsert(db, "conversion", data[start : start + size])
            timings.append(count / (time.perf_counter() - started))
        store.dispose()
        results.append((size, timings[0], timings[1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--postgres", help="a server URL; a scratch database is used")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        targets = [("sqlite", f"sqlite:///{Path(directory) / 'bench.db'}")]
        scratch = None
        if args.postgres:
            server = make_url(args.postgres)
            scratch = f"hub_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{scratch}"'))
            targets.append(
                ("postgresql", server.set(database=scratch).render_as_string(hide_password=False))
            )
        try:
            print(f"{args.rows} conversion rows per batch size")
            print(f"{'database':<11} {'batch':>6} {'insert rows/s':>14} {'re-upsert rows/s':>17}")
            for name, url in targets:
                for size, inserted, again in measure(url, args.rows):
                    print(f"{name:<11} {size:>6} {inserted:>14,.0f} {again:>17,.0f}")
        finally:
            if scratch is not None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE "{scratch}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
