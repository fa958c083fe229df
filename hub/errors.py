"""One exception tree for the hub, classified by what the runner does next.

Every message is written for the person running the hub: it says what went
wrong and what to do about it, and it never contains a secret (messages pass
through :func:`hub.redaction.redact` before they are shown or stored).

- :class:`ConfigError` / :class:`MappingFileError`: bad input files; nothing runs.
- :class:`FatalConnectorError`: stop the run now (bad credentials, wrong shop name).
- :class:`RetriableError`: transient; retried within a budget, then fatal.
- :class:`RecordError`: one record is bad; it is quarantined and the run goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class HubError(Exception):
    """Base of every error the hub raises on purpose; its text is safe to show."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  Fix: {hint}")


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and how to fix it."""

    file: str
    location: str
    message: str
    line: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = (
            f"{where}: {self.location}: {self.message}"
            if self.location
            else f"{where}: {self.message}"
        )
        return text if self.hint is None else f"{text}\n    Fix: {self.hint}"


class InputFileError(HubError):
    """One or more problems in a file the user wrote; each names file, field and fix."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        heading = "1 problem" if count == 1 else f"{count} problems"
        body = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{heading}:\n{body}")


class ConfigError(InputFileError):
    """The hub config file (hub.yaml) is invalid."""


class MappingFileError(InputFileError):
    """A mapping file is invalid: unknown target column, converter or bad path."""


class PluginError(HubError):
    """A plugin could not be loaded or registered something invalid."""


class UnknownConnectorError(HubError):
    """A connection names a connector no installed plugin provides."""


class ConnectorError(HubError):
    """An error raised while a connector talks to its source or destination."""


class FatalConnectorError(ConnectorError):
    """Stop the run now: retrying cannot help (auth, permissions, not found, bad request)."""


class AuthError(FatalConnectorError):
    """The credentials were refused (HTTP 401/403)."""


class RetriableError(ConnectorError):
    """A transient failure (429, 5xx, network); the request may be repeated."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, hint=hint)


class RetryBudgetExceededError(FatalConnectorError):
    """A transient failure persisted past the retry budget."""


class RecordError(HubError):
    """One record cannot be mapped or validated; it goes to quarantine."""


class QuarantineThresholdError(HubError):
    """Too many records of one run were quarantined; the run is failed."""


class RunLockedError(HubError):
    """Another run of the same connection is in progress."""
