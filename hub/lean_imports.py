"""Imported first by the ``hub`` command: keeps what it never uses out of its memory.

httpx imports its own command-line client at import time whenever rich and
click are installed (they are: typer needs them), and with it pygments and its
lexers: 3.3 MB of the 100 MB a sync may use (docs/performance.md), for a tool
the hub never runs. The ``hub`` process is ours, so httpx gets the fallback it
ships for a missing client (``httpx.main`` then says the client cannot run).
Only the command imports this module; the hub used as a library leaves httpx
alone.
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
