"""Paginators: strategy objects that turn one list request into a stream of pages.

A connector picks the strategy its API uses and iterates
``paginator.pages(client, method, url, params=..., json=...)``; each
:class:`Page` carries the response, its parsed JSON, its number and
``resume``, the state to pass back as ``pages(..., resume=...)`` to continue
after it (``None`` on the last page). Extracting records stays the connector's
job (:func:`records_at` helps).

- :class:`LinkHeaderPaginator`: RFC 8288 ``Link: <...>; rel="next"`` (Shopify REST).
  The next URL is followed exactly as given, with no other parameters.
- :class:`CursorPaginator`: a token read from the body, sent back as a query
  parameter or a JSON body field (GraphQL ``endCursor``, ``nextPageToken``).
- :class:`OffsetPaginator`: offset/limit in the query or a JSON body (GA4
  ``runReport``), until ``offset >= total`` or a short or empty page.
- :class:`PageNumberPaginator`: page numbers (Awin transaction queries).
- :class:`SinglePagePaginator`: no paging, for a uniform connector loop.

Every paginator guards against servers that would keep it going forever: a
next request identical to one already sent (a repeated link or cursor), or an
offset page identical to the previous one, raises
:class:`~hub.errors.FatalConnectorError`, and so does passing ``max_pages``.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx
import orjson

from hub.errors import FatalConnectorError
from hub.http import HttpClient, redact_url
from hub.redaction import redact

log = logging.getLogger("hub.http")

#: Far above any real sync (100,000 pages of 250 Shopify orders); only stops runaway loops.
DEFAULT_MAX_PAGES = 100_000

Location = Literal["params", "json"]


# --------------------------------------------------------------------------- helpers


def lookup(data: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` (``"meta.next"``, ``"items.0.id"``); None when absent.

    An empty or None path is the document itself. Digits index into lists.
    """
    if not path:
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def records_at(data: Any, path: str | None) -> list[Any]:
    """The list of records at ``path`` in a page's JSON (the body itself when path is empty).

    A missing key or null is an empty page (GA4 leaves ``rows`` out of an empty
    report); anything else that is not a list is an error naming the path.
    """
    found = lookup(data, path)
    if found is None:
        problem = _error_in(data)
        if problem is not None:  # an error dressed as a 200: no records, but no end either
            raise FatalConnectorError(
                f"The API answered 200 with an error instead of records: {problem}",
                hint="Check the credentials and parameters the error names; the page was "
                "not counted as empty, so the cursor did not move.",
            )
        return []
    if not isinstance(found, list):
        where = f"at {path!r}" if path else "as the response body"
        raise FatalConnectorError(
            f"Expected a list of records {where}, got {type(found).__name__}.",
            hint="Check the connector's records path against the API's response shape.",
        )
    return found


def _error_in(data: Any) -> str | None:
    """The ``error``/``errors`` a JSON object carries (non-empty), as short redacted text."""
    if not isinstance(data, Mapping):
        return None
    for key in ("error", "errors"):
        value = data.get(key)
        if value not in (None, "", [], {}, False):
            return redact(str(value))[:300]
    return None


def _set_path(document: Any, path: str, value: Any) -> dict[str, Any]:
    """A copy of the JSON object ``document`` with ``value`` at dotted ``path``."""
    result = dict(document) if isinstance(document, Mapping) else {}
    head, _, rest = path.partition(".")
    result[head] = _set_path(result.get(head), rest, value) if rest else value
    return result


@dataclass(frozen=True)
class PageRequest:
    """One request of a paginated sequence: what is sent, exactly."""

    method: str
    url: httpx.URL | str
    params: Mapping[str, Any] | None = None
    json: Any = None

    def get(self, location: Location, name: str) -> Any:
        """The value of parameter ``name`` in the query or the JSON body."""
        if location == "params":
            return (self.params or {}).get(name)
        return lookup(self.json, name)

    def with_value(self, location: Location, name: str, value: Any) -> PageRequest:
        """A copy with query parameter or JSON body field ``name`` (dotted) set to ``value``."""
        if location == "params":
            return replace(self, params={**(self.params or {}), name: value})
        return replace(self, json=_set_path(self.json, name, value))


@dataclass(frozen=True)
class Page:
    """One page of results.

    ``resume`` is what to checkpoint: passed as ``pages(..., resume=...)`` it
    continues with the page after this one. It is None on the last page.
    ``cut_short`` marks a last page that is last only because it was empty
    while the API still offered a next page: records may exist beyond it, so a
    connector must not move an unsorted cursor past them.
    """

    number: int
    request: PageRequest
    response: httpx.Response
    data: Any
    resume: dict[str, Any] | None
    records_path: str | None = None
    cut_short: bool = False

    @property
    def is_last(self) -> bool:
        return self.resume is None

    def records(self, path: str | None = None) -> list[Any]:
        """The records on this page, at ``path`` or the paginator's ``records_path``."""
        return records_at(self.data, path if path is not None else self.records_path)


# --------------------------------------------------------------------------- the strategy


class Paginator(ABC):
    """The paging loop; subclasses say how to start, how to advance and what to checkpoint.

    ``records_path`` (optional for link and cursor paging) locates the records;
    when it is set, an empty page is the last page whatever the API says next.
    """

    #: How the thing that advances is called in loop errors ("cursor", "Link next URL").
    advances_by = "next page"
    #: Offset-style paging cannot repeat a request, but a server ignoring the
    #: offset repeats its page: compare consecutive bodies instead.
    compare_bodies = False

    def __init__(self, *, records_path: str | None = None, max_pages: int = DEFAULT_MAX_PAGES):
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.records_path = records_path
        self.max_pages = max_pages

    @abstractmethod
    def first_request(self, request: PageRequest, resume: Mapping[str, Any] | None) -> PageRequest:
        """The first request, from the caller's request or a saved ``resume`` state."""

    @abstractmethod
    def next_request(
        self, request: PageRequest, response: httpx.Response, data: Any
    ) -> PageRequest | None:
        """The request for the page after ``response``, or None if it was the last."""

    @abstractmethod
    def resume_state(self, next_request: PageRequest) -> dict[str, Any]:
        """What to checkpoint so that ``first_request`` can rebuild ``next_request``."""

    def pages(
        self,
        client: HttpClient,
        method: str,
        url: httpx.URL | str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        resume: Mapping[str, Any] | None = None,
    ) -> Iterator[Page]:
        """Fetch page after page (with the client's retries) until the last one."""
        request = self.first_request(
            PageRequest(method.upper(), url, dict(params) if params else None, json), resume
        )
        sent: set[bytes] = set()
        previous_body: bytes | None = None
        number = 0
        current: PageRequest | None = request
        while current is not None:
            number += 1
            if number > self.max_pages:
                raise FatalConnectorError(
                    f"{_shown(client, current)}: still not on the last page after "
                    f"{self.max_pages} pages; stopped to avoid an endless loop.",
                    hint="If the data set really is that large, raise max_pages or narrow the "
                    "sync window; otherwise the API's paging is broken.",
                )
            sent.add(_fingerprint(client, current))
            response, data = client.request_json(
                current.method,
                current.url,
                params=current.params,
                json=current.json,
                headers=headers,
            )
            following = self.next_request(current, response, data)
            empty = self.records_path is not None and not records_at(data, self.records_path)
            cut_short = empty and following is not None
            if cut_short:
                # an empty page is the last page, whatever the API says next
                log.warning(
                    "page %d of %s is empty although the API offers a next page; it is the last",
                    number,
                    _shown(client, current),
                )
                following = None
            if following is not None:
                self._guard_loop(client, current, following, response, sent, previous_body)
            log.debug(
                "page %d of %s: %s",
                number,
                _shown(client, current),
                "last page" if following is None else "more to come",
            )
            resume_state = self.resume_state(following) if following is not None else None
            yield Page(
                number,
                current,
                response,
                data,
                resume_state,
                records_path=self.records_path,
                cut_short=cut_short,
            )
            previous_body = response.content if self.compare_bodies else None
            current = following
            # hold no page while the next one is fetched (memory: one page, not two)
            del response, data

    def _guard_loop(
        self,
        client: HttpClient,
        current: PageRequest,
        following: PageRequest,
        response: httpx.Response,
        sent: set[bytes],
        previous_body: bytes | None,
    ) -> None:
        hint = (
            "The API's paging is broken, or the connector reads the wrong "
            f"{self.advances_by}; check its pagination settings or report it to the vendor."
        )
        if _fingerprint(client, following) in sent:
            raise FatalConnectorError(
                f"{_shown(client, current)}: the API's {self.advances_by} points to a page "
                "already fetched; stopped to avoid an endless loop.",
                hint=hint,
            )
        if previous_body is not None and previous_body == response.content:
            raise FatalConnectorError(
                f"{_shown(client, current)}: the API sent the same page twice in a row; "
                f"it seems to ignore the {self.advances_by}. Stopped to avoid an endless loop.",
                hint=hint,
            )


def _fingerprint(client: HttpClient, request: PageRequest) -> bytes:
    url = str(client.resolve_url(request.url, request.params))
    body = orjson.dumps(request.json, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{request.method} {url} ".encode() + body).digest()


def _shown(client: HttpClient, request: PageRequest) -> str:
    return f"{request.method} {redact_url(client.resolve_url(request.url, request.params))}"


def _count(data: Any, path: str | None) -> int | None:
    """The integer at ``path`` (a total row or page count), None when unset or absent."""
    if not path:
        return None
    value = lookup(data, path)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FatalConnectorError(
            f"Expected a whole number at {path!r} in the response, got {str(value)[:40]!r}.",
            hint="Check the connector's total path against the API's response shape.",
        ) from None


def _resume_value(resume: Mapping[str, Any], key: str, paginator: str) -> Any:
    if key not in resume:
        raise FatalConnectorError(
            f"The saved paging state {sorted(resume)} has no {key!r}, which {paginator} needs.",
            hint="The stream's state was written by another paginator; reset the stream's state.",
        )
    return resume[key]


# --------------------------------------------------------------------------- Link header


@dataclass(frozen=True)
class Link:
    """One link of an RFC 8288 ``Link`` header: its target and its parameters."""

    url: str
    params: Mapping[str, str]

    @property
    def rels(self) -> frozenset[str]:
        """The relation types (``rel="prev next"`` holds two), lower-cased."""
        return frozenset(self.params.get("rel", "").lower().split())


def parse_link_header(value: str) -> list[Link]:
    """Parse a ``Link`` header value into its links (RFC 8288).

    Entries are split on the commas *between* ``<...>`` targets, so commas
    inside a URL or a quoted parameter are kept; parameter values may be
    quoted (with backslash escapes) or bare tokens; names are case-insensitive
    and the first occurrence of a parameter wins. Malformed entries are skipped.
    """
    links: list[Link] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            break
        end = value.find(">", i)
        if value[i] != "<" or end < 0:
            i = _skip_entry(value, i)
            continue
        target = value[i + 1 : end].strip()
        params: dict[str, str] = {}
        i = end + 1
        while True:
            i = _skip_space(value, i)
            if i >= n or value[i] == ",":
                break
            if value[i] != ";":
                i = _skip_entry(value, i)
                break
            i = _skip_space(value, i + 1)
            start = i
            while i < n and value[i] not in "=;, \t":
                i += 1
            name = value[start:i].lower()
            i = _skip_space(value, i)
            text = ""
            if i < n and value[i] == "=":
                i = _skip_space(value, i + 1)
                if i < n and value[i] == '"':
                    text, i = _read_quoted(value, i)
                else:
                    start = i
                    while i < n and value[i] not in ";, \t":
                        i += 1
                    text = value[start:i]
            if name:
                params.setdefault(name.rstrip("*"), text)
        links.append(Link(target, params))
    return links


def _skip_space(value: str, i: int) -> int:
    while i < len(value) and value[i] in " \t":
        i += 1
    return i


def _read_quoted(value: str, i: int) -> tuple[str, int]:
    """Read the quoted string starting at ``value[i] == '"'``; return it and the next index."""
    out: list[str] = []
    i += 1
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    return "".join(out), i


def _skip_entry(value: str, i: int) -> int:
    """Skip a malformed entry: up to the next comma that is not inside quotes or ``<...>``."""
    while i < len(value) and value[i] != ",":
        if value[i] == '"':
            _, i = _read_quoted(value, i)
        elif value[i] == "<":
            end = value.find(">", i)
            i = len(value) if end < 0 else end + 1
        else:
            i += 1
    return i


class LinkHeaderPaginator(Paginator):
    """Follows ``Link: <url>; rel="next"`` until a response has no next link (or no Link header).

    The next URL is requested exactly as given, with no parameters added: it
    already encodes the filters, and Shopify rejects filters sent alongside
    ``page_info``. Links to another host are refused unless
    ``allow_other_hosts`` (they would receive the connector's credentials).
    The ``resume`` state is the next URL; such cursors are short-lived, so
    checkpoint the connector's own cursor (``updated_at``) across runs.
    """

    advances_by = "Link next URL"

    def __init__(
        self,
        *,
        rel: str = "next",
        allow_other_hosts: bool = False,
        records_path: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(records_path=records_path, max_pages=max_pages)
        self.rel = rel.lower()
        self.allow_other_hosts = allow_other_hosts

    def first_request(self, request: PageRequest, resume: Mapping[str, Any] | None) -> PageRequest:
        if resume is None:
            return request
        return PageRequest(request.method, _resume_value(resume, "next_url", "Link paging"))

    def next_request(
        self, request: PageRequest, response: httpx.Response, data: Any
    ) -> PageRequest | None:
        header = ", ".join(response.headers.get_list("link"))
        target = next((link.url for link in parse_link_header(header) if self.rel in link.rels), "")
        if not target:
            return None
        next_url = httpx.URL(target)
        if next_url.is_relative_url:
            next_url = response.url.join(target)
            target = str(next_url)
        if not self.allow_other_hosts and _origin(next_url) != _origin(response.url):
            raise FatalConnectorError(
                f"{response.request.method} {redact_url(response.url)}: the Link header points "
                f"to another host ({redact_url(next_url)}); refusing to send credentials there.",
                hint="If the API really pages across hosts (an API gateway), enable "
                "allow_other_hosts for this paginator; otherwise check base_url.",
            )
        return PageRequest(request.method, target)

    def resume_state(self, next_request: PageRequest) -> dict[str, Any]:
        return {"next_url": str(next_request.url)}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


# --------------------------------------------------------------------------- cursor


class CursorPaginator(Paginator):
    """Sends back a token read from each page until the token is empty or absent.

    ``cursor_path`` locates the token in the body (``"nextPageToken"``,
    ``"data.orders.pageInfo.endCursor"``); ``param`` names where it goes, as a
    query parameter or, with ``location="json"``, a (dotted) JSON body field
    such as ``"variables.after"``. ``has_more_path`` optionally names a boolean
    (GraphQL ``hasNextPage``) that ends paging when false.
    """

    advances_by = "cursor"

    def __init__(
        self,
        cursor_path: str,
        param: str,
        *,
        location: Location = "params",
        has_more_path: str | None = None,
        records_path: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(records_path=records_path, max_pages=max_pages)
        self.cursor_path = cursor_path
        self.param = param
        self.location: Location = location
        self.has_more_path = has_more_path

    def first_request(self, request: PageRequest, resume: Mapping[str, Any] | None) -> PageRequest:
        if resume is None:
            return request
        cursor = _resume_value(resume, "cursor", "cursor paging")
        return request.with_value(self.location, self.param, cursor)

    def next_request(
        self, request: PageRequest, response: httpx.Response, data: Any
    ) -> PageRequest | None:
        if self.has_more_path is not None and not lookup(data, self.has_more_path):
            return None
        cursor = lookup(data, self.cursor_path)
        if cursor is None or cursor == "" or cursor is False:
            return None
        return request.with_value(self.location, self.param, cursor)

    def resume_state(self, next_request: PageRequest) -> dict[str, Any]:
        return {"cursor": next_request.get(self.location, self.param)}


# --------------------------------------------------------------------------- offset


class OffsetPaginator(Paginator):
    """Offset/limit paging in the query or a JSON body, advancing by the rows received.

    Stops when ``offset >= total`` (``total_path``, e.g. GA4 ``rowCount``), or,
    when the total is unknown, on a page shorter than ``limit``; always on an
    empty page. With a total, a short page does not stop paging: GA4 may
    return fewer rows than asked while more exist. ``records_path`` locates the
    rows (empty: the body is the list).
    """

    advances_by = "offset"
    compare_bodies = True

    def __init__(
        self,
        limit: int,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        location: Location = "params",
        total_path: str | None = None,
        records_path: str = "",
        start: int = 0,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        if limit < 1:
            raise ValueError("OffsetPaginator limit must be at least 1")
        super().__init__(records_path=records_path, max_pages=max_pages)
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.location: Location = location
        self.total_path = total_path
        self.start = start

    def first_request(self, request: PageRequest, resume: Mapping[str, Any] | None) -> PageRequest:
        offset = self.start if resume is None else _resume_value(resume, "offset", "offset paging")
        request = request.with_value(self.location, self.limit_param, self.limit)
        return request.with_value(self.location, self.offset_param, int(offset))

    def next_request(
        self, request: PageRequest, response: httpx.Response, data: Any
    ) -> PageRequest | None:
        received = len(records_at(data, self.records_path))
        if received == 0:
            return None
        offset = int(request.get(self.location, self.offset_param) or 0) + received
        total = _count(data, self.total_path)
        if total is not None:
            if offset >= total:
                return None
        elif received < self.limit:
            return None
        return request.with_value(self.location, self.offset_param, offset)

    def resume_state(self, next_request: PageRequest) -> dict[str, Any]:
        return {"offset": next_request.get(self.location, self.offset_param)}


class PageNumberPaginator(Paginator):
    """Page-number paging (``pageNumber=1,2,...``), e.g. Awin transaction queries.

    Stops on an empty page, on a page shorter than ``size`` (when known), or
    after ``total_pages_path`` pages when the API reports that number.
    """

    advances_by = "page number"
    compare_bodies = True

    def __init__(
        self,
        *,
        page_param: str = "page",
        size_param: str | None = None,
        size: int | None = None,
        start: int = 1,
        total_pages_path: str | None = None,
        location: Location = "params",
        records_path: str = "",
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        if size is not None and size < 1:
            raise ValueError("PageNumberPaginator size must be at least 1")
        super().__init__(records_path=records_path, max_pages=max_pages)
        self.page_param = page_param
        self.size_param = size_param
        self.size = size
        self.start = start
        self.total_pages_path = total_pages_path
        self.location: Location = location

    def first_request(self, request: PageRequest, resume: Mapping[str, Any] | None) -> PageRequest:
        page = self.start if resume is None else _resume_value(resume, "page", "page paging")
        if self.size_param is not None and self.size is not None:
            request = request.with_value(self.location, self.size_param, self.size)
        return request.with_value(self.location, self.page_param, int(page))

    def next_request(
        self, request: PageRequest, response: httpx.Response, data: Any
    ) -> PageRequest | None:
        received = len(records_at(data, self.records_path))
        if received == 0 or (self.size is not None and received < self.size):
            return None
        page = int(request.get(self.location, self.page_param))
        total_pages = _count(data, self.total_pages_path)
        if total_pages is not None and page - self.start + 1 >= total_pages:
            return None
        return request.with_value(self.location, self.page_param, page + 1)

    def resume_state(self, next_request: PageRequest) -> dict[str, Any]:
        return {"page": next_request.get(self.location, self.page_param)}


class SinglePagePaginator(Paginator):
    """One request, one page: for APIs without paging (Awin transaction lists)."""

    def first_request(self, request: PageRequest, resume: Mapping[str, Any] | None) -> PageRequest:
        return request

    def next_request(
        self, request: PageRequest, response: httpx.Response, data: Any
    ) -> PageRequest | None:
        return None

    def resume_state(self, next_request: PageRequest) -> dict[str, Any]:  # pragma: no cover
        return {}
