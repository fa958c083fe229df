"""Sync benchmark (issue 8): ``hub sync`` of Shopify orders against dlt and a raw loop.

For each N the fake Shopify (``bench/fake_shopify.py``) starts once, in a
process of its own; its serving speed is measured first by a "drain" client
that fetches every page and parses nothing. Then, for each round, the
contenders run one after another in a rotated order, each as a child
process with a fresh database in a temporary directory:

- ``hub``: ``hub -c hub.yaml sync shop`` (connector shopify, stream orders),
  then an incremental re-sync with nothing new (its requests are counted by
  the fake's ``/_bench/stats``);
- ``dlt``: ``bench/dlt_pipeline.py`` (dlt 1.31, the ``bench`` extra);
- ``raw``: ``bench/raw_loop.py`` (httpx + orjson + sqlite3 executemany).

Times are whole-process wall times (each contender pays its own interpreter
start and imports); a contender's own in-process load time is shown where it
prints one. Peak RSS is the child's own (``os.wait4``), not the harness's.
Every contender's loaded counts are checked against the expected totals
(orders, line items, sum of quantities); a mismatch is reported and makes the
exit code 1.

    .venv/bin/python bench/sync_bench.py                         # N = 20,000 and 100,000, 3 rounds
    .venv/bin/python bench/sync_bench.py --orders 20000 --rounds 1 --only hub,raw
    .venv/bin/python bench/sync_bench.py --postgres postgresql://postgres@127.0.0.1/postgres
    .venv/bin/python bench/sync_bench.py --only hub --hub-source /tmp/wt-old   # an older commit

With ``--postgres`` (an admin URL; a fresh database is created and dropped
per run) the hub and the raw loop also load into PostgreSQL (``hub-pg``,
``raw-pg``); ``--only ...,dlt-pg`` adds dlt into PostgreSQL. Figures depend
on the machine and on what else runs on it: compare contenders within one run.

``--hub-source DIR`` measures the hub of another checkout (a ``git worktree``
of an older commit, say) with this harness: the hub runs as ``python -m hub``
with ``PYTHONPATH=DIR``, so ``hub`` and the built-in connectors (whose entry
points name modules, not files) are imported from ``DIR``, ahead of this
checkout's editable install. The other contenders are this checkout's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import re
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import fake_shopify  # noqa: E402

CONTENDERS = ("hub", "dlt", "raw")
#: Added by --postgres for each chosen contender they extend.
PG_CONTENDERS = ("hub-pg", "raw-pg")
#: Run only when named in --only (with --postgres): dlt into PostgreSQL is slow.
OPTIONAL_PG_CONTENDERS = ("dlt-pg",)
API_VERSION = "2025-01"
#: Target figures of issue 8, checked and printed at the end.
TARGET_RAW_RATIO = 0.5
TARGET_DLT_RATIO = 5.0
TARGET_RSS_MB = 100.0
TARGET_RSS_GROWTH = 1.2
TARGET_RESYNC_REQUESTS = 2
TARGET_RESYNC_SECONDS = 1.0
_HUB_SECONDS = re.compile(r"succeeded in ([0-9.]+)s")


# --------------------------------------------------------------------------- children


@dataclass
class ChildResult:
    """One child process: exit code, wall time, peak RSS and what it printed."""

    returncode: int
    wall: float
    rss_mb: float
    stdout: str
    stderr: str


#: Runs one contender and measures it from a process that stays tiny. A child's
#: ru_maxrss counts the memory of the process it was forked from (the high-water
#: mark survives exec), so measured straight from the harness (~100 MB with its
#: imports) every small contender would show the harness's size, not its own.
_LAUNCHER = """
import os, sys, time
report, command = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawn(command[0], command, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(report, "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {wall!r} {usage.ru_maxrss}")
"""


def run_child(
    cmd: Sequence[str], *, cwd: Path, timeout: float, env: Mapping[str, str] | None = None
) -> ChildResult:
    """Run ``cmd`` (an absolute executable path first) to completion: wall time, peak RSS.

    A minimal launcher (``python -I -S``, a few MB) spawns ``cmd``, times it
    and reads its peak RSS from ``wait4``: the figures are the child's own.
    ``env`` (default: the harness's) is the launcher's, which ``cmd`` inherits.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        report = Path(scratch) / "report"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report), *cmd]
        proc = subprocess.Popen(
            launcher, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        if not report.exists():
            return ChildResult(proc.returncode or -9, float(timeout), 0.0, stdout, stderr)
        code, wall, maxrss = report.read_text().split()
        return ChildResult(int(code), float(wall), int(maxrss) / 1024, stdout, stderr)


def last_json_line(text: str) -> dict[str, Any] | None:
    """The last line of ``text`` that is a JSON object (what the contender scripts print)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(orjson.JSONDecodeError):
                value = orjson.loads(line)
                if isinstance(value, dict):
                    return value
    return None


# --------------------------------------------------------------------------- the fake


@contextlib.contextmanager
def fake_server(orders: int, seed: int, token: str, latency: float = 0.0) -> Iterator[str]:
    """The fake Shopify in its own process; yields its URL, stops it (SIGTERM) after."""
    cmd = [
        sys.executable,
        str(BENCH / "fake_shopify.py"),
        "--port",
        "0",
        "--orders",
        str(orders),
        "--seed",
        str(seed),
        "--token",
        token,
        "--latency",
        str(latency),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the fake Shopify did not start (said {url!r})")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def server_stats(url: str) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(f"{url}/_bench/stats", timeout=10).json()
    return stats


def drain(url: str, token: str) -> dict[str, float]:
    """Fetch every page without parsing: how fast the fake alone serves (pages/s, orders/s)."""
    started = time.perf_counter()
    pages = size = 0
    next_url: str | None = f"{url}/admin/api/{API_VERSION}/orders.json"
    params: dict[str, Any] | None = {"status": "any", "limit": 250}
    with httpx.Client(headers={"X-Shopify-Access-Token": token}, timeout=60) as client:
        while next_url:
            response = client.get(next_url, params=params)
            response.raise_for_status()
            params = None
            pages += 1
            size += len(response.content)
            next_url = response.links.get("next", {}).get("url")
    seconds = time.perf_counter() - started
    return {"pages": pages, "seconds": seconds, "pages_per_s": pages / seconds, "mb": size / 1e6}


# --------------------------------------------------------------------------- databases


def sqlite_counts(path: Path, orders_sql: str, lines_sql: str) -> tuple[int, int, int]:
    """(orders, line items, sum of quantities) read from a SQLite file."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        orders = db.execute(orders_sql).fetchone()[0]
        lines, quantity = db.execute(lines_sql).fetchone()
    finally:
        db.close()
    return int(orders), int(lines), int(quantity or 0)


HUB_ORDERS_SQL = "SELECT count(*) FROM conversion WHERE connection = 'shop'"
HUB_LINES_SQL = (
    "SELECT count(*), coalesce(sum(quantity), 0) FROM conversion_item WHERE connection = 'shop'"
)


#: Where the SQLite contenders keep orders and line items: (file, orders SQL, lines SQL).
#: The dlt sqlalchemy destination keeps the dataset ``shop`` in a file of its own.
OWN_TABLES = {
    "raw": (
        "raw.db",
        "SELECT count(*) FROM orders",
        "SELECT count(*), coalesce(sum(quantity), 0) FROM line_items",
    ),
    "dlt": (
        "dlt__shop.db",
        "SELECT count(*) FROM orders",
        "SELECT count(*), coalesce(sum(quantity), 0) FROM orders__line_items",
    ),
}


def postgres_counts(url: str) -> tuple[int, int, int]:
    import psycopg

    with psycopg.connect(url) as db, db.cursor() as cur:
        cur.execute(HUB_ORDERS_SQL)
        orders = cur.fetchone()[0]  # type: ignore[index]
        cur.execute(HUB_LINES_SQL)
        lines, quantity = cur.fetchone()  # type: ignore[misc]
    return int(orders), int(lines), int(quantity or 0)


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database (a plain ``postgresql://`` URL), dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url).set(drivername="postgresql")
    name = f"hub_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    plain = admin.render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- contenders


@dataclass
class Run:
    """One contender's load of N orders in one round."""

    contender: str
    orders: int
    round: int
    wall: float
    rss_mb: float
    load_seconds: float | None
    loaded: tuple[int, int, int] | None
    ok: bool
    requests: int
    problem: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def hub_yaml(url: str, token: str, database: str) -> str:
    """The hub.yaml of the benchmark (docs/config.md): one tenant, one Shopify connection."""
    return (
        f"database: {database}\n"
        "tenants:\n"
        "  bench: {name: Bench}\n"
        "connections:\n"
        "  shop:\n"
        "    connector: shopify\n"
        "    tenant: bench\n"
        "    streams: [orders]\n"
        "    config:\n"
        "      shop: bench-shop\n"
        f"      access_token: {token}\n"
        f"      base_url: {url}\n"
        f"      api_version: {API_VERSION}\n"
        "      start_date: 2024-12-31\n"
    )


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.python = sys.executable
        self.hub = str(Path(sys.executable).parent / "hub")
        self.token = fake_shopify.DEFAULT_TOKEN

    def hub_command(self, config: Path) -> tuple[list[str], dict[str, str] | None]:
        """The hub's command line and environment (None: the harness's own).

        With ``--hub-source DIR``: ``python -m hub`` with ``PYTHONPATH=DIR``,
        so the hub of that checkout runs (see the module docstring).
        """
        args = ["-c", str(config), "sync", "shop"]
        source = self.args.hub_source
        if source is None:
            return [self.hub, *args], None
        env = {**os.environ, "PYTHONPATH": str(Path(source).resolve())}
        return [self.python, "-m", "hub", *args], env

    def run(self, contender: str, url: str, orders: int, rnd: int) -> Run:
        with tempfile.TemporaryDirectory(prefix=f"sync-bench-{contender}-") as tmp:
            work = Path(tmp)
            if contender.endswith("-pg"):
                with postgres_database(self.args.postgres) as pg:
                    return self._run(contender, url, orders, rnd, work, pg)
            return self._run(contender, url, orders, rnd, work, None)

    def _run(self, contender: str, url: str, n: int, rnd: int, work: Path, pg: str | None) -> Run:
        before = server_stats(url)["requests"]
        extra: dict[str, Any] = {}
        timeout = self.args.timeout
        env: dict[str, str] | None = None
        if contender.startswith("hub"):
            database = "sqlite:///hub.db" if pg is None else _psycopg_url(pg)
            config = work / "hub.yaml"
            config.write_text(hub_yaml(url, self.token, database))
            cmd, env = self.hub_command(config)
        elif contender.startswith("raw"):
            target = ["--db", str(work / "raw.db")] if pg is None else ["--postgres", pg]
            cmd = [self.python, str(BENCH / "raw_loop.py"), "--base-url", url]
            cmd += ["--token", self.token, *target]
        else:
            target = (
                ["--db", str(work / "dlt.db")] if pg is None else ["--postgres", _psycopg_url(pg)]
            )
            cmd = [self.python, str(BENCH / "dlt_pipeline.py"), "--base-url", url]
            cmd += ["--token", self.token, *target]
        child = run_child(cmd, cwd=work, timeout=timeout, env=env)
        requests = server_stats(url)["requests"] - before
        run = Run(contender, n, rnd, child.wall, child.rss_mb, None, None, False, requests)
        if child.returncode != 0:
            run.problem = (
                f"exit code {child.returncode}: {_error_line(child.stderr + child.stdout)}"
            )
            run.extra = {"output_tail": (child.stderr or child.stdout)[-4000:]}
            return run
        if contender.startswith("hub"):
            found = _HUB_SECONDS.search(child.stdout)
            run.load_seconds = float(found.group(1)) if found else None
            run.loaded = self._hub_counts(work, pg)
            extra.update(self._resync(url, work, pg, cmd, env))
        else:
            printed = last_json_line(child.stdout) or {}
            run.load_seconds = printed.get("load_seconds")
            if "orders" in printed:
                run.loaded = (printed["orders"], printed["line_items"], printed["quantity"])
            if "write_disposition" in printed:
                extra["write_disposition"] = printed["write_disposition"]
            # SQLite files are read back here too: a contender's word is not enough.
            own = OWN_TABLES.get(contender)
            if own is not None and (work / own[0]).exists():
                counted = sqlite_counts(work / own[0], own[1], own[2])
                if counted != run.loaded:
                    run.extra = extra
                    run.problem = f"printed counts {run.loaded} but the database has {counted}"
                    return run
        run.extra = extra
        expected = tuple(fake_shopify.expected_totals(n, self.args.seed))
        run.ok = run.loaded == expected
        if not run.ok:
            run.problem = f"loaded (orders, line items, quantity) {run.loaded} != {expected}"
        elif "resync_ok" in extra and not extra["resync_ok"]:
            run.ok = False
            run.problem = f"the re-sync failed: {extra['resync_problem']}"
        elif "resync_ok" in extra and self._hub_counts(work, pg) != expected:
            run.ok = False
            run.problem = f"after the re-sync the database has {self._hub_counts(work, pg)}"
        return run

    def _hub_counts(self, work: Path, pg: str | None) -> tuple[int, int, int]:
        if pg is not None:
            return postgres_counts(pg)
        return sqlite_counts(work / "hub.db", HUB_ORDERS_SQL, HUB_LINES_SQL)

    def _resync(
        self, url: str, work: Path, pg: str | None, cmd: list[str], env: dict[str, str] | None
    ) -> dict[str, Any]:
        """An incremental re-sync with nothing new: its requests, wall and in-process time."""
        before = server_stats(url)["requests"]
        child = run_child(cmd, cwd=work, timeout=self.args.timeout, env=env)
        requests = server_stats(url)["requests"] - before
        found = _HUB_SECONDS.search(child.stdout)
        return {
            "resync_requests": requests,
            "resync_wall": round(child.wall, 3),
            "resync_seconds": float(found.group(1)) if found else None,
            "resync_ok": child.returncode == 0,
            "resync_problem": _error_line(child.stderr + child.stdout) if child.returncode else "",
            "resync_rss_mb": round(child.rss_mb, 1),
        }


def _psycopg_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _error_line(text: str) -> str:
    """The line that names the error (``SomeError: message``), else the last lines."""
    named = [
        line.strip()
        for line in text.splitlines()
        if re.match(r"^[\w.]+(Error|Exception)\b", line.strip())
    ]
    return named[-1][:500] if named else _tail(text, 3)[:500]


# --------------------------------------------------------------------------- summary


def rotated(items: Sequence[str], k: int) -> list[str]:
    """``items`` started at position ``k`` (mod len): each contender goes first in turn."""
    if not items:
        return []
    k %= len(items)
    return list(items[k:]) + list(items[:k])


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(runs: list[Run], expected: dict[int, fake_shopify.Totals]) -> list[dict[str, Any]]:
    """Per contender and N: medians (with min-max) of orders/s, line items/s, peak RSS."""
    rows = []
    keys = sorted({(r.contender, r.orders) for r in runs}, key=lambda k: (k[1], k[0]))
    for contender, n in keys:
        mine = [r for r in runs if (r.contender, r.orders) == (contender, n)]
        good = [r for r in mine if r.ok] or mine  # failed runs only: shown, never compared
        lines = expected[n].line_items
        row: dict[str, Any] = {
            "contender": contender,
            "orders": n,
            "rounds": len(mine),
            "all_ok": all(r.ok for r in mine),
            "any_ok": any(r.ok for r in mine),
            "orders_per_s": spread([n / r.wall for r in good]),
            "line_items_per_s": spread([lines / r.wall for r in good]),
            "rss_mb": spread([r.rss_mb for r in good]),
            "wall_s": spread([r.wall for r in good]),
        }
        loads = [r.load_seconds for r in good if r.load_seconds]
        row["load_orders_per_s"] = spread([n / s for s in loads]) if loads else None
        resyncs = [r.extra for r in good if "resync_requests" in r.extra]
        if resyncs:
            row["resync_requests_max"] = max(e["resync_requests"] for e in resyncs)
            row["resync_wall"] = spread([e["resync_wall"] for e in resyncs])
            inner = [e["resync_seconds"] for e in resyncs if e["resync_seconds"] is not None]
            row["resync_seconds"] = spread(inner) if inner else None
        dispositions = {
            str(r.extra["write_disposition"]) for r in good if "write_disposition" in r.extra
        }
        if dispositions:
            row["write_disposition"] = ",".join(sorted(dispositions))
        rows.append(row)
    return rows


def _median(rows: list[dict[str, Any]], contender: str, n: int, key: str) -> float | None:
    for row in rows:
        if row["contender"] == contender and row["orders"] == n and row.get(key):
            return float(row[key]["median"]) if row["any_ok"] else None
    return None


def targets(rows: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """The hub's ratios to the others and issue 8's targets: met, missed or not measured."""
    out: dict[str, Any] = {"ratios": {}, "checks": []}

    def check(name: str, value: float | None, goal: str, met: bool | None) -> None:
        out["checks"].append({"target": name, "value": value, "goal": goal, "met": met})

    for suffix in ("", "-pg"):
        hub = "hub" + suffix
        for n in sizes:
            mine = _median(rows, hub, n, "orders_per_s")
            for other in ("raw" + suffix, "dlt" + suffix):
                theirs = _median(rows, other, n, "orders_per_s")
                if mine and theirs:
                    out["ratios"][f"{hub}/{other} orders/s N={n}"] = mine / theirs
    for n in sizes:
        for other, goal in (("raw", TARGET_RAW_RATIO), ("dlt", TARGET_DLT_RATIO)):
            ratio = out["ratios"].get(f"hub/{other} orders/s N={n}")
            check(
                f"hub orders/s >= {goal}x {other} (N={n})",
                ratio,
                f">= {goal}",
                None if ratio is None else ratio >= goal,
            )
    hub_rss = {n: _rss_max(rows, "hub", n) for n in sizes}
    worst = max((v for v in hub_rss.values() if v is not None), default=None)
    check(
        f"hub peak RSS <= {TARGET_RSS_MB:.0f} MB (max over N)",
        worst,
        f"<= {TARGET_RSS_MB}",
        None if worst is None else worst <= TARGET_RSS_MB,
    )
    small, large = min(sizes), max(sizes)
    rss_small, rss_large = (
        _median(rows, "hub", small, "rss_mb"),
        _median(rows, "hub", large, "rss_mb"),
    )
    growth = rss_large / rss_small if rss_small and rss_large and small != large else None
    out["ratios"][f"hub RSS N={large}/N={small}"] = growth
    check(
        f"hub RSS N={large} within 20% of N={small}",
        growth,
        f"<= {TARGET_RSS_GROWTH}",
        None if growth is None else growth <= TARGET_RSS_GROWTH,
    )
    requests = [
        int(r["resync_requests_max"])
        for r in rows
        if r["contender"] == "hub" and r.get("resync_requests_max") is not None
    ]
    most = max(requests) if requests else None
    check(
        f"re-sync with nothing new: <= {TARGET_RESYNC_REQUESTS} requests",
        most,
        f"<= {TARGET_RESYNC_REQUESTS}",
        None if most is None else most <= TARGET_RESYNC_REQUESTS,
    )
    inner = [
        r["resync_seconds"]["max"]
        for r in rows
        if r["contender"] == "hub" and r.get("resync_seconds")
    ]
    slowest = max(inner) if inner else None
    check(
        "re-sync with nothing new: < 1 s (the hub's own run time; process wall in the table)",
        slowest,
        f"< {TARGET_RESYNC_SECONDS}",
        None if slowest is None else slowest < TARGET_RESYNC_SECONDS,
    )
    return out


def _rss_max(rows: list[dict[str, Any]], contender: str, n: int) -> float | None:
    for row in rows:
        if row["contender"] == contender and row["orders"] == n and row["any_ok"]:
            return float(row["rss_mb"]["max"])
    return None


def _fmt(value: dict[str, float] | None, digits: int = 0) -> str:
    if not value:
        return "-"
    median, low, high = value["median"], value["min"], value["max"]
    if low == high:
        return f"{median:,.{digits}f}"
    return f"{median:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def _commit(checkout: Path = BENCH) -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes): which hub was measured."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=checkout,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}+dirty" if dirty else head or "unknown"


def _verdict(row: dict[str, Any]) -> str:
    if row["all_ok"]:
        return "yes"
    return "SOME FAILED" if row["any_ok"] else "NO (figures of failed runs)"


def render(report: dict[str, Any]) -> str:
    lines = []
    lines.append("fake Shopify alone (drain: fetch every page, parse nothing):")
    for n, d in report["drain"].items():
        lines.append(
            f"  N={int(n):>7,}: {d['pages_per_s']:,.0f} pages/s, "
            f"{int(n) / d['seconds']:,.0f} orders/s, {d['mb'] / d['seconds']:,.0f} MB/s"
        )
    lines.append("")
    header = (
        f"{'contender':<9} {'N':>8}  {'orders/s':<24} {'line items/s':<26} "
        f"{'peak RSS MB':<20} {'in-process orders/s':<22} ok"
    )
    lines.append("median of rounds (min-max); whole-process wall time; in-process: own load time")
    lines.append(header)
    lines.append("-" * len(header))
    for row in report["summary"]:
        lines.append(
            f"{row['contender']:<9} {row['orders']:>8,}  {_fmt(row['orders_per_s']):<24} "
            f"{_fmt(row['line_items_per_s']):<26} {_fmt(row['rss_mb'], 1):<20} "
            f"{_fmt(row['load_orders_per_s']):<22} {_verdict(row)}"
        )
    lines.append("")
    for row in report["summary"]:
        if "resync_requests_max" in row:
            lines.append(
                f"{row['contender']} re-sync with nothing new (N={row['orders']:,}): "
                f"{row['resync_requests_max']} request(s), own run time "
                f"{_fmt(row['resync_seconds'], 2)} s, process wall {_fmt(row['resync_wall'], 2)} s"
            )
        if "write_disposition" in row:
            lines.append(
                f"{row['contender']} (N={row['orders']:,}): write disposition "
                f"{row['write_disposition']}"
            )
    lines.append("")
    for name, value in report["targets"]["ratios"].items():
        lines.append(f"{name}: {'-' if value is None else f'{value:.2f}'}")
    lines.append("")
    for c in report["targets"]["checks"]:
        verdict = {True: "MET", False: "MISSED", None: "not measured"}[c["met"]]
        value = "-" if c["value"] is None else f"{c['value']:.2f}"
        lines.append(f"[{verdict:^12}] {c['target']}: {value} (goal {c['goal']})")
    if report["problems"]:
        lines.append("")
        lines.append("!!! LOAD CHECK FAILED !!!")
        lines.extend(f"  {p}" for p in report["problems"])
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(CONTENDERS), help="e.g. hub,raw")
    parser.add_argument(
        "--postgres", help="admin URL, e.g. postgresql://postgres@127.0.0.1/postgres"
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600, help="per child process, seconds")
    parser.add_argument(
        "--api-latency",
        type=float,
        default=0.0,
        metavar="SEC",
        help="delay of every orders page, like a remote API's round trip (default 0: loopback)",
    )
    parser.add_argument(
        "--hub-source",
        type=Path,
        metavar="DIR",
        help="run the hub of this checkout (python -m hub, PYTHONPATH=DIR), e.g. a worktree",
    )
    args = parser.parse_args(argv)
    if args.hub_source is not None and not (args.hub_source / "hub" / "__main__.py").is_file():
        parser.error(f"--hub-source {args.hub_source}: no hub/__main__.py there")
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    known = CONTENDERS + PG_CONTENDERS + OPTIONAL_PG_CONTENDERS
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; choose from {known}")
    if not args.postgres and any(c.endswith("-pg") for c in chosen):
        parser.error("the -pg contenders need --postgres URL")
    if args.postgres:
        chosen += [c for c in PG_CONTENDERS if c.removesuffix("-pg") in chosen]
    args.contenders = list(dict.fromkeys(chosen))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    if args.hub_source is not None:
        print(f"hub from {args.hub_source} ({_commit(args.hub_source)})", flush=True)
    contenders = list(args.contenders)
    skipped = {}
    if importlib.util.find_spec("dlt") is None:
        for name in [c for c in contenders if c.startswith("dlt")]:
            contenders.remove(name)
            skipped[name] = "dlt is not installed (pip install -e .[bench])"
            print(f"skipping {name}: {skipped[name]}", file=sys.stderr)
    runs: list[Run] = []
    drains: dict[str, Any] = {}
    expected = {n: fake_shopify.expected_totals(n, args.seed) for n in args.orders}
    for n in args.orders:
        with fake_server(n, args.seed, bench.token, args.api_latency) as url:
            drains[str(n)] = drain(url, bench.token)
            print(f"N={n:,}: fake at {url}, drain {drains[str(n)]['pages_per_s']:.0f} pages/s")
            for rnd in range(args.rounds):
                for contender in rotated(contenders, rnd):
                    run = bench.run(contender, url, n, rnd)
                    runs.append(run)
                    state = "ok" if run.ok else f"FAILED: {run.problem}"
                    print(
                        f"  round {rnd + 1} {contender:<7} {n / run.wall:>9,.0f} orders/s "
                        f"wall {run.wall:7.2f} s  rss {run.rss_mb:6.1f} MB  "
                        f"{run.requests} requests  {state}",
                        flush=True,
                    )
    summary = summarize(runs, expected)
    problems = [
        f"{r.contender} N={r.orders} round {r.round + 1}: {r.problem}" for r in runs if not r.ok
    ]
    report = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "harness_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "commit": _commit(),
            "hub_source": str(args.hub_source) if args.hub_source else None,
            "hub_commit": _commit(args.hub_source) if args.hub_source else _commit(),
        },
        "settings": {
            "orders": args.orders,
            "rounds": args.rounds,
            "seed": args.seed,
            "contenders": contenders,
            "skipped": skipped,
        },
        "expected": {str(n): t._asdict() for n, t in expected.items()},
        "drain": drains,
        "runs": [asdict(r) for r in runs],
        "summary": summary,
        "targets": targets(summary, args.orders),
        "problems": problems,
    }
    print()
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(f"\nwritten: {args.json}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
