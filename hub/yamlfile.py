"""YAML parsed with provenance: every key and item remembers its file and line.

The hub's input files (``hub.yaml``, mapping files) are validated after
parsing, so a problem found later (an unknown key, a bad path) must still
point at the line the user wrote. :func:`load_yaml` is the one place that
parses them. It builds :class:`YDict` / :class:`YList`, plain ``dict`` /
``list`` subclasses that also carry where each key or item came from, and
:func:`line_at` finds the line of a dotted location in such a document.

Input files are read defensively; everything below is a :class:`Problem`
with file and line, never a crash:

- ``yaml.SafeLoader`` semantics only (``!!python/...`` tags are refused);
- duplicate keys, which YAML silently collapses to the last one;
- files over :data:`MAX_FILE_BYTES`, nesting deeper than :data:`MAX_DEPTH`,
  aliases that refer to the block containing them, and aliases that repeat
  anchored blocks into more than :data:`MAX_ALIAS_NODES` extra values (the
  "billion laughs" bomb: a few lines that expand to gigabytes).
"""

from __future__ import annotations

import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.errors import Problem

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "Origin",
    "YDict",
    "YList",
    "format_location",
    "line_at",
    "load_yaml",
    "load_yaml_file",
    "origin_of",
]

#: Larger input files are refused unread: config and mapping files are a few kB.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: Deeper nesting is refused (Python's own recursion limit would stop it later, badly).
MAX_DEPTH = 100
#: How many values aliases (``*name``) may add beyond those written in the file.
MAX_ALIAS_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"

#: The fix for a YAML syntax error, chosen by a word of the parser's message.
_SYNTAX_HINTS = (
    ("\t", "indent with spaces; YAML does not allow tabs"),
    ("\\t", "indent with spaces; YAML does not allow tabs"),
    ("alias", 'a value starting with * must be quoted, e.g. schedule: "*/15 * * * *"'),
    ("levels deep", "flatten the structure: these files need only a few levels"),
    (
        "constructor for the tag",
        "remove the tag: only plain YAML values (text, numbers, dates, true/false, "
        "lists and mappings) are allowed",
    ),
)
_SYNTAX_HINT = (
    "check the indentation, the colons after keys and that brackets and quotes "
    "are closed around the line shown"
)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a key or value was written: file, 1-based line, and whether it is an override."""

    file: str
    line: int | None = None
    override: bool = False


class YDict(dict[Any, Any]):
    """A YAML mapping that remembers its own origin and the origin of each key."""

    __slots__ = ("key_origins", "origin")

    def __init__(self, origin: Origin, *args: Any) -> None:
        super().__init__(*args)
        self.origin = origin
        self.key_origins: dict[Any, Origin] = {}

    def origin_of(self, key: Any) -> Origin:
        """The origin of ``key`` (the mapping's own origin if the key is not known)."""
        return self.key_origins.get(key, self.origin)


class YList(list[Any]):
    """A YAML sequence that remembers its own origin and the origin of each item."""

    __slots__ = ("item_origins", "origin")

    def __init__(self, origin: Origin, *args: Any) -> None:
        super().__init__(*args)
        self.origin = origin
        self.item_origins: list[Origin] = []

    def origin_of(self, index: int) -> Origin:
        """The origin of item ``index`` (the sequence's own origin if out of range)."""
        if 0 <= index < len(self.item_origins):
            return self.item_origins[index]
        return self.origin


def origin_of(node: Any, key: Any = None) -> Origin | None:
    """The origin of ``node[key]`` (or of ``node``) when ``node`` carries provenance."""
    if isinstance(node, YDict | YList):
        return node.origin if key is None else node.origin_of(key)
    return None


def line_at(document: Any, location: Sequence[str | int]) -> int | None:
    """The line of ``location`` (keys and indexes) in ``document``.

    When ``location`` is not in the document (a missing key, a plain dict),
    the line of the nearest enclosing key or item that is there, so a
    "required key is missing" problem points at the block that lacks it.
    """
    origin = origin_of(document)
    line = None if origin is None else origin.line
    node = document
    for part in location:
        in_dict = isinstance(node, YDict) and part in node
        in_list = isinstance(node, YList) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break
        line = node.origin_of(part).line
        node = node[part]
    return line


def format_location(location: Sequence[Any]) -> str:
    """``("connections", "shop", "streams", 1)`` as ``connections.shop.streams[1]``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# --------------------------------------------------------------------------- loader


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences are YDict / YList with line numbers."""

    file_name = "<string>"
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # The composer recurses once per level: stop at MAX_DEPTH with a position,
        # long before Python's recursion limit would stop it with a traceback.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"the values are nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _mark_origin(loader: _Loader, node: yaml.Node) -> Origin:
    return Origin(loader.file_name, node.start_mark.line + 1)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Iterator[YDict]:
    data = YDict(_mark_origin(loader, node))
    yield data
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys like safe_load does
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key (a list or mapping used as a key)",
                key_node.start_mark,
            ) from None
        # A later key wins, as in safe_load: an explicit key over a merged one.
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_origins[key] = _mark_origin(loader, key_node)


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Iterator[YList]:
    data = YList(_mark_origin(loader, node))
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_origins.append(_mark_origin(loader, item))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(
    text: str,
    file: str,
    *,
    hints: Mapping[str, str] | None = None,
    syntax_error: str = "invalid YAML",
) -> tuple[Any, list[Problem]]:
    """Parse ``text`` (the contents of ``file``) into YDict / YList / plain scalars.

    Returns the document (``None`` when it is empty or refused) and the
    problems found: YAML syntax errors with line and column, duplicate keys,
    and the documents refused as too large, too deep or alias bombs.
    ``hints`` adds fixes for syntax errors whose message contains a word
    (tried before the built-in ones); ``syntax_error`` starts their message.
    """
    if len(text) > MAX_FILE_BYTES:  # characters here; load_yaml_file counts bytes
        return None, [_too_large(file)]
    try:
        loader = _Loader(text)  # checks every character first
    except yaml.reader.ReaderError as exc:
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "?"
        return None, [
            Problem(
                file,
                "",
                f"{syntax_error}: unacceptable character {character}: {exc.reason}",
                text[: exc.position].count("\n") + 1,
                "remove the control character from this line",
            )
        ]
    loader.file_name = file
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        refused = _alias_problem(node, file)
        if refused is not None:
            return None, [refused]
        duplicates = _duplicate_keys(node, file)
        return loader.construct_document(node), duplicates
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, file, hints or {}, syntax_error)]
    finally:
        loader.dispose()


def load_yaml_file(
    path: Path,
    *,
    what: str = "the file",
    hint: str = "check the path and the file's permissions",
    hints: Mapping[str, str] | None = None,
    syntax_error: str = "invalid YAML",
) -> tuple[Any, list[Problem]]:
    """Read and parse a YAML file; a missing, huge or non-UTF-8 file is a problem, not a crash.

    ``what`` names the file in "cannot read ..." and ``hint`` is the fix for
    that; ``hints`` and ``syntax_error`` are passed to :func:`load_yaml`.
    """
    file = str(path)
    try:
        # Opening a named pipe blocks until something writes to it: refuse pipes
        # and sockets before opening (a device such as /dev/zero is read bounded).
        if stat.S_ISFIFO(mode := path.stat().st_mode) or stat.S_ISSOCK(mode):
            kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket"
            return None, [Problem(file, "", f"cannot read {what}: it is {kind}", None, hint)]
        with path.open("rb") as stream:  # bounded read: also safe for /dev/zero
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Problem(file, "", f"cannot read {what}: {exc.strerror or exc}", None, hint)]
    if len(data) > MAX_FILE_BYTES:
        return None, [_too_large(file)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem(file, "", "the file is not UTF-8 text", line, "save it as UTF-8")]
    return load_yaml(text, file, hints=hints, syntax_error=syntax_error)


# ----------------------------------------------------------------------- problems


def _too_large(file: str) -> Problem:
    megabyte = 1024 * 1024
    limit = (
        f"{MAX_FILE_BYTES // megabyte} MB"
        if MAX_FILE_BYTES % megabyte == 0
        else f"{MAX_FILE_BYTES:,} bytes"
    )
    return Problem(
        file,
        "",
        f"the file is larger than {limit} and is not read",
        None,
        "check that this is the right file; config and mapping files are a few kB",
    )


def _syntax_problem(
    exc: yaml.MarkedYAMLError, file: str, hints: Mapping[str, str], syntax_error: str
) -> Problem:
    """A parser error as a problem with line, column, the enclosing block and a fix."""
    mark = exc.problem_mark or exc.context_mark
    where = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        where += f"; {exc.context} that starts at line {exc.context_mark.line + 1}"
    where = f" ({where.lstrip('; ')})" if where else ""
    detail = exc.problem or exc.context or "cannot be parsed"
    said = f"{exc.context} {detail}"
    hint = next(
        (fix for word, fix in (*hints.items(), *_SYNTAX_HINTS) if word in said), _SYNTAX_HINT
    )
    line = None if mark is None else mark.line + 1
    return Problem(file, "", f"{syntax_error}: {detail}{where}", line, hint)


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _alias_problem(root: yaml.Node, file: str) -> Problem | None:
    """Refuse documents whose aliases form a cycle or expand past the limits.

    Counts the values the document would have with every alias written out
    (each node once per place it appears) without building it, in time
    linear in the nodes actually written.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) when expanded
    open_nodes: set[int] = set()
    repeated = 0

    def line(node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1

    def measure(node: yaml.Node) -> tuple[int, int]:
        nonlocal repeated
        key = id(node)
        if key in open_nodes:
            raise _Refused(
                Problem(
                    file,
                    "",
                    "an alias refers to the block that contains it, so the value would never end",
                    line(node),
                    "point the alias at a block defined outside this one, or write the values out",
                )
            )
        if key in measured:  # reached again: through an alias
            size, depth = measured[key]
            repeated += size
            if repeated > MAX_ALIAS_NODES:
                raise _Refused(
                    Problem(
                        file,
                        "",
                        "aliases (*name) repeat anchored blocks so often that the document "
                        f"would grow by more than {MAX_ALIAS_NODES:,} values; it is refused "
                        "as a likely YAML bomb",
                        line(node),
                        "write repeated values out, or alias fewer or smaller blocks",
                    )
                )
            return size, depth
        open_nodes.add(key)
        size, depth = 1, 0
        for child in _child_nodes(node):
            child_size, child_depth = measure(child)
            size, depth = size + child_size, max(depth, child_depth)
        open_nodes.discard(key)
        measured[key] = (size, depth + 1)
        if depth + 1 > MAX_DEPTH:
            raise _Refused(
                Problem(
                    file,
                    "",
                    f"aliases nest the values more than {MAX_DEPTH} levels deep",
                    line(node),
                    "write the values out, or alias fewer nested blocks",
                )
            )
        return size, depth + 1

    try:
        measure(root)
    except _Refused as refused:
        return refused.problem
    return None


def _child_nodes(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield key_node
            yield value_node
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _key_of(node: yaml.Node) -> Any:
    """The Python value of a mapping key node as safe_load builds it; None if unhashable."""
    try:  # a fresh constructor: it keeps state per document
        key = yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        hash(key)
    except (yaml.YAMLError, TypeError):
        return None
    return key


def _duplicate_keys(root: yaml.Node, file: str) -> list[Problem]:
    """Keys written twice in one mapping: YAML keeps only the last, silently losing the first.

    Keys merged in with ``<<: *anchor`` are not duplicates: overriding them
    is what merge keys are for. A block reached again through an alias is
    checked once, at its first place.
    """
    problems: list[Problem] = []
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))
        if not isinstance(node, yaml.MappingNode):
            return
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                walk(value_node, path)
                continue
            key = _key_of(key_node)
            line = key_node.start_mark.line + 1
            if key is not None and key in first_line:
                first = first_line[key]
                problems.append(
                    Problem(
                        file,
                        format_location((*path, key)),
                        f"key {key!r} appears twice (lines {first} and {line}); YAML would "
                        f"silently keep only the last one, dropping the value on line {first}",
                        line,
                        "remove or rename one of the two",
                    )
                )
            elif key is not None:
                first_line[key] = line
            walk(value_node, (*path, key))

    walk(root, ())
    return problems
