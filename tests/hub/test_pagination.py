"""hub.pagination: Link header, cursor, offset and page-number paging over HttpClient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from hub.errors import FatalConnectorError
from hub.http import HttpClient, RetryPolicy
from hub.pagination import (
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    SinglePagePaginator,
    lookup,
    parse_link_header,
    records_at,
)

SHOP = "https://alpenglueck.myshopify.com/admin/api/2025-01"
GA4 = "https://analyticsdata.googleapis.com/v1beta"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"a test really slept {seconds}s")

    monkeypatch.setattr("time.sleep", refuse)


class Recorder:
    """Wraps a handler and records the requests it answered."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) > 50:
            raise AssertionError("runaway pagination")
        return self.handler(request)

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]

    @property
    def bodies(self) -> list[Any]:
        return [orjson.loads(r.content) if r.content else None for r in self.requests]


def client_for(handler: Handler, base: str = SHOP) -> tuple[HttpClient, Recorder, list[float]]:
    recorder = Recorder(handler)
    sleeps: list[float] = []
    client = HttpClient(
        base, transport=httpx.MockTransport(recorder), sleep=sleeps.append, rand=lambda: 0.0
    )
    return client, recorder, sleeps


def orders(*ids: int) -> dict[str, Any]:
    return {"orders": [{"id": i} for i in ids]}


def page_url(token: str) -> str:
    return f"{SHOP}/orders.json?limit=2&page_info={token}"


def linked(body: Any, next_url: str) -> httpx.Response:
    """A 200 response whose Link header points to ``next_url``."""
    return httpx.Response(200, json=body, headers={"Link": f'<{next_url}>; rel="next"'})


# --------------------------------------------------------------------------- Link header


def test_link_header_paging_follows_next_exactly_and_stops_without_next() -> None:
    pages = {
        None: (orders(1, 2), f'<{page_url("eyJuZXh0IjoyfQ")}>; rel="next"'),
        "eyJuZXh0IjoyfQ": (
            orders(3, 4),
            f'<{page_url("eyJwcmV2IjoxfQ")}>; rel="previous", '
            f'<{page_url("eyJuZXh0IjozfQ")}>; rel="next"',
        ),
        "eyJuZXh0IjozfQ": (orders(5), f'<{page_url("eyJwcmV2IjoyfQ")}>; rel="previous"'),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        body, link = pages[request.url.params.get("page_info")]
        return httpx.Response(200, json=body, headers={"Link": link})

    client, api, _ = client_for(handler)
    params = {"status": "any", "updated_at_min": "2025-03-01T00:00:00+01:00", "limit": 2}

    result = list(LinkHeaderPaginator().pages(client, "GET", "orders.json", params=params))

    assert [p.number for p in result] == [1, 2, 3]
    assert [[o["id"] for o in p.records("orders")] for p in result] == [[1, 2], [3, 4], [5]]
    assert api.urls[1:] == [page_url("eyJuZXh0IjoyfQ"), page_url("eyJuZXh0IjozfQ")]
    assert "status=any" in api.urls[0] and "updated_at_min=" in api.urls[0]
    for follow_up in api.requests[1:]:
        assert set(follow_up.url.params) == {"limit", "page_info"}  # no filters re-sent
    assert result[0].resume == {"next_url": page_url("eyJuZXh0IjoyfQ")}
    assert result[-1].resume is None and result[-1].is_last


def test_no_link_header_at_all_is_a_single_page() -> None:
    client, api, _ = client_for(lambda r: httpx.Response(200, json=orders(1)))
    result = list(LinkHeaderPaginator().pages(client, "GET", "orders.json", params={"limit": 250}))
    assert len(result) == 1 and result[0].is_last
    assert len(api.requests) == 1


def test_lower_case_link_header_and_multiple_header_lines() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "page_info" in request.url.params:
            return httpx.Response(200, json=orders(2))
        headers = [
            ("link", f'<{page_url("first")}>; rel="previous"'),
            ("link", f"<{page_url('second')}>; REL=next"),
        ]
        return httpx.Response(200, json=orders(1), headers=headers)

    client, api, _ = client_for(handler)
    result = list(LinkHeaderPaginator().pages(client, "GET", "orders.json"))
    assert len(result) == 2
    assert api.urls[1] == page_url("second")


def test_repeated_next_link_is_detected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return linked(orders(1), page_url("same"))

    client, api, _ = client_for(handler)
    pages = LinkHeaderPaginator().pages(client, "GET", "orders.json", params={"limit": 2})
    with pytest.raises(FatalConnectorError, match="already fetched") as caught:
        list(pages)
    assert len(api.requests) == 2
    assert "Link next URL" in (caught.value.hint or "")


def test_a_next_link_pointing_to_itself_on_the_first_page_is_detected() -> None:
    first = f"{SHOP}/orders.json?limit=2"
    client, api, _ = client_for(
        lambda r: httpx.Response(200, json=orders(1), headers={"Link": f'<{first}>; rel="next"'})
    )
    with pytest.raises(FatalConnectorError, match="already fetched"):
        list(LinkHeaderPaginator().pages(client, "GET", "orders.json", params={"limit": 2}))
    assert len(api.requests) == 1


def test_a_429_in_the_middle_of_paging_repeats_the_same_page() -> None:
    answers = iter(
        [
            httpx.Response(
                200, json=orders(1), headers={"Link": f'<{page_url("p2")}>; rel="next"'}
            ),
            httpx.Response(429, headers={"Retry-After": "2.0"}, json={"errors": "Exceeded"}),
            httpx.Response(200, json=orders(2)),
        ]
    )
    client, api, sleeps = client_for(lambda r: next(answers))
    result = list(LinkHeaderPaginator().pages(client, "GET", "orders.json"))
    assert [p.records("orders") for p in result] == [[{"id": 1}], [{"id": 2}]]
    assert api.urls[1] == api.urls[2] == page_url("p2")
    assert sleeps == [2.0]


def test_relative_links_resolve_and_other_hosts_are_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page_info") == "2":
            link = '<https://evil.example.com/steal?page_info=3>; rel="next"'
            return httpx.Response(200, json=orders(2), headers={"Link": link})
        return linked(orders(1), "orders.json?page_info=2")

    client, api, _ = client_for(handler)
    with pytest.raises(FatalConnectorError, match="another host") as caught:
        list(LinkHeaderPaginator().pages(client, "GET", "orders.json"))
    assert api.urls[1] == f"{SHOP}/orders.json?page_info=2"
    assert len(api.requests) == 2  # evil.example.com never received the credentials
    assert "allow_other_hosts" in (caught.value.hint or "")


def test_link_paging_resumes_from_a_saved_next_url() -> None:
    client, api, _ = client_for(lambda r: httpx.Response(200, json=orders(9)))
    resume = {"next_url": page_url("saved")}
    result = list(
        LinkHeaderPaginator().pages(client, "GET", "orders.json", params={"x": 1}, resume=resume)
    )
    assert api.urls == [page_url("saved")]
    assert result[0].is_last
    with pytest.raises(FatalConnectorError, match="has no 'next_url'"):
        list(LinkHeaderPaginator().pages(client, "GET", "orders.json", resume={"offset": 3}))


def test_an_empty_page_ends_paging_when_records_path_is_known() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_info", "p1")
        body = orders(1) if token == "p1" else orders()
        next_token = f"p{int(token[1:]) + 1}"
        return httpx.Response(
            200, json=body, headers={"Link": f"<{page_url(next_token)}>; rel=next"}
        )

    client, api, _ = client_for(handler)
    result = list(LinkHeaderPaginator(records_path="orders").pages(client, "GET", "orders.json"))
    assert len(result) == 2 and len(api.requests) == 2
    assert result[1].records() == [] and result[1].is_last


def test_a_page_that_is_last_only_because_it_is_empty_is_marked_cut_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression: an unsorted stream must know its end was not the API's end."""

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_info", "p1")
        body = orders(1) if token != "p2" else orders()  # p2 empty, p3 would have more
        next_token = f"p{int(token[1:]) + 1}"
        return httpx.Response(
            200, json=body, headers={"Link": f"<{page_url(next_token)}>; rel=next"}
        )

    client, api, _ = client_for(handler)
    result = list(LinkHeaderPaginator(records_path="orders").pages(client, "GET", "orders.json"))
    assert len(api.requests) == 2
    assert [(p.is_last, p.cut_short) for p in result] == [(False, False), (True, True)]
    assert "empty although the API offers a next page" in caplog.text

    def final(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=orders())  # empty, and no next link: a real end

    client, _, _ = client_for(final)
    (only,) = LinkHeaderPaginator(records_path="orders").pages(client, "GET", "orders.json")
    assert only.is_last and not only.cut_short


def test_max_pages_stops_a_runaway_sequence() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page_info", "0")) + 1
        return httpx.Response(
            200, json=orders(n), headers={"Link": f"<{page_url(str(n))}>; rel=next"}
        )

    client, api, _ = client_for(handler)
    with pytest.raises(FatalConnectorError, match="after 5 pages") as caught:
        list(LinkHeaderPaginator(max_pages=5).pages(client, "GET", "orders.json"))
    assert len(api.requests) == 5
    assert "max_pages" in (caught.value.hint or "")


class TestParseLinkHeader:
    def test_previous_and_next(self) -> None:
        links = parse_link_header(
            '<https://s/o.json?page_info=AAA>; rel="previous", <https://s/o.json?page_info=BBB>; rel="next"'  # noqa: E501
        )
        assert [(link.url, link.rels) for link in links] == [
            ("https://s/o.json?page_info=AAA", frozenset({"previous"})),
            ("https://s/o.json?page_info=BBB", frozenset({"next"})),
        ]

    def test_commas_and_semicolons_inside_urls_and_quotes(self) -> None:
        value = (
            '<https://a/x?ids=1,2,3;v=1>; title="a, b; c"; rel="next", '
            '<https://a/y>; rel="prev last"; title="say \\"hi\\""'
        )
        first, second = parse_link_header(value)
        assert first.url == "https://a/x?ids=1,2,3;v=1"
        assert first.params == {"title": "a, b; c", "rel": "next"}
        assert second.rels == frozenset({"prev", "last"})
        assert second.params["title"] == 'say "hi"'

    def test_unquoted_case_insensitive_and_first_rel_wins(self) -> None:
        (link,) = parse_link_header("<https://a/z>;REL=Next;rel=prev")
        assert link.rels == frozenset({"next"})

    def test_malformed_entries_are_skipped(self) -> None:
        links = parse_link_header('garbage; rel="next", <https://a/ok>; rel="next", <broken')
        assert [link.url for link in links] == ["https://a/ok"]
        assert parse_link_header("") == []


# --------------------------------------------------------------------------- cursor


def test_cursor_in_query_params_until_the_token_is_absent() -> None:
    answers = {
        None: {"items": [1, 2], "next": "c2"},
        "c2": {"items": [3], "next": "c3"},
        "c3": {"items": [4], "next": ""},
    }
    client, api, _ = client_for(
        lambda r: httpx.Response(200, json=answers[r.url.params.get("cursor")]), base=GA4
    )
    paginator = CursorPaginator("next", "cursor", records_path="items")
    result = list(paginator.pages(client, "GET", "items", params={"filter": "x"}))

    assert [p.records() for p in result] == [[1, 2], [3], [4]]
    assert [r.url.params.get("filter") for r in api.requests] == ["x", "x", "x"]
    assert [p.resume for p in result] == [{"cursor": "c2"}, {"cursor": "c3"}, None]


def test_cursor_in_a_json_body_graphql_style() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        after = orjson.loads(request.content)["variables"].get("after")
        has_next = after is None
        info = {"hasNextPage": has_next, "endCursor": "abc" if has_next else "zzz"}
        return httpx.Response(200, json={"data": {"orders": {"nodes": [after], "pageInfo": info}}})

    client, api, _ = client_for(handler)
    paginator = CursorPaginator(
        "data.orders.pageInfo.endCursor",
        "variables.after",
        location="json",
        has_more_path="data.orders.pageInfo.hasNextPage",
        records_path="data.orders.nodes",
    )
    body = {"query": "query($after: String) { ... }", "variables": {"first": 2}}
    result = list(paginator.pages(client, "POST", "graphql.json", json=body))

    assert len(result) == 2
    assert api.bodies == [body, {**body, "variables": {"first": 2, "after": "abc"}}]
    assert body == {"query": "query($after: String) { ... }", "variables": {"first": 2}}


def test_repeated_cursor_is_detected() -> None:
    client, api, _ = client_for(lambda r: httpx.Response(200, json={"items": [1], "next": "loop"}))
    with pytest.raises(FatalConnectorError, match="cursor points to a page already fetched"):
        list(CursorPaginator("next", "cursor").pages(client, "GET", "items"))
    assert len(api.requests) == 2


def test_cursor_resume_and_absent_token() -> None:
    client, api, _ = client_for(lambda r: httpx.Response(200, json={"items": [1]}))
    result = list(CursorPaginator("meta.next", "page_token").pages(
        client, "GET", "items", resume={"cursor": "saved"}
    ))  # fmt: skip
    assert api.requests[0].url.params["page_token"] == "saved"
    assert len(result) == 1 and result[0].is_last


# --------------------------------------------------------------------------- offset


def ga4_report(rows: int = 7, page_sizes: dict[int, int] | None = None) -> Handler:
    """A fake GA4 runReport: ``rows`` rows in total, honouring offset/limit in the body."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        offset, limit = int(body["offset"]), int(body["limit"])
        size = (page_sizes or {}).get(offset, limit)
        chunk = list(range(offset, min(offset + size, rows)))
        if not chunk:
            return httpx.Response(200, json={"kind": "analyticsData#runReport"})
        data = {
            "rows": [{"dimensionValues": [{"value": str(i)}]} for i in chunk],
            "rowCount": rows,
            "kind": "analyticsData#runReport",
        }
        return httpx.Response(200, json=data)

    return handler


def test_offset_paging_in_a_json_body_until_row_count() -> None:
    client, api, _ = client_for(ga4_report(rows=7), base=GA4)
    paginator = OffsetPaginator(3, location="json", total_path="rowCount", records_path="rows")
    body = {"dateRanges": [{"startDate": "2025-03-01", "endDate": "2025-03-07"}]}

    result = list(paginator.pages(client, "POST", "properties/123:runReport", json=body))

    assert [len(p.records()) for p in result] == [3, 3, 1]
    assert [(b["offset"], b["limit"]) for b in api.bodies] == [(0, 3), (3, 3), (6, 3)]
    assert all(b["dateRanges"] == body["dateRanges"] for b in api.bodies)
    assert [p.resume for p in result] == [{"offset": 3}, {"offset": 6}, None]


def test_offset_advances_by_rows_received_and_a_short_page_is_not_the_end() -> None:
    client, api, _ = client_for(ga4_report(rows=7, page_sizes={0: 2}), base=GA4)
    paginator = OffsetPaginator(3, location="json", total_path="rowCount", records_path="rows")
    rows = [
        r["dimensionValues"][0]["value"]
        for page in paginator.pages(client, "POST", "properties/1:runReport", json={})
        for r in page.records()
    ]
    assert rows == [str(i) for i in range(7)]
    assert [b["offset"] for b in api.bodies] == [0, 2, 5]


def test_offset_paging_stops_on_an_empty_report() -> None:
    client, _, _ = client_for(ga4_report(rows=0), base=GA4)
    paginator = OffsetPaginator(3, location="json", total_path="rowCount", records_path="rows")
    result = list(paginator.pages(client, "POST", "properties/1:runReport", json={}))
    assert len(result) == 1 and result[0].records() == [] and result[0].is_last


def test_offset_in_query_params_without_a_total_stops_on_a_short_page() -> None:
    data = list(range(10))

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["start"]), int(request.url.params["count"])
        return httpx.Response(200, json=data[offset : offset + limit])

    client, api, _ = client_for(handler)
    paginator = OffsetPaginator(4, offset_param="start", limit_param="count")
    result = list(paginator.pages(client, "GET", "list", params={"q": "a"}))
    assert [p.records() for p in result] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert api.urls[1].endswith("list?q=a&count=4&start=4")


def test_offset_paging_detects_a_server_that_ignores_the_offset() -> None:
    client, api, _ = client_for(lambda r: httpx.Response(200, json={"rows": [1, 2], "total": 99}))
    paginator = OffsetPaginator(2, total_path="total", records_path="rows")
    with pytest.raises(FatalConnectorError, match="same page twice"):
        list(paginator.pages(client, "GET", "list"))
    assert len(api.requests) == 2


def test_offset_resume_and_bad_total() -> None:
    client, api, _ = client_for(ga4_report(rows=7), base=GA4)
    paginator = OffsetPaginator(3, location="json", total_path="rowCount", records_path="rows")
    result = list(paginator.pages(client, "POST", "r", json={}, resume={"offset": 6}))
    assert [b["offset"] for b in api.bodies] == [6] and len(result) == 1

    client, _, _ = client_for(lambda r: httpx.Response(200, json={"rows": [1], "n": "many"}))
    with pytest.raises(FatalConnectorError, match="whole number at 'n'"):
        list(OffsetPaginator(1, total_path="n", records_path="rows").pages(client, "GET", "x"))


def test_paging_survives_a_retried_page() -> None:
    handler = ga4_report(rows=5)
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 2:
            return httpx.Response(429, json={"error": {"status": "RESOURCE_EXHAUSTED"}})
        return handler(request)

    client, api, sleeps = client_for(flaky, base=GA4)
    paginator = OffsetPaginator(3, location="json", total_path="rowCount", records_path="rows")
    result = list(paginator.pages(client, "POST", "r", json={}))
    assert [len(p.records()) for p in result] == [3, 2]
    assert [b["offset"] for b in api.bodies] == [0, 3, 3]
    assert sleeps == [1.0]
    assert isinstance(client.retry, RetryPolicy)


# --------------------------------------------------------------------------- others


def test_page_number_paging() -> None:
    data = list(range(5))

    def handler(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["pageNumber"]), int(request.url.params["pageSize"])
        return httpx.Response(200, json=data[(page - 1) * size : page * size])

    client, api, _ = client_for(handler)
    paginator = PageNumberPaginator(page_param="pageNumber", size_param="pageSize", size=2)
    assert [p.records() for p in paginator.pages(client, "GET", "q")] == [[0, 1], [2, 3], [4]]
    assert [r.url.params["pageNumber"] for r in api.requests] == ["1", "2", "3"]


def test_page_number_paging_with_total_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json={"items": [page], "pages": 2})

    client, api, _ = client_for(handler)
    paginator = PageNumberPaginator(total_pages_path="pages", records_path="items")
    result = list(paginator.pages(client, "GET", "q"))
    assert [p.records() for p in result] == [[1], [2]]
    assert [p.resume for p in result] == [{"page": 2}, None]
    assert len(api.requests) == 2


def test_single_page() -> None:
    client, _, _ = client_for(lambda r: httpx.Response(200, json=[{"id": 1}]))
    (page,) = SinglePagePaginator().pages(client, "GET", "transactions/")
    assert page.records() == [{"id": 1}] and page.is_last


def test_lookup_and_records_at() -> None:
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}, "rows": None}
    assert lookup(data, "a.b.1.c") == 2
    assert lookup(data, "a.b.-1.c") == 2
    assert lookup(data, "a.b.5.c") is None
    assert lookup(data, "a.x.y") is None
    assert lookup(data, "") is data
    assert records_at(data, "a.b") == [{"c": 1}, {"c": 2}]
    assert records_at(data, "rows") == []
    assert records_at(data, "missing") == []
    with pytest.raises(FatalConnectorError, match="Expected a list of records at 'a'"):
        records_at(data, "a")


def test_a_200_that_carries_an_error_instead_of_records_is_not_an_empty_page() -> None:
    assert records_at({"orders": []}, "orders") == []
    assert records_at({"meta": {}}, "orders") == []  # absent records: an empty page
    assert records_at({"errors": []}, "orders") == []
    with pytest.raises(FatalConnectorError, match=r"answered 200 with an error.*quota exceeded"):
        records_at({"errors": [{"message": "quota exceeded"}]}, "orders")
    with pytest.raises(FatalConnectorError, match="invalid token"):
        records_at({"error": "invalid token"}, "data.items")
