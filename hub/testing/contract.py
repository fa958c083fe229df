"""The contract suite every source connector gets by subclassing :class:`ConnectorContract`.

In the spirit of ``singer_sdk.testing`` and Airbyte's connector acceptance
tests: a connector author writes one small class, and pytest runs the same
checks the hub relies on for every connector::

    from hub.testing import ConnectorContract

    class TestMyConnector(ConnectorContract):
        connector_class = MyConnector
        secrets = ("shpat_fake_token_123",)

        def valid_config(self):
            return {"shop": "demo", "token": "shpat_fake_token_123", "base_url": "https://fake.test"}

        def bad_credentials_config(self):
            return {**self.valid_config(), "token": "shpat_wrong_token_456"}

        def transport(self):
            return my_fake_api.transport()

pytest collects the inherited ``test_*`` methods because the subclass is
named ``Test*``; the base class itself is never collected. Each check is a
separate test, so a failure names the rule that was broken.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from hub.connector import Checkpoint, Connector, Message, Record, Stream
from hub.errors import FatalConnectorError, HubError
from hub.redaction import redact, register_secrets_in
from hub.testing.leaks import (
    MIN_SECRET_LENGTH,
    capture_raw_logs,
    exception_text,
    find_leaks,
    secret_values,
)

__all__ = ["ConnectorContract"]

# Config fields whose names end in these words hold credentials and must be SecretStr
# (``access_token``, ``api_key``; not ``token_param`` or ``api_key_header``).
_SECRET_NAME = re.compile(
    r"(?i)(^|_)(token|password|passwd|secret|api_?key|private_key|access_key|secret_key|"
    r"credentials?)$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConnectorContract:
    """Subclass as ``Test<Something>`` and fill in the blanks below; pytest does the rest."""

    #: The connector class under test.
    connector_class: ClassVar[type[Connector]]
    #: Recognisable fake secrets used in the configs; none may ever appear in output.
    #: ``SecretStr`` values of the configs are added automatically.
    secrets: ClassVar[tuple[str, ...]] = ()
    #: What ``check()`` must raise for refused credentials (``AuthError`` for HTTP connectors).
    bad_credentials_error: ClassVar[type[HubError]] = FatalConnectorError
    #: Streams to read; ``None`` reads every stream ``discover()`` lists.
    streams_to_read: ClassVar[tuple[str, ...] | None] = None
    #: True when a second read, given the first read's final state, must yield no record
    #: at all (the fake source does not change between reads). Set False for inclusive
    #: cursors that re-read the boundary; re-read records must then be no older than
    #: the first read's newest cursor value.
    unchanged_source_yields_nothing: ClassVar[bool] = True
    #: A read that yields more messages than this is treated as never ending.
    max_messages: ClassVar[int] = 100_000

    # ------------------------------------------------------------------ to provide

    def valid_config(self) -> dict[str, Any]:
        """A config that works against the fake source (MockTransport, local server, files)."""
        raise NotImplementedError(f"{type(self).__name__} must define valid_config()")

    def bad_credentials_config(self) -> dict[str, Any] | None:
        """A config with refused credentials, or None when the connector has none."""
        return None

    def broken_config(self) -> dict[str, Any] | None:
        """A config that validates but ``check()`` must refuse for another reason
        (missing directory, unknown shop), or None."""
        return None

    def transport(self) -> httpx.BaseTransport | None:
        """The transport injected into the connector (a ``MockTransport``), or None."""
        return None

    # ------------------------------------------------------------------ helpers

    def make_config(self, raw: Mapping[str, Any]) -> BaseModel:
        """Validate ``raw`` with the connector's spec; register its secrets as the runner does."""
        config = self.connector_class.spec().model_validate(dict(raw))
        register_secrets_in(config)
        return config

    def make_connector(self, raw: Mapping[str, Any] | None = None) -> Connector:
        """A connector built from ``raw`` (default: :meth:`valid_config`) and :meth:`transport`."""
        config = self.make_config(self.valid_config() if raw is None else raw)
        return self.connector_class(config, transport=self.transport())

    def all_secrets(self) -> set[str]:
        """The declared secrets plus every ``SecretStr`` value in the configs."""
        found = {s for s in self.secrets if len(s) >= MIN_SECRET_LENGTH}
        model = self.connector_class.spec()
        for raw in (self.valid_config(), self.bad_credentials_config(), self.broken_config()):
            if raw is not None:
                found |= secret_values(model.model_validate(raw))
        return found

    def discovered(self) -> list[Stream]:
        """``discover()`` of a connector built from the valid config."""
        connector = self.make_connector()
        try:
            return list(connector.discover())
        finally:
            connector.close()

    def stream_names(self) -> list[str]:
        """The streams the read tests use."""
        if self.streams_to_read is not None:
            return list(self.streams_to_read)
        return [stream.name for stream in self.discovered()]

    def read_messages(
        self,
        streams: Sequence[str] | None = None,
        state: Mapping[str, dict[str, Any]] | None = None,
    ) -> list[Message]:
        """Every message of one ``read()`` (bounded by :attr:`max_messages`)."""
        connector = self.make_connector()
        wanted = self.stream_names() if streams is None else list(streams)
        messages: list[Message] = []
        try:
            for message in connector.read(wanted, dict(state or {})):
                messages.append(message)
                assert len(messages) <= self.max_messages, (
                    f"read({wanted}) yielded more than {self.max_messages} messages; "
                    "does it page forever? (raise max_messages for a bigger fake source)"
                )
        finally:
            connector.close()
        return messages

    @staticmethod
    def final_state(messages: Sequence[Message]) -> dict[str, dict[str, Any]]:
        """The last checkpoint state of each stream, round-tripped through JSON like the store."""
        state: dict[str, dict[str, Any]] = {}
        for message in messages:
            if isinstance(message, Checkpoint):
                state[message.stream] = json.loads(json.dumps(message.state))
        return state

    def _check_failure(self, raw: dict[str, Any], expected: type[HubError], label: str) -> HubError:
        connector = self.make_connector(raw)
        try:
            connector.check()
        except HubError as exc:
            error = exc
        except Exception as exc:
            # The exception's own text may hold the secret: name only its type.
            pytest.fail(
                f"check() raised {type(exc).__module__}.{type(exc).__name__}, not a "
                "hub.errors.HubError; catch it and raise e.g. AuthError(message, hint=...)"
            )
        else:
            pytest.fail(f"check() accepted {label}, which it must refuse")
        finally:
            connector.close()
        leaks = find_leaks(self.all_secrets(), {"the check() error": exception_text(error)})
        assert not leaks, leaks
        assert isinstance(error, expected), (
            f"check() raised {type(error).__name__}, expected a {expected.__name__} "
            "(the runner must stop, not retry)"
        )
        message = (error.message or "").strip()
        assert len(message) >= 10 and message != type(error).__name__, (
            f"check() error message {message!r} does not say what went wrong"
        )
        assert error.hint, f"check() error {message!r} has no hint saying what to do next"
        return error

    # ------------------------------------------------------------------ spec and config

    def test_spec_is_a_pydantic_model_with_a_json_schema(self) -> None:
        model = self.connector_class.spec()
        assert isinstance(model, type) and issubclass(model, BaseModel), (
            f"{self.connector_class.__name__}.spec() must return a pydantic model class"
        )
        schema = model.model_json_schema()
        rendered = json.dumps(schema)
        assert schema.get("type") == "object" and "properties" in schema, rendered[:300]
        assert isinstance(self.connector_class.name, str) and _NAME.match(
            self.connector_class.name
        ), f"connector name {self.connector_class.name!r} must be a plain identifier"

    def test_secret_fields_are_secret_str(self) -> None:
        model = self.connector_class.spec()
        plain = list(_plain_secret_named_fields(model))
        assert not plain, (
            f"these config fields look like credentials but are not SecretStr: {plain}; "
            "declare them as pydantic.SecretStr so they never print"
        )
        config = model.model_validate(self.valid_config())
        leaks = find_leaks(
            self.all_secrets(), {"a plain (non-secret) config value": _plain(config)}
        )
        assert not leaks, (
            f"{leaks}: a configured secret is held in a plain str field; declare it SecretStr"
        )
        schema = json.dumps(model.model_json_schema())
        leaks = find_leaks(self.all_secrets(), {"the config JSON schema": schema})
        assert not leaks, leaks

    def test_valid_config_validates(self) -> None:
        config = self.make_config(self.valid_config())
        again = self.connector_class.spec().model_validate(config.model_dump())
        assert type(again) is type(config)

    def test_config_rejects_unknown_keys(self) -> None:
        raw = {**self.valid_config(), "no_such_option_xyz": 1}
        with pytest.raises(ValidationError, match="no_such_option_xyz"):
            self.connector_class.spec().model_validate(raw)

    # ------------------------------------------------------------------ check

    def test_check_passes_with_valid_config(self) -> None:
        connector = self.make_connector()
        try:
            connector.check()
        finally:
            connector.close()

    def test_check_with_bad_credentials_fails_readably(self) -> None:
        raw = self.bad_credentials_config()
        if raw is None:
            pytest.skip(f"{self.connector_class.__name__} has no credentials")
        with capture_raw_logs() as log:
            self._check_failure(raw, self.bad_credentials_error, "bad_credentials_config()")
        leaks = find_leaks(self.all_secrets(), {"the log": log})
        assert not leaks, leaks

    def test_check_with_broken_config_fails_readably(self) -> None:
        raw = self.broken_config()
        if raw is None:
            pytest.skip("no broken_config() given")
        self._check_failure(raw, FatalConnectorError, "broken_config()")

    # ------------------------------------------------------------------ discover

    def test_discover_lists_well_formed_streams(self) -> None:
        streams = self.discovered()
        assert streams, "discover() lists no stream"
        names = [stream.name for stream in streams]
        assert len(names) == len(set(names)), f"discover() lists a stream twice: {names}"
        for stream in streams:
            assert isinstance(stream, Stream), f"discover() returned {stream!r}, not a Stream"
            assert _NAME.match(stream.name), f"stream name {stream.name!r} is not an identifier"
            assert stream.primary_key and all(
                isinstance(key, str) and key for key in stream.primary_key
            ), f"stream {stream.name!r} has no primary key"
            schema = json.loads(json.dumps(stream.json_schema))
            assert schema.get("type") == "object" or "object" in schema.get("type", ()), (
                f"stream {stream.name!r}: json_schema must describe an object"
            )
            properties = schema.get("properties")
            if properties is not None:
                declared = [*stream.primary_key, *filter(None, [stream.cursor_field])]
                missing = [f for f in declared if f.split(".")[0] not in properties]
                assert not missing, (
                    f"stream {stream.name!r}: key/cursor fields {missing} are not in its "
                    f"json_schema properties {sorted(properties)}"
                )

    def test_unknown_stream_is_refused_by_name(self) -> None:
        name = "no_such_stream_xyz"
        try:
            self.read_messages([name])
        except HubError as exc:
            assert name in str(exc), (
                f"the error for an unknown stream does not name it: {redact(str(exc))}"
            )
        except Exception as exc:
            pytest.fail(
                f"reading unknown stream {name!r} raised {type(exc).__name__}, not a HubError; "
                "raise a FatalConnectorError naming the stream and listing the real ones"
            )
        else:
            pytest.fail(
                f"reading unknown stream {name!r} did not fail; raise a FatalConnectorError "
                "naming the stream and listing the real ones"
            )

    # ------------------------------------------------------------------ read

    def test_read_yields_records_and_a_final_checkpoint_per_stream(self) -> None:
        wanted = self.stream_names()
        messages = self.read_messages(wanted)
        discovered = {stream.name: stream for stream in self.discovered()}
        for message in messages:
            assert isinstance(message, Record | Checkpoint), f"read() yielded {message!r}"
            assert message.stream in wanted, (
                f"read() yielded a message of {message.stream!r}, which was not requested"
            )
        for name in wanted:
            own = [m for m in messages if m.stream == name]
            assert any(isinstance(m, Record) for m in own), (
                f"stream {name!r} yielded no record; give the fake source some data"
            )
            assert own and isinstance(own[-1], Checkpoint), (
                f"stream {name!r}: the last message must be a Checkpoint covering every record"
            )
        for record in (m for m in messages if isinstance(m, Record)):
            stream = discovered.get(record.stream)
            assert stream is not None, f"record of {record.stream!r}, a stream discover() omits"
            assert isinstance(record.data, dict), f"{record.stream}: record data is not a dict"
            json.dumps(record.data)  # records are JSON-like: quarantine stores them as JSON
            for key in stream.primary_key:
                assert _get(record.data, key) not in (None, ""), (
                    f"{record.stream}: record without primary key {key!r}: {_short(record.data)}"
                )
            if stream.cursor_field is not None:
                assert _has(record.data, stream.cursor_field), (
                    f"{record.stream}: record without cursor field {stream.cursor_field!r}: "
                    f"{_short(record.data)}"
                )

    def test_read_only_requested_streams(self) -> None:
        wanted = self.stream_names()
        one = wanted[-1]
        messages = self.read_messages([one])
        others = sorted({m.stream for m in messages} - {one})
        assert not others, f"read([{one!r}]) also yielded {others}"
        assert any(isinstance(m, Checkpoint) for m in messages), f"{one}: no checkpoint"

    def test_checkpoint_state_is_json(self) -> None:
        for message in self.read_messages():
            if isinstance(message, Checkpoint):
                assert isinstance(message.state, dict), f"{message.stream}: state is not a dict"
                text = json.dumps(message.state)  # the store keeps state as JSON
                assert json.loads(text) == message.state, (
                    f"{message.stream}: state does not survive a JSON round trip: {text[:200]}"
                )

    def test_read_respects_state(self) -> None:
        first = self.read_messages()
        state = self.final_state(first)
        second = self.read_messages(state=state)
        again = [m for m in second if isinstance(m, Record)]
        if self.unchanged_source_yields_nothing:
            assert not again, (
                f"a second read with the first read's final state yielded {len(again)} "
                f"records of an unchanged source, e.g. {_short(again[0].data)}"
            )
        streams = {stream.name: stream for stream in self.discovered()}
        for record in again:
            cursor = streams[record.stream].cursor_field
            if cursor is None:
                continue
            seen = [
                _get(m.data, cursor)
                for m in first
                if isinstance(m, Record) and m.stream == record.stream
            ]
            newest = max((_comparable(v) for v in seen if v is not None), default=None)
            value = _get(record.data, cursor)
            if newest is not None and value is not None:
                assert _comparable(value) >= newest, (
                    f"{record.stream}: re-read a record with {cursor}={value!r}, older than "
                    f"the state's cursor"
                )
        for name in state:
            assert any(isinstance(m, Checkpoint) and m.stream == name for m in second), (
                f"{name}: the second read yielded no checkpoint"
            )

    # ------------------------------------------------------------------ secrets

    def test_no_secret_in_records_checkpoints_or_logs(self) -> None:
        secrets = self.all_secrets()
        if not secrets:
            pytest.skip(f"{self.connector_class.__name__} declares no secrets")
        with capture_raw_logs() as log:
            connector = self.make_connector()
            try:
                connector.check()
                discovered = list(connector.discover())
            finally:
                connector.close()
            first = self.read_messages()
            second = self.read_messages(state=self.final_state(first))
        places: dict[str, Any] = {
            "discover()": [(s.name, s.json_schema, s.description) for s in discovered],
            "a record": [m.data for m in first + second if isinstance(m, Record)],
            "a checkpoint": [m.state for m in first + second if isinstance(m, Checkpoint)],
            "the log": log,
        }
        leaks = find_leaks(secrets, places)
        assert not leaks, leaks

    def test_no_secret_in_reprs(self) -> None:
        secrets = self.all_secrets()
        if not secrets:
            pytest.skip(f"{self.connector_class.__name__} declares no secrets")
        connector = self.make_connector()
        try:
            config = connector.config
            places = {
                "repr(connector)": repr(connector),
                "str(connector)": str(connector),
                "repr(config)": repr(config),
                "str(config)": str(config),
                "config.model_dump_json()": config.model_dump_json(),
                "vars(connector) reprs": [repr(v) for v in vars(connector).values()],
            }
        finally:
            connector.close()
        leaks = find_leaks(secrets, places)
        assert not leaks, leaks


# ---------------------------------------------------------------------- helpers


def _plain_secret_named_fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Dotted names of credential-named fields whose type is not SecretStr/SecretBytes."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if _SECRET_NAME.search(name) and not _mentions(annotation, (SecretStr, SecretBytes)):
            yield prefix + name
        for nested in _models_in(annotation):
            yield from _plain_secret_named_fields(nested, f"{prefix}{name}.")


def _mentions(annotation: Any, targets: tuple[type, ...]) -> bool:
    if annotation in targets:
        return True
    return any(_mentions(arg, targets) for arg in typing.get_args(annotation))


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _plain(value: Any) -> Any:
    """A model's values with every secret field left out (what may legitimately print)."""
    if isinstance(value, SecretStr | SecretBytes):
        return None
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _get(data: Mapping[str, Any], path: str) -> Any:
    """The value at a top-level key or dotted path of a record, or None."""
    if path in data:
        return data[path]
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _has(data: Mapping[str, Any], path: str) -> bool:
    if path in data:
        return True
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True


def _comparable(value: Any) -> tuple[int, Any]:
    """A sort key for cursor values: instants, then numbers, then text."""
    if isinstance(value, datetime):
        return (0, value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (1, Decimal(str(value)))
    text = str(value)
    try:
        instant = datetime.fromisoformat(text)
        return (0, instant if instant.tzinfo else instant.replace(tzinfo=UTC))
    except ValueError:
        pass
    try:
        number = Decimal(text)
    except InvalidOperation:
        return (2, text)
    return (2, text) if number.is_nan() else (1, number)


def _short(data: Any, limit: int = 200) -> str:
    """A record for a failure message: cut short, registered secrets masked."""
    text = redact(json.dumps(data, default=str, ensure_ascii=False))
    return text if len(text) <= limit else text[:limit] + "..."
