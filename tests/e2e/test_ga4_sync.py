"""`hub sync` of the GA4 connector against the local GA4 sandbox: sessions, purchases, revenue.

The connector signs in with the sandbox's service-account key at its token
endpoint (google-auth), reads the three default reports by day and pages,
and the database then holds exactly what GA4 reports: the totals are computed
from the sandbox's generator, never read back from the server. GA4 revises
recent days; after the sandbox has processed them, the next sync's lookback
brings the database up to the new figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import yaml
from sqlalchemy import create_engine, text

from connectors.ga4.sandbox import GA4Sandbox
from connectors.ga4.sandbox.data import Cell, GA4Data
from tests.e2e.support import run_hub


def write_config(directory: Path, ga4: GA4Sandbox, database: str) -> Path:
    config = directory / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": database,
                "tenants": {"alpenglueck": {"name": "Alpenglück"}},
                "connections": {
                    "ga4": {
                        "connector": "ga4",
                        "tenant": "alpenglueck",
                        "config": {
                            "property_id": ga4.property_id,
                            "service_account_key": orjson.dumps(
                                ga4.service_account_info()
                            ).decode(),
                            "token_url": ga4.token_url,
                            "base_url": ga4.url,
                            "start_date": ga4.first.isoformat(),
                            "timezone": ga4.time_zone,
                            "page_size": 500,  # several pages per window
                        },
                    }
                },
            }
        )
    )
    return config


def visible(ga4: GA4Sandbox) -> Iterator[tuple[Cell, Any]]:
    data: GA4Data = ga4.data
    day = ga4.first
    while day <= ga4.end:
        for cell in data.day(data.index(day)):
            yield cell, data.visible(cell, (ga4.end - day).days + ga4.revision)
        day += timedelta(days=1)


def expected(ga4: GA4Sandbox) -> dict[str, Any]:
    shown = [v for _, v in visible(ga4)]
    purchases = [p for v in shown for p in v.purchases]
    return {
        "sessions": sum(v.sessions for v in shown),
        "revenue": sum(Decimal(p.value_cents) for p in purchases) / 100,
        "transactions": len({p.transaction_id for p in purchases} - {"(not set)"}),
        "item_revenue": sum(Decimal(i.revenue_cents) for p in purchases for i in p.items) / 100,
        "items_purchased": sum(i.quantity for p in purchases for i in p.items),
    }


def stored(database: str) -> dict[str, Any]:
    """The same figures summed from the database (money read as exact decimals)."""
    engine = create_engine(database)
    try:
        with engine.connect() as db:

            def one(sql: str) -> Any:
                return db.execute(text(sql)).scalar_one()

            return {
                "sessions": one("select sum(count) from click"),
                "revenue": sum(
                    (Decimal(str(a)) for (a,) in db.execute(text("select amount from conversion"))),
                    Decimal(0),
                ),
                "transactions": one("select count(*) from conversion where order_ref is not null"),
                "item_revenue": sum(
                    (
                        Decimal(str(a))
                        for (a,) in db.execute(text("select amount from conversion_item"))
                    ),
                    Decimal(0),
                ),
                "items_purchased": one("select sum(quantity) from conversion_item"),
            }
    finally:
        engine.dispose()


def test_ga4_sync_stores_sessions_purchases_and_revenue_exactly(
    tmp_path: Path, hub_database: str
) -> None:
    with GA4Sandbox(days=30) as ga4:
        config = write_config(tmp_path, ga4, hub_database)
        result = run_hub(config, "sync")
        assert "succeeded" in result.stdout
        output = result.stdout + result.stderr
        assert "PRIVATE KEY" not in output and ga4.token not in output
        database = hub_database
        first = expected(ga4)
        assert stored(database) == first

        ga4.revise(3)  # GA4 finishes processing the last days
        run_hub(config, "sync")
        later = expected(ga4)
        assert later != first  # the recent days did change
        assert stored(database) == later
