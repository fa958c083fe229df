"""A small writer for generated Python source, shared by the mapping compiler's parts.

Generated code refers to values (converters, constants, lookup tables) by
names bound in the namespace it is executed in; :meth:`Code.bind` hands out
those names. Only identifiers made here and ``repr()`` of ``str`` keys ever
appear in the source.
"""

from __future__ import annotations

from typing import Any


class Code:
    """Lines of the main function, helper functions before it, and their namespace."""

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self.lines: list[str] = []
        self.helpers: list[str] = []
        self.ns: dict[str, Any] = dict(namespace or {})
        self._count = 0

    def unique(self, prefix: str) -> str:
        """A fresh identifier starting with ``prefix``."""
        self._count += 1
        return f"{prefix}{self._count}"

    def bind(self, value: Any, prefix: str = "_k") -> str:
        """A fresh name bound to ``value`` in the namespace."""
        name = self.unique(prefix)
        self.ns[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        """A line of the main function."""
        self.lines.append("    " * indent + line)

    def helper(self, lines: list[str]) -> None:
        """A complete helper function (its lines, unindented ``def`` first)."""
        self.helpers.extend([*lines, ""])

    def source(self) -> str:
        return "\n".join([*self.helpers, *self.lines]) + "\n"
