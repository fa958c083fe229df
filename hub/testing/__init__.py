"""Testing helpers for connector authors: the contract suite, fake APIs, pytest fixtures.

``from hub.testing import ConnectorContract`` and subclass it as ``Test<Name>``
to run the hub's standard connector checks; see ``docs/connector-authoring``
and ``hub.testing.plugin`` for the fixtures. Needs pytest (a dev dependency).
"""

from __future__ import annotations

import pytest

# Plain asserts in the contract report their values like asserts in a test module.
pytest.register_assert_rewrite("hub.testing.contract", "hub.testing.plugin")

from hub.testing.contract import ConnectorContract  # noqa: E402
from hub.testing.fake_api import FakeAPI  # noqa: E402

__all__ = ["ConnectorContract", "FakeAPI"]
