"""Declarative mappings: source stream records -> canonical schema rows.

A mapping file (``mappings/<source>.yaml``, see docs/mapping.md) says, per
source stream, which canonical entity a record becomes, where its id is, and
where each column's value comes from. :class:`Mappings` reads and validates
every file at start-up, reporting all problems at once with file, line and
fix; :meth:`Mappings.compile` turns one stream (plus the overrides of one
connection) into a :class:`CompiledMapping`, a plain function the runner
calls for every record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hub.errors import MappingFileError, PluginError, Problem
from hub.mapping.checker import Checker
from hub.mapping.compiler import CompiledMapping, compile_stream
from hub.mapping.converters import BUILTIN_CONVERTERS, Converter
from hub.mapping.files import parse_file
from hub.mapping.nodes import as_nodes, merge
from hub.mapping.spec import StreamSpec
from hub.yamlfile import Origin, YDict

__all__ = ["BUILTIN_CONVERTERS", "CompiledMapping", "Mappings", "load_mappings"]


class Mappings:
    """Every mapping file the hub knows, parsed and validated; compiles streams on demand."""

    def __init__(
        self,
        files: Sequence[Path],
        converters: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        """Parse and validate ``files``; raise MappingFileError listing every problem.

        ``converters`` are the plugin converters, added to the built-in ones. A
        later file may define a stream an earlier one already did (the same
        source): the later one wins, so a merchant's own file can replace a
        shipped stream mapping.
        """
        clashes = sorted(set(converters or {}) & set(BUILTIN_CONVERTERS))
        if clashes:
            raise PluginError(
                f"plugin converter name(s) {', '.join(clashes)} clash with built-in converters",
                hint="rename the plugin's converter (e.g. prefix it with the plugin name)",
            )
        self.converters: dict[str, Converter] = {**BUILTIN_CONVERTERS, **(converters or {})}
        self._streams: dict[str, dict[str, StreamSpec]] = {}
        self._raw: dict[str, dict[str, tuple[YDict, str]]] = {}
        self._cache: dict[tuple[str, str, str, str], CompiledMapping] = {}
        problems: list[Problem] = []
        for path in files:
            spec, found = parse_file(Path(path), self.converters)
            problems += found
            if spec.source is None:
                continue
            self._streams.setdefault(spec.source, {}).update(spec.streams)
            raw = self._raw.setdefault(spec.source, {})
            for name, node in spec.raw_streams.items():
                raw[name] = (node, spec.file)
        if problems:
            raise MappingFileError(problems)

    def sources(self) -> list[str]:
        """The source (connector) names that have at least one stream mapping."""
        return sorted(source for source, streams in self._streams.items() if streams)

    def streams(self, source: str) -> list[str]:
        """The stream names of ``source`` that have a mapping."""
        return sorted(self._streams.get(source, {}))

    def has(self, source: str, stream: str) -> bool:
        return stream in self._streams.get(source, {})

    def spec(self, source: str, stream: str) -> StreamSpec:
        """The validated (not yet compiled) mapping of one stream."""
        return self._streams[source][stream]

    def compile(
        self,
        source: str,
        stream: str,
        overrides: Mapping[str, Any] | None = None,
        *,
        origin: str = "hub.yaml",
        location: str | None = None,
    ) -> CompiledMapping:
        """The compiled mapping of ``source``/``stream``, with a connection's overrides.

        ``overrides`` is the stream's block under
        ``connections.<name>.mapping_overrides.<stream>`` in ``origin`` (the
        config file), deep-merged onto the stream's mapping: a key set to null
        removes it. Problems it causes raise MappingFileError naming ``origin``
        and ``location`` (default ``mapping_overrides.<stream>``). Compiled
        mappings are cached per (source, stream, overrides).
        """
        if not self.has(source, stream):
            known = ", ".join(self.streams(source)) or "(none)"
            raise MappingFileError(
                [
                    Problem(
                        origin if overrides else "(mappings)",
                        f"{source}.{stream}",
                        f"no mapping file maps stream {stream!r} of source {source!r}",
                        None,
                        f"mapped streams of {source}: {known}; add the stream to a mapping file",
                    )
                ]
            )
        key = (source, stream, _overrides_key(overrides), origin)
        compiled = self._cache.get(key)
        if compiled is None:
            spec = self._streams[source][stream]
            if overrides:
                spec = self._with_overrides(source, stream, overrides, origin, location)
            compiled = compile_stream(spec)
            self._cache[key] = compiled
        return compiled

    def _with_overrides(
        self,
        source: str,
        stream: str,
        overrides: Mapping[str, Any],
        origin: str,
        location: str | None,
    ) -> StreamSpec:
        base, file = self._raw[source][stream]
        layer = as_nodes(overrides, Origin(origin, None, override=True))
        if not isinstance(layer, YDict):
            raise MappingFileError(
                [
                    Problem(
                        origin,
                        location or f"mapping_overrides.{stream}",
                        "a mapping override must be a mapping (e.g. fields: {...})",
                    )
                ]
            )
        merged = merge(base, layer)
        checker = Checker(self.converters, file=file, stream=stream, override_location=location)
        spec = checker.stream_spec(source, merged)
        if checker.problems or spec is None:
            raise MappingFileError(checker.problems)
        return spec


def _overrides_key(overrides: Mapping[str, Any] | None) -> str:
    if not overrides:
        return ""
    try:
        return json.dumps(overrides, sort_keys=True, default=repr)
    except TypeError:  # keys of mixed types (children by index and by entity)
        return repr(overrides)


def load_mappings(extra_files: Sequence[Path] = ()) -> Mappings:
    """The mapping files and converters every plugin registered, plus ``extra_files``.

    ``extra_files`` (the config's ``mappings:`` list) come last, so their
    streams replace a plugin's mapping of the same stream.
    """
    from hub.plugins import get_registry  # late: plugins import connectors

    registry = get_registry()
    converters = {name: item.obj for name, item in registry.converters.items()}
    return Mappings([*registry.mapping_files, *extra_files], converters)
