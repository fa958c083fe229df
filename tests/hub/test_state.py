"""Cursor state: per connection and stream, committed with the rows it covers."""

from __future__ import annotations

import pytest

from hub.state import load_state, reset_state, save_state
from hub.store import Store


def test_state_is_saved_per_connection_and_stream(store: Store) -> None:
    with store.transaction() as db:
        save_state(db, "shop", "orders", {"updated_at": "2025-01-01T00:00:00Z"})
        save_state(db, "shop", "products", {"page": 3})
        save_state(db, "other", "orders", {"updated_at": "1999"})
        save_state(db, "shop", "orders", {"updated_at": "2025-02-01T00:00:00Z"})
    with store.transaction() as db:
        assert load_state(db, "shop") == {
            "orders": {"updated_at": "2025-02-01T00:00:00Z"},
            "products": {"page": 3},
        }


def test_state_rolls_back_with_its_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as db:
        save_state(db, "shop", "orders", {"cursor": 1})
        raise RuntimeError
    with store.transaction() as db:
        assert load_state(db, "shop") == {}


def test_reset_one_stream_or_all(store: Store) -> None:
    with store.transaction() as db:
        save_state(db, "shop", "orders", {"a": 1})
        save_state(db, "shop", "products", {"b": 2})
        assert reset_state(db, "shop", ["orders"]) == 1
        assert load_state(db, "shop") == {"products": {"b": 2}}
        assert reset_state(db, "shop") == 1
        assert load_state(db, "shop") == {}
