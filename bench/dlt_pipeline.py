"""What a dlt user would write: Shopify orders into SQLite (or PostgreSQL) with dlt 1.31.

The sync benchmark's second contender. It is the code from dlt's own REST
API tutorial applied to Shopify: a ``RESTClient`` with the token header and
a ``HeaderLinkPaginator`` (it drops the first request's filters on the
``page_info`` URLs, as Shopify requires), one resource with primary key
``id`` and write disposition ``merge`` (the sqlalchemy destination supports
``delete-insert`` merges on SQLite, so a re-run updates instead of
duplicating, like the hub's upserts). dlt normalizes nested data the way it
always does: ``line_items`` becomes the child table ``orders__line_items``
(and tax lines, refunds, note attributes and the like become tables of
their own). Nothing is tuned, with one exception a user hits at once: on
SQLite the loader runs with one worker (``LOAD__WORKERS=1``), because dlt's
default 20 parallel load jobs fail with "database is locked" once a table
has several files (at 100,000 orders). Otherwise dlt's defaults. On
SQLite the destination keeps each dataset in a file of its own next to
``--db`` (``dlt__shop.db``, ``dlt__shop_staging.db``), attached to it.

    .venv/bin/python bench/dlt_pipeline.py --base-url http://127.0.0.1:PORT --token T --db dlt.db

Needs the ``bench`` extra (``pip install -e .[bench]``). Its pipeline state
and load packages go to a temporary directory that is removed at the end;
telemetry is off. Prints one JSON line: the counts read back from the
database and the in-process load time (after imports).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import orjson

WRITE_DISPOSITION: Final = "merge"
SQLITE_LOAD_WORKERS: Final = "1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--db", help="SQLite file")
    parser.add_argument("--postgres", help="PostgreSQL SQLAlchemy URL instead of --db")
    parser.add_argument("--api-version", default="2025-01")
    args = parser.parse_args(argv)
    if bool(args.db) == bool(args.postgres):
        parser.error("give exactly one of --db and --postgres")
    scratch = tempfile.mkdtemp(prefix="dlt-bench-")
    # Before dlt is imported: nothing under ~/.dlt or ./.dlt, no telemetry.
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = os.environ["DLT_PROJECT_DIR"] = scratch
    if args.db:
        # dlt loads its files with 20 parallel workers by default; into one SQLite file
        # that fails with "database is locked" once a table has more than one file
        # (seen at 100,000 orders, not at 20,000), so the loader gets one worker here.
        os.environ["LOAD__WORKERS"] = SQLITE_LOAD_WORKERS
    try:
        result = run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(orjson.dumps(result).decode(), flush=True)
    return 0


def run(args: argparse.Namespace, scratch: str) -> dict[str, Any]:
    started = time.perf_counter()
    import dlt
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

    imported = time.perf_counter()
    client = RESTClient(
        base_url=f"{args.base_url.rstrip('/')}/admin/api/{args.api_version}/",
        headers={"X-Shopify-Access-Token": args.token},
        paginator=HeaderLinkPaginator(),
        data_selector="orders",
    )

    @dlt.resource(name="orders", primary_key="id", write_disposition=WRITE_DISPOSITION)
    def orders() -> Any:
        yield from client.paginate(
            "orders.json",
            params={
                "status": "any",
                "updated_at_min": "2024-12-31T00:00:00+00:00",
                "order": "updated_at asc",
                "limit": 250,
            },
        )

    url = args.postgres or f"sqlite:///{args.db}"
    pipeline = dlt.pipeline(
        pipeline_name="shopify_bench",
        destination=dlt.destinations.sqlalchemy(url),
        dataset_name="shop",
        pipelines_dir=str(Path(scratch) / "pipelines"),
    )
    pipeline.run(orders())
    seconds = time.perf_counter() - imported
    counts = _counts(pipeline)
    return {
        "contender": "dlt",
        "database": "postgresql" if args.postgres else "sqlite",
        "write_disposition": WRITE_DISPOSITION,
        "load_workers": os.environ.get("LOAD__WORKERS", "default"),
        **counts,
        "load_seconds": round(seconds, 3),
        "import_seconds": round(imported - started, 3),
    }


def _counts(pipeline: Any) -> dict[str, int]:
    """Orders, line items and the sum of line quantities, read back from the destination."""
    with pipeline.sql_client() as sql:
        orders_table = sql.make_qualified_table_name("orders")
        lines_table = sql.make_qualified_table_name("orders__line_items")
        orders = sql.execute_sql(f"SELECT count(*) FROM {orders_table}")[0][0]
        lines, quantity = sql.execute_sql(
            f"SELECT count(*), coalesce(sum(quantity), 0) FROM {lines_table}"
        )[0]
    return {"orders": int(orders), "line_items": int(lines), "quantity": int(quantity)}


if __name__ == "__main__":
    sys.exit(main())
