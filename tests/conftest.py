"""Shared fixtures for the whole suite."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from hub import plugins, redaction
from hub.store import Store


@pytest.fixture(autouse=True)
def _isolated_secrets() -> Iterator[None]:
    """Every test starts with no registered secrets and no redacting log filters."""
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()
    redaction.uninstall_log_redaction()


@pytest.fixture
def registry() -> Iterator[plugins.Registry]:
    """The plugin registry, rebuilt for this test and forgotten afterwards."""
    plugins.reset_registry()
    yield plugins.get_registry()
    plugins.reset_registry()


# --- databases -------------------------------------------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {type(exc).__name__}"
    return None


def require_service(reason: str | None) -> None:
    """Skip with the reason where a service is absent; under CI=true, fail instead."""
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: service tests must run, not skip)")
    pytest.skip(reason)


@contextlib.contextmanager
def new_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (URL with its password), dropped on exit.

    Skips with the reason where PostgreSQL is absent (fails under CI=true). The
    drop is forced: a subprocess a test SIGKILLed may leave a session behind.
    """
    require_service(_postgres_available())
    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with new_postgres_database() as url:
        yield url


#: Parameters for tests that run on every supported database backend.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def scratch_database(backend: str, directory: Path, name: str = "hub.db") -> Iterator[str]:
    """The URL of a new, empty database on ``backend``, gone on exit.

    SQLite: a file ``name`` in ``directory`` (absolute, so any working directory
    works). PostgreSQL: a database of its own, so subprocesses and module-wide
    fixtures never share rows with other tests.
    """
    if backend == "sqlite":
        yield f"sqlite:///{directory / name}"
    elif backend == "postgresql":
        with new_postgres_database() as url:
            yield url
    else:
        raise ValueError(f"unknown database backend {backend!r}: use sqlite or postgresql")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL on each supported backend; PostgreSQL tables are emptied afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as connection:
        SQLModel.metadata.drop_all(connection)
    engine.dispose()


# --- the example third-party plugin -----------------------------------------

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "hub-connector-csv"


@pytest.fixture(scope="session")
def csv_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hub-connector-csv really installed by pip into its own folder (offline, no deps)."""
    source = tmp_path_factory.mktemp("source") / "hub-connector-csv"
    # Build from a copy: the build writes build/ and *.egg-info next to the sources.
    shutil.copytree(
        EXAMPLE_PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = tmp_path_factory.mktemp("site-packages")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        str(target),
        str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return target


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, empty store on SQLite and on PostgreSQL (see ``database_url``)."""
    store = Store(database_url)
    store.create_all()
    yield store
    store.dispose()
