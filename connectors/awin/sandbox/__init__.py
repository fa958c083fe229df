"""A local fake Awin API: demos without credentials, end-to-end tests, cassette-free checks.

``python -m connectors.awin.sandbox --port 8002`` serves advertiser 15880 on
127.0.0.1 and prints the hub.yaml block to sync it; in Python,
``with AwinSandbox(transactions=300, token=..., seed=1) as awin: awin.url``.
``AwinData(seed).transaction(i, now=...)`` is transaction ``i`` exactly as
served, for computing what a sync must produce. ``AwinSandbox(start=...)``
anchors the data in time and ``AwinSandbox.anchored_now()`` puts its "now" at
the real clock's; ``POST .../transactions/batch`` validates transactions
(:mod:`.validations`), recorded in ``sandbox.validations``. docs/decisions/0010-awin-sandbox.md
lists what it imitates and how faithfully.
"""

from .data import AwinData
from .server import AwinSandbox

__all__ = ["AwinData", "AwinSandbox"]
