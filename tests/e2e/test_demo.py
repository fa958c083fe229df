"""The README's main job: `hub demo` syncs every sandbox (Shopify fake, CSV samples)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text


def hub(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PYTHON"))}
    env["PYTHONPATH"] = str(site)  # the csv plugin, really pip-installed
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_demo_syncs_every_sandbox_and_a_rerun_reads_nothing_new(
    csv_plugin_site: Path, tmp_path: Path
) -> None:
    first = hub(csv_plugin_site, tmp_path, "demo")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "demo-csv: run" in first.stdout and "6 quarantined" in first.stdout
    assert "demo-shopify: run" in first.stdout and "demo-awin: run" in first.stdout
    assert (tmp_path / "demo-data" / "hub.yaml").is_file()
    second = hub(csv_plugin_site, tmp_path, "demo")
    assert second.returncode == 0, second.stderr
    # the csv files are unchanged: nothing to read the second time
    assert re.search(r"demo-csv: run \d+ succeeded in [\d.]+s — 0 records read", second.stdout)

    engine = create_engine(f"sqlite:///{tmp_path / 'demo-data' / 'hub.db'}")
    with engine.connect() as db:

        def one(sql: str) -> object:
            return db.execute(text(sql)).scalar_one()

        assert one("select count(*) from conversion where source = 'shopify'") == 500
        assert one("select count(*) from conversion where source = 'csv'") == 38
        assert one("select count(*) from conversion where source = 'awin'") == 300
        assert one("select count(*) from sku") > 0
        assert one("select count(*) from quarantine") == 6
        # the partner list's rows keep their details although orders name the same partners
        assert one("select count(*) from partner where website is not null") == 10
        assert one("select count(distinct tenant) from conversion") == 1
    engine.dispose()


def test_the_demo_names_unknown_sandboxes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub", "demo", "--sandbox", "nope", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1 and "no sandbox called 'nope'" in result.stderr
    assert "shopify" in result.stderr
