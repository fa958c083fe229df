"""google-auth (and the crypto it loads, about 15 MB) is imported only by a GA4 sign-in."""

from __future__ import annotations

import subprocess
import sys


def test_listing_plugins_and_loading_mappings_does_not_load_google_auth() -> None:
    script = (
        "import sys\n"
        "from hub.mapping import load_mappings\n"
        "import connectors.ga4, connectors.ga4.client\n"
        "load_mappings().compile('ga4', 'purchases', None, origin='test')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'google', 'cryptography'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
