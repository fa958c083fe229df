"""The README's main job: `hub sync` of the shipped demo config, with the plugin pip-installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]


def hub(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PYTHON"))}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_demo_sync_lands_the_sample_and_quarantines_the_broken_rows(
    csv_plugin_site: Path, tmp_path: Path
) -> None:
    config = yaml.safe_load((ROOT / "hub.yaml").read_text())
    config["database"] = f"sqlite:///{tmp_path / 'demo.db'}"
    connection = config["connections"]["nordlicht-files"]["config"]
    connection["directory"] = str(ROOT / connection["directory"])
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(config))

    first = hub(csv_plugin_site, tmp_path, "sync")
    assert first.returncode == 0, first.stderr
    assert "succeeded" in first.stdout and "6 quarantined" in first.stdout
    second = hub(csv_plugin_site, tmp_path, "sync")
    assert "0 records read" in second.stdout

    engine = create_engine(config["database"])
    with engine.connect() as db:

        def one(sql: str) -> object:
            return db.execute(text(sql)).scalar_one()

        assert one("select count(*) from conversion") == 38
        assert one("select count(*) from quarantine") == 6
        # the partner list's rows keep their details although orders name the same partners
        assert one("select count(*) from partner where website is not null") == 10
        assert one("select count(*) from partner p join conversion c on c.partner_id = p.id") > 0
        assert one("select count(distinct tenant) from conversion") == 1
    engine.dispose()
