"""Reading CSV and JSON Lines files row by row, knowing the byte offset after every row.

The offset (and a SHA-256 of every byte before it) is what makes resuming
safe: a later run checks that the bytes it already read are still the same
(the file was only appended to) and then seeks straight past them.

Files are read in binary and decoded line by line, so only ASCII-compatible
encodings are supported (utf-8, cp1252, latin-1 ...; the config refuses others).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hub.errors import FatalConnectorError
from hub_connector_csv.config import SUFFIX_FORMATS, Format

log = logging.getLogger(__name__)

_READ_BLOCK = 1 << 20
_RAW_LIMIT = 1000  # characters of an unparseable line kept in the record
_MIN_CSV_FIELD_LIMIT = 10 * 1024 * 1024


def detect_format(path: Path, configured: Format | None) -> Format:
    """The configured format, else the one the suffix names; an error says how to fix it."""
    if configured is not None:
        return configured
    try:
        return SUFFIX_FORMATS[path.suffix.lower()]
    except KeyError:
        raise FatalConnectorError(
            f"cannot tell the format of {path.name} from its suffix {path.suffix!r}",
            hint="set `format: csv` or `format: jsonl` on the stream, or narrow its `files` "
            f"glob so it matches only {', '.join(sorted(SUFFIX_FORMATS))} files",
        ) from None


def prefix_digest(handle: IO[bytes], length: int) -> Any:
    """A SHA-256 object fed with the first ``length`` bytes of ``handle`` (left at ``length``)."""
    digest = hashlib.sha256()
    handle.seek(0)
    remaining = length
    while remaining > 0:
        block = handle.read(min(_READ_BLOCK, remaining))
        if not block:
            break
        digest.update(block)
        remaining -= len(block)
    return digest


@dataclass
class Position:
    """How far into a file the reader is.

    ``offset``, ``line``, ``rows`` and ``digest`` describe the committed part:
    every complete (newline-terminated) row read so far, where a later run may
    resume. ``end`` counts every byte consumed, including a final line without
    a newline, which stays uncommitted because its writer may still be adding
    to it.
    """

    offset: int = 0
    line: int = 0
    rows: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    end: int = 0

    def __post_init__(self) -> None:
        self.end = max(self.end, self.offset)


@dataclass
class _Lines:
    """Physical lines of a binary file, decoded; :meth:`commit` advances a :class:`Position`."""

    handle: IO[bytes]
    encoding: str
    position: Position
    undecodable: bool = False
    _pending: list[bytes] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        while True:
            raw = self.handle.readline()
            if not raw:
                return
            self._pending.append(raw)
            self.position.end += len(raw)
            try:
                yield raw.decode(self.encoding)
            except UnicodeDecodeError:
                self.undecodable = True
                yield raw.decode(self.encoding, errors="replace")

    @property
    def complete(self) -> bool:
        """True unless the lines read since the last commit end without a newline (EOF)."""
        return not self._pending or self._pending[-1].endswith(b"\n")

    def commit(self, *, row: bool) -> None:
        """Mark the lines read since the last commit as done, if they end with a newline."""
        if not self.complete:
            return
        for raw in self._pending:
            self.position.digest.update(raw)
            self.position.offset += len(raw)
            self.position.line += 1
        self.position.rows += int(row and bool(self._pending))
        self._pending.clear()
        self.undecodable = False


def _unique_header(names: list[str]) -> list[str]:
    header: list[str] = []
    for index, name in enumerate(names, start=1):
        name = name.strip() or f"column_{index}"
        candidate, suffix = name, 2
        while candidate in header:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        header.append(candidate)
    return header


def read_header(label: str, handle: IO[bytes], encoding: str, delimiter: str) -> list[str]:
    """The column names of CSV file ``label`` (its first row), read from the start of ``handle``."""
    handle.seek(0)
    lines = _Lines(handle, encoding, Position())
    try:
        names = next(csv.reader(iter(lines), delimiter=delimiter), None)
    except csv.Error as exc:
        raise FatalConnectorError(
            f"{label}: the header row is not valid CSV ({exc})",
            hint="check the `delimiter` and that the file is a CSV export",
        ) from None
    if lines.undecodable:
        raise FatalConnectorError(
            f"{label}: the header row is not valid {encoding}",
            hint="set `encoding:` to the file's encoding (Excel on Windows writes cp1252)",
        )
    if not names:
        raise FatalConnectorError(
            f"{label}: the file is empty or its first line is blank",
            hint="the first line of a CSV file must name its columns",
        )
    return _unique_header(names)


def csv_rows(
    label: str,
    handle: IO[bytes],
    *,
    encoding: str,
    delimiter: str,
    empty_as_null: bool,
    position: Position,
) -> Iterator[dict[str, Any]]:
    """Data rows of a CSV file from ``position`` on (0: from the header); advances ``position``.

    Every row is yielded as read, with ``_file`` and ``_line`` added: a row with
    the wrong number of values gets ``_error`` (and ``_extra_values``) so the
    mapping rejects it into quarantine with its provenance. A broken final
    row without a newline is held back: it is probably still being written.
    """
    header = read_header(label, handle, encoding, delimiter)
    handle.seek(position.offset)
    lines = _Lines(handle, encoding, position)
    reader = csv.reader(iter(lines), delimiter=delimiter)
    if position.offset == 0:
        next(reader, None)  # the header
        lines.commit(row=False)
    while True:
        first_line = position.line + 1
        error: str | None = None
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            values, error = [], f"not valid CSV ({exc})"
        if not error and not any(value.strip() for value in values):
            lines.commit(row=False)  # a blank line is not a row
            continue
        row: dict[str, Any] = {}
        for index, name in enumerate(header):
            value: Any = values[index] if index < len(values) else None
            row[name] = None if empty_as_null and value == "" else value
        if len(values) > len(header):
            row["_extra_values"] = values[len(header) :]
        if error is None and len(values) != len(header):
            error = f"{len(values)} values, but the header has {len(header)} columns"
        if error is None and lines.undecodable:
            error = f"not valid {encoding}; undecodable bytes were replaced"
        if error is not None:
            row["_error"] = error
        row["_file"], row["_line"] = label, first_line
        if error is not None and not lines.complete:
            log.warning(
                "%s: line %s is incomplete; it will be read when complete", label, first_line
            )
            return
        lines.commit(row=True)
        yield row


def jsonl_rows(
    label: str, handle: IO[bytes], *, encoding: str, position: Position
) -> Iterator[dict[str, Any]]:
    """JSON objects of a JSON Lines file from ``position`` on; advances ``position``.

    A line that is not a JSON object is yielded as ``{"_error", "_raw"}`` so the
    mapping quarantines it with its provenance instead of the run failing. A
    broken final line without a newline is held back: it is probably still
    being written.
    """
    handle.seek(position.offset)
    lines = _Lines(handle, encoding, position)
    for text in lines:
        if not text.strip():
            lines.commit(row=False)
            continue
        row: dict[str, Any]
        try:
            parsed = json.loads(text.strip())
        except json.JSONDecodeError as exc:
            row = {"_error": f"invalid JSON ({exc.msg}, column {exc.colno})"}
        else:
            row = parsed if isinstance(parsed, dict) else {"_error": "not a JSON object"}
        if row is not parsed:
            row["_raw"] = text.strip()[:_RAW_LIMIT]
        if lines.undecodable:
            row.setdefault("_error", f"not valid {encoding}; undecodable bytes were replaced")
        row["_file"], row["_line"] = label, position.line + 1
        if "_error" in row and not lines.complete:
            log.warning(
                "%s: line %s is incomplete; it will be read when complete", label, row["_line"]
            )
            return
        lines.commit(row=True)
        yield row


def raise_csv_field_limit() -> None:
    """Allow large quoted fields (product descriptions) up to 10 MB."""
    if csv.field_size_limit() < _MIN_CSV_FIELD_LIMIT:
        csv.field_size_limit(_MIN_CSV_FIELD_LIMIT)
