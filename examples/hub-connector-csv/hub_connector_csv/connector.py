"""The ``csv`` source: CSV and JSON Lines files in a folder, read incrementally and resumably.

State per stream (what a checkpoint carries)::

    {"files": {"conversions-2024-05.csv": {"size": 5231, "offset": 5231, "line": 41,
                                           "rows": 40, "sha256": "...", "mtime_ns": 1717...,
                                           "done": true}},
     "file": "conversions-2024-05.csv", "line": 41,     # where the last checkpoint was
     "cursor": "2024-05-31T22:10:00+02:00"}            # newest cursor value seen

``offset``/``line``/``rows`` cover the complete rows read; ``sha256`` hashes the
bytes before ``offset``; ``size`` is everything read, including a final line
without a newline (read, but re-read next time: its writer may not be done).

A file whose size and mtime are unchanged since it was read to the end is
skipped. Otherwise, if its first ``offset`` bytes still hash to ``sha256``, it
was only appended to (or a run was killed inside it): reading resumes at
``offset``. Any other change means the file was rewritten and it is read again
from the start; the store's upsert keeps re-read rows idempotent. See the README.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from hub.connector import Checkpoint, Connector, Message, Record, Stream
from hub.errors import FatalConnectorError
from hub_connector_csv.config import CsvConfig, StreamSpec
from hub_connector_csv.files import (
    Position,
    csv_rows,
    detect_format,
    jsonl_rows,
    prefix_digest,
    raise_csv_field_limit,
    read_header,
)

log = logging.getLogger(__name__)

_SKIPPED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
_PROVENANCE = {
    "_file": {"type": "string", "description": "File the row was read from."},
    "_line": {"type": "integer", "description": "Line the row starts on."},
    "_error": {"type": "string", "description": "Why the row could not be read cleanly."},
}


class CsvConnector(Connector):
    """Reads CSV / JSON Lines exports (offline conversions, partner lists) from a folder."""

    name: ClassVar[str] = "csv"
    config_model: ClassVar[type[CsvConfig]] = CsvConfig
    summary: ClassVar[str] = "CSV and JSON Lines files: offline conversions and partner lists"

    config: CsvConfig

    @classmethod
    def streams(cls) -> Sequence[Stream]:
        """The two streams the default config defines (``conversions`` and ``partners``)."""
        defaults = CsvConfig(directory=Path())
        return [_stream(spec, {}, defaults.files_pattern(spec)) for spec in defaults.streams]

    # ------------------------------------------------------------------ check / discover

    def check(self) -> None:
        """The folder exists and is readable; every matching file's header has the key columns."""
        self._check_root()
        for spec in self.config.streams:
            for path in self._files(spec):
                if self._format(spec, path) != "csv" or path.stat().st_size == 0:
                    continue
                header = self._header(path)
                wanted = [*spec.primary_key, *filter(None, [spec.cursor_field])]
                missing = [column for column in wanted if column not in header]
                if missing:
                    raise FatalConnectorError(
                        f"stream {spec.name!r}: {self._label(path)} has no column "
                        f"{', '.join(map(repr, missing))} (its columns: {', '.join(header)})",
                        hint="rename the column in the export, or set the stream's "
                        "`primary_key` / `cursor_field` to the file's column names",
                    )

    def discover(self) -> Sequence[Stream]:
        """One stream per configured stream, with the columns of its first file as schema."""
        self._check_root()
        streams = []
        for spec in self.config.streams:
            columns: dict[str, Any] = {}
            files = self._files(spec)
            if files and self._format(spec, files[0]) == "csv" and files[0].stat().st_size:
                columns = {name: {"type": ["string", "null"]} for name in self._header(files[0])}
            streams.append(_stream(spec, columns, self.config.files_pattern(spec)))
        return streams

    # ------------------------------------------------------------------ read

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        """Rows of ``streams``' files, file by file in name order, a checkpoint per chunk."""
        specs = {spec.name: spec for spec in self.config.streams}
        unknown = [name for name in streams if name not in specs]
        if unknown:
            raise FatalConnectorError(
                f"the csv connection has no stream {', '.join(map(repr, unknown))}",
                hint=f"its streams are {', '.join(specs)}; define more under `config.streams`",
            )
        self._check_root()
        raise_csv_field_limit()
        for name in streams:
            yield from _StreamReader(self, specs[name], state.get(name) or {}).read()

    # ------------------------------------------------------------------ files

    def _check_root(self) -> None:
        root = self.config.root()
        where = f"{root}" if root.is_absolute() else f"{root} (relative to {Path.cwd()})"
        setting = "`directory`" if self.config.directory is not None else "`path`"
        if not root.exists():
            raise FatalConnectorError(
                f"the folder {where} does not exist",
                hint=f"create it, or point {setting} in the connection's config at the folder "
                "holding the export files",
            )
        if not root.is_dir():
            raise FatalConnectorError(
                f"{where} is a file, not a folder",
                hint="use `path:` for a single file or a glob, `directory:` for a folder",
            )
        if not os.access(root, os.R_OK | os.X_OK):
            raise FatalConnectorError(
                f"the folder {where} is not readable by this user",
                hint="grant read access to the user running the hub (chmod o+rx or a group)",
            )

    def _files(self, spec: StreamSpec) -> list[Path]:
        """The stream's files in sorted (name) order, without hidden and temporary files."""
        root = self.config.root()
        found = [
            path
            for path in root.glob(self.config.files_pattern(spec))
            if path.is_file()
            and not path.name.startswith((".", "~"))
            and not path.name.endswith(_SKIPPED_SUFFIXES)
        ]
        return sorted(found, key=self._label)

    def _label(self, path: Path) -> str:
        return path.relative_to(self.config.root()).as_posix()

    def _format(self, spec: StreamSpec, path: Path) -> str:
        return detect_format(path, spec.format or self.config.format)

    def _delimiter(self, path: Path) -> str:
        if self.config.delimiter is not None:
            return self.config.delimiter
        return "\t" if path.suffix.lower() == ".tsv" else ","

    def _header(self, path: Path) -> list[str]:
        with self._open(path) as handle:
            return read_header(
                self._label(path), handle, self.config.encoding, self._delimiter(path)
            )

    def _open(self, path: Path) -> Any:
        try:
            return path.open("rb")
        except OSError as exc:
            raise FatalConnectorError(
                f"cannot open {self._label(path)}: {exc.strerror}",
                hint="grant the user running the hub read access to the file",
            ) from None


class _StreamReader:
    """One stream's read: decides per file whether to skip, resume or restart it."""

    def __init__(self, connector: CsvConnector, spec: StreamSpec, state: Mapping[str, Any]):
        self.connector = connector
        self.config = connector.config
        self.spec = spec
        self.files: dict[str, dict[str, Any]] = dict(state.get("files") or {})
        self.cursor: Any = state.get("cursor")
        self.threshold = _sort_key(self.cursor) if spec.skip_rows_before_cursor else None
        self.last: tuple[str | None, int] = (state.get("file"), int(state.get("line") or 0))

    def state(self) -> dict[str, Any]:
        file, line = self.last
        return {
            "files": {name: dict(entry) for name, entry in self.files.items()},
            "file": file,
            "line": line,
            "cursor": self.cursor,
        }

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.spec.name, self.state())

    def read(self) -> Iterator[Message]:
        paths = self.connector._files(self.spec)
        labels = {self.connector._label(path) for path in paths}
        for gone in sorted(set(self.files) - labels):
            log.info("%s: %s is gone; forgetting its state", self.spec.name, gone)
            del self.files[gone]
        for path in paths:
            yield from self.read_file(path)
        yield self.checkpoint()

    def read_file(self, path: Path) -> Iterator[Message]:
        label = self.connector._label(path)
        fmt = self.connector._format(self.spec, path)
        entry = self.files.get(label)
        with self.connector._open(path) as handle:
            stat = os.fstat(handle.fileno())
            size, mtime_ns = stat.st_size, stat.st_mtime_ns
            if size == 0:
                log.info("%s: %s is empty (still being written?); skipped", self.spec.name, label)
                return
            if entry and entry.get("done") and _same(entry, size, mtime_ns):
                return  # read to the end before, unchanged since
            position = self.resume_position(label, handle, entry, size)
            rows = (
                csv_rows(
                    label,
                    handle,
                    encoding=self.config.encoding,
                    delimiter=self.connector._delimiter(path),
                    empty_as_null=self.config.empty_as_null,
                    position=position,
                )
                if fmt == "csv"
                else jsonl_rows(label, handle, encoding=self.config.encoding, position=position)
            )
            pending = 0
            for row in rows:
                pending += 1
                if self.keep(row):
                    yield Record(self.spec.name, row)
                if pending >= self.config.chunk_size:
                    self.remember(label, position, mtime_ns, done=False)
                    yield self.checkpoint()
                    pending = 0
            self.remember(label, position, mtime_ns, done=True)
            yield self.checkpoint()

    def resume_position(
        self, label: str, handle: Any, entry: Mapping[str, Any] | None, size: int
    ) -> Position:
        """Where to start: after the bytes read before if they are unchanged, else at 0."""
        if not entry:
            return Position()
        offset = int(entry.get("offset") or 0)
        if 0 < offset <= size:
            digest = prefix_digest(handle, offset)
            if digest.hexdigest() == entry.get("sha256"):
                if offset < size:
                    log.info("%s: %s resumes at line %s", self.spec.name, label, entry["line"])
                return Position(offset, int(entry["line"]), int(entry["rows"]), digest)
        log.info(
            "%s: %s was rewritten since the last run; reading it again from the start",
            self.spec.name,
            label,
        )
        return Position()

    def remember(self, label: str, position: Position, mtime_ns: int, *, done: bool) -> None:
        self.files[label] = {
            "size": position.end,
            "offset": position.offset,
            "line": position.line,
            "rows": position.rows,
            "sha256": position.digest.hexdigest(),
            "mtime_ns": mtime_ns,
            "done": done,
        }
        self.last = (label, position.line)

    def keep(self, row: Mapping[str, Any]) -> bool:
        """Track the newest cursor; with ``skip_rows_before_cursor``, drop older rows."""
        field = self.spec.cursor_field
        value = None if field is None else row.get(field)
        if value is None or value == "":
            return True
        key = _sort_key(value)
        if self.cursor is None or key > _sort_key(self.cursor):
            self.cursor = value
        return self.threshold is None or key >= self.threshold


def _same(entry: Mapping[str, Any], size: int, mtime_ns: int) -> bool:
    return entry.get("size") == size and entry.get("mtime_ns") == mtime_ns


def _stream(spec: StreamSpec, columns: Mapping[str, Any], pattern: str) -> Stream:
    properties: dict[str, Any] = {
        **{key: {} for key in spec.primary_key},
        **({spec.cursor_field: {}} if spec.cursor_field else {}),
        **columns,
        **_PROVENANCE,
    }
    return Stream(
        name=spec.name,
        primary_key=tuple(spec.primary_key),
        cursor_field=spec.cursor_field,
        json_schema={"type": "object", "properties": properties},
        description=f"rows of the files matching {pattern}",
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    """Order cursor values: instants (naive ones taken as UTC), then numbers, then text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, Decimal(str(value)))
    text = str(value).strip()
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return (0, instant if instant.tzinfo else instant.replace(tzinfo=UTC))
    try:
        number = Decimal(text)
    except InvalidOperation:
        return (2, text)
    return (2, text) if number.is_nan() else (1, number)
