"""The `hub` command: every subcommand once, readable errors, no secret on the terminal."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import hub.cli as cli_module
from hub.cli import app
from tests.e2e.support import TOKEN, write_config
from tests.fakes.paged_api import FakeApi


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("FAKE_API_TOKEN", TOKEN)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    yield CliRunner()
    # the CLI configures process-wide logging; give the next test a clean slate
    logging.getLogger().removeHandler(cli_module._log_handler)
    for name in ("hub", "connectors"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(orders=12, token=TOKEN) as fake:
        yield fake


def run(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output


def test_connectors_lists_the_builtin_with_package_and_version(cli: CliRunner) -> None:
    code, output = run(cli, "connectors", "--json")
    assert code == 0
    rest = next(c for c in json.loads(output) if c["name"] == "rest")
    assert rest["package"] == "partner-hub" and rest["version"]


def test_spec_prints_the_config_schema_with_secrets_marked(cli: CliRunner) -> None:
    code, output = run(cli, "spec", "rest")
    schema = json.loads(output)
    assert code == 0 and "base_url" in schema["properties"]
    assert json.dumps(schema["$defs"]).count("password") or "writeOnly" in json.dumps(schema)


def test_check_discover_sync_runs_state(cli: CliRunner, api: FakeApi, tmp_path: Path) -> None:
    config = str(write_config(tmp_path, api.url))
    assert run(cli, "--config", config, "check", "acme-orders")[0] == 0
    code, output = run(cli, "--config", config, "discover", "acme-orders")
    assert code == 0 and json.loads(output)[0]["cursor_field"] == "updated_at"
    code, output = run(cli, "--config", config, "sync")
    assert code == 0 and "succeeded" in output and "conversion" in output
    code, output = run(cli, "--config", config, "runs", "--json")
    assert json.loads(output)[0]["counts"]["entities"]["conversion"] == 12
    code, output = run(cli, "--config", config, "state", "show", "acme-orders")
    assert json.loads(output)["orders"]["cursor"].startswith("2025-03-01T00:11:30")
    code, output = run(cli, "--config", config, "state", "reset", "acme-orders", "--yes")
    assert code == 0 and "reset 1" in output
    assert json.loads(run(cli, "--config", config, "state", "show", "acme-orders")[1]) == {}


def test_quarantine_list_and_replay(cli: CliRunner, api: FakeApi, tmp_path: Path) -> None:
    api.orders[3]["currency"] = "euro"  # not an ISO 4217 code: quarantined
    config = write_config(tmp_path, api.url)
    code, output = run(cli, "--config", str(config), "sync")
    assert code == 0 and "1 quarantined" in output
    code, output = run(cli, "--config", str(config), "quarantine", "list", "acme-orders", "--json")
    (item,) = json.loads(output)
    assert item["record"]["currency"] == "euro" and "currency" in item["error"]
    mapping = tmp_path / "rest_orders.yaml"
    codes = "map: {euro: EUR, EUR: EUR, CHF: CHF, GBP: GBP}"
    text = mapping.read_text().replace(
        "currency: currency\n", f"currency: {{path: currency, {codes}}}\n"
    )
    text = text.replace("currency: {path: ^.currency}", f"currency: {{path: ^.currency, {codes}}}")
    mapping.write_text(text)
    code, output = run(cli, "--config", str(config), "quarantine", "replay")
    assert code == 0 and "1 stored, 0 still failing" in output
    code, output = run(cli, "--config", str(config), "quarantine", "list")
    assert "0 record(s) in quarantine" in output


def test_validate_reports_file_line_and_fix_without_traceback(
    cli: CliRunner, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    document = yaml.safe_load(config.read_text())
    document["connections"]["acme-orders"]["connector"] = "resst"
    document["connections"]["acme-orders"]["schedule"] = "every minute"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    code, output = run(cli, "--config", str(config), "validate")
    assert code == 1
    assert "Traceback" not in output
    assert "connections.acme-orders.schedule" in output
    assert f"{config}:" in output


def test_validate_accepts_a_good_config(cli: CliRunner, tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    code, output = run(cli, "--config", str(config), "validate")
    assert code == 0 and "is valid" in output


def test_unknown_connection_names_the_known_ones(cli: CliRunner, tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    code, output = run(cli, "--config", str(config), "sync", "acme-order")
    assert code == 1 and "acme-orders" in output and "Traceback" not in output


def test_a_failed_check_prints_one_message_and_no_secret(cli: CliRunner, tmp_path: Path) -> None:
    with FakeApi(orders=1, token="another-token-entirely") as other:
        config = write_config(tmp_path, other.url)
        code, output = run(cli, "--config", str(config), "check", "acme-orders")
        assert code == 1 and "401" in output and TOKEN not in output and "Traceback" not in output
        code, output = run(cli, "--config", str(config), "--debug", "check", "acme-orders")
    assert code == 1 and "Traceback" in output and TOKEN not in output


def test_missing_config_file_says_how_to_point_at_one(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run(cli, "runs")
    assert code == 1 and "hub.yaml" in output and "--config" in output


def test_validate_lists_config_and_mapping_problems_together(
    cli: CliRunner, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    document = yaml.safe_load(config.read_text())
    connection = document["connections"]["acme-orders"]
    connection["config"]["streams"]["orders"]["page_size"] = "many"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    (tmp_path / "rest_orders.yaml").write_text(
        (tmp_path / "rest_orders.yaml")
        .read_text()
        .replace("entity: conversion", "entity: convrsion")
    )
    code, output = run(cli, "--config", str(config), "validate")
    assert code == 1 and "Traceback" not in output
    assert "connections.acme-orders.config.streams.orders.page_size" in output
    assert "convrsion" in output and "rest_orders.yaml" in output


def test_validate_reports_a_bad_override(cli: CliRunner, tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    document = yaml.safe_load(config.read_text())
    document["connections"]["acme-orders"]["mapping_overrides"] = {
        "orders": {"fields": {"ammount": {"path": "total"}}}
    }
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    code, output = run(cli, "--config", str(config), "validate")
    assert code == 1 and "ammount" in output and "amount" in output


def test_one_connection_with_a_bad_config_does_not_keep_the_others_from_syncing(
    cli: CliRunner, api: FakeApi, tmp_path: Path
) -> None:
    config = write_config(tmp_path, api.url)
    document = yaml.safe_load(config.read_text())
    good = document["connections"]["acme-orders"]
    broken = {**good, "config": {**good["config"], "page_size": "many"}}
    document["connections"] = {"a-broken": broken, "acme-orders": good}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    code, output = run(cli, "--config", str(config), "sync")
    assert code == 1
    assert "a-broken: not synced:" in output and "page_size" in output
    assert "acme-orders: run" in output and "succeeded" in output
    code, output = run(cli, "--config", str(config), "sync", "a-broken")
    assert code == 1 and "page_size" in output and "Traceback" not in output
