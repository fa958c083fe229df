"""Reading one mapping file: its header (source, version) and each of its streams."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hub.errors import Problem
from hub.mapping.checker import Checker
from hub.mapping.converters import Converter
from hub.mapping.nodes import load_mapping_file
from hub.mapping.spec import FILE_KEYS, SUPPORTED_VERSIONS, FileSpec, close_matches
from hub.yamlfile import YDict, origin_of


def parse_file(path: Path, converters: Mapping[str, Converter]) -> tuple[FileSpec, list[Problem]]:
    """Parse and validate ``path``; returns what it defines and every problem found."""
    file = str(path)
    spec = FileSpec(file)
    document, problems = load_mapping_file(path)
    if document is None and problems:
        return spec, problems

    def problem(node: object, key: object, location: str, message: str, hint: str) -> None:
        origin = origin_of(node, key)
        problems.append(Problem(file, location, message, origin.line if origin else None, hint))

    if not isinstance(document, YDict):
        problem(
            document,
            None,
            "",
            "a mapping file must be a mapping with source, version and streams",
            "start from the example in docs/mapping.md",
        )
        return spec, problems
    for key in document:
        if key not in FILE_KEYS:
            problem(
                document,
                key,
                str(key),
                f"unknown top-level key {key!r}{close_matches(key, FILE_KEYS)}",
                f"the top-level keys are: {', '.join(FILE_KEYS)}",
            )
    source = document.get("source")
    if not isinstance(source, str) or not source.strip() or source != source.strip():
        problem(
            document,
            "source" if "source" in document else None,
            "source",
            f"`source` must name the connector whose streams this file maps, got {source!r}",
            "e.g. source: shopify (the name `hub connectors` lists)",
        )
    else:
        spec.source = source
    version = document.get("version", 1)
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        problem(
            document,
            "version",
            "version",
            f"unsupported mapping language version {version!r}",
            f"this hub reads version {', '.join(map(str, SUPPORTED_VERSIONS))}",
        )
    streams = document.get("streams")
    if not isinstance(streams, YDict) or not streams:
        problem(
            document,
            "streams" if "streams" in document else None,
            "streams",
            "`streams` must map each source stream name to its mapping",
            "e.g. streams: {orders: {entity: conversion, external_id: id, fields: {...}}}",
        )
        return spec, problems
    for name, node in streams.items():
        if not isinstance(name, str) or not name:
            problem(streams, name, f"streams.{name}", "a stream name must be text", "quote it")
            continue
        checker = Checker(converters, file=file, stream=name)
        stream = checker.stream_spec(spec.source or "", node)
        problems.extend(checker.problems)
        spec.raw_streams[name] = node
        if stream is not None and spec.source is not None:
            spec.streams[name] = stream
    return spec, problems
