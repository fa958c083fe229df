"""hub.lean_imports: the `hub` command does not load httpx's own CLI (and pygments)."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_module_keeps_httpx_cli_and_pygments_out() -> None:
    script = (
        "import sys, hub.cli, httpx\n"
        "print('pygments' in sys.modules, sys.modules.get('httpx._main'))\n"
        "print(httpx.Client is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "None", "True"]


def test_the_hub_as_a_library_leaves_httpx_alone() -> None:
    script = (
        "import sys, httpx, hub.lean_imports\nprint(sys.modules.get('httpx._main') is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "True"
