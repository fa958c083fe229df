"""`hub sync` of the Awin connector against the local Awin sandbox: counts and sums by status."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml

from connectors.awin.sandbox import AwinSandbox
from tests.e2e.support import query, run_hub

STATUS = {
    "pending": "pending",
    "approved": "approved",
    "declined": "declined",
    "deleted": "cancelled",
}


def write_config(directory: Path, awin: AwinSandbox, database: str) -> Path:
    config = directory / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": database,
                "tenants": {"alpenglueck": {"name": "Alpenglück"}},
                "connections": {
                    "awin": {
                        "connector": "awin",
                        "tenant": "alpenglueck",
                        "config": {
                            "api_token": awin.token,
                            "account_type": "advertiser",
                            "account_id": awin.account_id,
                            "start_date": "2025-03-01",
                            "timezone": "Europe/Berlin",
                            "base_url": awin.url,
                            "requests_per_minute": 60000,
                        },
                    }
                },
            }
        )
    )
    return config


def expected(awin: AwinSandbox, count: int) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    """(status, currency) -> (transactions, sale sum, commission sum), from the generator."""
    sums: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = {}
    for index in range(count):
        tx = awin.transaction(index)
        key = (STATUS[tx["commissionStatus"]], tx["saleAmount"]["currency"])
        n, sale, paid = sums.get(key, (0, Decimal(0), Decimal(0)))
        sums[key] = (
            n + 1,
            sale + Decimal(str(tx["saleAmount"]["amount"])),
            paid + Decimal(str(tx["commissionAmount"]["amount"])),
        )
    return sums


def stored(database: str) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    """(status, currency) -> (transactions, sale sum, commission sum), from the database."""
    rows = query(database, "select status, currency, amount, commission_amount from conversion")
    sums: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = {}
    for status, currency, amount, commission in rows:
        n, sale, paid = sums.get((status, currency), (0, Decimal(0), Decimal(0)))
        sums[(status, currency)] = (
            n + 1,
            sale + Decimal(str(amount)),
            paid + Decimal(str(commission)),
        )
    return sums


def test_awin_sync_stores_every_transaction_with_exact_sums(
    tmp_path: Path, hub_database: str
) -> None:
    with AwinSandbox(transactions=300) as awin:
        config = write_config(tmp_path, awin, hub_database)
        result = run_hub(config, "sync")
        assert "succeeded" in result.stdout and awin.token not in result.stdout + result.stderr
        assert stored(hub_database) == expected(awin, 300)
