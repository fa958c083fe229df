"""hub.yaml: loading, every error kind with file/location/line/hint, env secrets, deep check."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from hub import redaction
from hub.config import (
    ConnectionConfig,
    HubConfig,
    QuarantinePolicy,
    TenantConfig,
    check_config,
    find_config_path,
    load_config,
    resolve_connector_config,
)
from hub.connector import Connector, Message, Stream
from hub.errors import ConfigError, Problem
from hub.plugins import Registered, Registry

FULL = """\
database: sqlite:///data/hub.db
tenants:
  nordlicht: {name: Nordlicht Outdoor}
  bergwerk:
mappings: [my-mappings/extra.yaml]
quarantine:
  max_ratio: 0.2
  min_records: 50
connections:
  nordlicht-shop:
    connector: fakeshop
    tenant: nordlicht
    schedule: "*/15  * * * *"
    enabled: true
    config:
      shop: nordlicht-outdoor
      access_token: ${SHOP_TOKEN}
      start_date: 2024-10-01
      base_url: http://127.0.0.1:8001
    streams: [orders, products]
    mapping_overrides:
      orders: {fields: {channel_source: {const: shop}}}
    quarantine: {max_ratio: 0.05}
  bergwerk-shop:
    connector: fakeshop
    tenant: bergwerk
    config: {shop: bergwerk, access_token: inline-token-value}
"""


def write(tmp_path: Path, text: str, name: str = "hub.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def at(problems: Sequence[Problem], location: str) -> Problem:
    found = [p for p in problems if p.location == location]
    assert len(found) == 1, f"expected one problem at {location!r}, got {problems}"
    return found[0]


# --------------------------------------------------------------------- fake connector


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop: str
    access_token: SecretStr
    start_date: date | None = None
    base_url: str = "https://example.invalid"
    tags: list[str] = []

    @field_validator("access_token")
    @classmethod
    def _prefix(cls, value: SecretStr) -> SecretStr:
        # Deliberately careless: echoes the secret, as third-party validators may.
        token = value.get_secret_value()
        if token.startswith("bad"):
            raise ValueError(f"token {token} must not start with 'bad'")
        return value

    @field_validator("shop")
    @classmethod
    def _shop(cls, value: str) -> str:
        if " " in value:
            raise ValueError(f"shop name {value} contains a space")
        return value


class FakeShop(Connector):
    name = "fakeshop"
    config_model = ShopSettings

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        return (Stream("orders", ("id",), "updated_at"), Stream("products", ("id",)))

    def check(self) -> None:
        return None

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        return iter(())


class DiscoveringSource(FakeShop):
    """A connector whose streams are only known at run time."""

    name = "discovering"

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        return ()


def make_registry(*classes: type[Connector]) -> Registry:
    return Registry(
        connectors={c.name: Registered(c.name, c, "tests", "tests", "0") for c in classes}
    )


# ------------------------------------------------------------------------ happy path


def test_full_example_loads(tmp_path: Path) -> None:
    hub = load_config(write(tmp_path, FULL))

    assert hub.path == tmp_path / "hub.yaml"
    assert hub.tenants == {
        "nordlicht": TenantConfig(name="Nordlicht Outdoor"),
        "bergwerk": TenantConfig(name=None),
    }
    assert hub.mappings == [tmp_path / "my-mappings" / "extra.yaml"]
    shop = hub.connection("nordlicht-shop")
    assert shop.connector == "fakeshop"
    assert shop.schedule == "*/15 * * * *"  # whitespace normalized
    assert shop.streams == ["orders", "products"]
    assert shop.config["access_token"] == "${SHOP_TOKEN}"  # substituted only on resolve
    assert shop.config["start_date"] == date(2024, 10, 1)  # safe_load semantics
    assert shop.mapping_overrides == {"orders": {"fields": {"channel_source": {"const": "shop"}}}}
    other = hub.connection("bergwerk-shop")
    assert other.schedule is None
    assert other.enabled is True
    assert other.streams is None
    # line numbers are kept for later errors
    assert hub.line_of(("connections", "nordlicht-shop", "schedule")) == 13
    assert hub.line_of(("connections", "nordlicht-shop", "config", "shop", "deeper")) == 16


def test_quarantine_policy_merges_connection_keys_over_defaults(tmp_path: Path) -> None:
    hub = load_config(write(tmp_path, FULL))

    assert hub.quarantine_policy("nordlicht-shop") == QuarantinePolicy(
        max_ratio=0.05, min_records=50
    )
    assert hub.quarantine_policy("bergwerk-shop") == QuarantinePolicy(max_ratio=0.2, min_records=50)


@pytest.mark.parametrize(
    ("quarantined", "seen", "expected"),
    [
        (1, 3, False),  # below min_records: a tiny run never fails on ratio
        (10, 100, False),  # exactly at the ratio passes
        (11, 100, True),
        (0, 0, False),
        (200, 1000, True),
    ],
)
def test_quarantine_policy_exceeded(quarantined: int, seen: int, expected: bool) -> None:
    assert QuarantinePolicy(max_ratio=0.1, min_records=100).exceeded(quarantined, seen) is expected


def test_quarantine_policy_without_minimum() -> None:
    policy = QuarantinePolicy(max_ratio=0.0, min_records=0)
    assert policy.exceeded(1, 1)
    assert not policy.exceeded(0, 1)


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    hub = load_config(write(tmp_path, "tenants: {acme: {}}\n"))
    assert hub.connections == {}
    assert hub.quarantine == QuarantinePolicy()
    assert hub.database_url() == f"sqlite:///{tmp_path / 'hub.db'}"


# ---------------------------------------------------------------------- error kinds


def test_unknown_key_suggests_the_close_match(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            schedul: "0 * * * *"
        """,
    )
    problem = at(problems_of(path), "connections.acme-shop.schedul")
    assert problem.file == str(path)
    assert problem.line == 6
    assert problem.message == "unknown key 'schedul'"
    assert problem.hint is not None
    assert "did you mean 'schedule'?" in problem.hint
    assert "connector, tenant, schedule, enabled" in problem.hint


def test_unknown_top_level_and_nested_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        databse: sqlite:///hub.db
        quarantine: {max_ratio: 0.1, min_record: 3}
        tenants: {acme: {name: Acme, colour: red}}
        """,
    )
    problems = problems_of(path)
    assert len(problems) == 3
    assert "did you mean 'database'?" in (at(problems, "databse").hint or "")
    assert "did you mean 'min_records'?" in (at(problems, "quarantine.min_record").hint or "")
    colour = at(problems, "tenants.acme.colour")
    assert colour.line == 3
    assert "allowed keys here: name" in (colour.hint or "")


def test_wrong_types_say_what_was_found(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        quarantine:
          max_ratio: lots
          min_records: -1
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            enabled: maybe
            streams: orders
            config: [a, b]
        """,
    )
    problems = problems_of(path)
    enabled = at(problems, "connections.acme-shop.enabled")
    assert (enabled.line, enabled.hint) == (9, "write true or false")
    assert "found text" in enabled.message
    streams = at(problems, "connections.acme-shop.streams")
    assert streams.line == 10
    assert "[orders, products]" in (streams.hint or "")
    config = at(problems, "connections.acme-shop.config")
    assert config.line == 11
    assert "found a list" in config.message
    ratio = at(problems, "quarantine.max_ratio")
    assert ratio.line == 3
    assert ratio.hint == "write a number, e.g. 0.1"
    minimum = at(problems, "quarantine.min_records")
    assert minimum.line == 4
    assert "greater than or equal to 0" in minimum.message


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            tenant: acme
        """,
    )
    problem = at(problems_of(path), "connections.acme-shop.connector")
    assert problem.line == 3  # the connection's own line: the key is not in the file
    assert problem.message == "required key 'connector' is missing"
    assert (problem.hint or "").startswith("add `connector:` under connections.acme-shop")


def test_undeclared_tenant(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants:
          nordlicht: {name: Nordlicht}
        connections:
          shop:
            connector: fakeshop
            tenant: nordlict
        """,
    )
    problem = at(problems_of(path), "connections.shop.tenant")
    assert problem.line == 6
    assert "'nordlict' is not declared" in problem.message
    assert "did you mean 'nordlicht'?" in (problem.hint or "")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("*/15 * * *", "it has 4 field(s)"),
        ("0 0 * * * *", "it has 6 field(s)"),
        ("61 * * * *", "not a valid cron expression"),
        ("every hour", "it has 2 field(s)"),
    ],
)
def test_bad_cron(tmp_path: Path, expression: str, message: str) -> None:
    path = write(
        tmp_path,
        f"""\
        tenants: {{acme: {{}}}}
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            schedule: "{expression}"
        """,
    )
    problem = at(problems_of(path), "connections.acme-shop.schedule")
    assert problem.line == 6
    assert message in problem.message
    assert '"*/15 * * * *"' in (problem.hint or "")


def test_cron_aliases_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop: {connector: fakeshop, tenant: acme, schedule: "@Hourly"}
        """,
    )
    assert load_config(path).connection("acme-shop").schedule == "@hourly"


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            schedule: "0 * * * *"
            streams: [orders]
            schedule: "*/5 * * * *"
        """,
    )
    problem = at(problems_of(path), "connections.acme-shop.schedule")
    assert problem.line == 8
    assert "appears twice (lines 6 and 8)" in problem.message
    assert problem.hint == "remove or rename one of the two"


def test_duplicate_connection_names_are_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          shop: {connector: fakeshop, tenant: acme}
          shop: {connector: other, tenant: acme}
        """,
    )
    assert at(problems_of(path), "connections.shop").line == 4


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        defaults: &defaults {connector: fakeshop, tenant: acme, schedule: "0 * * * *"}
        connections:
          shop:
            <<: *defaults
            schedule: "*/5 * * * *"
        """,
    )
    problems = problems_of(path)  # only the anchor holder is unknown
    assert [p.location for p in problems] == ["defaults"]


def test_malformed_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          shop: {connector: fakeshop, tenant: acme
        database: sqlite:///hub.db
        """,
    )
    (problem,) = problems_of(path)
    assert problem.file == str(path)
    assert problem.line == 4
    assert problem.message.startswith("invalid YAML: ")
    assert problem.message.endswith(
        "(line 4, column 9; while parsing a flow mapping that starts at line 3)"
    )
    assert "brackets" in (problem.hint or "")


def test_tabs_get_their_own_hint(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("tenants:\n\tacme: {}\n", encoding="utf-8")
    (problem,) = problems_of(path)
    assert problem.line == 2
    assert problem.hint == "indent with spaces; YAML does not allow tabs"


def test_unquoted_cron_gets_its_own_hint(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            schedule: */15 * * * *
        """,
    )
    (problem,) = problems_of(path)
    assert problem.line == 4
    assert problem.hint == 'a value starting with * must be quoted, e.g. schedule: "*/15 * * * *"'


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(text, encoding="utf-8")
    (problem,) = problems_of(path)
    assert problem.message == "the config file is empty"
    assert problem.line == 1
    assert "database: sqlite:///hub.db" in (problem.hint or "")


@pytest.mark.parametrize(("text", "found"), [("- a\n- b\n", "a list"), ("hello\n", "text")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, found: str) -> None:
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.message.startswith("the top level must be a mapping")
    assert problem.message.endswith(f"found {found}")
    assert problem.line == 1
    assert problem.hint


def test_names_must_be_safe_slugs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants:
          acme: {}
          "acme corp": {}
        connections:
          "../etc": {connector: fakeshop, tenant: acme}
        """,
    )
    problems = problems_of(path)
    tenant = at(problems, "tenants.acme corp")
    assert tenant.line == 3
    assert "'acme corp' is not a valid name" in tenant.message
    connection = at(problems, "connections.../etc")
    assert connection.line == 5
    assert connection.hint == "rename it, e.g. nordlicht-shop"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          one: {connector: fakeshop, tenant: nobody}
          two: {connector: fakeshop, tenant: acme, schedule: "nope"}
          three: {connector: fakeshop, tenant: acme, enabled: sometimes}
          four: {tenant: acme, streams: []}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert [(p.line, p.location) for p in problems] == [
        (3, "connections.one.tenant"),
        (4, "connections.two.schedule"),
        (5, "connections.three.enabled"),
        (6, "connections.four.connector"),
        (6, "connections.four.streams"),
    ]
    text = str(caught.value)
    assert text.startswith("5 problems:")
    assert f"{path}:4: connections.two.schedule:" in text
    assert "Fix: " in text


def test_path_is_not_a_key_of_the_file(tmp_path: Path) -> None:
    problem = at(problems_of(write(tmp_path, "path: /elsewhere\n")), "path")
    assert problem.message == "unknown key 'path'"
    assert problem.line == 1


def test_bad_database_url_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "database: 'postgres hunter2-password'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problem = at(caught.value.problems, "database")
    assert problem.message == "not a database URL"
    assert "hunter2-password" not in str(caught.value)


def test_an_unsupported_database_is_a_config_problem(tmp_path: Path) -> None:
    # Regression: `hub validate` passed a mysql:// URL; only the first sync refused it,
    # naming "hub.yaml" instead of the file and line.
    path = write(tmp_path, "database: mysql://hub:hunter2-pw@db/hub\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problem = at(caught.value.problems, "database")
    assert problem.message == "the 'mysql' database is not supported"
    assert (problem.file, problem.line) == (str(path), 1)
    assert "postgresql+psycopg://" in (problem.hint or "")
    assert "hunter2-pw" not in str(caught.value)


def test_unreadable_files(tmp_path: Path) -> None:
    (missing,) = problems_of(tmp_path / "nope.yaml")
    assert missing.message.startswith("cannot read the config file")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"tenants: \xff\xfe\n")
    (problem,) = problems_of(binary)
    assert problem.message == "the file is not UTF-8 text"


def test_unknown_connection_lists_names(tmp_path: Path) -> None:
    hub = load_config(write(tmp_path, FULL))
    with pytest.raises(ConfigError) as caught:
        hub.connection("nordlicht-shpo")
    (problem,) = caught.value.problems
    assert problem.message == "no connection is called 'nordlicht-shpo'"
    assert problem.line == 9
    assert problem.hint == (
        "did you mean 'nordlicht-shop'? use one of: bergwerk-shop, nordlicht-shop"
    )


# ------------------------------------------------------------------ finding the file


def test_find_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    default = write(cwd, "{}\n")
    from_env = write(tmp_path, "{}\n", "env.yaml")
    explicit = write(tmp_path, "{}\n", "explicit.yaml")
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("HUB_CONFIG", raising=False)

    assert find_config_path() == default
    monkeypatch.setenv("HUB_CONFIG", str(from_env))
    assert find_config_path() == from_env
    assert find_config_path(explicit) == explicit
    assert find_config_path(str(explicit)) == explicit
    monkeypatch.setenv("HUB_CONFIG", "")  # empty means unset
    assert find_config_path() == default


def test_find_config_path_relative_explicit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "{}\n", "custom.yaml")
    monkeypatch.chdir(tmp_path)
    assert find_config_path("custom.yaml") == tmp_path / "custom.yaml"


def test_find_config_path_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    with pytest.raises(ConfigError) as caught:
        find_config_path()
    (problem,) = caught.value.problems
    assert problem.file == str(tmp_path / "hub.yaml")
    assert "--config" in (problem.hint or "")
    assert "HUB_CONFIG" in (problem.hint or "")

    monkeypatch.setenv("HUB_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=r"named by \$HUB_CONFIG does not exist"):
        find_config_path()
    with pytest.raises(ConfigError, match="given with --config is a directory"):
        find_config_path(tmp_path)


# ------------------------------------------------------------------------ database


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("sqlite:///hub.db", "sqlite:///{dir}/hub.db"),
        ("sqlite:///data/../hub.db", "sqlite:///{dir}/data/../hub.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite:///{dir}/x.db"),
        ("sqlite:////var/lib/hub.db", "sqlite:////var/lib/hub.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://hub@localhost/hub", "postgresql+psycopg://hub@localhost/hub"),
    ],
)
def test_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str, expected: str
) -> None:
    config_dir = tmp_path / "conf"
    config_dir.mkdir()
    path = write(config_dir, f"database: '{database}'\n")
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    assert load_config(path).database_url() == expected.format(dir=config_dir)


def test_database_password_is_registered_as_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "database: postgresql+psycopg://hub:s3cret-pw@db/hub\n")
    load_config(path)
    assert redaction.redact("connect s3cret-pw") == "connect ***"


# ------------------------------------------------------------- env and secrets


def test_env_substitution_and_secret_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "shpat_0123456789abcdef")
    hub = load_config(write(tmp_path, FULL))

    settings = resolve_connector_config(hub, "nordlicht-shop", ShopSettings)

    assert isinstance(settings, ShopSettings)
    assert settings.access_token.get_secret_value() == "shpat_0123456789abcdef"
    assert settings.start_date == date(2024, 10, 1)
    assert settings.base_url == "http://127.0.0.1:8001"
    assert "shpat_0123456789abcdef" in redaction.registered_secrets()
    assert redaction.redact("token=shpat_0123456789abcdef") == "token=***"


def test_inline_secret_fields_are_registered(tmp_path: Path) -> None:
    hub = load_config(write(tmp_path, FULL))
    resolve_connector_config(hub, "bergwerk-shop", ShopSettings)
    assert "inline-token-value" in redaction.registered_secrets()


def test_env_defaults_escapes_and_nesting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_SHOP", raising=False)
    monkeypatch.setenv("EMPTY_BASE", "")
    monkeypatch.setenv("TAG_A", "alpha-tag")
    monkeypatch.setenv("TOKEN", "tok-1234")
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            config:
              shop: ${UNSET_SHOP:-default-shop}
              base_url: ${EMPTY_BASE:-http://127.0.0.1:9}
              access_token: "Bearer ${TOKEN}"
              tags: ["${TAG_A}", "$${NOT_A_VAR}", "cost $$5", plain]
        """,
    )
    settings = resolve_connector_config(load_config(path), "acme-shop", ShopSettings)
    assert isinstance(settings, ShopSettings)
    assert settings.shop == "default-shop"
    assert settings.base_url == "http://127.0.0.1:9"
    assert settings.access_token.get_secret_value() == "Bearer tok-1234"
    assert settings.tags == ["alpha-tag", "${NOT_A_VAR}", "cost $5", "plain"]
    # env values are registered; defaults written in the file are not secrets
    assert {"tok-1234", "alpha-tag"} <= set(redaction.registered_secrets())
    assert "default-shop" not in redaction.registered_secrets()


def test_missing_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_TOKEN", raising=False)
    hub = load_config(write(tmp_path, FULL))
    with pytest.raises(ConfigError) as caught:
        resolve_connector_config(hub, "nordlicht-shop", ShopSettings)
    (problem,) = caught.value.problems  # no second "invalid token" problem for the same field
    assert problem.file == str(tmp_path / "hub.yaml")
    assert problem.location == "connections.nordlicht-shop.config.access_token"
    assert problem.line == 17
    assert problem.message == "environment variable SHOP_TOKEN is not set"
    assert "export SHOP_TOKEN=" in (problem.hint or "")
    assert "${SHOP_TOKEN:-default}" in (problem.hint or "")


def test_malformed_env_reference(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            config: {shop: "${1BAD}", access_token: "${UNCLOSED"}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        resolve_connector_config(load_config(path), "acme-shop", ShopSettings)
    shop = at(caught.value.problems, "connections.acme-shop.config.shop")
    assert shop.message == "'${1BAD}' is not a valid environment reference"
    token = at(caught.value.problems, "connections.acme-shop.config.access_token")
    assert "without a closing }" in token.message
    assert token.line == 6


def test_secret_never_appears_in_validation_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "bad-0123456789")
    monkeypatch.setenv("SHOP_NAME", "my shop-from-env")
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            config:
              shop: ${SHOP_NAME}
              access_token: ${SHOP_TOKEN}
              acess_token: q7z
        """,
    )
    with pytest.raises(ConfigError) as caught:
        resolve_connector_config(load_config(path), "acme-shop", ShopSettings)
    text = str(caught.value)
    assert "bad-0123456789" not in text
    assert "shop-from-env" not in text
    problems = caught.value.problems
    token = at(problems, "connections.acme-shop.config.access_token")
    assert token.line == 8
    assert "secret" in token.message
    shop = at(problems, "connections.acme-shop.config.shop")
    assert shop.line == 7
    assert "contains a space" in shop.message
    typo = at(problems, "connections.acme-shop.config.acess_token")
    assert "did you mean 'access_token'?" in (typo.hint or "")


def test_short_inline_secret_is_masked_by_field(tmp_path: Path) -> None:
    # Too short for the global redaction list: masked because the field is a SecretStr.
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        connections:
          acme-shop:
            connector: fakeshop
            tenant: acme
            config: {shop: acme, access_token: badZ}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        resolve_connector_config(load_config(path), "acme-shop", ShopSettings)
    assert "badZ" not in str(caught.value)


def test_env_is_only_substituted_in_config_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANT_NAME", "Acme")
    hub = load_config(write(tmp_path, "tenants: {acme: {name: '${TENANT_NAME}'}}\n"))
    assert hub.tenants["acme"].name == "${TENANT_NAME}"


# ----------------------------------------------------------------------- deep check


def test_check_config_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "shpat_0123456789abcdef")
    (tmp_path / "my-mappings").mkdir()
    (tmp_path / "my-mappings" / "extra.yaml").write_text("{}\n", encoding="utf-8")
    hub = load_config(write(tmp_path, FULL))
    assert check_config(hub, make_registry(FakeShop)) == []


def test_check_config_finds_every_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_TOKEN", raising=False)
    path = write(
        tmp_path,
        """\
        tenants: {acme: {}}
        mappings: [missing.yaml]
        connections:
          typo:
            connector: fakeshp
            tenant: acme
          streams:
            connector: fakeshop
            tenant: acme
            streams: [orders, prodcts]
            mapping_overrides: {refunds: {}}
            config: {shop: acme, access_token: "${SHOP_TOKEN}"}
          dynamic:
            connector: discovering
            tenant: acme
            streams: [anything]
            config: {shop: acme, access_token: inline-value}
        """,
    )
    problems = check_config(load_config(path), make_registry(FakeShop, DiscoveringSource))

    assert [(p.location, p.line) for p in problems] == [
        ("mappings[0]", 2),
        ("connections.typo.connector", 5),
        ("connections.streams.streams[1]", 10),
        ("connections.streams.mapping_overrides.refunds", 11),
        ("connections.streams.config.access_token", 12),
    ]
    connector = problems[1]
    assert connector.hint is not None
    assert "did you mean 'fakeshop'?" in connector.hint
    assert "installed: discovering, fakeshop" in connector.hint
    assert "did you mean 'products'?" in (problems[2].hint or "")
    assert "orders, products" in (problems[3].hint or "")
    assert "SHOP_TOKEN" in problems[4].message
    assert all(p.file == str(path) for p in problems)


def test_check_config_on_a_config_built_in_code() -> None:
    hub = HubConfig(
        tenants={"acme": TenantConfig()},
        connections={
            "shop": ConnectionConfig(
                connector="fakeshop",
                tenant="someone",
                config={"shop": "x", "access_token": "inline-value"},
            )
        },
    )
    (problem,) = check_config(hub, make_registry(FakeShop))
    assert problem.location == "connections.shop.tenant"
    assert problem.line is None
    assert problem.file == "hub.yaml"


def test_check_config_without_installed_connectors(tmp_path: Path) -> None:
    hub = load_config(write(tmp_path, FULL))
    problems = check_config(hub, make_registry())
    assert {p.location for p in problems} >= {
        "connections.nordlicht-shop.connector",
        "connections.bergwerk-shop.connector",
    }
    assert "installed: (none installed)" in (problems[-1].hint or "")


def test_connection_config_model_rejects_streams_edge_cases() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        ConnectionConfig(connector="x", tenant="a", streams=["orders", "orders"])
    with pytest.raises(ValueError, match="would sync nothing"):
        ConnectionConfig(connector="x", tenant="a", streams=[])


# ------------------------------------------------------------- push blocks (destinations)


class DiscountSettings(ShopSettings):
    """A destination's settings: the source's plus its own."""

    usage_limit: int | None = None
    api_key: SecretStr


PUSH = """\
tenants: {acme: {}}
connections:
  acme-shop:
    connector: fakeshop
    tenant: acme
    config:
      shop: acme
      access_token: inline-token-1234
      base_url: http://127.0.0.1:9
    push:
      discounts:
        usage_limit: ${LIMIT}
        api_key: ${PUSH_KEY}
        base_url: http://127.0.0.1:10
"""


def test_a_push_block_is_laid_over_config_for_its_destination_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIMIT", "5")
    monkeypatch.setenv("PUSH_KEY", "push-key-abcdef")
    hub = load_config(write(tmp_path, PUSH))

    settings = resolve_connector_config(hub, "acme-shop", DiscountSettings, destination="discounts")
    assert isinstance(settings, DiscountSettings)
    assert (settings.shop, settings.usage_limit, settings.base_url) == (
        "acme",
        5,
        "http://127.0.0.1:10",
    )
    assert settings.api_key.get_secret_value() == "push-key-abcdef"
    assert "push-key-abcdef" in redaction.registered_secrets()
    source = resolve_connector_config(hub, "acme-shop", ShopSettings)
    assert isinstance(source, ShopSettings) and source.base_url == "http://127.0.0.1:9"
    # another destination gets config: alone
    with pytest.raises(ConfigError) as caught:
        resolve_connector_config(hub, "acme-shop", DiscountSettings, destination="other")
    missing = at(caught.value.problems, "connections.acme-shop.config.api_key")
    assert missing.message == "required key 'api_key' is missing"


def test_push_block_problems_point_at_the_block_that_set_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIMIT", "many")
    monkeypatch.delenv("PUSH_KEY", raising=False)
    text = PUSH.replace("shop: acme", "shop: a c m e")
    hub = load_config(write(tmp_path, text))
    with pytest.raises(ConfigError) as caught:
        resolve_connector_config(hub, "acme-shop", DiscountSettings, destination="discounts")
    problems = caught.value.problems
    assert at(problems, "connections.acme-shop.config.shop").line == 7
    limit = at(problems, "connections.acme-shop.push.discounts.usage_limit")
    assert limit.line == 12 and "many" not in str(limit)  # an environment value is not echoed
    key = at(problems, "connections.acme-shop.push.discounts.api_key")
    assert key.message == "environment variable PUSH_KEY is not set"
    assert len(problems) == 3


def test_check_config_checks_push_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.connector import Destination, WriteResult

    class Discounts(Destination):
        name = "discounts"
        config_model = DiscountSettings
        entity = "offer"

        def check(self) -> None:
            return None

        def write(self, rows: Any, *, dry_run: bool = False) -> WriteResult:
            return WriteResult()

    monkeypatch.setenv("LIMIT", "5")
    monkeypatch.delenv("PUSH_KEY", raising=False)
    text = PUSH + "      discuonts: {}\n"
    registry = make_registry(FakeShop)
    registry.destinations["discounts"] = Registered("discounts", Discounts, "tests", "tests", "0")
    problems = check_config(load_config(write(tmp_path, text)), registry)
    assert [p.location for p in problems] == [
        "connections.acme-shop.push.discounts.api_key",
        "connections.acme-shop.push.discuonts",
    ]
    assert "did you mean 'discounts'" in str(problems[1])
