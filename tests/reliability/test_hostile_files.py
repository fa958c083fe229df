"""Bad input, files: hostile config and mapping files get a clear error and touch nothing.

``hub validate`` and ``hub sync`` are run (typer's CliRunner, in-process) on
``hub.yaml`` files and mapping files that are malformed, truncated at every
few bytes, of the wrong types, with unknown keys, YAML bombs, huge, deeply
nested, not UTF-8, binary, carrying ``!!python/object`` tags, and on file
references that point where they should not (``../../etc/passwd``,
``/dev/zero``, a directory, a named pipe, a symlink loop, a file that does not
exist). Each time: a non-zero exit, a message naming the file (and line where
there is one) and the fix, never a traceback, and the directory exactly as it
was before (no database, no state, nothing the YAML asked to create).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hub.cli as cli_module
from hub.cli import app
from hub.yamlfile import MAX_DEPTH, MAX_FILE_BYTES
from tests.reliability.conftest import Figures

VALID_CONFIG = """\
database: sqlite:///hub.db
mappings: [own.yaml]
tenants:
  acme: {name: Acme Outdoor}
connections:
  shop:
    connector: shopify
    tenant: acme
    config:
      shop: acme
      access_token: ${SHOP_TOKEN}
      start_date: '2025-01-01'
      base_url: http://127.0.0.1:9
"""

VALID_MAPPING = """\
source: shopify
version: 1
streams:
  products:
    entity: sku
    external_id: variant.id
    updated_at: updated_at
    fields:
      sku: {path: variant.sku, convert: strip}
      price: {path: variant.price, convert: decimal}
      currency: {path: _hub.shop_currency, convert: upper}
"""

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    + ["tenants: *i"]
).encode()

#: Contents that no hub file may be: name -> bytes. Each is tried as hub.yaml and as a mapping.
HOSTILE: dict[str, bytes] = {
    "malformed": b"tenants: [acme\nconnections: {shop: \n",
    "tab indented": b"tenants:\n\tacme: {}\n",
    "billion laughs": BILLION_LAUGHS,
    "recursive alias": b"a: &a [*a]\n",
    "huge": b"# " + b"x" * (MAX_FILE_BYTES + 16) + b"\n",
    "deep nesting": b"a: " + b"[" * (MAX_DEPTH * 50) + b"]" * (MAX_DEPTH * 50) + b"\n",
    "not UTF-8": VALID_CONFIG.replace("Acme Outdoor", "Caf\xe9").encode("latin-1"),
    "UTF-16": VALID_CONFIG.encode("utf-16"),
    "binary": bytes(range(256)) * 64,
    "NUL bytes": b"tenants:\x00 {}\n",
    "python object tag": b'tenants: !!python/object/apply:os.system ["touch pwned"]\n',
    "python name tag": b"tenants: !!python/name:os.system\n",
    "empty": b"",
    "only a comment": b"# nothing here\n",
    "a list at the top": b"- database\n- tenants\n",
    "a scalar at the top": b"42\n",
    "duplicate keys": VALID_CONFIG.encode() + b"tenants: {other: {}}\n",
}

#: Documents that parse but have the wrong shape for a config file.
BAD_CONFIGS: dict[str, str] = {
    "wrong types": "database: 7\ntenants: 5\nconnections: [shop]\n",
    "unknown top key": VALID_CONFIG + "databse: sqlite:///other.db\n",
    "unknown connection key": VALID_CONFIG.replace("    tenant: acme", "    tennant: acme"),
    "connection not a mapping": VALID_CONFIG.split("connections:")[0] + "connections:\n  shop: 5\n",
    "mappings not a list": VALID_CONFIG.replace("[own.yaml]", "{a: 1}"),
    "mapping path a number": VALID_CONFIG.replace("[own.yaml]", "[7]"),
    "unknown tenant": VALID_CONFIG.replace("    tenant: acme", "    tenant: nobody"),
    "unknown connector": VALID_CONFIG.replace("connector: shopify", "connector: shopifi"),
    "connector config of wrong type": VALID_CONFIG.replace(
        "start_date: '2025-01-01'", "start_date: [2025]"
    ),
    "unsupported database": VALID_CONFIG.replace("sqlite:///hub.db", "mysql://root@127.0.0.1/hub"),
}

#: Documents that parse but have the wrong shape for a mapping file.
BAD_MAPPINGS: dict[str, str] = {
    "wrong types": "source: 5\nversion: one\nstreams: [products]\n",
    "unknown keys": VALID_MAPPING.replace("    fields:", "    feilds:"),
    "unknown entity": VALID_MAPPING.replace("entity: sku", "entity: skus"),
    "unknown column": VALID_MAPPING.replace("      sku:", "      skew:"),
    "unknown converter": VALID_MAPPING.replace("convert: strip", "convert: shell"),
    "bad path": VALID_MAPPING.replace("variant.sku", "variant..sku"),
    "envelope column": VALID_MAPPING.replace("      sku:", "      tenant:"),
    "stream not a mapping": "source: shopify\nversion: 1\nstreams:\n  products: 5\n",
    "future version": VALID_MAPPING.replace("version: 1", "version: 99"),
}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHOP_TOKEN", "shpat_hostile_0123456789")
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    yield CliRunner()
    logging.getLogger().removeHandler(cli_module._log_handler)
    for name in ("hub", "connectors"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``directory`` (symlinks and pipes not followed or opened)."""
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root, name)
            info = path.lstat()
            found[str(path.relative_to(directory))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def refused(cli: CliRunner, directory: Path, command: str, *names: str, line: bool = False) -> str:
    """Run ``hub -c hub.yaml <command>``; assert a clean, named, harmless refusal; the output."""
    before = snapshot(directory)
    result = cli.invoke(app, ["--config", str(directory / "hub.yaml"), command])
    output = result.output
    assert result.exit_code not in (0, None), output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    assert "Traceback" not in output and "internal error" not in output, output
    assert "error" in output, output
    for name in names:
        assert name in output, f"{name!r} not named in:\n{output}"
    if line:
        assert any(f"{name}:" in output for name in names), f"no line number in:\n{output}"
    assert "Fix:" in output or "hint" in output.lower() or "use " in output, output
    assert snapshot(directory) == before, "the refused command changed the directory"
    assert not (directory / "pwned").exists()
    return output


def write(
    directory: Path, config: bytes | str = VALID_CONFIG, mapping: bytes | str = VALID_MAPPING
) -> None:
    for name, content in (("hub.yaml", config), ("own.yaml", mapping)):
        data = content.encode() if isinstance(content, str) else content
        (directory / name).write_bytes(data)


def test_the_valid_files_are_valid(cli: CliRunner, tmp_path: Path) -> None:
    """The baseline every hostile case starts from passes, so each refusal is the file's doing."""
    write(tmp_path)
    result = cli.invoke(app, ["--config", str(tmp_path / "hub.yaml"), "validate"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["validate", "sync"])
def test_a_hostile_config_file_is_refused(
    cli: CliRunner, tmp_path: Path, name: str, command: str, figures: Figures
) -> None:
    write(tmp_path, config=HOSTILE[name])
    refused(cli, tmp_path, command, str(tmp_path / "hub.yaml"))
    figures.add("hostile files refused", 1)


#: hub/cli.py `sync` opens (creates) the database before the runner resolves the
#: connection, so these refusals leave a new hub.db behind; strict: fixed, it fails.
CONFIG_CASES = [
    pytest.param(
        command,
        name,
    )
    for command in ("validate", "sync")
    for name in sorted(BAD_CONFIGS)
]


@pytest.mark.parametrize(("command", "name"), CONFIG_CASES)
def test_a_config_of_the_wrong_shape_is_refused(
    cli: CliRunner, tmp_path: Path, name: str, command: str, figures: Figures
) -> None:
    write(tmp_path, config=BAD_CONFIGS[name])
    refused(cli, tmp_path, command, str(tmp_path / "hub.yaml"), line=True)
    figures.add("hostile files refused", 1)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_mapping_file_is_refused_by_validate(
    cli: CliRunner, tmp_path: Path, name: str, figures: Figures
) -> None:
    write(tmp_path, mapping=HOSTILE[name])
    refused(cli, tmp_path, "validate", str(tmp_path / "own.yaml"))
    figures.add("hostile files refused", 1)


@pytest.mark.parametrize("name", sorted(BAD_MAPPINGS))
def test_a_mapping_of_the_wrong_shape_is_refused_by_validate(
    cli: CliRunner, tmp_path: Path, name: str, figures: Figures
) -> None:
    write(tmp_path, mapping=BAD_MAPPINGS[name])
    refused(cli, tmp_path, "validate", str(tmp_path / "own.yaml"), line=True)
    figures.add("hostile files refused", 1)


@pytest.mark.parametrize(
    "name", ["malformed", "billion laughs", "python object tag", "wrong types"]
)
def test_sync_refuses_a_bad_mapping_file_with_a_clear_message(
    cli: CliRunner, tmp_path: Path, name: str
) -> None:
    """The message part of `hub sync` on a bad mapping (what it leaves behind: next test)."""
    write(tmp_path, mapping={**HOSTILE, **{k: v.encode() for k, v in BAD_MAPPINGS.items()}}[name])
    result = cli.invoke(app, ["--config", str(tmp_path / "hub.yaml"), "sync"])
    assert result.exit_code == 1
    assert str(tmp_path / "own.yaml") in result.output and "Traceback" not in result.output
    assert not (tmp_path / "pwned").exists()


def test_sync_with_a_bad_mapping_file_creates_no_database(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, mapping=HOSTILE["malformed"])
    refused(cli, tmp_path, "sync", str(tmp_path / "own.yaml"))


@pytest.mark.parametrize("step", [13, pytest.param(1, marks=pytest.mark.slow)])
@pytest.mark.parametrize("which", ["hub.yaml", "own.yaml"])
def test_a_file_cut_short_anywhere_is_valid_or_refused_cleanly(
    cli: CliRunner, tmp_path: Path, which: str, step: int, figures: Figures
) -> None:
    """Cut at every ``step`` bytes (a partial copy, a full disk): never a crash or a change."""
    whole = (VALID_CONFIG if which == "hub.yaml" else VALID_MAPPING).encode()
    refusals = 0
    for cut in range(0, len(whole), step):
        if which == "hub.yaml":
            write(tmp_path, config=whole[:cut])
        else:
            write(tmp_path, mapping=whole[:cut])
        before = snapshot(tmp_path)
        result = cli.invoke(app, ["--config", str(tmp_path / "hub.yaml"), "validate"])
        assert "Traceback" not in result.output and "internal error" not in result.output, (
            cut,
            result.output,
        )
        assert snapshot(tmp_path) == before
        if result.exit_code != 0:
            assert str(tmp_path / which) in result.output, (cut, result.output)
            refusals += 1
    assert refusals > len(whole) // step // 2  # most prefixes are not a usable file
    figures.add("truncated files tried", len(range(0, len(whole), step)))


# --- file references --------------------------------------------------------------


def _reference(tmp_path: Path, kind: str) -> str:
    """A mappings: entry of ``kind`` (creating what it points at); the text written in hub.yaml."""
    if kind == "traversal":
        depth = len(tmp_path.parts) - 1
        return "../" * depth + "etc/passwd"
    if kind == "dev zero":
        return "/dev/zero"
    if kind == "directory":
        (tmp_path / "adir").mkdir()
        return "adir"
    if kind == "named pipe":
        os.mkfifo(tmp_path / "pipe.yaml")
        return "pipe.yaml"
    if kind == "symlink loop":
        (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
        return "loop.yaml"
    if kind == "missing":
        return "nowhere/own.yaml"
    if kind == "home":
        return "~/../../../../../../etc/hostname"
    raise AssertionError(kind)


REFERENCES = ["traversal", "dev zero", "directory", "named pipe", "symlink loop", "missing", "home"]


@pytest.mark.parametrize("kind", REFERENCES)
def test_a_mapping_reference_to_something_odd_is_refused_by_validate(
    cli: CliRunner, tmp_path: Path, kind: str, figures: Figures
) -> None:
    if kind == "named pipe" and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    reference = _reference(tmp_path, kind)
    write(tmp_path, config=VALID_CONFIG.replace("[own.yaml]", f"['{reference}']"))
    refused(cli, tmp_path, "validate", reference.split("/")[-1])
    figures.add("hostile file references refused", 1)


GA4_CONFIG = """\
database: sqlite:///hub.db
tenants:
  acme: {name: Acme Outdoor}
connections:
  analytics:
    connector: ga4
    tenant: acme
    config:
      property_id: 409876543
      service_account_file: %s
      start_date: '2025-01-01'
      timezone: Europe/Vienna
      base_url: http://127.0.0.1:9
      token_url: http://127.0.0.1:9/token
"""


GA4_TARGETS = ["/etc/shadow", "directory", "missing", "not a key", "binary"]


def _ga4_config(tmp_path: Path, target: str) -> None:
    if target == "/etc/shadow" and not Path("/etc/shadow").exists():
        pytest.skip("no /etc/shadow here")
    path = {
        "/etc/shadow": "/etc/shadow",
        "directory": str(tmp_path / "keys"),
        "missing": str(tmp_path / "missing.json"),
        "not a key": str(tmp_path / "notakey.json"),
        "binary": str(tmp_path / "binary.json"),
    }[target]
    (tmp_path / "keys").mkdir()
    (tmp_path / "notakey.json").write_text('{"type": "authorized_user", "secret": "s3cr3t-xyz"}')
    (tmp_path / "binary.json").write_bytes(b"s3cr3t-xyz" + bytes(range(256)))
    (tmp_path / "hub.yaml").write_text(GA4_CONFIG % f"'{path}'")


@pytest.mark.parametrize("target", GA4_TARGETS)
def test_ga4_service_account_file_pointing_at_the_wrong_thing_fails_the_sync(
    cli: CliRunner, tmp_path: Path, target: str, figures: Figures
) -> None:
    """A secret file reference is read by the connector: the sync fails, never a traceback
    and never the file's contents. It leaves nothing behind (the test below)."""
    _ga4_config(tmp_path, target)
    result = cli.invoke(app, ["--config", str(tmp_path / "hub.yaml"), "sync"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert "s3cr3t-xyz" not in result.output and "root:" not in result.output
    assert "error" in result.output and "Fix:" in result.output
    figures.add("hostile file references refused", 1)


@pytest.mark.parametrize("target", ["directory", "binary"])
@pytest.mark.parametrize("command", ["validate", "sync"])
def test_ga4_service_account_file_problems_are_config_problems(
    cli: CliRunner, tmp_path: Path, target: str, command: str
) -> None:
    _ga4_config(tmp_path, target)
    refused(cli, tmp_path, command, "service_account_file")
