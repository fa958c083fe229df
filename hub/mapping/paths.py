"""Paths into a source record: parsing, and compiled getters.

Grammar (see docs/mapping.md, "Paths")::

    path     := "$" | "$." steps | "^" | "^." steps | "#" | steps
    steps    := step ("." step | "[" selector "]")*
    step     := key [ "[" selector "]" ]...
    selector := ""                      # []      every element (collects)
              | "?" conditions          # [?k=v]  every matching element (collects)
              | conditions              # [k=v]   the first matching element
    conditions := key "=" text ("&" key "=" text)*

A key made only of digits (optionally with a leading ``-``) also indexes a
list (``line_items.0.sku``). ``$`` is the whole record (or the element,
inside an ``each`` child), ``^`` the parent record, ``#`` the element's
0-based index. A missing key, a null on the way, or an index out of range
yields ``None``; a path that collects always yields a list (nulls dropped,
nested collections flattened).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hub.mapping.codegen import Code

Base = Literal["record", "parent", "index"]


class PathError(ValueError):
    """A path that does not follow the grammar; the message says where and why."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Key:
    """A mapping key; ``index`` is set when the key also reads as a list index."""

    name: str
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Each:
    """``[]``: every element of a list."""


@dataclass(frozen=True, slots=True)
class Filter:
    """``[k=v&...]`` (first match) or ``[?k=v&...]`` (every match) over a list of mappings."""

    conditions: tuple[tuple[str, str], ...]
    first: bool


Segment = Key | Each | Filter


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path: what it starts from and the steps taken from there."""

    text: str
    base: Base
    segments: tuple[Segment, ...]

    @property
    def collects(self) -> bool:
        """True when the path yields a list of every match rather than one value."""
        return any(
            isinstance(s, Each) or (isinstance(s, Filter) and not s.first) for s in self.segments
        )

    @property
    def is_whole(self) -> bool:
        """True for ``$``, ``^`` and ``#``: the path reads no particular key."""
        return not self.segments

    @property
    def is_simple(self) -> bool:
        """True when every step is a key (no collecting, no filter)."""
        return all(isinstance(s, Key) for s in self.segments)


_SPECIAL = ".[]"


def parse_path(text: Any) -> Path:
    """Parse ``text``; raise :class:`PathError` with the position of the first mistake."""
    if not isinstance(text, str):
        raise PathError(
            f"a path must be text, not {type(text).__name__} {text!r}",
            "quote it, e.g. path: '123' (a number alone is not a path)",
        )
    if not text or text != text.strip():
        raise PathError(
            f"path {text!r} is empty or has spaces around it",
            "write the key names joined by dots, e.g. billing_address.country_code",
        )
    if text == "#":
        return Path(text, "index", ())
    base: Base = "record"
    rest = text
    if text in ("$", "^"):
        return Path(text, "record" if text == "$" else "parent", ())
    if text.startswith(("$.", "^.")):
        base = "record" if text[0] == "$" else "parent"
        rest = text[2:]
        if not rest:
            raise PathError(f"path {text!r} ends after {text!r}", f"write {text[0]!r} alone")
    return Path(text, base, tuple(_parse_steps(text, rest)))


def _parse_steps(text: str, rest: str) -> list[Segment]:
    segments: list[Segment] = []
    position = 0
    expect_key = True
    while position < len(rest):
        char = rest[position]
        if char == "[":
            end = rest.find("]", position)
            if end < 0:
                raise PathError(f"path {text!r}: '[' without a closing ']'", "close the bracket")
            if not segments:
                raise PathError(
                    f"path {text!r}: a selector needs a key before it",
                    "write the list's key first, e.g. line_items[]",
                )
            segments.append(_parse_selector(text, rest[position + 1 : end]))
            position = end + 1
            expect_key = False
            continue
        if char == ".":
            if expect_key:
                raise PathError(
                    f"path {text!r}: empty key at position {position + 1}",
                    "remove the doubled or leading dot",
                )
            expect_key = True
            position += 1
            if position == len(rest):
                raise PathError(f"path {text!r} ends with a dot", "remove the trailing dot")
            continue
        if char == "]":
            raise PathError(f"path {text!r}: ']' without an opening '['", "remove it")
        if not expect_key:
            raise PathError(
                f"path {text!r}: expected '.' or '[' after ']' at position {position + 1}",
                "separate steps with a dot, e.g. items[].sku",
            )
        end = position
        while end < len(rest) and rest[end] not in _SPECIAL:
            end += 1
        segments.append(_key(rest[position:end]))
        position = end
        expect_key = False
    return segments


def _key(name: str) -> Key:
    digits = name[1:] if name.startswith("-") else name
    index = int(name) if digits.isdigit() and digits.isascii() else None
    return Key(name, index)


def _parse_selector(text: str, inner: str) -> Segment:
    if inner == "":
        return Each()
    first = not inner.startswith("?")
    body = inner if first else inner[1:]
    conditions: list[tuple[str, str]] = []
    for part in body.split("&"):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise PathError(
                f"path {text!r}: selector [{inner}] is not [] nor key=value conditions",
                "write e.g. note_attributes[name=awc].value (first match) or "
                "items[?type=gift] (every match)",
            )
        conditions.append((key, value))
    return Filter(tuple(conditions), first)


# ---------------------------------------------------------------------------
# Runtime helpers, shared by compiled mappings.


def as_text(value: Any) -> str:
    """The text form used for ids and filter comparisons (bools as true/false)."""
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".15g")
    return str(value)


def get_key(value: Any, name: str, index: int | None) -> Any:
    """``value[name]`` for a mapping, ``value[index]`` for a list; ``None`` when absent."""
    if value.__class__ is dict or isinstance(value, Mapping):
        return value.get(name)
    if index is not None and value.__class__ is list:
        try:
            return value[index]
        except IndexError:
            return None
    return None


def matches(element: Any, conditions: tuple[tuple[str, str], ...]) -> bool:
    """True when ``element`` is a mapping whose every condition key has that text value."""
    if element.__class__ is not dict and not isinstance(element, Mapping):
        return False
    for key, expected in conditions:
        found = element.get(key)
        if found is None:
            return False
        if found != expected and (found.__class__ is str or as_text(found) != expected):
            return False
    return True


# ---------------------------------------------------------------------------
# Generated readers.


def emit_getter(code: Code, path: Path) -> str:
    """Write a helper function reading ``path`` from its base value; return its name.

    Simple key chains are read inline by the compiler; this handles paths
    with ``[]``, filters and indexes as straight-line code with loops.
    """
    name = code.unique("_get")
    collects = path.collects
    lines = [f"def {name}(x):"]
    if collects:
        lines.append("    out = []")
    fail = "return out" if collects else "return None"
    _emit_steps(code, lines, path.segments, "x", 1, fail, collects, 0)
    if collects:
        lines.append("    return out")
    code.helper(lines)
    return name


def _emit_steps(
    code: Code,
    lines: list[str],
    segments: tuple[Segment, ...],
    var: str,
    indent: int,
    fail: str,
    collects: bool,
    depth: int,
) -> None:
    pad = "    " * indent
    for number, segment in enumerate(segments):
        depth += 1
        if isinstance(segment, Key):
            new = f"w{depth}"
            key = repr(segment.name)
            if segment.index is None:
                lines.append(
                    f"{pad}{new} = {var}.get({key}) if {var}.__class__ is dict "
                    f"else _gk({var}, {key}, None)"
                )
            else:
                lines.append(f"{pad}{new} = _gk({var}, {key}, {segment.index})")
            lines.append(f"{pad}if {new} is None: {fail}")
            var = new
            continue
        element = f"e{depth}"
        test = match_test(code, segment.conditions, element) if isinstance(segment, Filter) else ""
        if isinstance(segment, Filter) and segment.first:
            lines.append(f"{pad}for {element} in {var} if {var}.__class__ is list else ():")
            lines.append(f"{pad}    if {test}: break")
            lines.append(f"{pad}else:")
            lines.append(f"{pad}    {fail}")
            var = element
            continue
        lines.append(f"{pad}if {var}.__class__ is not list: {fail}")
        lines.append(f"{pad}for {element} in {var}:")
        lines.append(f"{pad}    if {element} is None: continue")
        if test:
            lines.append(f"{pad}    if not ({test}): continue")
        rest = segments[number + 1 :]
        _emit_steps(code, lines, rest, element, indent + 1, "continue", collects, depth)
        return
    lines.append(f"{pad}out.append({var})" if collects else f"{pad}return {var}")


def match_test(code: Code, conditions: tuple[tuple[str, str], ...], element: str) -> str:
    """An inline expression equal to ``matches(element, conditions)``, fast for dicts."""
    checks = []
    for key, expected in conditions:
        value = code.bind(expected, "_want")
        checks.append(
            f"(q := {element}.get({key!r})) is not None and "
            f"(q == {value} or (q.__class__ is not str and _as_text(q) == {value}))"
        )
    slow = f"_matches({element}, {code.bind(conditions, '_cond')})"
    return f"(({' and '.join(checks)}) if {element}.__class__ is dict else {slow})"


HELPERS: dict[str, Any] = {"_gk": get_key, "_matches": matches, "_as_text": as_text}


def compile_getter(path: Path) -> Callable[[Any], Any]:
    """A standalone function reading ``path`` (for tools and tests; mappings inline it)."""
    code = Code(HELPERS)
    name = emit_getter(code, path)
    exec(compile(code.source(), f"<path {path.text}>", "exec"), code.ns)  # noqa: S102
    return code.ns[name]
