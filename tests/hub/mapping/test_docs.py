"""docs/mapping.md stays true: its example loads, and every key and converter is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.mapping import BUILTIN_CONVERTERS, Mappings
from hub.mapping.spec import CHILD_KEYS, FIELD_KEYS, FILE_KEYS, ROOT_KEYS
from tests.hub.mapping.helpers import rows

DOC = Path(__file__).resolve().parents[3] / "docs" / "mapping.md"
TEXT = DOC.read_text(encoding="utf-8")


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.DOTALL)


def test_the_complete_example_loads_and_maps(tmp_path: Path) -> None:
    path = tmp_path / "shopify.yaml"
    path.write_text(yaml_blocks()[0], encoding="utf-8")
    mapping = Mappings([path]).compile("shopify", "orders")
    order = {
        "id": 1,
        "order_number": 1001,
        "currency": "eur",
        "total_price": "10.00",
        "note_attributes": [{"name": "partner", "value": "7"}],
        "line_items": [{"id": 3, "sku": "A", "quantity": 1, "price": "10.00"}],
    }
    assert [entity for entity, _ in rows(mapping, order)] == [
        "conversion",
        "conversion_item",
        "partner",
    ]


@pytest.mark.parametrize("name", sorted(BUILTIN_CONVERTERS))
def test_every_converter_is_documented(name: str) -> None:
    assert re.search(rf"^\|[^|]*`{name}`", TEXT, flags=re.MULTILINE), name


@pytest.mark.parametrize("key", sorted({*FILE_KEYS, *ROOT_KEYS, *CHILD_KEYS, *FIELD_KEYS}))
def test_every_key_is_documented(key: str) -> None:
    assert f"| `{key}` |" in TEXT, key
