"""Every hook in hub/hookspecs.py is documented in docs/hooks.md, with its real arguments
(in the spirit of datasette's tests/test_docs.py)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hub import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
# A hook's heading: "### hub_register_connectors(register)"
HEADING = re.compile(r"^#{2,4} +`?(hub_\w+)\(([^)]*)\)`?\s*$", re.MULTILINE)

HOOKS = {
    name: function
    for name, function in vars(hookspecs).items()
    if name.startswith("hub_") and hasattr(function, "hub_spec")
}


def documented() -> dict[str, list[str]]:
    text = DOCS.read_text(encoding="utf-8")
    return {
        name: [arg.strip() for arg in args.split(",") if arg.strip()]
        for name, args in HEADING.findall(text)
    }


def test_there_are_hooks_to_document() -> None:
    assert "hub_register_connectors" in HOOKS


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_is_documented_with_its_arguments(hook: str) -> None:
    docs = documented()
    assert hook in docs, f"{hook} is not documented in {DOCS.name}: add a '### {hook}(...)' section"
    arguments = list(inspect.signature(HOOKS[hook]).parameters)
    assert docs[hook] == arguments, f"{DOCS.name} documents {hook}({', '.join(docs[hook])})"


def test_every_documented_hook_exists() -> None:
    stale = sorted(set(documented()) - set(HOOKS))
    assert not stale, f"{DOCS.name} documents hooks that hub/hookspecs.py does not define: {stale}"
