"""Find secrets where they must never be: records, state, log lines, errors, reprs.

The contract suite and the ``hub_secret_guard`` fixture both ask the same
question ("does any of these secrets appear in any of these values?") and
answer it here, on the raw text: a leak masked only by the log filter is
still a leak, because the record, the checkpoint or the exception travels
further than the logger.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from hub.redaction import MASK

# Shorter values would match ordinary words and digits (same floor as hub.redaction).
MIN_SECRET_LENGTH = 4


def secret_values(value: Any) -> set[str]:
    """Every ``SecretStr``/``SecretBytes`` value inside a model, mapping or sequence."""
    found: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, SecretStr):
            found.add(item.get_secret_value())
        elif isinstance(item, SecretBytes):
            found.add(item.get_secret_value().decode(errors="replace"))
        elif isinstance(item, BaseModel):
            for name in type(item).model_fields:
                walk(getattr(item, name))
        elif isinstance(item, Mapping):
            for sub in item.values():
                walk(sub)
        elif isinstance(item, list | tuple | set | frozenset):
            for sub in item:
                walk(sub)

    walk(value)
    return {s for s in found if len(s) >= MIN_SECRET_LENGTH and s != MASK}


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included; other leaves by ``repr``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode(errors="replace")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from strings_in(item)
    elif value is not None and not isinstance(value, int | float | bool):
        yield repr(value)


def exception_text(exc: BaseException) -> str:
    """The full traceback of ``exc`` with its causes, as a log handler would print it."""
    return "".join(traceback.format_exception(exc))


def find_leaks(secrets: Iterable[str], places: Mapping[str, Any]) -> list[str]:
    """Describe each place (name -> value) where one of ``secrets`` appears.

    Returns an empty list when nothing leaks. Descriptions never repeat the
    secret itself, only its length, so a failing test does not leak it either.
    """
    wanted = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    leaks: list[str] = []
    if not wanted:
        return leaks
    for place, value in places.items():
        for text in strings_in(value):
            hit = next((s for s in wanted if s in text), None)
            if hit is not None:
                leaks.append(f"{place}: contains a registered secret ({len(hit)} characters)")
                break
    return leaks


class RawLogCapture(logging.Handler):
    """Keeps the text of every log record as the code logged it.

    Installed first on the root logger, it sees each record before any other
    handler's filter runs: ``hub.redaction.RedactingFilter`` rewrites records
    in place, so a handler that runs after it (pytest's ``caplog`` included,
    once any test has installed log redaction) would only see masked text.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            self.texts.append(exception_text(record.exc_info[1]))


@contextmanager
def capture_raw_logs(level: int = logging.DEBUG) -> Iterator[list[str]]:
    """Collect the raw text of every log record while the block runs (root logger at ``level``)."""
    root = logging.getLogger()
    handler = RawLogCapture()
    previous = root.level
    root.handlers.insert(0, handler)  # before any redacting filter mutates the record
    root.setLevel(level)
    try:
        yield handler.texts
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
