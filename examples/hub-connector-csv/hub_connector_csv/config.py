"""The ``config:`` block of a csv connection: where the files are and which streams they form."""

from __future__ import annotations

import codecs
from pathlib import Path, PurePath
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Format = Literal["csv", "jsonl"]

#: File suffix -> format, used when neither the stream nor the connection sets ``format``.
SUFFIX_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_GLOB_CHARS = frozenset("*?[")


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class StreamSpec(BaseModel):
    """One stream: a set of files (a glob) whose rows share a primary key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Stream name.")
    files: str | None = Field(
        default=None,
        description="Glob relative to the directory, e.g. 'exports/conversions-*.csv'. "
        "Default: '<name>*' (or the pattern of `path`).",
    )
    primary_key: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        min_length=1, description="Column(s) that identify a row."
    )
    cursor_field: str | None = Field(
        default=None,
        description="Column holding the row's last-change time (e.g. updated_at); "
        "it becomes source_updated_at, so a newer version of a row wins.",
    )
    format: Format | None = Field(default=None, description="Override the suffix-based format.")
    skip_rows_before_cursor: bool = Field(
        default=False,
        description="Skip rows whose cursor is older than the newest cursor of the previous "
        "run. Only for sources that re-export everything with honest timestamps: a late row "
        "with an old timestamp is then never read.",
    )

    @model_validator(mode="after")
    def _cursor_needed(self) -> StreamSpec:
        if self.skip_rows_before_cursor and self.cursor_field is None:
            raise ValueError(f"stream {self.name!r}: skip_rows_before_cursor needs a cursor_field")
        return self


def _default_streams() -> list[StreamSpec]:
    return [
        StreamSpec(name="conversions", primary_key=["order_id"], cursor_field="updated_at"),
        StreamSpec(name="partners", primary_key=["id"]),
    ]


class CsvConfig(BaseModel):
    """Where the files are (``directory`` or a ``path`` glob) and how to read them."""

    model_config = ConfigDict(extra="forbid")

    directory: Path | None = Field(
        default=None, description="Folder holding the files (streams' globs are relative to it)."
    )
    path: str | None = Field(
        default=None,
        description="Instead of `directory`: a glob such as /srv/exports/*.csv; its folder "
        "becomes the directory and its pattern the default `files` of every stream.",
    )
    format: Format | None = Field(
        default=None, description="csv or jsonl; default: from each file's suffix."
    )
    delimiter: str | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description="CSV field separator; default ',' (tab for .tsv files).",
    )
    encoding: str = Field(
        default="utf-8-sig",
        validate_default=True,
        description="Text encoding; the default also accepts a UTF-8 BOM.",
    )
    chunk_size: int = Field(default=1000, ge=1, le=1_000_000, description="Rows per checkpoint.")
    empty_as_null: bool = Field(default=True, description="Read empty CSV cells as null.")
    streams: list[StreamSpec] = Field(
        default_factory=_default_streams,
        min_length=1,
        description="Default: conversions (conversions*, key order_id, cursor updated_at) "
        "and partners (partners*, key id).",
    )

    @field_validator("encoding")
    @classmethod
    def _ascii_compatible(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}; use e.g. utf-8 or cp1252") from None
        if b"id,\n".decode(value, errors="replace") != "id,\n":
            raise ValueError(
                f"encoding {value!r} is not ASCII-compatible; convert the files to UTF-8 "
                f"(iconv -f {value} -t utf-8) and set encoding: utf-8"
            )
        return value

    @model_validator(mode="after")
    def _one_location(self) -> CsvConfig:
        if (self.directory is None) == (self.path is None):
            raise ValueError("set exactly one of `directory` (a folder) or `path` (a glob)")
        names = [stream.name for stream in self.streams]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"stream names must be unique; defined twice: {twice}")
        return self

    def root(self) -> Path:
        """The folder the streams' globs are relative to."""
        if self.directory is not None:
            return self.directory
        return _split_glob(self.path or "")[0]

    def files_pattern(self, stream: StreamSpec) -> str:
        """The glob of ``stream``'s files, relative to :meth:`root`."""
        if stream.files is not None:
            return stream.files
        if self.path is not None:
            return _split_glob(self.path)[1]
        return f"{stream.name}*"


def _split_glob(path: str) -> tuple[Path, str]:
    """``/srv/exports/2024-*/conv*.csv`` -> (``/srv/exports``, ``2024-*/conv*.csv``)."""
    parts = PurePath(path).parts
    for index, part in enumerate(parts):
        if _GLOB_CHARS & set(part):
            return Path(*parts[:index]) if index else Path(), "/".join(parts[index:])
    whole = Path(path)
    return whole.parent, whole.name
