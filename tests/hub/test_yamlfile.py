"""hub.yamlfile: YAML with the line of every key, safe loading, and refused bombs."""

from __future__ import annotations

import os
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from hub import yamlfile
from hub.errors import Problem
from hub.yamlfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    Origin,
    YDict,
    YList,
    format_location,
    line_at,
    load_yaml,
    load_yaml_file,
    origin_of,
)


def parse(text: str) -> object:
    document, problems = load_yaml(textwrap.dedent(text), "f.yaml")
    assert problems == []
    return document


def refused(text: str, file: str = "f.yaml") -> Problem:
    document, problems = load_yaml(text, file)
    assert document is None
    (problem,) = problems
    return problem


def billion_laughs(levels: int) -> str:
    """The classic bomb: each level lists the previous one 9 times (9**levels strings)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ provenance


def test_every_key_and_item_remembers_file_and_line() -> None:
    document = parse(
        """\
        # a comment
        name: shop
        streams:
          - orders
          - {id: 7, since: 2024-10-01}
        nested:
          deeper: {flag: true}
        """
    )
    assert isinstance(document, YDict)
    assert document == {
        "name": "shop",
        "streams": ["orders", {"id": 7, "since": date(2024, 10, 1)}],
        "nested": {"deeper": {"flag": True}},
    }
    assert document.origin == Origin("f.yaml", 2)
    assert [document.origin_of(key).line for key in document] == [2, 3, 6]
    streams = document["streams"]
    assert isinstance(streams, YList)
    assert [streams.origin_of(index).line for index in range(2)] == [4, 5]
    assert streams.origin_of(99) == streams.origin  # out of range: the list's own line
    assert document["nested"]["deeper"].origin_of("flag") == Origin("f.yaml", 7)
    assert document.origin_of("missing") == document.origin


def test_origin_of_plain_values() -> None:
    document = parse("a: {b: 1}\n")
    assert origin_of(document, "a") == Origin("f.yaml", 1)
    assert origin_of({"a": 1}, "a") is None
    assert origin_of("text") is None


def test_line_at_falls_back_to_the_nearest_enclosing_key() -> None:
    document = parse(
        """\
        connections:
          shop:
            streams: [orders, products]
            config:
              token: x
        """
    )
    assert line_at(document, ()) == 1
    assert line_at(document, ("connections", "shop", "config", "token")) == 5
    assert line_at(document, ("connections", "shop", "streams", 1)) == 3
    assert line_at(document, ("connections", "shop", "schedule")) == 2  # missing key
    assert line_at(document, ("connections", "shop", "streams", 5)) == 3  # no such item
    assert line_at(document, ("connections", "shop", "config", "token", "deeper")) == 5
    assert line_at({"connections": {}}, ("connections",)) is None  # built in code
    assert line_at(None, ("connections",)) is None


def test_format_location() -> None:
    assert format_location(("connections", "shop", "streams", 1, "name")) == (
        "connections.shop.streams[1].name"
    )
    assert format_location(()) == ""
    assert format_location((0, "a")) == "[0].a"


def test_empty_documents() -> None:
    for text in ("", "# only a comment\n", "---\n", "~\n"):
        assert load_yaml(text, "f.yaml") == (None, [])


# -------------------------------------------------------------- safe loading


def test_python_tags_are_refused() -> None:
    problem = refused("a: 1\nrun: !!python/object/apply:os.system ['true']\n")
    assert problem.file == "f.yaml"
    assert problem.line == 2
    assert "could not determine a constructor" in problem.message
    assert "only plain YAML values" in (problem.hint or "")


def test_syntax_error_names_line_column_and_enclosing_block() -> None:
    problem = refused("a: {b: 1\nc: 2\n")
    assert problem.message.startswith("invalid YAML: expected ',' or '}'")
    assert problem.message.endswith(
        "(line 2, column 2; while parsing a flow mapping that starts at line 1)"
    )
    assert problem.line == 2
    assert "brackets" in (problem.hint or "")


def test_caller_hints_and_wording() -> None:
    _, problems = load_yaml(
        "a: {b: c[]}\n", "f.yaml", hints={"flow": "quote it"}, syntax_error="not valid YAML"
    )
    (problem,) = problems
    assert problem.message.startswith("not valid YAML: ")
    assert problem.hint == "quote it"


def test_tabs_and_unquoted_stars_get_their_own_hints() -> None:
    assert refused("a:\n\tb: 1\n").hint == "indent with spaces; YAML does not allow tabs"
    assert "must be quoted" in (refused("schedule: */5 * * * *\n").hint or "")


def test_control_characters_are_refused_with_their_line() -> None:
    problem = refused("a: 1\nb: bell\x07\n")
    assert problem.line == 2
    assert "#x0007" in problem.message


def test_unhashable_keys_are_refused() -> None:
    problem = refused("? [a, b]\n: value\n")
    assert "unhashable key" in problem.message
    assert problem.line == 1


# ------------------------------------------------------------------ duplicates


def test_duplicate_keys_name_path_and_both_lines() -> None:
    text = "items:\n  - name: a\n    qty: 1\n    qty: 2\nitems2: {}\n"
    document, problems = load_yaml(text, "f.yaml")
    (problem,) = problems
    assert problem.location == "items[0].qty"
    assert problem.line == 4
    assert problem.message == (
        "key 'qty' appears twice (lines 3 and 4); YAML would silently keep only the last one, "
        "dropping the value on line 3"
    )
    assert problem.hint == "remove or rename one of the two"
    assert document["items"][0]["qty"] == 2  # still parsed, as safe_load would


def test_keys_equal_after_parsing_are_duplicates() -> None:
    _, problems = load_yaml("1: a\n0x1: b\n", "f.yaml")
    assert [p.line for p in problems] == [2]


def test_merge_keys_are_not_duplicates_and_explicit_keys_win() -> None:
    document = parse(
        """\
        defaults: &defaults {connector: shop, schedule: "0 * * * *"}
        connections:
          one:
            <<: *defaults
            schedule: "*/5 * * * *"
        """
    )
    one = document["connections"]["one"]
    assert one == {"connector": "shop", "schedule": "*/5 * * * *"}
    assert one.origin_of("schedule").line == 5  # the explicit key
    assert one.origin_of("connector").line == 1  # merged: where the value was written


def test_a_duplicate_inside_an_aliased_block_is_reported_once() -> None:
    _, problems = load_yaml("base: &b {x: 1, x: 2}\nuse: [*b, *b]\n", "f.yaml")
    assert [(p.location, p.line) for p in problems] == [("base.x", 1)]


# ------------------------------------------------------------- bombs and limits


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.monotonic()
    problem = refused(billion_laughs(9))  # 9**9 = 387 million strings if expanded
    assert time.monotonic() - started < 2
    assert "YAML bomb" in problem.message
    assert problem.line is not None and 1 <= problem.line <= 9
    assert problem.hint


def test_ordinary_anchors_and_aliases_are_fine() -> None:
    document = parse(billion_laughs(3))  # 9 lists of 9 lists of 9 strings: 819 values
    assert len(document["a2"]) == 9
    assert document["a2"][0] is document["a1"]  # shared, as safe_load shares them


def test_alias_budget_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlfile, "MAX_ALIAS_NODES", 10)
    anchor = "a: &a [1, 2, 3, 4]\n"  # a list node and 4 scalars: 5 values per alias
    assert load_yaml(anchor + "b: [*a, *a]\n", "f.yaml")[1] == []
    problem = refused(anchor + "b: [*a, *a, *a]\n")
    assert "more than 10 values" in problem.message
    assert problem.line == 1  # the anchored block that is repeated


def test_recursive_aliases_are_refused() -> None:
    problem = refused("a: &loop\n  child: *loop\n")
    assert "contains it" in problem.message
    assert problem.line == 1  # the anchor


def test_nesting_depth_limit() -> None:
    def nested(levels: int) -> str:
        return "[" * levels + "1" + "]" * levels  # the innermost scalar is one more level

    assert load_yaml(nested(MAX_DEPTH - 1), "f.yaml")[1] == []
    problem = refused(nested(MAX_DEPTH))
    assert f"nested more than {MAX_DEPTH} levels deep" in problem.message
    assert problem.line == 1
    assert "flatten" in (problem.hint or "")
    # far past Python's recursion limit: still a problem, not a RecursionError
    assert "levels deep" in refused(nested(50_000)).message


def test_aliases_cannot_nest_past_the_depth_limit() -> None:
    half = MAX_DEPTH // 2 + 1
    text = f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    problem = refused(text)
    assert f"more than {MAX_DEPTH} levels deep" in problem.message


def test_text_over_the_size_limit_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlfile, "MAX_FILE_BYTES", 20)
    assert load_yaml("a: 1234567890123456\n", "f.yaml")[1] == []  # exactly 20 characters
    problem = refused("a: 12345678901234567\n")
    assert problem.message == "the file is larger than 20 bytes and is not read"


# ---------------------------------------------------------------------- files


def test_load_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("a:\n  b: 1\n", encoding="utf-8")
    document, problems = load_yaml_file(path)
    assert problems == []
    assert document["a"].origin_of("b") == Origin(str(path), 2)


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    started = time.monotonic()
    document, problems = load_yaml_file(path)
    assert time.monotonic() - started < 2
    assert document is None
    (problem,) = problems
    assert problem.file == str(path)
    assert problem.message == "the file is larger than 5 MB and is not read"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_file_is_refused() -> None:
    _, problems = load_yaml_file(Path("/dev/zero"))
    assert "larger than" in problems[0].message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    # Regression: opening a FIFO blocks until a writer comes, so `hub validate`
    # with `mappings: [a-pipe]` hung forever.
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    started = time.monotonic()
    document, (problem,) = load_yaml_file(pipe, what="the mapping file")
    assert time.monotonic() - started < 2
    assert document is None
    assert problem.file == str(pipe)
    assert problem.message == "cannot read the mapping file: it is a named pipe"


def test_unreadable_files(tmp_path: Path) -> None:
    _, (missing,) = load_yaml_file(tmp_path / "nope.yaml")
    assert missing.message == "cannot read the file: No such file or directory"
    assert missing.hint == "check the path and the file's permissions"
    _, (named,) = load_yaml_file(tmp_path, what="the config file", hint="give a file")
    assert named.message.startswith("cannot read the config file: ")
    assert named.hint == "give a file"

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"a: 1\nb: \xff\xfe\n")
    _, (problem,) = load_yaml_file(binary)
    assert (problem.message, problem.line) == ("the file is not UTF-8 text", 2)
    assert problem.hint == "save it as UTF-8"


def test_crlf_line_endings_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "windows.yaml"
    path.write_bytes(b"a: 1\r\nb:\r\n  c: |\r\n    two\r\n    lines\r\nd: 2\r\n")
    document, problems = load_yaml_file(path)
    assert problems == []
    assert document["b"]["c"] == "two\nlines\n"
    assert document.origin_of("d").line == 6
