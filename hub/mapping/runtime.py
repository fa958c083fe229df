"""Helpers the generated mapping functions call: error messages, ids, templates.

Every error names the stream, the record's external id, the entity (and the
element position inside an ``each`` child), the column, where its value came
from, and the offending value cut to a readable length; values of fields
that hold personal data are never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.errors import RecordError
from hub.mapping.paths import as_text, get_key

_MAX_VALUE_TEXT = 80


def short(value: Any) -> str:
    """``repr(value)``, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_TEXT else text[: _MAX_VALUE_TEXT - 3] + "..."


@dataclass(frozen=True)
class Site:
    """Where in a mapping a value is computed, for error messages."""

    stream: str
    entity: str
    column: str
    origin: str
    sensitive: bool

    def where(self, record_id: Any, index: Any) -> str:
        text = f"stream {self.stream}"
        if record_id is not None:
            text += f", record {record_id}"
        text += f": {self.entity}"
        if index is not None:
            text += f" (element {index})"
        return f"{text} {self.column} ({self.origin})"

    def value_text(self, value: Any) -> str:
        return "<personal data, not shown>" if self.sensitive else short(value)


def field_error(site: Site, value: Any, exc: Exception, record_id: Any, index: Any) -> RecordError:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, TypeError) and "unhashable" in reason:
        reason = "a list or object cannot be looked up in map"
    return RecordError(
        f"{site.where(record_id, index)}: {reason}; value {site.value_text(value)}",
        hint="fix the source record, or the field's convert/map/default in the mapping file",
    )


def required_error(site: Site, record_id: Any, index: Any) -> RecordError:
    return RecordError(
        f"{site.where(record_id, index)}: required, but the record has no value there",
        hint="the record is incomplete; if the value is optional, remove `required: true` "
        "or give the field a default",
    )


def unmapped_error(site: Site, value: Any, record_id: Any, index: Any) -> RecordError:
    return RecordError(
        f"{site.where(record_id, index)}: {site.value_text(value)} is not in the field's map",
        hint="add the value to `map:` in the mapping file, or set `unmapped: keep` or `null`",
    )


def missing_id(site: Site, value: Any, index: Any) -> RecordError:
    return RecordError(
        f"{site.where(None, index)}: no external id ({site.value_text(value)})",
        hint="every row needs the source's id for it; check the path of external_id",
    )


def not_a_list(site: Site, value: Any, record_id: Any) -> RecordError:
    return RecordError(
        f"{site.where(record_id, None)}: `each` expects a list, got "
        f"{type(value).__name__} {short(value)}",
        hint="point `each` at a list (or add [] to collect over nested lists)",
    )


def not_a_record(stream: str, value: Any) -> RecordError:
    return RecordError(
        f"stream {stream}: a record must be a JSON object, got {type(value).__name__} "
        f"{short(value)}",
        hint="this is a bug in the connector; report it to its authors",
    )


def id_text(value: Any) -> str:
    """An external id as text; objects and lists are not ids."""
    if isinstance(value, dict | list):
        raise TypeError("an id must be text or a number, not an object or a list")
    return as_text(value)


def key_reader(value: Any) -> Callable[[str], Any]:
    """What ``value.get`` is for a dict: reads a key as :func:`get_key` does (``None``
    for anything that is not a mapping). Each-children read many keys of one
    element; for a dict element they call its ``get`` directly."""

    def read(key: str) -> Any:
        return get_key(value, key, None)

    return read


def template_text(parts: tuple[Any, ...], values: list[Any]) -> str | None:
    """Render a template: literals and values as text; ``None`` when every value is null."""
    if all(v is None for v in values):
        return None
    out: list[str] = []
    it = iter(values)
    for part in parts:
        if part is None:
            value = next(it)
            if isinstance(value, list):
                out.append(",".join(as_text(x) for x in value if x is not None))
            elif value is not None:
                out.append(as_text(value))
        else:
            out.append(part)
    return "".join(out)
