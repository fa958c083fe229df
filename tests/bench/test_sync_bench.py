"""The sync benchmark's pieces: the raw loop and the dlt pipeline load exactly, the runner
measures each child's own memory, checks loaded counts and says which targets are met.

No test here asserts a speed: figures come from running ``bench/sync_bench.py``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import fake_shopify  # noqa: E402
import raw_loop  # noqa: E402
import sync_bench  # noqa: E402
from fake_shopify import DEFAULT_TOKEN, FakeShopify  # noqa: E402

SEED = 1


def test_raw_loop_loads_every_order_and_line_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeShopify(640, SEED, inject_429_every=3, retry_after=0.0) as shop:
        code = raw_loop.main(
            ["--base-url", shop.url, "--token", DEFAULT_TOKEN, "--db", str(tmp_path / "raw.db")]
        )
        stats = shop.stats
    assert code == 0
    printed = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = fake_shopify.expected_totals(640, SEED)
    assert (printed["orders"], printed["line_items"], printed["quantity"]) == expected
    assert printed["pages"] == 3 and printed["requests"] == stats["requests"]
    assert stats["throttled"] >= 1  # it got 429s and repeated the same URL
    # a second run upserts: the same rows, no duplicates
    with FakeShopify(640, SEED) as shop:
        sink = raw_loop.SqliteSink(str(tmp_path / "raw.db"))
        raw_loop.load(shop.url, DEFAULT_TOKEN, sink)
        assert sink.counts() == expected
        sink.close()


@pytest.mark.postgres
def test_raw_loop_into_postgresql(postgres_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    sink = raw_loop.PostgresSink(url)
    try:
        with sink.db.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS orders, line_items")
        sink.db.commit()
        sink = raw_loop.PostgresSink(url)
        with FakeShopify(300, SEED) as shop:
            raw_loop.load(shop.url, DEFAULT_TOKEN, sink)
            raw_loop.load(shop.url, DEFAULT_TOKEN, sink)  # upserts, no duplicates
        assert sink.counts() == fake_shopify.expected_totals(300, SEED)
        with sink.db.cursor() as cur:
            cur.execute("DROP TABLE orders, line_items")
        sink.db.commit()
    finally:
        sink.close()


def test_dlt_pipeline_loads_every_order_and_line_exactly(tmp_path: Path) -> None:
    if importlib.util.find_spec("dlt") is None:
        reason = "dlt is not installed (it is the `bench` extra: pip install -e .[bench])"
        print(f"skipped: {reason}")
        pytest.skip(reason)
    with FakeShopify(300, SEED) as shop:
        done = subprocess.run(
            [
                sys.executable,
                str(BENCH / "dlt_pipeline.py"),
                "--base-url",
                shop.url,
                "--token",
                DEFAULT_TOKEN,
                "--db",
                str(tmp_path / "dlt.db"),
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    printed = sync_bench.last_json_line(done.stdout)
    assert printed is not None
    assert (printed["orders"], printed["line_items"], printed["quantity"]) == tuple(
        fake_shopify.expected_totals(300, SEED)
    )
    assert printed["write_disposition"] == "merge"
    assert printed["load_workers"] == "1"  # dlt's 20 parallel jobs lock SQLite at 100k orders
    assert not (tmp_path / ".dlt").exists()  # its state went to a temporary directory


def test_run_child_reports_the_childs_own_peak_rss_and_exit_code(tmp_path: Path) -> None:
    ballast = bytearray(b"\x01") * (300 * 1024 * 1024)  # the harness is big...
    small = sync_bench.run_child(
        [sys.executable, "-I", "-S", "-c", "pass"], cwd=tmp_path, timeout=60
    )
    big = sync_bench.run_child(
        [sys.executable, "-c", "x = bytearray(b'1') * (200 * 1024 * 1024); print('{\"a\": 1}')"],
        cwd=tmp_path,
        timeout=60,
    )
    failing = sync_bench.run_child(
        [sys.executable, "-c", "import sys; print('oops', file=sys.stderr); sys.exit(3)"],
        cwd=tmp_path,
        timeout=60,
    )
    del ballast
    assert small.returncode == 0 and small.rss_mb < 100  # ...but the child is not
    assert big.returncode == 0 and big.rss_mb >= 200
    assert sync_bench.last_json_line(big.stdout) == {"a": 1}
    assert failing.returncode == 3 and "oops" in failing.stderr


def test_run_child_kills_a_child_past_its_timeout(tmp_path: Path) -> None:
    hung = sync_bench.run_child(
        [sys.executable, "-c", "import time; time.sleep(120)"], cwd=tmp_path, timeout=0.5
    )
    assert hung.returncode != 0


def test_last_json_line_and_rotation() -> None:
    assert sync_bench.last_json_line('log\n{"orders": 3}\n\nbye\n') == {"orders": 3}
    assert sync_bench.last_json_line("no json {here\n") is None
    assert sync_bench.rotated(["hub", "dlt", "raw"], 0) == ["hub", "dlt", "raw"]
    assert sync_bench.rotated(["hub", "dlt", "raw"], 1) == ["dlt", "raw", "hub"]
    assert sync_bench.rotated(["hub", "dlt", "raw"], 5) == ["raw", "hub", "dlt"]


def test_hub_yaml_is_a_valid_hub_config(tmp_path: Path) -> None:
    from connectors.shopify.settings import ShopifySettings
    from hub.config.loader import load_config

    path = tmp_path / "hub.yaml"
    path.write_text(sync_bench.hub_yaml("http://127.0.0.1:9", DEFAULT_TOKEN, "sqlite:///hub.db"))
    config = load_config(path)
    connection = config.connections["shop"]
    assert connection.connector == "shopify" and connection.streams == ["orders"]
    settings = ShopifySettings.model_validate(connection.config)
    assert settings.api_url == "http://127.0.0.1:9/admin/api/2025-01"
    first = fake_shopify.build_order(SEED, 0)
    assert str(settings.start_date) < str(first["updated_at"])[:10]  # every order is read


def _run(
    contender: str, n: int, rnd: int, wall: float, rss: float, **extra: object
) -> sync_bench.Run:
    return sync_bench.Run(
        contender, n, rnd, wall, rss, None, (n, 0, 0), True, n // 250, extra=dict(extra)
    )


def test_summary_ratios_and_targets() -> None:
    expected = {n: fake_shopify.Totals(n, 2 * n, 3 * n) for n in (100, 500)}
    resync = {"resync_requests": 1, "resync_wall": 1.4, "resync_seconds": 0.1}
    runs = [
        _run("hub", 100, 0, 1.0, 80.0, **resync),
        _run("hub", 100, 1, 3.0, 90.0, **resync),
        _run("raw", 100, 0, 1.0, 40.0),
        _run("dlt", 100, 0, 10.0, 300.0),
        _run("hub", 500, 0, 5.0, 95.0, **{**resync, "resync_requests": 3}),
        _run("raw", 500, 0, 2.0, 40.0),
        _run("dlt", 500, 0, 50.0, 300.0),
    ]
    rows = sync_bench.summarize(runs, expected)
    hub100 = next(r for r in rows if (r["contender"], r["orders"]) == ("hub", 100))
    assert hub100["orders_per_s"] == {"median": 200 / 3, "min": 100 / 3, "max": 100.0}
    assert hub100["line_items_per_s"]["max"] == 200.0
    assert hub100["rss_mb"]["median"] == 85.0
    report = sync_bench.targets(rows, [100, 500])
    ratios = report["ratios"]
    assert ratios["hub/raw orders/s N=100"] == pytest.approx((200 / 3) / 100)
    assert ratios["hub/dlt orders/s N=500"] == pytest.approx(100 / 10)
    assert ratios["hub RSS N=500/N=100"] == pytest.approx(95 / 85)
    met = {c["target"]: c["met"] for c in report["checks"]}
    assert met["hub orders/s >= 0.5x raw (N=500)"] is False  # 100 vs 250
    assert met["hub orders/s >= 5.0x dlt (N=500)"] is True
    assert met["hub peak RSS <= 100 MB (max over N)"] is True
    assert met["hub RSS N=500 within 20% of N=100"] is True
    assert met["re-sync with nothing new: <= 2 requests"] is False  # 3 at N=500
    text = sync_bench.render(
        {"drain": {}, "summary": rows, "targets": report, "problems": ["hub: wrong counts"]}
    )
    assert "MISSED" in text and "LOAD CHECK FAILED" in text


def test_a_failed_run_is_shown_but_never_compared() -> None:
    expected = {100: fake_shopify.Totals(100, 200, 300)}
    failed = _run("dlt", 100, 0, 0.1, 10.0)
    failed.ok, failed.problem = False, "exit code 1: database is locked"
    rows = sync_bench.summarize([_run("hub", 100, 0, 1.0, 80.0), failed], expected)
    report = sync_bench.targets(rows, [100])
    assert "hub/dlt orders/s N=100" not in report["ratios"]  # 0.1 s would flatter dlt
    met = {c["target"]: c["met"] for c in report["checks"]}
    assert met["hub orders/s >= 5.0x dlt (N=100)"] is None
    text = sync_bench.render({"drain": {}, "summary": rows, "targets": report, "problems": []})
    assert "NO (figures of failed runs)" in text


def test_runner_end_to_end_with_the_raw_loop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    code = sync_bench.main(
        ["--orders", "300", "--rounds", "2", "--only", "raw", "--json", str(out)]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    report = orjson.loads(out.read_bytes())
    assert [(r["contender"], r["ok"]) for r in report["runs"]] == [("raw", True)] * 2
    assert report["runs"][0]["requests"] == 2  # 300 orders, 250 a page
    assert report["drain"]["300"]["pages"] == 2
    assert "raw" in text and "LOAD CHECK FAILED" not in text


def test_runner_fails_loudly_on_a_count_mismatch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = fake_shopify.expected_totals

    def off_by_one(orders: int, seed: int) -> fake_shopify.Totals:
        totals = real(orders, seed)
        return totals._replace(line_items=totals.line_items + 1)

    monkeypatch.setattr(fake_shopify, "expected_totals", off_by_one)
    code = sync_bench.main(["--orders", "300", "--rounds", "1", "--only", "raw"])
    text = capsys.readouterr().out
    assert code == 1
    assert "LOAD CHECK FAILED" in text and "FAILED: loaded" in text


def test_hub_source_runs_the_hub_of_another_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hub.yaml"
    monkeypatch.setenv("HUB_BENCH_MARKER", "kept")
    own = sync_bench.Bench(sync_bench.parse_args(["--only", "hub"]))
    cmd, env = own.hub_command(config)
    assert cmd == [str(Path(sys.executable).parent / "hub"), "-c", str(config), "sync", "shop"]
    assert env is None  # the harness's own environment

    checkout = tmp_path / "wt-old"
    (checkout / "hub").mkdir(parents=True)
    (checkout / "hub" / "__main__.py").write_text("")
    other = sync_bench.Bench(
        sync_bench.parse_args(["--only", "hub", "--hub-source", str(checkout)])
    )
    cmd, env = other.hub_command(config)
    assert cmd == [sys.executable, "-m", "hub", "-c", str(config), "sync", "shop"]
    assert env is not None and env["PYTHONPATH"] == str(checkout.resolve())
    assert env["HUB_BENCH_MARKER"] == "kept"  # the rest of the environment is passed on


def test_hub_source_must_be_a_checkout_with_the_hub(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        sync_bench.parse_args(["--hub-source", str(tmp_path)])


def test_run_child_passes_the_environment_on(tmp_path: Path) -> None:
    child = sync_bench.run_child(
        [sys.executable, "-c", "import os; print(os.environ['PYTHONPATH'])"],
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert child.returncode == 0 and child.stdout.strip() == str(tmp_path)
