"""The ``extra`` column: a record minus everything the mapping placed.

The paths a mapping reads are merged into one removal tree per row kind,
compiled once into a pruning function. Pruning copies only what it changes
(untouched sub-objects are shared with the record, never mutated), removes
just the leaves that were placed, and drops dicts and lists that removing
made empty. A leaf can be conditional: a ``coalesce`` removes only the
alternative that supplied the value, so the others stay in ``extra``; the
pruner gets a bit mask saying which alternatives were used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hub.mapping.codegen import Code
from hub.mapping.paths import HELPERS, Each, Filter, Key, Path, Segment, match_test, matches

ALWAYS = -1  # a leaf removed whatever the mask says

Pruner = Callable[[Any, int], Any]


class _Gone:
    def __repr__(self) -> str:
        return "GONE"


GONE: Any = _Gone()


@dataclass
class Node:
    """What to remove at one place of the record."""

    leaf: int = 0  # 0: keep; ALWAYS: remove; other: remove when mask & leaf
    keys: dict[str, Node] = field(default_factory=dict)
    indexes: dict[int, Node] = field(default_factory=dict)
    each: Node | None = None
    filters: list[tuple[Filter, Node]] = field(default_factory=list)

    def add(self, segments: tuple[Segment, ...], bits: int) -> None:
        """Remove the value at ``segments`` (when ``bits`` match the mask)."""
        if self.leaf == ALWAYS:
            return
        if not segments:
            self.leaf = ALWAYS if bits == ALWAYS else self.leaf | bits
            return
        segment, rest = segments[0], segments[1:]
        if isinstance(segment, Key):
            child = self.keys.setdefault(segment.name, Node())
            child.add(rest, bits)
            if segment.index is not None:
                self.indexes.setdefault(segment.index, Node()).add(rest, bits)
        elif isinstance(segment, Each):
            if self.each is None:
                self.each = Node()
            self.each.add(rest, bits)
        else:
            assert isinstance(segment, Filter)
            node = Node()
            node.add(rest, bits)
            if rest:  # the condition keys were used to find the value: placed too
                for key, _ in segment.conditions:
                    node.add((Key(key),), bits)
            self.filters.append((segment, node))


def build_tree(entries: Iterable[tuple[Path, int]]) -> Node:
    """One removal tree from (path, bits) pairs; whole-record paths remove nothing."""
    root = Node()
    for path, bits in entries:
        if path.segments and path.base != "index":
            root.add(path.segments, bits)
    return root


def emit_pruner(code: Code, root: Node) -> str:
    """Write the helpers computing ``extra`` for ``root``; return the entry function's name.

    The entry function takes ``(record, mask)`` and returns a new dict.
    """
    code.ns.setdefault("_GONE", GONE)
    code.ns.update(HELPERS)
    if root.keys and not root.leaf:
        return _emit_inline_entry(code, root)
    inner = _emit_node(code, root)
    name = code.unique("_extra")
    code.helper(
        [
            f"def {name}(x, m):",
            "    if x.__class__ is not dict:",
            "        return dict(x) if isinstance(x, dict) else {}",
            f"    r = {inner}(x, m)",
            "    return {} if r is _GONE else r",
        ]
    )
    return name


def _emit_inline_entry(code: Code, root: Node) -> str:
    """The entry function with the root's key removals in its own body (one call per row
    less than entry + pruner).

    Same result: a dict record is copied and pruned, and a copy pruned down to
    nothing is the empty dict the entry returns for ``GONE``; the record's list
    selectors never apply to the record itself, which is a dict.
    """
    name = code.unique("_extra")
    lines = [
        f"def {name}(x, m):",
        "    if x.__class__ is not dict:",
        "        return dict(x) if isinstance(x, dict) else {}",
        "    out = x.copy()",
        *_key_lines(code, root, "x", "out", 1, 0),
        "    return out",
    ]
    code.helper(lines)
    return name


def _emit_node(code: Code, node: Node) -> str:
    """A helper ``(value, mask) -> value | GONE`` for one node; its name."""
    if node.leaf == ALWAYS:
        return code.bind(_gone, "_gone")
    name = code.unique("_prune")
    lines = [f"def {name}(x, m):"]
    if node.leaf:
        lines.append(f"    if m & {node.leaf}: return _GONE")
    if node.keys:
        lines += _dict_lines(code, node)
    if node.each is not None or node.indexes or node.filters:
        lines += _list_lines(code, node)
    lines.append("    return x")
    code.helper(lines)
    return name


def _dict_lines(code: Code, node: Node) -> list[str]:
    lines = ["    if x.__class__ is dict:"]
    # copy, then pop the placed keys: the cost follows the mapping, not the record's size
    lines.append("        out = x.copy()")
    lines += _key_lines(code, node, "x", "out", 2, 0)
    lines += ["        if not out and x:", "            return _GONE", "        return out"]
    return lines


def _key_lines(code: Code, node: Node, x: str, out: str, indent: int, depth: int) -> list[str]:
    """Remove ``node``'s keys from ``out`` (a copy of the dict ``x``).

    A child holding only keys is pruned inline (no call per level); one with
    list selectors gets its own function. A child whose every removal depends
    on the mask is skipped when none of its bits is set: it would change nothing.
    """
    pad = "    " * indent
    drop = frozenset(k for k, n in node.keys.items() if n.leaf == ALWAYS)
    lines = [f"{pad}{out}.pop({key!r}, None)" for key in sorted(drop)]
    for key, child in node.keys.items():
        if child.leaf == ALWAYS:
            continue
        literal = repr(key)
        if child.leaf and not _has_children(child):
            lines.append(f"{pad}if m & {child.leaf}: {out}.pop({literal}, None)")
            continue
        bits = _bits(child)
        if bits != ALWAYS:
            lines.append(f"{pad}if m & {bits} and {literal} in {out}:")
        else:
            lines.append(f"{pad}if {literal} in {out}:")
        inner = pad + "    "
        if _has_lists(child):
            function = _emit_node(code, child)
            pruned = f"t{depth}"  # not r: inside a list, r is the element
            lines += [
                f"{inner}{pruned} = {function}({out}[{literal}], m)",
                f"{inner}if {pruned} is _GONE:",
                f"{inner}    del {out}[{literal}]",
                f"{inner}else:",
                f"{inner}    {out}[{literal}] = {pruned}",
            ]
            continue
        cx, co = f"x{depth + 1}", f"o{depth + 1}"
        if child.leaf:  # removed whole when its bit is set
            lines += [f"{inner}if m & {child.leaf}:", f"{inner}    del {out}[{literal}]"]
            lines.append(f"{inner}elif ({cx} := {out}[{literal}]).__class__ is dict:")
        else:
            lines.append(f"{inner}if ({cx} := {out}[{literal}]).__class__ is dict:")
        deeper = inner + "    "
        lines.append(f"{deeper}{co} = {cx}.copy()")
        lines += _key_lines(code, child, cx, co, indent + 2, depth + 1)
        lines += [
            f"{deeper}if not {co} and {cx}:",
            f"{deeper}    del {out}[{literal}]",
            f"{deeper}else:",
            f"{deeper}    {out}[{literal}] = {co}",
        ]
    return lines


def _bits(node: Node) -> int:
    """The mask bits any removal under ``node`` depends on; ALWAYS if one does not."""
    if node.leaf == ALWAYS:
        return ALWAYS
    bits = node.leaf
    children = [*node.keys.values(), *node.indexes.values(), *(n for _, n in node.filters)]
    if node.each is not None:
        children.append(node.each)
    for child in children:
        found = _bits(child)
        if found == ALWAYS:
            return ALWAYS
        bits |= found
    return bits if bits else ALWAYS


def _list_lines(code: Code, node: Node) -> list[str]:
    if node.indexes:
        general = code.bind(_general_list(node), "_list")
        return ["    if x.__class__ is list:", f"        return {general}(x, m)"]
    lines = ["    if x.__class__ is list:", "        out = []"]
    firsts = [n for n, (f, _) in enumerate(node.filters) if f.first]
    lines += [f"        done{n} = False" for n in firsts]
    lines += ["        for e in x:", "            r = e"]
    each = node.each
    if each is not None and not each.leaf and each.keys and not _has_lists(each):
        # elements that are objects with keys to remove: pruned inline, as _key_lines does
        lines += [
            "            if r.__class__ is dict:",
            "                o0 = r.copy()",
            *_key_lines(code, each, "r", "o0", 4, 0),
            "                if not o0 and r: continue",
            "                r = o0",
        ]
    elif each is not None:
        function = _emit_node(code, each)
        lines += [f"            r = {function}(r, m)", "            if r is _GONE: continue"]
    for number, (selector, child) in enumerate(node.filters):
        test = match_test(code, selector.conditions, "e")
        function = _emit_node(code, child)
        if selector.first:
            lines += [
                f"            if not done{number} and {test}:",
                f"                done{number} = True",
            ]
        else:
            lines.append(f"            if {test}:")
        lines += [
            f"                r = {function}(r, m)",
            "                if r is _GONE: continue",
        ]
    lines += [
        "            out.append(r)",
        "        if not out and x:",
        "            return _GONE",
        "        return out",
    ]
    return lines


def _has_lists(node: Node) -> bool:
    return bool(node.each is not None or node.indexes or node.filters)


def _has_children(node: Node) -> bool:
    return bool(node.keys or node.indexes or node.each is not None or node.filters)


def _gone(value: Any, mask: int) -> Any:
    return GONE


def _compile(node: Node) -> Pruner:
    """A generated pruner for ``node``, as a standalone function."""
    code = Code({"_GONE": GONE, **HELPERS})
    name = _emit_node(code, node)
    exec(compile(code.source(), "<extra>", "exec"), code.ns)  # noqa: S102
    return code.ns[name]


def _general_list(node: Node) -> Pruner:
    """Lists with index or filter selectors: each element gets every pruner that applies."""
    each = _compile(node.each) if node.each is not None else None
    indexes = {i: _compile(n) for i, n in node.indexes.items()}
    filters = [(f, _compile(n)) for f, n in node.filters]

    def prune_list(value: list[Any], mask: int) -> Any:
        out: list[Any] = []
        size = len(value)
        first_done: set[int] = set()
        for position, element in enumerate(value):
            prunes: list[Pruner] = []
            if each is not None:
                prunes.append(each)
            for index in (position, position - size):
                if index in indexes:
                    prunes.append(indexes[index])
            for number, (selector, prune) in enumerate(filters):
                if selector.first and number in first_done:
                    continue
                if matches(element, selector.conditions):
                    prunes.append(prune)
                    if selector.first:
                        first_done.add(number)
            result = element
            for prune in prunes:
                result = prune(result, mask)
                if result is GONE:
                    break
            if result is not GONE:
                out.append(result)
        if not out and value:
            return GONE
        return out

    return prune_list


def compile_pruner(root: Node) -> Callable[[Any, int], dict[str, Any]]:
    """A standalone ``(record, mask) -> extra`` function (for tools and tests)."""
    code = Code()
    name = emit_pruner(code, root)
    exec(compile(code.source(), "<extra>", "exec"), code.ns)  # noqa: S102
    return code.ns[name]
