"""The built-in rest connector on httpx.MockTransport: paging modes, cursors, errors, contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.rest import RestConnector
from connectors.rest.settings import RestSettings
from connectors.rest.streams import cursor_key
from hub.connector import Checkpoint, Record
from hub.errors import AuthError, FatalConnectorError
from hub.testing import ConnectorContract

TOKEN = "rest-token-abcdef123456"
ITEMS = [
    {"id": i, "updated_at": f"2025-01-0{1 + i // 3}T0{i % 3}:00:00Z", "name": f"Partner {i} ✨"}
    for i in range(8)
]


def api(mode: str = "link", page_size: int = 3) -> Callable[[httpx.Request], httpx.Response]:
    """A fake partner API serving ITEMS in one of the paging styles."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": "invalid token"})
        if request.url.path != "/partners":
            return httpx.Response(404, json={"error": "no such endpoint"})
        query = request.url.params
        since = query.get("updated_since")
        rows = [
            r for r in ITEMS if since is None or cursor_key(r["updated_at"]) >= cursor_key(since)
        ]
        limit = int(query.get("limit", page_size))
        if mode == "link":
            start = int(query.get("page", 0))
            page = rows[start : start + limit]
            headers = {}
            if start + limit < len(rows):
                headers["Link"] = (
                    f'<https://api.test/partners?page={start + limit}&limit={limit}>; rel="next"'
                )
                if since:
                    headers["Link"] = headers["Link"].replace("?", f"?updated_since={since}&")
            return httpx.Response(200, json={"data": page}, headers=headers)
        if mode == "cursor":
            start = int(query.get("cursor") or 0)
            page = rows[start : start + limit]
            more = start + limit < len(rows)
            return httpx.Response(
                200, json={"data": page, "next": str(start + limit) if more else None}
            )
        start = int(query.get("offset", 0))
        return httpx.Response(200, json={"data": rows[start : start + limit]})

    return handle


def config(**stream: Any) -> dict[str, Any]:
    settings = {
        "path": "/partners",
        "records_path": "data",
        "cursor_field": "updated_at",
        "cursor_param": "updated_since",
        "page_size": 3,
        **stream,
    }
    return {"base_url": "https://api.test", "token": TOKEN, "streams": {"partners": settings}}


def read(mode: str, state: dict[str, Any] | None = None, **stream: Any) -> list[Any]:
    connector = RestConnector(
        RestSettings.model_validate(config(pagination=mode, **stream)),
        transport=httpx.MockTransport(api(mode)),
    )
    return list(connector.read(["partners"], {"partners": state} if state else {}))


@pytest.mark.parametrize("mode", ["link", "cursor", "offset"])
def test_every_paging_style_reads_every_record_once(mode: str) -> None:
    messages = read(mode)
    assert [m.data["id"] for m in messages if isinstance(m, Record)] == list(range(8))
    assert sum(isinstance(m, Checkpoint) for m in messages) == 3


def test_unsorted_api_checkpoints_the_old_cursor_until_the_stream_ends() -> None:
    checkpoints = [m.state for m in read("link") if isinstance(m, Checkpoint)]
    assert checkpoints == [{}, {}, {"cursor": "2025-01-03T01:00:00Z"}]


def test_sorted_api_moves_the_cursor_after_every_page() -> None:
    checkpoints = [
        m.state for m in read("link", sorted_by_cursor=True) if isinstance(m, Checkpoint)
    ]
    assert checkpoints == [
        {"cursor": "2025-01-01T02:00:00Z"},
        {"cursor": "2025-01-02T02:00:00Z"},
        {"cursor": "2025-01-03T01:00:00Z"},
    ]


def test_a_saved_cursor_is_sent_and_limits_the_records() -> None:
    records = [m for m in read("link", {"cursor": "2025-01-03T00:00:00Z"}) if isinstance(m, Record)]
    assert [r.data["id"] for r in records] == [6, 7]


def test_cursor_values_compare_as_instants_numbers_or_text() -> None:
    assert cursor_key("2025-01-01T01:00:00+01:00") == cursor_key("2025-01-01T00:00:00Z")
    assert cursor_key("10") > cursor_key("9")
    assert cursor_key(10) > cursor_key(9.5)


def test_records_that_are_not_objects_fail_with_a_hint() -> None:
    connector = RestConnector(
        RestSettings.model_validate(config(records_path="")),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[1, 2])),
    )
    with pytest.raises(FatalConnectorError, match="records_path"):
        list(connector.read(["partners"], {}))


def test_bad_token_is_an_auth_error_without_the_token() -> None:
    connector = RestConnector(
        RestSettings.model_validate({**config(), "token": "wrong-token-999999"}),
        transport=httpx.MockTransport(api()),
    )
    with pytest.raises(AuthError) as info:
        connector.check()
    assert "wrong-token-999999" not in str(info.value) and "401" in str(info.value)


class TestRestContract(ConnectorContract):
    connector_class = RestConnector
    secrets = (TOKEN,)
    bad_credentials_error = AuthError
    unchanged_source_yields_nothing = False  # the cursor is inclusive: the boundary is re-read

    def valid_config(self) -> dict[str, Any]:
        return config(pagination="link")

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**config(pagination="link"), "token": "wrong-token-999999"}

    def broken_config(self) -> dict[str, Any]:
        broken = config(pagination="link")
        broken["streams"]["partners"]["path"] = "/partnerz"
        return broken

    def transport(self) -> httpx.BaseTransport:
        return httpx.MockTransport(api())
