"""pytest fixtures for connector and plugin authors.

Enable with ``pytest_plugins = ["hub.testing.plugin"]`` in your top-level
``conftest.py``.

- ``hub_secret_guard``: fails the test if a secret shows up in a log record.
- ``hub_plugin``: registers plugin objects for one test, unregistered afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hub import plugins
from hub.redaction import registered_secrets
from hub.testing.leaks import capture_raw_logs, find_leaks, secret_values


class SecretGuard:
    """Knows the secrets of a test and checks values and the test's log for them.

    Secrets come from :meth:`add` (plain strings, or models whose ``SecretStr``
    fields are taken) and from everything registered with
    :func:`hub.redaction.register_secret` during the test. The log is every
    record's text as the code logged it, before any redacting filter.
    """

    def __init__(self, log: list[str]) -> None:
        self._log = log
        self._secrets: set[str] = set()

    def add(self, *secrets: Any) -> None:
        """Watch these secrets: strings, or models/mappings holding ``SecretStr`` values."""
        for secret in secrets:
            if isinstance(secret, str):
                self._secrets.add(secret)
            else:
                self._secrets |= secret_values(secret)

    @property
    def secrets(self) -> set[str]:
        """Every secret watched so far."""
        return self._secrets | set(registered_secrets())

    @property
    def log(self) -> list[str]:
        """The raw text of every log record of this test so far, tracebacks included."""
        return list(self._log)

    def leaks(self, **places: Any) -> list[str]:
        """Where a secret appears: in the given named values or in the test's log."""
        return find_leaks(self.secrets, {**places, "the log": self._log})

    def assert_clean(self, **places: Any) -> None:
        """Fail if a secret appears in the given values (name=value) or the test's log."""
        found = self.leaks(**places)
        if found:
            pytest.fail("secret leaked: " + "; ".join(found), pytrace=False)


@pytest.fixture
def hub_secret_guard() -> Iterator[SecretGuard]:
    """Log at DEBUG for this test and fail it if a watched secret appears in any log record."""
    with capture_raw_logs() as log:
        guard = SecretGuard(log)
        yield guard
        guard.assert_clean()


@pytest.fixture
def hub_plugin() -> Iterator[Callable[..., None]]:
    """Call ``hub_plugin(module_or_object, name=...)`` to register a plugin for this test."""
    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> None:
        name = name or getattr(plugin, "__name__", None) or f"test-plugin-{id(plugin)}"
        names.append(name)
        plugins.register_plugin(plugin, name=name)

    yield register
    for name in reversed(names):
        plugins.unregister_plugin(name)
