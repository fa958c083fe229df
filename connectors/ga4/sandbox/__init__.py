"""A local fake GA4: demos without credentials, end-to-end tests, cassette-free checks.

``python -m connectors.ga4.sandbox --port 8003`` serves property 409876543 on
127.0.0.1 and prints the hub.yaml block to sync it; in Python,
``with GA4Sandbox(days=60, seed=1) as ga4: ga4.url``. It answers the Data
API's ``runReport`` (:mod:`.report`), Google's OAuth 2.0 token endpoint for a
sandbox service account (:mod:`.oauth`, ``ga4.service_account_info()``) and
the Measurement Protocol with its validation server (:mod:`.mp`).
``GA4Data(seed, start=...).day(i)`` is day ``i``'s data exactly as GA4 will
finally report it, for computing what a sync must produce.
docs/decisions/0012-ga4-sandbox.md lists what it imitates and how faithfully.
"""

from .data import GA4Data
from .server import GA4Sandbox

__all__ = ["GA4Data", "GA4Sandbox"]
