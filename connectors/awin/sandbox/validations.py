"""The sandbox's transaction-validation batch API (Awin's "Validate Transactions").

``POST /advertisers/{id}/transactions/batch`` takes a JSON array of at most
40,000 operations (``approve``, ``decline``, ``amend``), each naming its
transaction by ``transactionId`` or by ``orderRef`` with ``transactionDate``
and ``timezone``, and answers 202 with ``{"jobId": ...}``. The job is then read
with ``GET /advertisers/{id}/transactions/jobs/{jobId}[?output=errors|all]``.

The sandbox applies a batch when it accepts it: the decisions are visible in
the transaction lists at once, stamped with the sandbox's "now". The job
answers ``PROCESSING`` on its first read and ``DONE`` from then on, so a
client has to poll as it must with Awin; the outcome of each operation is
only given once the job is ``DONE``.

Only pending transactions can be decided. A failed operation changes nothing
and is reported with a code in the form ``[404 NOT_FOUND] ...``, ``[409
CONFLICT] ...`` or ``[400 BAD_REQUEST] ...`` [B: the codes' wording, like the
job body's shape beyond the documented example, is assumed]. Amounts are read
exactly (``Decimal(str(number))``) and kept in integer cents.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .data import (
    APPROVED,
    CURRENCY,
    DECLINED,
    PENDING,
    TIMEZONES,
    TRANSACTION_ID_BASE,
    AwinData,
    Decision,
    find_group,
    zone,
)

MAX_OPERATIONS = 40_000
ACTIONS = ("approve", "decline", "amend")
OUTPUTS = ("errors", "all")
#: the group that absorbs the difference when the amended parts do not add up to saleAmount
BALANCING_GROUP = "DEFAULT"
NOT_FOUND = "[404 NOT_FOUND] transaction not found"
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


class BatchRefused(Exception):
    """The whole call is refused (400): not a JSON array, empty, or more than 40,000 operations."""


class _Failed(Exception):
    """One operation fails: ``code`` is what ``failedTransactions`` reports for it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _bad(what: str) -> _Failed:
    return _Failed(f"[400 BAD_REQUEST] {what}")


@dataclass(frozen=True)
class Outcome:
    """What became of one operation of a batch, and how it named its transaction."""

    #: the operation exactly as received
    operation: Any
    action: str | None
    transaction_id: int | None
    order_ref: str | None
    transaction_date: str | None
    #: the zone the operation gave with its ``transactionDate`` ("" when none was given)
    timezone: str
    #: the index of the transaction it applied to (None: it failed before one was found)
    index: int | None
    #: None: applied; otherwise the failure code, e.g. ``[404 NOT_FOUND] transaction not found``
    code: str | None

    @property
    def ok(self) -> bool:
        return self.code is None

    def json(self, *, with_status: bool) -> dict[str, Any]:
        """The element of ``failedTransactions`` (or, ``with_status``, of ``allTransactions``)."""
        body: dict[str, Any] = {
            "transactionId": self.transaction_id,
            "orderRef": self.order_ref,
            "transactionDate": self.transaction_date,
            "timezone": self.timezone,
            "action": self.action,
        }
        if with_status:
            body["status"] = "SUCCESS" if self.ok else "FAILED"  # [B]
        body["code"] = self.code
        return body


@dataclass
class Job:
    """One accepted batch: its operations as received, their outcomes, and how often it was read."""

    id: str
    #: the sandbox's "now" when the batch arrived (epoch seconds): every decision's instant
    received_at: int
    operations: list[Any]
    outcomes: list[Outcome]
    #: how many times ``GET .../jobs/{id}`` read it
    reads: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    def summary(self) -> dict[str, Any]:
        """The job in ``GET .../transactions/jobs`` (the list; [B] its shape), not a read."""
        done = self.reads > 0
        return {
            "jobId": self.id,
            "status": "DONE" if done else "PROCESSING",
            "transactions": len(self.operations),
            "errors": self.errors if done else None,
        }

    def read(self, output: str | None) -> dict[str, Any]:
        """The job as ``GET .../jobs/{id}`` answers it: PROCESSING on the first read, then DONE."""
        self.reads += 1
        if self.reads == 1:
            # [B] while processing, no outcome is known yet
            return {
                "jobId": self.id,
                "status": "PROCESSING",
                "transactions": len(self.operations),
                "allTransactions": None,
                "errors": None,
                "failedTransactions": None,
            }
        return {
            "jobId": self.id,
            "status": "DONE",
            "transactions": len(self.operations),
            "allTransactions": (
                [o.json(with_status=True) for o in self.outcomes] if output == "all" else None
            ),
            "errors": self.errors,
            "failedTransactions": (
                [o.json(with_status=False) for o in self.outcomes if not o.ok]
                if output == "errors"
                else None
            ),
        }


@dataclass
class Validations:
    """The advertiser's decisions and the jobs that carried them (what tests inspect).

    ``decisions`` is the mapping :class:`~.data.AwinData` serves the
    transactions with; the sandbox builds its data on it. ``lock`` is the
    sandbox's, so a batch is applied atomically with respect to the lists.
    """

    lock: threading.RLock = field(default_factory=threading.RLock)
    #: the advertiser's decisions by transaction index
    decisions: dict[int, Decision] = field(default_factory=dict)
    #: every accepted batch by job id, in the order received
    jobs: dict[str, Job] = field(default_factory=dict)

    @property
    def operations(self) -> list[Any]:
        """Every operation of every accepted batch, in the order received."""
        with self.lock:
            return [op for job in self.jobs.values() for op in job.operations]

    def job(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def receive(self, body: Any, *, data: AwinData, count: int, now: int) -> Job:
        """Check and apply one batch to the first ``count`` transactions of ``data`` at ``now``.

        Raises :class:`BatchRefused` when the call as a whole is wrong; the
        operations' own failures are recorded in the returned job.
        """
        if data.decisions is not self.decisions:
            raise ValueError("data must serve this registry's decisions (AwinData(decisions=...))")
        if not isinstance(body, list):
            raise BatchRefused("the body must be a JSON array of operations")
        if not body:
            raise BatchRefused("the body holds no operation; send at least one")
        if len(body) > MAX_OPERATIONS:
            raise BatchRefused(f"at most {MAX_OPERATIONS} operations per call, got {len(body)}")
        with self.lock:
            batch = _Batch(data, self.decisions, count, now)
            outcomes = [batch.apply(op) for op in body]
            job_id = f"{now & 0xFFFFFFFF:08x}{len(self.jobs) + 1:016x}"  # ObjectId-like
            job = Job(job_id, now, list(body), outcomes)
            self.jobs[job_id] = job
            return job


class _Batch:
    """Applies the operations of one batch, in order, at one instant."""

    def __init__(
        self, data: AwinData, decisions: dict[int, Decision], count: int, now: int
    ) -> None:
        self.data = data
        self.decisions = decisions
        self.count = count
        self.now = now
        self._by_order_ref: dict[str, list[int]] | None = None

    def apply(self, op: Any) -> Outcome:
        """One operation: its outcome; on success the decision is recorded."""
        action = op.get("action") if isinstance(op, dict) else None
        target = op.get("transaction") if isinstance(op, dict) else None
        tx = target if isinstance(target, dict) else {}
        tid = tx.get("transactionId")
        ref = tx.get("orderRef")
        date = tx.get("transactionDate")
        tz = tx.get("timezone")

        def outcome(index: int | None, code: str | None) -> Outcome:
            return Outcome(
                op,
                action if isinstance(action, str) else None,
                tid if _is_int(tid) else None,
                ref if isinstance(ref, str) else None,
                date if isinstance(date, str) else None,
                tz if isinstance(tz, str) else "",
                index,
                code,
            )

        try:
            if not isinstance(op, dict):
                raise _bad("an operation must be a JSON object")
            if action not in ACTIONS:
                raise _bad(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
            if not isinstance(target, dict):
                raise _bad("transaction must be an object naming the transaction")
            change = self._change(action, op, tx)
            index = self._find(tx)
        except _Failed as exc:
            return outcome(None, exc.code)
        try:
            self._decide(index, action, change)
        except _Failed as exc:
            return outcome(index, exc.code)
        return outcome(index, None)

    # ------------------------------------------------------------------ checking

    def _change(self, action: str, op: dict[str, Any], tx: dict[str, Any]) -> dict[str, Any]:
        """The checked content of the operation (reasons, amounts in cents)."""
        if action == "approve":
            return {}
        if action == "decline":
            # [B] Awin's docs show a reason but do not say it is required: none is accepted
            return {"reason": _text(tx, "declineReason")}
        approve = op.get("approve", False)
        if not isinstance(approve, bool):
            raise _bad("approve must be true or false")
        currency = tx.get("currency")
        if currency is None:
            raise _bad("currency is required to amend a transaction")
        if currency != CURRENCY:
            raise _bad(f"currency must be the programme currency {CURRENCY}, not {currency!r}")
        if tx.get("saleAmount") is None:
            raise _bad("saleAmount is required to amend a transaction")
        sale = _cents(tx["saleAmount"], "saleAmount")
        given = tx.get("transactionParts") or []
        if not isinstance(given, list):
            raise _bad("transactionParts must be a list of {amount, commissionGroupCode}")
        parts: dict[str, int] = {}
        for part in given:
            if not isinstance(part, dict):
                raise _bad("transactionParts must be a list of {amount, commissionGroupCode}")
            code = part.get("commissionGroupCode")
            if not isinstance(code, str) or find_group(code) is None:
                raise _bad(f"commission group {code!r} does not exist in this programme")
            if code in parts:
                raise _bad(f"commission group {code} occurs twice in transactionParts")
            parts[code] = _cents(part.get("amount"), f"transactionParts amount of {code}")
        # the balancing group takes what the other parts leave of saleAmount
        rest = sale - sum(a for c, a in parts.items() if c != BALANCING_GROUP)
        if rest < 0:
            raise _bad("the transactionParts add up to more than saleAmount")
        return {
            "reason": _text(tx, "amendReason"),
            "approve": approve,
            "parts": parts,
            "balance": rest,
        }

    def _find(self, tx: dict[str, Any]) -> int:
        """The index of the transaction ``tx`` names (by id, else by orderRef and date)."""
        tid = tx.get("transactionId")
        if tid is not None:
            if not _is_int(tid):
                raise _bad("transactionId must be a whole number")
            index = tid - TRANSACTION_ID_BASE
            if not 0 <= index < self.count or self.data.facts(index).transaction_at > self.now:
                raise _Failed(NOT_FOUND)
            return index
        ref, date = tx.get("orderRef"), tx.get("transactionDate")
        if not isinstance(ref, str) or not ref or not isinstance(date, str):
            raise _bad("name the transaction by transactionId, or by orderRef and transactionDate")
        tz = tx.get("timezone") or "UTC"  # [B] the zone defaults to UTC, as on the lists
        if tz not in TIMEZONES:
            raise _bad(f"timezone {tz!r} is not supported; use one of {', '.join(TIMEZONES)}")
        at, precision = _instant(date, tz)
        found = [
            i
            for i in self._order_refs().get(ref, [])
            if self.data.facts(i).transaction_at // precision == at // precision
        ]
        if not found:
            raise _Failed(NOT_FOUND)
        if len(found) > 1:
            raise _Failed("[409 CONFLICT] orderRef and transactionDate match several transactions")
        return found[0]

    def _order_refs(self) -> dict[str, list[int]]:
        """orderRef -> indices of the transactions served now (built once per batch)."""
        if self._by_order_ref is None:
            refs: dict[str, list[int]] = {}
            for i in range(self.count):
                if self.data.facts(i).transaction_at <= self.now:
                    ref = self.data.transaction(i, now=self.now)["orderRef"]
                    if ref is not None:
                        refs.setdefault(ref, []).append(i)
            self._by_order_ref = refs
        return self._by_order_ref

    # ------------------------------------------------------------------ applying

    def _decide(self, index: int, action: str, change: dict[str, Any]) -> None:
        status = self.data.facts(index).status(self.now)
        if status != PENDING:
            raise _Failed(f"[409 CONFLICT] transaction is {status} and cannot be changed")
        now = self.now
        before = self.decisions.get(index) or Decision(PENDING)
        if action == "approve":
            after = replace(before, status=APPROVED, validated_at=now)
        elif action == "decline":
            after = replace(
                before, status=DECLINED, validated_at=now, decline_reason=change["reason"]
            )
        else:
            served = self.data.transaction(index, now=now)
            old = tuple(
                (p["commissionGroupCode"], _cents(p["amount"], "amount"))
                for p in served["transactionParts"]
            )
            after = replace(
                before,
                parts=_amended(old, change["parts"], change["balance"]),
                old_parts=old,
                amended_at=now,
                amend_reason=change["reason"],
            )
            if change["approve"]:
                after = replace(after, status=APPROVED, validated_at=now)
        self.decisions[index] = after


def _amended(
    old: tuple[tuple[str, int], ...], given: dict[str, int], balance: int
) -> tuple[tuple[str, int], ...]:
    """The parts after an amendment, in cents: the given amounts, the balancing group's rest.

    Groups the amendment leaves out stay listed with 0 (as the reference's
    example shows a zeroed part); the balancing group is listed when it was
    before, was given, or takes a remainder.
    """
    parts = {code: 0 for code, _ in old}
    for code, amount in given.items():
        if code != BALANCING_GROUP:
            parts[code] = amount
    if BALANCING_GROUP in parts or BALANCING_GROUP in given or balance:
        parts[BALANCING_GROUP] = balance
    return tuple(parts.items())


# ---------------------------------------------------------------------------- values


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(tx: dict[str, Any], name: str) -> str | None:
    value = tx.get(name)
    if value is not None and not isinstance(value, str):
        raise _bad(f"{name} must be text")
    return value


def _cents(value: Any, name: str) -> int:
    """A JSON number of the programme currency as integer cents, exactly; at most 2 decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"{name} must be a number, not {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of a JSON number always parses
        raise _bad(f"{name} must be a number, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise _bad(f"{name} must be a number >= 0, not {value!r}")
    hundredths = amount * 100
    if hundredths != hundredths.to_integral_value():
        raise _bad(f"{name} has more than 2 decimals: {value!r}")
    return int(hundredths)


def _instant(text: str, tz: str) -> tuple[int, int]:
    """An offset-less ``transactionDate`` read in ``tz``: epoch seconds and its precision.

    With seconds it must match to the second, without (``HH:MM``) to the minute.
    """
    for fmt, precision in zip(_DATE_FORMATS, (1, 60), strict=True):
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return int(local.replace(tzinfo=zone(tz)).timestamp()), precision
    raise _bad(f"transactionDate {text!r} is not a date in the format yyyy-MM-ddTHH:mm:ss")
