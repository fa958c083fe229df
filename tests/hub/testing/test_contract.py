"""The contract suite itself: a well-behaved connector passes, each kind of misbehaviour fails.

``ToyConnector`` is a small HTTP source served by ``FakeAPI``. ``TestToyContract``
runs the whole suite on it (so pytest's collection of inherited tests is
exercised too); the parametrized test then breaks one rule at a time and
checks that the matching contract test fails, with a message naming the rule.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, SecretStr, create_model

from hub.connector import Checkpoint, Connector, Message, Record, Stream
from hub.errors import AuthError, FatalConnectorError, HubError, RetriableError
from hub.redaction import RedactingFilter, register_secret
from hub.testing import ConnectorContract, FakeAPI
from hub.testing.contract import _plain_secret_named_fields
from hub.testing.leaks import find_leaks, secret_values

pytest_plugins = ["pytester"]

GOOD_KEY = "toy-key-fake-1234"
BAD_KEY = "toy-key-wrong-5678"
PAGE = 2
log = logging.getLogger("hub.tests.toy")


# ---------------------------------------------------------------------- a toy HTTP source


def toy_api() -> FakeAPI:
    """Items and orders, each with an exclusive `updated_after` filter and pages of two."""
    api = FakeAPI(require_headers={"X-Api-Key": GOOD_KEY})
    data: dict[str, list[dict[str, Any]]] = {
        "items": [{"id": n, "updated_at": f"2024-05-0{n}T10:00:00Z"} for n in range(1, 6)],
        "orders": [{"id": f"o{n}", "updated_at": f"2024-06-0{n}T10:00:00Z"} for n in range(1, 4)],
    }
    api.add("GET", "/v1/me", {"name": "toy shop"})

    @api.route("GET", "/v1/{resource}")
    def listing(request: httpx.Request, resource: str) -> Any:
        after = request.url.params.get("updated_after", "")
        page = int(request.url.params.get("page", "0"))
        rows = [r for r in data[resource] if r["updated_at"] > after]
        chunk = rows[page * PAGE : (page + 1) * PAGE]
        more = (page + 1) * PAGE < len(rows)
        return {"data": chunk, "next_page": page + 1 if more else None}

    return api


class ToyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr
    base_url: str = "https://toy.test"


class ToyConnector(Connector):
    name: ClassVar[str] = "toy"
    config_model: ClassVar[type[BaseModel]] = ToyConfig

    def key(self) -> str:
        return self.config.api_key.get_secret_value()  # type: ignore[attr-defined]

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.config.base_url,  # type: ignore[attr-defined]
            transport=self.transport,
            headers={"X-Api-Key": self.key()},
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        with self.client() as client:
            response = client.get(path, params=params)
        if response.status_code == 401:
            raise AuthError(
                "the toy API refused the API key", hint="create a new key under Settings > API"
            )
        response.raise_for_status()
        return response.json()

    def check(self) -> None:
        self.get("/v1/me")

    def discover(self) -> Sequence[Stream]:
        schema = {"type": "object", "properties": {"id": {}, "updated_at": {}}}
        return [Stream(name, ("id",), "updated_at", schema) for name in ("items", "orders")]

    def check_names(self, streams: Sequence[str]) -> None:
        unknown = set(streams) - {"items", "orders"}
        if unknown:
            raise FatalConnectorError(f"no stream {sorted(unknown)}", hint="use items or orders")

    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        self.check_names(streams)
        for stream in streams:
            cursor = (state.get(stream) or {}).get("updated_after", "")
            yield from self.read_stream(stream, cursor)

    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        page: int | None = 0
        newest = cursor
        while page is not None:
            body = self.get(f"/v1/{stream}", {"updated_after": cursor, "page": page})
            for row in body["data"]:
                newest = max(newest, row["updated_at"])
                yield Record(stream, row)
            yield Checkpoint(stream, {"updated_after": newest})
            page = body["next_page"]


class TestToyContract(ConnectorContract):
    """The well-behaved toy connector passes every contract test."""

    connector_class: ClassVar[type[Connector]] = ToyConnector
    secrets = (GOOD_KEY, BAD_KEY)
    bad_credentials_error = AuthError

    def valid_config(self) -> dict[str, Any]:
        return {"api_key": GOOD_KEY}

    def bad_credentials_config(self) -> dict[str, Any]:
        return {"api_key": BAD_KEY}

    def transport(self) -> httpx.BaseTransport:
        return toy_api().transport()


# ---------------------------------------------------------------------- misbehaving variants


class LogsTheKey(ToyConnector):
    def check(self) -> None:
        log.debug("checking with key %s", self.key())
        super().check()


class KeyInAuthError(ToyConnector):
    def check(self) -> None:
        try:
            super().check()
        except AuthError:
            raise AuthError(f"key {self.key()} refused", hint="make a new key") from None


class KeyInCause(ToyConnector):
    def check(self) -> None:
        try:
            raise ValueError(f"GET /v1/me?key={self.key()} returned 401")
        except ValueError as exc:
            if self.key() == BAD_KEY:
                raise AuthError("the toy API refused the key", hint="make a new key") from exc


class RaisesHttpxError(ToyConnector):
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        with self.client() as client:
            response = client.get(path, params=params)
        response.raise_for_status()
        return response.json()


class RetriesBadCredentials(ToyConnector):
    def check(self) -> None:
        if self.key() == BAD_KEY:
            raise RetriableError("the toy API said 401", hint="try again")


class NoHint(ToyConnector):
    def check(self) -> None:
        if self.key() == BAD_KEY:
            raise AuthError("the toy API refused the API key")


class PlainKeyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str
    base_url: str = "https://toy.test"


class PlainKey(ToyConnector):
    config_model: ClassVar[type[BaseModel]] = PlainKeyConfig

    def key(self) -> str:
        return str(self.config.api_key)  # type: ignore[attr-defined]


class LooseConfig(ToyConfig):
    model_config = ConfigDict(extra="ignore")


class AcceptsUnknownKeys(ToyConnector):
    config_model: ClassVar[type[BaseModel]] = LooseConfig


class KeepsThePlainKey(ToyConnector):
    def __init__(self, config: BaseModel, *, transport: httpx.BaseTransport | None = None):
        super().__init__(config, transport=transport)
        self.raw_key = self.key()


class KeyInState(ToyConnector):
    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        for message in super().read_stream(stream, cursor):
            if isinstance(message, Checkpoint):
                message = Checkpoint(stream, {**message.state, "auth": self.key()})
            yield message


class KeyInRecord(ToyConnector):
    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        for message in super().read_stream(stream, cursor):
            if isinstance(message, Record):
                message = Record(stream, {**message.data, "_url": f"/v1?key={self.key()}"})
            yield message


class ReadsEveryStream(ToyConnector):
    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        return super().read(["items", "orders"], state)


class NoCheckpoint(ToyConnector):
    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        for message in super().read_stream(stream, cursor):
            if isinstance(message, Record):
                yield message


class RecordsAfterLastCheckpoint(ToyConnector):
    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        yield from super().read_stream(stream, cursor)
        yield Record(stream, {"id": 99, "updated_at": "2024-07-01T00:00:00Z"})


class IgnoresState(ToyConnector):
    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        return super().read(streams, {})


class StateNotJson(ToyConnector):
    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        for message in super().read_stream(stream, cursor):
            if isinstance(message, Checkpoint):
                message = Checkpoint(stream, {**message.state, "pages": (1, 2)})
            yield message


class CursorNotInSchema(ToyConnector):
    def discover(self) -> Sequence[Stream]:
        schema = {"type": "object", "properties": {"id": {}}}
        return [Stream(name, ("id",), "updated_at", schema) for name in ("items", "orders")]


class NoPrimaryKeyValue(ToyConnector):
    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        for message in super().read_stream(stream, cursor):
            if isinstance(message, Record):
                message = Record(stream, {**message.data, "id": None})
            yield message


class IgnoresUnknownStreams(ToyConnector):
    def check_names(self, streams: Sequence[str]) -> None:
        return None


class SkipsUnknownStreams(ToyConnector):
    def read(
        self, streams: Sequence[str], state: Mapping[str, dict[str, Any]]
    ) -> Iterator[Message]:
        return super().read([s for s in streams if s in ("items", "orders")], state)


class RereadsOlderRecords(ToyConnector):
    """Rewinds the cursor by a day: re-reads records the state already covers."""

    def read_stream(self, stream: str, cursor: str) -> Iterator[Message]:
        rewound = cursor.replace("2024-05-05", "2024-05-03") if cursor else cursor
        return super().read_stream(stream, rewound)


BROKEN = [
    (LogsTheKey, "test_no_secret_in_records_checkpoints_or_logs", "the log: contains"),
    (KeyInAuthError, "test_check_with_bad_credentials_fails_readably", "check() error: contains"),
    (KeyInCause, "test_check_with_bad_credentials_fails_readably", "check() error: contains"),
    (RaisesHttpxError, "test_check_with_bad_credentials_fails_readably", "not a hub.errors"),
    (RetriesBadCredentials, "test_check_with_bad_credentials_fails_readably", "expected a Auth"),
    (NoHint, "test_check_with_bad_credentials_fails_readably", "has no hint"),
    (PlainKey, "test_secret_fields_are_secret_str", "not SecretStr: ['api_key']"),
    (AcceptsUnknownKeys, "test_config_rejects_unknown_keys", "DID NOT RAISE"),
    (KeepsThePlainKey, "test_no_secret_in_reprs", "vars(connector) reprs: contains"),
    (KeyInState, "test_no_secret_in_records_checkpoints_or_logs", "a checkpoint: contains"),
    (KeyInRecord, "test_no_secret_in_records_checkpoints_or_logs", "a record: contains"),
    (ReadsEveryStream, "test_read_only_requested_streams", "also yielded ['items']"),
    (NoCheckpoint, "test_read_yields_records_and_a_final_checkpoint_per_stream", "Checkpoint"),
    (
        RecordsAfterLastCheckpoint,
        "test_read_yields_records_and_a_final_checkpoint_per_stream",
        "last message must be a Checkpoint",
    ),
    (IgnoresState, "test_read_respects_state", "yielded 8 records of an unchanged source"),
    (StateNotJson, "test_checkpoint_state_is_json", "does not survive a JSON round trip"),
    (CursorNotInSchema, "test_discover_lists_well_formed_streams", "['updated_at'] are not in"),
    (
        NoPrimaryKeyValue,
        "test_read_yields_records_and_a_final_checkpoint_per_stream",
        "record without primary key 'id'",
    ),
    (IgnoresUnknownStreams, "test_unknown_stream_is_refused_by_name", "not a HubError"),
    (SkipsUnknownStreams, "test_unknown_stream_is_refused_by_name", "did not fail"),
]


def run_contract_test(contract: ConnectorContract, test: str, caplog: Any) -> None:
    method = getattr(contract, test)
    kwargs = {"caplog": caplog} if "caplog" in inspect.signature(method).parameters else {}
    method(**kwargs)


@pytest.mark.parametrize(
    ("connector", "test", "message"), BROKEN, ids=[c.__name__ for c, _, _ in BROKEN]
)
def test_each_broken_rule_fails_its_contract_test(
    connector: type[Connector], test: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    contract = type(
        f"Test{connector.__name__}", (TestToyContract,), {"connector_class": connector}
    )()
    with pytest.raises((AssertionError, pytest.fail.Exception)) as caught:
        run_contract_test(contract, test, caplog)
    assert message in str(caught.value)
    for secret in (GOOD_KEY, BAD_KEY):  # the failure report does not leak the secret either
        assert secret not in str(caught.value)


def test_log_checks_see_records_before_any_redacting_filter() -> None:
    """Once log redaction is installed, handlers see masked text; the contract must not."""
    masking = logging.NullHandler()
    masking.addFilter(RedactingFilter())  # rewrites records in place for later handlers
    root = logging.getLogger()
    root.handlers.insert(0, masking)
    try:
        contract = type("TestLeaky", (TestToyContract,), {"connector_class": LogsTheKey})()
        with pytest.raises(AssertionError, match="the log: contains"):
            contract.test_no_secret_in_records_checkpoints_or_logs()
    finally:
        root.removeHandler(masking)


@pytest.mark.parametrize("test", ["test_read_respects_state"])
def test_inclusive_cursors_may_reread_but_never_older_records(
    test: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Inclusive(TestToyContract):
        connector_class = RereadsOlderRecords
        unchanged_source_yields_nothing = False

    with pytest.raises(AssertionError, match="older than the state's cursor"):
        run_contract_test(Inclusive(), test, caplog)

    class Boundary(TestToyContract):
        unchanged_source_yields_nothing = False

    run_contract_test(Boundary(), test, caplog)


def test_the_base_class_is_not_collected_and_needs_a_config() -> None:
    assert not ConnectorContract.__name__.startswith("Test")
    with pytest.raises(NotImplementedError, match="must define valid_config"):
        ConnectorContract().valid_config()


# ---------------------------------------------------------------------- helpers


def test_fake_api_checks_credentials_routes_and_records_requests() -> None:
    api = toy_api()
    client = httpx.Client(base_url="https://toy.test", transport=api.transport())
    assert client.get("/v1/me").status_code == 401
    client.headers["X-Api-Key"] = GOOD_KEY
    assert client.get("/v1/me").json() == {"name": "toy shop"}
    page = client.get("/v1/items", params={"page": 2}).json()
    assert page == {"data": [{"id": 5, "updated_at": "2024-05-05T10:00:00Z"}], "next_page": None}
    missing = client.post("/v1/me")
    assert missing.status_code == 404 and "POST /v1/me" in missing.json()["error"]
    assert [r.url.path for r in api.requests] == ["/v1/me", "/v1/me", "/v1/items", "/v1/me"]


def test_find_leaks_names_the_place_not_the_secret() -> None:
    found = find_leaks(
        [GOOD_KEY, "abc"], {"a record": [{"url": f"?k={GOOD_KEY}"}], "clean": {"x": 1}}
    )
    assert found == ["a record: contains a registered secret (17 characters)"]
    assert secret_values(ToyConfig(api_key=SecretStr(GOOD_KEY))) == {GOOD_KEY}


def test_secret_guard_fixture_fails_a_test_that_logs_a_secret(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import logging
        import pytest
        from hub.redaction import RedactingFilter

        pytest_plugins = ["hub.testing.plugin"]

        @pytest.fixture(autouse=True)
        def masking():
            # As after install_log_redaction(): a handler that masks records in place.
            handler = logging.NullHandler()
            handler.addFilter(RedactingFilter())
            logging.getLogger().handlers.insert(0, handler)
            yield
            logging.getLogger().removeHandler(handler)
        """
    )
    pytester.makepyfile(
        """
        import logging
        from hub.redaction import register_secret

        def test_leaks(hub_secret_guard):
            hub_secret_guard.add("fake-guarded-token")
            logging.getLogger("hub.anything").debug("token=%s", "fake-guarded-token")

        def test_leaks_a_registered_secret(hub_secret_guard):
            register_secret("fake-registered-token")
            logging.getLogger("somewhere").info("sending fake-registered-token")

        def test_clean(hub_secret_guard):
            hub_secret_guard.add("fake-guarded-token")
            logging.getLogger("hub.anything").debug("token=***")

        def test_values(hub_secret_guard):
            hub_secret_guard.add("fake-guarded-token")
            hub_secret_guard.assert_clean(state={"cursor": "fake-guarded-token"})
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1, errors=2)
    result.stdout.fnmatch_lines(["*secret leaked: the log: contains a registered secret*"])
    result.stdout.fnmatch_lines(["*secret leaked: state: contains a registered secret*"])
    assert "fake-guarded-token" not in result.stdout.str().split("short test summary")[-1]


def test_hub_plugin_fixture_registers_for_one_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["hub.testing.plugin"]')
    pytester.makepyfile(
        """
        from hub import plugins
        from hub.connector import Connector
        from hub.hookspecs import hookimpl

        class Tiny(Connector):
            name = "tiny_for_fixture"
            config_model = None
            def check(self): pass
            def read(self, streams, state): return iter(())

        class Plugin:
            @hookimpl
            def hub_register_connectors(self, register):
                register(Tiny)

        def test_registered(hub_plugin):
            hub_plugin(Plugin(), name="tiny-plugin")
            assert plugins.get_registry().connector("tiny_for_fixture") is Tiny

        def test_gone_afterwards():
            assert "tiny_for_fixture" not in plugins.get_registry().connectors
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_registered_secrets_count_for_the_guard_only_when_long_enough() -> None:
    register_secret("abc")  # too short to mask: would hide ordinary words
    assert find_leaks(["abc"], {"text": "abcdef"}) == []


def test_contract_helpers_read_and_resume() -> None:
    contract = TestToyContract()
    messages = contract.read_messages(["items"])
    assert [m.data["id"] for m in messages if isinstance(m, Record)] == [1, 2, 3, 4, 5]
    state = contract.final_state(messages)
    assert state == {"items": {"updated_after": "2024-05-05T10:00:00Z"}}
    assert contract.all_secrets() == {GOOD_KEY, BAD_KEY}
    with pytest.raises(HubError):
        contract.read_messages(["nope"])


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("token", True),
        ("access_token", True),
        ("api_key", True),
        ("apikey", True),
        ("client_secret", True),
        ("password", True),
        ("service_account_credentials", True),
        ("token_param", False),
        ("next_token_path", False),
        ("api_key_header", False),
        ("auth_scheme", False),
        ("primary_key", False),
    ],
)
def test_credential_names_are_recognised(name: str, secret: bool) -> None:
    model = create_model("Config", **{name: (str, "x")})  # type: ignore[call-overload]
    assert (name in _plain_secret_named_fields(model)) is secret
