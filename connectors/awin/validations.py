"""The ``awin-validations`` destination: an advertiser's approvals, declines and amendments.

A decision names one transaction and what to do with it; a list of them is
what a person (or, later, the hub's reconciliation of shop orders against
network transactions) hands to ``hub push awin-validations --input FILE``.
Columns (CSV) or keys (JSON, JSON Lines):

``action``
    ``approve``, ``decline`` or ``amend``.
``transaction_id`` | ``conversion_id`` | ``order_ref``
    The transaction: Awin's id, or the hub's canonical conversion id, or the
    merchant's order number; the last two are looked up among the tenant's
    stored Awin conversions (sync first).
``reason``
    Required to decline or amend: the publisher sees it.
``sale_amount``, ``currency``, ``parts``, ``approve``
    Amend only: the new sale amount in the programme currency, the split over
    commission groups (``DEFAULT:44.76|ACC:11.20`` in CSV, a list of
    ``{"code", "amount"}`` or an object ``{code: amount}`` in JSON; optional
    when the transaction has a single commission group), and whether to
    approve right after amending (default no).

Every decision is checked before anything is sent: one bad row is an
:class:`~hub.errors.InputFileError` naming each bad row, and nothing goes
out. Then the transactions are read back from Awin by id, and only what
would change is sent: a transaction already in the decided state is
``unchanged`` (so re-running a list, or a run that crashed half-way, sends
nothing twice), one Awin can no longer change (approved or declined) fails
with the reason. The operations go out in batches of ``batch_size`` (Awin
accepts 40,000) to ``POST /advertisers/{id}/transactions/batch``; each batch
is a job Awin processes asynchronously, and the destination polls it until
it is done so that the operations Awin refused are reported per decision.
``docs/decisions/0011-awin-destinations.md`` records the reasons.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx
import orjson
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from hub.connector import Destination, WriteResult
from hub.errors import FatalConnectorError, InputFileError, Problem
from hub.rowfile import InputRow
from hub.schema import make_id
from hub.store import Store

from .client import AwinClient
from .settings import AwinSettings

log = logging.getLogger(__name__)

ACTIONS = ("approve", "decline", "amend")
#: Awin's limit of operations in one batch request.
MAX_BATCH = 40_000
#: Job statuses that mean Awin finished processing a batch ([B]: only DONE is documented).
JOB_DONE = frozenset({"DONE", "COMPLETED", "FINISHED", "SUCCESS"})
JOB_FAILED = frozenset({"FAILED", "ERROR", "ABORTED"})
LINK_SYSTEM = "awin_validation"
TARGET_KEYS = ("transaction_id", "conversion_id", "order_ref")
_CENT = Decimal("0.01")


class AwinValidationSettings(AwinSettings):
    """An Awin advertiser account to validate transactions in (the source's config block)."""

    start_date: date | None = Field(  # type: ignore[assignment]
        default=None,
        description="Not used by the destination (allowed so that the source connection's "
        "config block is reused as is).",
    )
    batch_size: int = Field(
        default=1000,
        ge=1,
        le=MAX_BATCH,
        description=f"Operations per batch request (Awin accepts up to {MAX_BATCH}); each batch "
        "is one job, so smaller batches report refusals sooner.",
    )
    lookup_batch_size: int = Field(
        default=100,
        ge=1,
        le=500,
        description="Transaction ids per read-back request (GET .../transactions?ids=...).",
    )
    wait_for_jobs: bool = Field(
        default=True,
        description="Poll each batch's job until Awin has processed it and report the "
        "operations it refused; false returns as soon as the batches are accepted.",
    )
    job_poll_seconds: float = Field(
        default=15.0, gt=0, le=600, description="Seconds between two polls of a job."
    )
    job_timeout_seconds: float = Field(
        default=900.0,
        ge=0,
        description="Stop polling a job after this many seconds; it keeps running at Awin, "
        "and a later push finds its decisions applied (unchanged).",
    )

    @model_validator(mode="after")
    def _advertiser_only(self) -> AwinValidationSettings:
        if self.account_type != "advertiser":
            raise ValueError(
                "awin-validations validates an advertiser's transactions: account_type must "
                "be advertiser (publishers cannot approve or decline)"
            )
        return self


# -- decisions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One commission group's share of an amended sale."""

    code: str
    amount: Decimal


@dataclass(frozen=True)
class Decision:
    """One checked decision about one Awin transaction."""

    row: InputRow
    action: str
    transaction_id: int
    reason: str | None = None
    sale_amount: Decimal | None = None
    currency: str | None = None
    parts: tuple[Part, ...] | None = None
    approve: bool = False

    @property
    def where(self) -> str:
        return f"{self.row.where}: transaction {self.transaction_id}"

    def terms(self) -> tuple[Any, ...]:
        """Everything but where it came from: two rows with equal terms are one decision."""
        return (
            self.action,
            self.reason,
            self.sale_amount,
            self.currency,
            self.parts,
            self.approve,
        )


def located(rows: Iterable[Mapping[str, Any]], file: str = "<decisions>") -> Iterator[InputRow]:
    """``rows`` as :class:`InputRow` (rows not read from a file are named ``row N``)."""
    for n, row in enumerate(rows, start=1):
        yield row if isinstance(row, InputRow) else InputRow(file, None, dict(row), f"row {n}")


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, row: InputRow, field_name: str, message: str, hint: str | None = None) -> None:
        location = f"{row.location}: {field_name}" if row.location else field_name
        self.items.append(Problem(row.file, location, message, row.line, hint))


def parse_decision(row: InputRow, problems: _Problems) -> Decision | None:
    """Check one row; None (and its problems recorded) when it is not a usable decision."""
    before = len(problems.items)
    action = _text(row.get("action"))
    action = action.lower() if action else None
    if action not in ACTIONS:
        problems.add(
            row,
            "action",
            f"{row.get('action')!r} is not an action" if action else "no action",
            f"write one of: {', '.join(ACTIONS)}",
        )
    raw_id = row.get("transaction_id")
    transaction_id = _transaction_id(raw_id)
    if transaction_id is None:
        if raw_id is not None and raw_id != "":
            problems.add(
                row,
                "transaction_id",
                f"{raw_id!r} is not an Awin transaction id",
                "a positive whole number, as Awin shows it",
            )
        else:
            problems.add(
                row,
                "transaction_id",
                "no transaction named",
                f"give one of: {', '.join(TARGET_KEYS)}",
            )
    reason = _text(row.get("reason"))
    if action in ("decline", "amend") and not reason:
        problems.add(
            row,
            "reason",
            f"a reason is required to {action}",
            "write why (the publisher sees it), e.g. 'order returned'",
        )
    sale_amount = currency = None
    parts: tuple[Part, ...] | None = None
    approve = False
    amend_only = ("sale_amount", "currency", "parts", "approve")
    if action == "amend":
        sale_amount = _amount(row, "sale_amount", problems, required=True)
        currency = _text(row.get("currency"))
        if not currency or len(currency) != 3 or not currency.isalpha():
            problems.add(
                row,
                "currency",
                f"{row.get('currency')!r} is not an ISO 4217 code",
                "write the programme currency, e.g. EUR",
            )
        else:
            currency = currency.upper()
        parts = _parts(row, problems)
        if parts is not None and sale_amount is not None:
            total = sum((part.amount for part in parts), Decimal(0))
            if total != sale_amount:
                problems.add(
                    row,
                    "parts",
                    f"the parts add up to {total}, not to the sale amount {sale_amount}",
                    "make the parts add up to sale_amount",
                )
        approve = _flag(row, "approve", problems)
    elif action is not None:
        for key in amend_only:
            if row.get(key) not in (None, ""):
                problems.add(row, key, f"only an amend takes {key}", "remove it, or amend")
    if len(problems.items) > before or action is None or transaction_id is None:
        return None
    return Decision(row, action, transaction_id, reason, sale_amount, currency, parts, approve)


def parse_decisions(rows: Iterable[Mapping[str, Any]]) -> list[Decision]:
    """Every decision of ``rows``, checked; an :class:`InputFileError` lists all bad rows."""
    problems = _Problems()
    decisions = [d for row in located(rows) if (d := parse_decision(row, problems))]
    chosen: dict[int, Decision] = {}
    for decision in decisions:
        first = chosen.setdefault(decision.transaction_id, decision)
        if first is not decision and first.terms() != decision.terms():
            problems.add(
                decision.row,
                "action",
                f"transaction {decision.transaction_id} has another decision at {first.row.where}",
                "keep one decision per transaction",
            )
    if problems.items:
        raise InputFileError(problems.items)
    return decisions


def resolve_targets(
    store: Store, tenant: str, rows: Iterable[Mapping[str, Any]], account_id: int
) -> list[InputRow]:
    """Rows naming a ``conversion_id`` or ``order_ref`` get the Awin ``transaction_id``.

    Looked up among the tenant's stored conversions of source ``awin`` of
    advertiser ``account_id``; rows that already name a ``transaction_id``
    pass unchanged. Unknown or ambiguous references are an InputFileError.
    """
    given = list(located(rows))
    wanted_ids = {str(r["conversion_id"]) for r in given if _needs(r, "conversion_id")}
    wanted_refs = {str(r["order_ref"]).strip() for r in given if _needs(r, "order_ref")}
    by_id: dict[str, str] = {}
    by_ref: dict[str, list[str]] = {}
    if wanted_ids or wanted_refs:
        table = store.table("conversion")
        query = select(table.c.id, table.c.external_id, table.c.order_ref, table.c.extra).where(
            table.c.tenant == tenant, table.c.source == "awin"
        )
        with store.transaction() as connection:
            for found in connection.execute(query):
                advertiser = (found.extra or {}).get("advertiserId")
                if advertiser is not None and str(advertiser) != str(account_id):
                    continue
                if found.id in wanted_ids:
                    by_id[found.id] = found.external_id
                if found.order_ref in wanted_refs:
                    by_ref.setdefault(found.order_ref, []).append(found.external_id)
    problems = _Problems()
    sync_hint = (
        "run `hub sync` for the Awin connection first, or give the transaction_id; the "
        f"conversion must come from advertiser {account_id} of tenant {tenant!r}"
    )
    resolved: list[InputRow] = []
    for row in given:
        if _needs(row, "conversion_id"):
            external = by_id.get(str(row["conversion_id"]))
            if external is None:
                problems.add(
                    row,
                    "conversion_id",
                    f"no stored Awin conversion {row['conversion_id']}",
                    sync_hint,
                )
                continue
            row = InputRow(row.file, row.line, {**row, "transaction_id": external}, row.location)
        elif _needs(row, "order_ref"):
            ref = str(row["order_ref"]).strip()
            found_ids = sorted(set(by_ref.get(ref, ())))
            if len(found_ids) != 1:
                message = (
                    f"no stored Awin conversion has order_ref {ref!r}"
                    if not found_ids
                    else f"order_ref {ref!r} names {len(found_ids)} Awin transactions "
                    f"({', '.join(found_ids)})"
                )
                hint = sync_hint if not found_ids else "name the transaction_id instead"
                problems.add(row, "order_ref", message, hint)
                continue
            row = InputRow(
                row.file, row.line, {**row, "transaction_id": found_ids[0]}, row.location
            )
        resolved.append(row)
    if problems.items:
        raise InputFileError(problems.items)
    return resolved


# -- what to send ----------------------------------------------------------------------------


class Refused(Exception):
    """The decision cannot be carried out on the transaction as it is now."""


def operation(decision: Decision, current: Mapping[str, Any]) -> dict[str, Any] | None:
    """The batch operation that carries ``decision`` out on ``current``; None: already done.

    ``current`` is the transaction as Awin serves it now. Raises
    :class:`Refused` when Awin could not carry the decision out (a validated
    transaction, another currency, several commission groups but no parts).
    """
    status = str(current.get("commissionStatus") or "").lower()
    target: dict[str, Any] = {"transactionId": decision.transaction_id}
    if decision.action == "approve":
        if status == "approved":
            return None
        _require_pending(status, decision)
        return {"action": "approve", "transaction": target}
    if decision.action == "decline":
        if status == "declined":
            return None
        _require_pending(status, decision)
        return {"action": "decline", "transaction": {**target, "declineReason": decision.reason}}
    assert decision.sale_amount is not None and decision.currency is not None
    sale = current.get("saleAmount") or {}
    currency = str(sale.get("currency") or "").upper()
    if currency and currency != decision.currency:
        raise Refused(
            f"the transaction is in {currency}, the amendment in {decision.currency}: Awin "
            "amends in the programme currency"
        )
    amended = _decimal(sale.get("amount")) == decision.sale_amount
    if amended and decision.parts is not None:
        amended = _current_parts(current) == {p.code: p.amount for p in decision.parts}
    if amended:
        if status == "approved" or (status == "pending" and not decision.approve):
            return None
        if status == "pending":  # amended earlier, approval still to do
            return {"action": "approve", "transaction": target}
    _require_pending(status, decision)
    parts = decision.parts
    if parts is None:
        groups = [p.get("commissionGroupCode") for p in current.get("transactionParts") or []]
        if len(groups) != 1 or not groups[0]:
            raise Refused(
                f"the transaction has {len(groups)} commission groups; the amendment must say "
                "how the new amount splits over them (parts, e.g. DEFAULT:40.00|ACC:15.96)"
            )
        parts = (Part(str(groups[0]), decision.sale_amount),)
    return {
        "action": "amend",
        "approve": decision.approve,
        "transaction": {
            **target,
            "amendReason": decision.reason,
            "currency": decision.currency,
            "saleAmount": _number(decision.sale_amount),
            "transactionParts": [
                {"amount": _number(p.amount), "commissionGroupCode": p.code} for p in parts
            ],
        },
    }


@dataclass
class ValidationWriteResult(WriteResult):
    """What ``write`` did: the hub's counters, per action, and the jobs Awin ran.

    ``sent`` counts operations Awin accepted (and, when the jobs were
    awaited, did not refuse); in a dry run, ``planned`` holds the batch
    requests and ``to_send`` counts what would go out per action.
    ``outcomes`` maps each transaction id sent to ``(action, job id, status)``
    (status ``done``, ``refused`` or ``processing``).
    """

    dry_run: bool = False
    to_send: dict[str, int] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[int, tuple[str, str, str]] = field(default_factory=dict)

    def summary(self) -> str:
        actions = ", ".join(f"{n} {a}" for a, n in sorted(self.to_send.items())) or "nothing"
        if self.dry_run:
            head = f"Awin validations (dry run, nothing sent): to send {actions}"
        else:
            head = f"Awin validations: sent {actions}"
        lines = [f"{head}; {self.unchanged} unchanged, {self.failed} failed"]
        for request in self.planned:
            lines.append(f"  {request['method']} {request['path']} ({len(request['body'])} ops)")
            lines.extend(f"    {orjson.dumps(op).decode()}" for op in request["body"])
        for job in self.jobs:
            lines.append(f"  job {job['job_id']}: {job['status']} ({job['operations']} ops)")
        lines.extend(f"  error: {error}" for error in self.errors)
        return "\n".join(lines)


class AwinValidationDestination(Destination):
    """Approves, declines and amends an advertiser's Awin transactions from a list of decisions."""

    name: ClassVar[str] = "awin-validations"
    config_model: ClassVar[type[BaseModel]] = AwinValidationSettings
    summary: ClassVar[str] = "Awin: approve, decline or amend transactions from a decisions file"
    entity: ClassVar[str] = "conversion"

    config: AwinValidationSettings

    def __init__(
        self,
        config: BaseModel,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(config, transport=transport)
        self.client = AwinClient(self.config, transport=transport, sleep=sleep, clock=clock)
        self._sleep = sleep if sleep is not None else time.sleep
        self._clock = clock if clock is not None else time.monotonic
        self._now = now or (lambda: datetime.now(UTC))

    def check(self) -> None:
        """Read the job list: proves the token reaches the advertiser account's validations."""
        self.client.get_json(f"{self.config.account_path}/transactions/jobs")

    def push(
        self,
        store: Store,
        *,
        tenant: str,
        dry_run: bool = False,
        rows: Iterable[Mapping[str, Any]] | None = None,
    ) -> ValidationWriteResult:
        """``hub push awin-validations --input FILE``; records what was sent on the conversions."""
        if rows is None:
            raise FatalConnectorError(
                "awin-validations pushes a list of decisions, and none was given",
                hint="hub push awin-validations -c <connection> --input decisions.csv "
                "(columns: action, transaction_id | conversion_id | order_ref, reason, "
                "sale_amount, currency, parts, approve)",
            )
        rows = resolve_targets(store, tenant, rows, self.config.account_id)
        result = self.write(rows, dry_run=dry_run)
        if not dry_run and result.outcomes:
            record_validations(store, tenant, result.outcomes, self._now())
        return result

    def write(
        self, rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> ValidationWriteResult:
        """Carry out the decisions in ``rows`` (each naming a ``transaction_id``)."""
        decisions = parse_decisions(rows)
        result = ValidationWriteResult(dry_run=dry_run)
        unique: dict[int, Decision] = {}
        for decision in decisions:
            if decision.transaction_id in unique:
                result.unchanged += 1  # the same decision twice: one is enough
            else:
                unique[decision.transaction_id] = decision
        current = self._read_back(list(unique))
        operations: list[tuple[Decision, dict[str, Any]]] = []
        for decision in unique.values():
            found = current.get(decision.transaction_id)
            if found is None:
                self._fail(
                    result,
                    decision,
                    f"advertiser {self.config.account_id} has no such "
                    "transaction (or it was deleted)",
                )
                continue
            try:
                op = operation(decision, found)
            except Refused as refused:
                self._fail(result, decision, str(refused))
                continue
            if op is None:
                result.unchanged += 1
                continue
            operations.append((decision, op))
            result.to_send[op["action"]] = result.to_send.get(op["action"], 0) + 1
        path = f"{self.config.account_path}/transactions/batch"
        for start in range(0, len(operations), self.config.batch_size):
            batch = operations[start : start + self.config.batch_size]
            body = [op for _, op in batch]
            if dry_run:
                full = f"{httpx.URL(self.config.base_url).path.rstrip('/')}{path}"
                result.planned.append({"method": "POST", "path": full, "body": body})
                continue
            self._send(path, batch, result)
        log.info("%s", result.summary().splitlines()[0])
        return result

    def close(self) -> None:
        self.client.close()

    # -- requests ------------------------------------------------------------------------

    def _read_back(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The transactions ``ids`` as Awin serves them now (unknown ids are left out)."""
        found: dict[int, dict[str, Any]] = {}
        size = self.config.lookup_batch_size
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            answer = self.client.get_json(
                f"{self.config.account_path}/transactions",
                {"ids": ",".join(map(str, chunk)), "timezone": "UTC"},
            )
            if not isinstance(answer, list):
                raise FatalConnectorError(
                    "GET .../transactions?ids= answered without a list of transactions",
                    hint="check that base_url points at the Awin API (https://api.awin.com)",
                )
            for transaction in answer:
                if isinstance(transaction, Mapping) and _transaction_id(transaction.get("id")):
                    found[int(transaction["id"])] = dict(transaction)
        return found

    def _send(
        self, path: str, batch: list[tuple[Decision, dict[str, Any]]], result: ValidationWriteResult
    ) -> None:
        body = [op for _, op in batch]
        answer = self.client.http.post_json(
            path, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
        )
        job_id = str(answer.get("jobId") or "") if isinstance(answer, Mapping) else ""
        if not job_id:
            raise FatalConnectorError(
                f"POST {path} answered without a jobId",
                hint="check that base_url points at the Awin API (https://api.awin.com)",
            )
        log.info("Awin accepted %d operations as job %s", len(batch), job_id)
        job = {"job_id": job_id, "status": "ACCEPTED", "operations": len(batch)}
        result.jobs.append(job)
        refused: dict[int, str] = {}
        status = "processing"
        if self.config.wait_for_jobs:
            final, refused = self._await(job_id)
            job["status"] = final
            status = "done" if final in JOB_DONE else ("refused" if final in JOB_FAILED else status)
            if final in JOB_FAILED:
                refused = {
                    d.transaction_id: f"Awin's job {job_id} failed ({final})" for d, _ in batch
                }
        for decision, op in batch:
            if decision.transaction_id in refused:
                self._fail(result, decision, f"Awin refused it: {refused[decision.transaction_id]}")
                result.outcomes[decision.transaction_id] = (op["action"], job_id, "refused")
            else:
                result.sent += 1
                result.outcomes[decision.transaction_id] = (op["action"], job_id, status)
        if status == "processing" and self.config.wait_for_jobs:
            result.errors.append(
                f"job {job_id} was still processing after {self.config.job_timeout_seconds:g} s; "
                "its operations count as sent. A later push of the same decisions finds the "
                "applied ones unchanged and reports the rest."
            )

    def _await(self, job_id: str) -> tuple[str, dict[int, str]]:
        """Poll job ``job_id`` until it ends or times out: its status and refusals by id."""
        path = f"{self.config.account_path}/transactions/jobs/{job_id}"
        deadline = self._clock() + self.config.job_timeout_seconds
        while True:
            answer = self.client.get_json(path, {"output": "errors"})
            status = str(answer.get("status") or "").upper() if isinstance(answer, Mapping) else ""
            if status in JOB_DONE or status in JOB_FAILED:
                return status, _refusals(answer)
            if self._clock() + self.config.job_poll_seconds > deadline:
                return status or "UNKNOWN", {}
            self._sleep(self.config.job_poll_seconds)

    @staticmethod
    def _fail(result: ValidationWriteResult, decision: Decision, message: str) -> None:
        result.failed += 1
        result.errors.append(f"{decision.where} ({decision.action}): {message}")


def record_validations(
    store: Store, tenant: str, outcomes: Mapping[int, tuple[str, str, str]], at: datetime
) -> int:
    """Record on each stored Awin conversion the decision sent for it (``extra._hub_links``).

    ``{"awin_validation": {"action", "job_id", "status", "sent_at"}}``, through
    :meth:`hub.store.Store.record_links` (no new version of the conversion).
    Transactions the store does not hold are skipped.
    """
    links = {
        make_id(tenant, "awin", "conversion", str(transaction_id)): {
            LINK_SYSTEM: {
                "action": action,
                "job_id": job_id,
                "status": status,
                "sent_at": at.astimezone(UTC).isoformat(),
            }
        }
        for transaction_id, (action, job_id, status) in outcomes.items()
    }
    with store.transaction() as connection:
        return store.record_links(connection, "conversion", links, tenant=tenant)


# -- helpers ---------------------------------------------------------------------------------


def _refusals(job: Any) -> dict[int, str]:
    """``failedTransactions`` of a job answer as ``{transaction id: Awin's code}``."""
    refused: dict[int, str] = {}
    for failure in (job.get("failedTransactions") if isinstance(job, Mapping) else None) or []:
        if not isinstance(failure, Mapping):
            continue
        transaction_id = _transaction_id(failure.get("transactionId"))
        if transaction_id is not None:
            text = " ".join(
                str(failure[key]) for key in ("code", "message", "description") if failure.get(key)
            )
            refused[transaction_id] = text or "no reason given"
    return refused


def _require_pending(status: str, decision: Decision) -> None:
    if status != "pending":
        raise Refused(
            f"the transaction is already {status or 'in an unknown state'}; Awin changes only "
            "pending transactions"
        )


def _needs(row: Mapping[str, Any], key: str) -> bool:
    """Whether ``row`` names its transaction by ``key`` only (no transaction_id)."""
    if row.get("transaction_id") not in (None, ""):
        return False
    if key == "order_ref" and row.get("conversion_id") not in (None, ""):
        return False
    return row.get(key) not in (None, "")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _transaction_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    text = _text(value)
    if text is None or not text.isdigit():
        return None
    return int(text) or None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _amount(row: InputRow, key: str, problems: _Problems, *, required: bool) -> Decimal | None:
    value = row.get(key)
    if value in (None, ""):
        if required:
            problems.add(row, key, "is required to amend", "write the new amount, e.g. 55.96")
        return None
    number = _decimal(value)
    if number is None or number < 0 or number != number.quantize(_CENT):
        problems.add(
            row,
            key,
            f"{value!r} is not an amount of money",
            "a number >= 0 with at most 2 decimals and a dot, e.g. 55.96",
        )
        return None
    return number


def _parts(row: InputRow, problems: _Problems) -> tuple[Part, ...] | None:
    value = row.get("parts")
    if value in (None, "", [], {}):
        return None
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, str):
        for piece in value.split("|"):
            code, _, amount = piece.partition(":")
            pairs.append((code, amount))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [
            (item.get("code"), item.get("amount")) if isinstance(item, Mapping) else (None, None)
            for item in value
        ]
    parts = []
    for code, amount in pairs:
        code_text = _text(code)
        number = _decimal(amount)
        if not code_text or number is None or number < 0 or number != number.quantize(_CENT):
            problems.add(
                row,
                "parts",
                f"{value!r} is not a list of commission-group amounts",
                'write CODE:amount|CODE2:amount (CSV) or [{"code", "amount"}] (JSON)',
            )
            return None
        parts.append(Part(code_text, number))
    codes = [p.code for p in parts]
    if len(set(codes)) != len(codes):
        problems.add(row, "parts", "a commission group is named twice", "name each group once")
        return None
    return tuple(parts)


def _flag(row: InputRow, key: str, problems: _Problems) -> bool:
    value = row.get(key)
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    problems.add(row, key, f"{value!r} is not true or false", "write true or false")
    return False


def _current_parts(transaction: Mapping[str, Any]) -> dict[str, Decimal | None]:
    return {
        str(p.get("commissionGroupCode")): _decimal(p.get("amount"))
        for p in transaction.get("transactionParts") or []
        if isinstance(p, Mapping)
    }


def _number(amount: Decimal) -> float:
    """An amount as the JSON number Awin takes; exact, since it has at most 2 decimals."""
    return float(amount)
