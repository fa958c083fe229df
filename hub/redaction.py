"""Keep secrets out of every log line, error message and stored run record.

Secret values are registered once, when a connection's config is resolved
(every ``SecretStr`` and every ``${ENV}`` substitution); from then on
:func:`redact` replaces them wherever text leaves the process. A logging
filter installed on the ``hub`` logger applies it to every record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and digits

_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# Values after these words are masked even when the secret was never registered.
_SENSITIVE_QUERY = re.compile(
    r"(?i)((?:access_token|api_key|apikey|token|password|secret|client_secret|key)=)[^&\s\"']+"
)
_SENSITIVE_HEADER = re.compile(
    r"(?i)((?:authorization|x-shopify-access-token|x-api-key|api-key)\s*[:=]\s*)"
    r"(?:bearer\s+|basic\s+)?[^\s,;\"']+"
)


def register_secret(value: str | SecretStr | SecretBytes | None) -> None:
    """Remember ``value`` so that :func:`redact` masks it from now on."""
    global _pattern
    if value is None:
        return
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    elif isinstance(value, SecretBytes):
        value = value.get_secret_value().decode(errors="replace")
    if len(value) < _MIN_SECRET_LENGTH or value in _secrets:
        return
    _secrets.add(value)
    alternatives = sorted(_secrets, key=len, reverse=True)
    _pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def register_secrets_in(value: Any) -> None:
    """Register every ``SecretStr`` found in a model, mapping or sequence."""
    if isinstance(value, SecretStr | SecretBytes):
        register_secret(value)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            register_secrets_in(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            register_secrets_in(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            register_secrets_in(item)


def registered_secrets() -> Iterable[str]:
    """The secret values known so far (for tests that assert they never leak)."""
    return tuple(_secrets)


def forget_secrets() -> None:
    """Drop every registered secret (test isolation)."""
    global _pattern
    _secrets.clear()
    _pattern = None


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and credential-looking value masked."""
    if _pattern is not None:
        text = _pattern.sub(MASK, text)
    text = _SENSITIVE_QUERY.sub(rf"\g<1>{MASK}", text)
    return _SENSITIVE_HEADER.sub(rf"\g<1>{MASK}", text)


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (for run history and quarantine)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message once and redacts it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction(logger_name: str = "hub") -> None:
    """Attach :class:`RedactingFilter` to a logger and all its handlers (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def uninstall_log_redaction(logger_name: str = "hub") -> None:
    """Remove what :func:`install_log_redaction` attached (test isolation)."""
    for target in (logging.getLogger(logger_name), *logging.getLogger().handlers):
        for existing in [f for f in target.filters if isinstance(f, RedactingFilter)]:
            target.removeFilter(existing)
