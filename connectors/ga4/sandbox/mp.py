"""The Measurement Protocol side: ``/mp/collect`` and its validation server ``/debug/mp/collect``.

GA4's Measurement Protocol never answers an HTTP error for a bad payload
[V: "always returns a 2xx status code"]; only the validation server says what
is wrong, as ``{"validationMessages": [{"fieldPath", "description",
"validationCode"}]}`` [V]. :func:`validate` holds the checks both share;
what each check is and how strict the sandbox is (it enforces the purchase
recommendations always, as with ``validation_behavior:
ENFORCE_RECOMMENDATIONS``) is listed in docs/decisions/0012-ga4-sandbox.md,
with the [B] wording of every message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

#: [V] (MP reference, "Limitations")
MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_USER_PROPERTIES = 25
MAX_NAME = 40
MAX_PARAM_VALUE = 100
MAX_BODY = 130 * 1024  # "130kB" [B: 1 kB = 1024 bytes]
MAX_AGE_MICROS = 72 * 3600 * 1_000_000
#: how far in the future a timestamp may be [B]
MAX_AHEAD_MICROS = 15 * 60 * 1_000_000
MAX_ITEMS = 200  # [B]
#: event names the protocol reserves [V: MP "Reserved names" list, web streams]
RESERVED_EVENTS = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "adunit_exposure",
        "app_clear_data",
        "app_install",
        "app_update",
        "app_remove",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "screen_view",
        "session_start",
        "user_engagement",
    }
)
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Message:
    """One ``validationMessages`` entry."""

    field_path: str
    description: str
    code: str

    def json(self) -> dict[str, str]:
        return {
            "fieldPath": self.field_path,
            "description": self.description,
            "validationCode": self.code,
        }


@dataclass(frozen=True)
class MPEvent:
    """One event the sandbox accepted on ``/mp/collect``."""

    measurement_id: str
    client_id: str
    user_id: str | None
    #: the event's ``timestamp_micros``, else the request's, else None (the time it arrived)
    timestamp_micros: int | None
    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Dropped:
    """A request or event ``/mp/collect`` dropped silently, and why (for tests)."""

    reason: str
    payload: Any


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_name(name: Any, what: str, path: str) -> list[Message]:
    """Event and parameter names: 1-40 letters, digits, underscores, a letter first [V]."""
    if not isinstance(name, str) or not name:
        return [Message(path, f"{what} has no name. Names are required.", "VALUE_REQUIRED")]
    if len(name) > MAX_NAME:
        return [
            Message(
                path,
                f"{what} has invalid name [{name}]. Names must be {MAX_NAME} characters or fewer.",
                "NAME_INVALID",
            )
        ]
    if not _NAME.match(name):
        rule = (
            "Names must start with an alphabetic character."
            if not (name[0].isascii() and name[0].isalpha())
            else "Names must contain only alphanumeric characters and underscores."
        )
        return [Message(path, f"{what} has invalid name [{name}]. {rule}", "NAME_INVALID")]
    if name.startswith(RESERVED_PREFIXES):
        return [Message(path, f"{what} has name [{name}] with a reserved prefix.", "NAME_RESERVED")]
    return []


@dataclass
class Validation:
    """What :func:`validate` found: every message, and which parts ``/mp/collect`` would keep."""

    messages: list[Message]
    #: the parsed body (None: not JSON)
    payload: Any = None
    #: False: a request-level problem, every event is dropped
    request_ok: bool = True
    #: indices of events with a problem of their own (dropped one by one) [B]
    bad_events: frozenset[int] = frozenset()


def validate(body: bytes, *, now_micros: int) -> Validation:
    """Every problem of an MP request body, and what ``/mp/collect`` keeps of it.

    Field paths name the offending field (``client_id``, ``events``,
    ``events[0].params.currency``, ``events[0].params.items[1]``) [B: GA4's
    exact paths for parameters are not documented].
    """
    if len(body) > MAX_BODY:
        too_big = f"The request body is {len(body)} bytes; it must be smaller than 130kB."
        return Validation([Message("", too_big, "VALUE_OUT_OF_BOUNDS")], None, False)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        not_json = "Unable to parse the payload: it is not JSON."
        return Validation([Message("", not_json, "VALUE_INVALID")], None, False)
    if not isinstance(payload, dict):
        not_object = "The payload must be a JSON object."
        return Validation([Message("", not_object, "VALUE_INVALID")], payload, False)
    messages: list[Message] = []
    client_id = payload.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        messages.append(
            Message(
                "client_id",
                "Measurement requires a client_id (web streams) as a non-empty string.",
                "VALUE_REQUIRED",
            )
        )
    user_id = payload.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        messages.append(Message("user_id", "user_id must be a string.", "VALUE_INVALID"))
    messages += _timestamp(payload.get("timestamp_micros"), "timestamp_micros", now_micros)
    props = payload.get("user_properties")
    if props is not None and (not isinstance(props, dict) or len(props) > MAX_USER_PROPERTIES):
        messages.append(
            Message(
                "user_properties",
                f"user_properties must be an object with at most {MAX_USER_PROPERTIES} entries.",
                "EXCEEDED_MAX_ENTITIES" if isinstance(props, dict) else "VALUE_INVALID",
            )
        )
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        messages.append(
            Message("events", "Measurement requires a non-empty events list.", "VALUE_REQUIRED")
        )
        return Validation(messages, payload, False)
    if len(events) > MAX_EVENTS:
        messages.append(
            Message(
                "events",
                f"A request can have at most {MAX_EVENTS} events; this one has {len(events)}.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    request_ok = not messages
    bad = set()
    for i, event in enumerate(events):
        found = validate_event(event, i, now_micros=now_micros)
        if found:
            bad.add(i)
            messages += found
    return Validation(messages, payload, request_ok, frozenset(bad))


def validate_event(event: Any, i: int, *, now_micros: int) -> list[Message]:
    """The problems of ``events[i]``."""
    what = f"Event at index: [{i}]"
    if not isinstance(event, dict):
        return [Message("events", f"{what} is not an object.", "VALUE_INVALID")]
    name = event.get("name")
    messages = _check_name(name, what, "events")
    if not messages and name in RESERVED_EVENTS:
        messages.append(
            Message("events", f"{what} has name [{name}] which is reserved.", "NAME_RESERVED")
        )
    messages += _timestamp(
        event.get("timestamp_micros"), f"events[{i}].timestamp_micros", now_micros
    )
    params = event.get("params", {})
    if not isinstance(params, dict):
        return [
            *messages,
            Message(f"events[{i}].params", "params must be an object.", "VALUE_INVALID"),
        ]
    if len(params) > MAX_PARAMS:
        messages.append(
            Message(
                f"events[{i}].params",
                f"{what} has {len(params)} parameters; at most {MAX_PARAMS} are allowed.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for key, value in params.items():
        path = f"events[{i}].params.{key}"
        messages += _check_name(key, f"Parameter of event at index: [{i}]", path)
        if isinstance(value, str) and len(value) > MAX_PARAM_VALUE and key != "items":
            messages.append(
                Message(
                    path,
                    f"Parameter [{key}] is {len(value)} characters; values are limited to "
                    f"{MAX_PARAM_VALUE}.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
    if name in ("purchase", "refund"):
        messages += _purchase(params, i)
    if "items" in params:
        messages += _items(params["items"], i)
    return messages


def _purchase(params: dict[str, Any], i: int) -> list[Message]:
    """``purchase``/``refund``: ``transaction_id``; ``currency`` whenever ``value`` is set."""
    out = []
    tid = params.get("transaction_id")
    if not isinstance(tid, str) or not tid:
        out.append(
            Message(
                f"events[{i}].params.transaction_id",
                f"Event at index: [{i}] is a purchase or refund and requires a transaction_id.",
                "VALUE_REQUIRED",
            )
        )
    if "value" in params:
        if not _number(params["value"]):
            out.append(
                Message(f"events[{i}].params.value", "value must be a number.", "VALUE_INVALID")
            )
        currency = params.get("currency")
        if currency is None or currency == "":
            out.append(
                Message(
                    f"events[{i}].params.currency",
                    "currency is required when value is set.",
                    "VALUE_REQUIRED",
                )
            )
        elif not isinstance(currency, str) or not _CURRENCY.match(currency):
            out.append(
                Message(
                    f"events[{i}].params.currency",
                    f"currency [{currency}] is not a 3-letter ISO 4217 code.",
                    "VALUE_INVALID",
                )
            )
    return out


def _items(items: Any, i: int) -> list[Message]:
    path = f"events[{i}].params.items"
    if not isinstance(items, list):
        return [Message(path, "items must be a list of objects.", "VALUE_INVALID")]
    out = []
    if len(items) > MAX_ITEMS:
        out.append(
            Message(
                path, f"At most {MAX_ITEMS} items per event are allowed.", "EXCEEDED_MAX_ENTITIES"
            )
        )
    for j, item in enumerate(items):
        where = f"{path}[{j}]"
        if not isinstance(item, dict):
            out.append(Message(where, "Each item must be an object.", "VALUE_INVALID"))
            continue
        if not item.get("item_id") and not item.get("item_name"):
            out.append(Message(where, "An item requires item_id or item_name.", "VALUE_REQUIRED"))
        for key in ("price", "quantity"):
            if key in item and not _number(item[key]):
                out.append(Message(f"{where}.{key}", f"{key} must be a number.", "VALUE_INVALID"))
    return out


def _timestamp(value: Any, path: str, now_micros: int) -> list[Message]:
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool):
        if not (isinstance(value, str) and value.isdigit()):
            return [Message(path, "timestamp_micros must be an integer.", "VALUE_INVALID")]
        value = int(value)
    if value < now_micros - MAX_AGE_MICROS:
        return [
            Message(
                path,
                "timestamp_micros is more than 72 hours in the past; such events are dropped.",
                "VALUE_INVALID",
            )
        ]
    if value > now_micros + MAX_AHEAD_MICROS:
        return [Message(path, "timestamp_micros is in the future.", "VALUE_INVALID")]
    return []


def accepted(validation: Validation, measurement_id: str) -> list[MPEvent]:
    """The events ``/mp/collect`` keeps: none after a request-level problem, else the good ones."""
    if not validation.request_ok:
        return []
    payload = validation.payload
    base = payload.get("timestamp_micros")
    out = []
    for i, e in enumerate(payload["events"]):
        if i in validation.bad_events:
            continue
        stamp = e.get("timestamp_micros", base)
        out.append(
            MPEvent(
                measurement_id,
                payload["client_id"],
                payload.get("user_id"),
                int(stamp) if stamp is not None else None,
                e["name"],
                dict(e.get("params") or {}),
            )
        )
    return out
