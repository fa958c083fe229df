"""Rows a person hands to ``hub push --input``: CSV, JSON or JSON Lines, each row located.

A destination usually pushes rows from the store; some push a *list* a
person or another tool wrote instead (the decisions of a reconciliation, say:
approve this, decline that). :func:`read_rows` reads such a file into
:class:`InputRow` dicts that remember where they came from
(``decisions.csv:3``), so a destination's error names the file and the row.

Formats, chosen by the suffix: ``.csv`` (a header line, then one row per
line; empty cells are absent values), ``.json`` (an array of objects) and
``.jsonl`` / ``.ndjson`` (one object per line; blank lines are ignored).
A file that cannot be read as rows at all is an :class:`~hub.errors.InputFileError`
naming the file, the line and the fix.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from hub.errors import InputFileError, Problem

__all__ = ["FORMATS", "MAX_FILE_BYTES", "InputRow", "read_rows"]

FORMATS = (".csv", ".json", ".jsonl", ".ndjson")
#: Larger input files are refused: push lists are decisions, not bulk data.
MAX_FILE_BYTES = 256 * 1024 * 1024


class InputRow(dict[str, Any]):
    """One row of an input file: a plain dict that also knows where it came from.

    ``file`` and ``line`` (None for the items of a JSON array, which carry
    ``location`` ``item N`` instead) are what a :class:`~hub.errors.Problem`
    about the row needs; ``where`` is the same for people (``decisions.csv:3``).
    """

    def __init__(
        self, file: str, line: int | None, values: dict[str, Any], location: str = ""
    ) -> None:
        super().__init__(values)
        self.file = file
        self.line = line
        self.location = location

    @property
    def where(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{place}: {self.location}" if self.location else place


def read_rows(path: Path) -> list[InputRow]:
    """Every row of ``path``; raises :class:`InputFileError` for an unreadable file."""
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise _error(
            file,
            None,
            f"cannot read {suffix or 'a file without suffix'} files",
            f"give a {', '.join(FORMATS)} file",
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _error(
                file,
                None,
                f"the file has {size} bytes, more than {MAX_FILE_BYTES}",
                "split it into several files and push each",
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise _error(
            file,
            None,
            f"cannot read the file: {exc.strerror or exc}",
            "check the path and its permissions",
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(file, line, "the file is not UTF-8 text", "save it as UTF-8") from None
    if suffix == ".csv":
        return list(_csv_rows(file, text))
    if suffix == ".json":
        return _json_rows(file, text)
    return list(_json_lines(file, text))


def _csv_rows(file: str, text: str) -> Iterator[InputRow]:
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] | None = None
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if header is None:
            header = [value.strip() for value in values]
            blank = [n + 1 for n, name in enumerate(header) if not name]
            if blank:
                raise _error(
                    file,
                    line,
                    f"column {blank[0]} of the header line has no name",
                    "name every column in the first line",
                )
            twice = sorted({name for name in header if header.count(name) > 1})
            if twice:
                raise _error(
                    file,
                    line,
                    f"the header names {twice[0]!r} twice",
                    "give each column its own name",
                )
            continue
        if len(values) > len(header):
            raise _error(
                file,
                line,
                f"{len(values)} cells but the header names {len(header)}",
                "quote cells that contain a comma, or add the missing column name",
            )
        cells = {name: value.strip() for name, value in zip(header, values, strict=False)}
        yield InputRow(file, line, {k: v for k, v in cells.items() if v != ""})
    if header is None:
        raise _error(file, None, "the file is empty", "write a header line, then one row per line")


def _json_rows(file: str, text: str) -> list[InputRow]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _error(
            file,
            exc.lineno,
            f"not valid JSON: {exc.msg}",
            "write an array of objects: [{...}, {...}]",
        ) from None
    if not isinstance(data, list):
        raise _error(
            file,
            1,
            f"the file holds a JSON {type(data).__name__}, not an array",
            "write an array of objects: [{...}, {...}]",
        )
    rows = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise _error(
                file,
                None,
                f"item {n} is a JSON {type(item).__name__}, not an object",
                "make every item an object",
            )
        rows.append(InputRow(file, None, item, f"item {n}"))
    return rows


def _json_lines(file: str, text: str) -> Iterator[InputRow]:
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        try:
            item = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise _error(
                file, line, f"not valid JSON: {exc.msg}", "write one JSON object per line"
            ) from None
        if not isinstance(item, dict):
            raise _error(
                file,
                line,
                f"a JSON {type(item).__name__}, not an object",
                "write one JSON object per line",
            )
        yield InputRow(file, line, item)


def _error(file: str, line: int | None, message: str, hint: str) -> InputFileError:
    return InputFileError([Problem(file, "", message, line, hint)])
