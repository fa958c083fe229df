"""Plugin discovery: a really pip-installed third-party package, broken plugins, env switches,
and the checks on what plugins register.

Discovery runs in subprocesses (the plugin manager is process-wide and
entry points are read from ``sys.path`` once); the registration checks run
in process through ``hub.plugins.register_plugin``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hub import plugins
from hub.connector import Connector
from hub.errors import PluginError
from hub.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hub-connector-csv"
EXAMPLE_VERSION = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["version"]

PROBE = """
import json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import hub
    from hub.plugins import get_registry
    registry = get_registry()
print(json.dumps({
    "connectors": {
        name: {
            "package": item.package,
            "version": item.version,
            "plugin": item.plugin,
            "file": sys.modules[item.obj.__module__].__file__,
        }
        for name, item in registry.connectors.items()
    },
    "mapping_files": [str(path) for path in registry.mapping_files],
    "failed": registry.failed,
    "warnings": [str(w.message) for w in caught],
    "hub_file": hub.__file__,
}))
"""


def subprocess_env(pythonpath: list[Path], **switches: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join(map(str, pythonpath))
    env.update(switches)
    return env


def probe(tmp_path: Path, pythonpath: list[Path], **switches: str) -> dict[str, Any]:
    """What ``get_registry()`` finds in a fresh interpreter with ``pythonpath`` and switches."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=subprocess_env(pythonpath, **switches),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


@pytest.fixture(scope="session")
def site(csv_plugin_site: Path) -> Path:
    """hub-connector-csv really installed by pip into its own folder (see tests/conftest.py)."""
    return csv_plugin_site


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A folder holding an installed-looking plugin whose module fails to import."""
    folder = tmp_path / "broken-site"
    dist = folder / "broken_hub_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-hub-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[partner_hub]\nbroken = broken_hub_plugin\n")
    (folder / "broken_hub_plugin.py").write_text(
        "raise ImportError(\"No module named 'pandas' (needed by broken_hub_plugin)\")\n"
    )
    return folder


# ---------------------------------------------------------------------- discovery


def test_a_pip_installed_plugin_is_discovered_with_its_package_and_version(
    site: Path, tmp_path: Path
) -> None:
    found = probe(tmp_path, [site])
    csv = found["connectors"]["csv"]
    assert csv["package"] == "hub-connector-csv"
    assert csv["version"] == EXAMPLE_VERSION
    assert csv["plugin"] == "csv"
    assert Path(csv["file"]).is_relative_to(site)  # the installed copy, not the source tree
    mapping = site / "hub_connector_csv" / "mapping.yaml"
    assert str(mapping) in found["mapping_files"] and mapping.is_file()
    assert Path(found["hub_file"]).is_relative_to(ROOT / "hub")  # --no-deps: the hub's own
    assert not (site / "hub").exists()


def test_without_the_installation_there_is_no_csv_connector(tmp_path: Path) -> None:
    if "csv" in probe(tmp_path, [])["connectors"]:
        pytest.skip(
            "hub-connector-csv is installed in this environment (the README demo installs it); "
            "this test needs an environment without it, as CI has"
        )
    importable = tmp_path / "importable"
    shutil.copytree(EXAMPLE / "hub_connector_csv", importable / "hub_connector_csv")
    found = probe(tmp_path, [importable])  # importable, but not installed: no entry point
    assert "csv" not in found["connectors"]


def test_hub_connectors_lists_the_installed_plugin(site: Path, tmp_path: Path) -> None:
    hub_script = Path(sys.executable).with_name("hub")
    result = subprocess.run(
        [str(hub_script), "connectors", "--json"],
        env=subprocess_env([site], COLUMNS="200"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert entries["csv"]["package"] == "hub-connector-csv"
    assert entries["csv"]["version"] == EXAMPLE_VERSION
    assert entries["csv"]["streams"] == ["conversions", "partners"]


def test_a_plugin_that_fails_to_import_is_named_and_the_others_load(
    site: Path, broken_site: Path, tmp_path: Path
) -> None:
    found = probe(tmp_path, [site, broken_site])
    assert "csv" in found["connectors"]
    assert "pandas" in found["failed"]["broken"]
    warning = next(w for w in found["warnings"] if "'broken'" in w)
    assert "package 'broken-hub-plugin' failed to import" in warning and "pandas" in warning


def test_hub_plugins_loads_only_the_named_plugins(
    site: Path, broken_site: Path, tmp_path: Path
) -> None:
    found = probe(tmp_path, [site, broken_site], HUB_PLUGINS="csv")
    assert set(found["connectors"]) == {"csv"}
    assert found["failed"] == {} and found["warnings"] == []  # the others were not imported


def test_an_empty_hub_plugins_loads_none(site: Path, tmp_path: Path) -> None:
    found = probe(tmp_path, [site], HUB_PLUGINS="")
    assert found["connectors"] == {} and found["mapping_files"] == []


def test_hub_disable_plugins_skips_the_named_plugins(
    site: Path, broken_site: Path, tmp_path: Path
) -> None:
    found = probe(tmp_path, [site, broken_site], HUB_DISABLE_PLUGINS="csv, broken")
    assert "csv" not in found["connectors"]
    assert "broken" not in found["failed"]
    assert not any("broken" in w for w in found["warnings"])


# ---------------------------------------------------------------------- what plugins register


class Tiny(Connector):
    name = "tiny_test_connector"
    summary = "a connector for plugin tests"

    def check(self) -> None:
        pass

    def read(self, streams: Any, state: Any) -> Iterator[Any]:
        return iter(())


def registering(*things: Any) -> object:
    """A plugin object whose hub_register_connectors registers ``things``."""

    class Plugin:
        @hookimpl
        def hub_register_connectors(self, register: Callable[[type[Any]], None]) -> None:
            for thing in things:
                register(thing)

    return Plugin()


@pytest.fixture
def runtime_plugins() -> Iterator[Callable[[object, str], None]]:
    """Register plugins in process; unregistered (and the registry reset) afterwards."""
    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        names.append(name)
        plugins.register_plugin(plugin, name=name)

    yield register
    for name in names:
        plugins.unregister_plugin(name)
    plugins.reset_registry()


def test_a_runtime_plugin_registers_a_connector(runtime_plugins: Any) -> None:
    runtime_plugins(registering(Tiny), "tiny")
    item = plugins.get_registry().connectors["tiny_test_connector"]
    assert item.obj is Tiny and item.plugin == "tiny"
    assert item.package == "(registered at run time)"
    assert plugins.get_registry().connector("tiny_test_connector") is Tiny


def test_registering_a_non_connector_raises_plugin_error(runtime_plugins: Any) -> None:
    runtime_plugins(registering(dict), "registers-a-dict")
    with pytest.raises(PluginError, match=r"plugin 'registers-a-dict' registered .*dict.*not a"):
        plugins.get_registry()


def test_registering_a_connector_without_a_name_raises_plugin_error(runtime_plugins: Any) -> None:
    class Nameless(Tiny):
        name = ""

    runtime_plugins(registering(Nameless), "nameless")
    with pytest.raises(PluginError, match="Nameless has no `name`"):
        plugins.get_registry()


def test_two_connectors_with_one_name_raise_plugin_error(runtime_plugins: Any) -> None:
    class Twin(Tiny):
        pass  # same name as Tiny, a different class

    runtime_plugins(registering(Tiny), "first-package")
    runtime_plugins(registering(Twin), "second-package")
    with pytest.raises(PluginError) as caught:
        plugins.get_registry()
    message = str(caught.value)
    assert "'tiny_test_connector' is registered twice" in message
    assert "'first-package'" in message and "'second-package'" in message
    assert caught.value.hint and "HUB_DISABLE_PLUGINS" in caught.value.hint


def test_a_misspelt_hook_is_caught_when_the_plugin_is_registered(runtime_plugins: Any) -> None:
    class Misspelt:
        @hookimpl
        def hub_register_conectors(self, register: Any) -> None:
            register(Tiny)

    with pytest.raises(pluggy.PluginValidationError, match="unknown hook 'hub_register_conectors'"):
        runtime_plugins(Misspelt(), "misspelt")


def test_a_hook_with_wrong_arguments_is_refused(runtime_plugins: Any) -> None:
    class WrongArgument:
        @hookimpl
        def hub_register_connectors(self, add: Any) -> None:
            add(Tiny)

    with pytest.raises(pluggy.PluginValidationError, match="add"):
        runtime_plugins(WrongArgument(), "wrong-argument")


def test_shipped_mappings_are_found_and_a_missing_one_says_reinstall() -> None:
    assert plugins.shipped_mapping("shopify.yaml").is_file()
    with pytest.raises(PluginError, match=r"no-such\.yaml is missing") as info:
        plugins.shipped_mapping("no-such.yaml")
    assert "reinstall partner-hub" in str(info.value)
