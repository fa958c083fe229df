"""The example third-party connector hub-connector-csv: contract, chunks, resume, appends.

The example package is imported from its source folder (no installation);
tests/hub/test_plugins.py covers the pip-installed, entry-point path.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hub.connector import Checkpoint, Message, Record
from hub.errors import FatalConnectorError, RecordError
from hub.mapping import Mappings
from hub.schema import ENTITIES
from hub.testing import ConnectorContract

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hub-connector-csv"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

from hub_connector_csv import MAPPING_FILE, CsvConfig, CsvConnector  # noqa: E402

HEADER = "order_id,created_at,updated_at,status,amount,currency,partner_id,partner_name\n"


def conversion_line(n: int, updated: str = "2024-05-01T10:00:00Z", amount: str = "10.00") -> str:
    return f"ORD-{n},2024-05-01T09:00:00Z,{updated},paid,{amount},EUR,P-1,Gutscheinkönig 🎁\n"


def write_dataset(directory: Path) -> None:
    """Five CSV conversions, three JSONL conversions with items, three partners."""
    (directory / "conversions-2024-05.csv").write_text(
        HEADER + "".join(conversion_line(n, f"2024-05-0{n}T10:00:00Z") for n in range(1, 6)),
        encoding="utf-8",
    )
    orders = [
        {
            "order_id": f"ORD-{n}",
            "created_at": "2024-06-01T09:00:00+02:00",
            "updated_at": f"2024-06-0{n - 5}T10:00:00+02:00",
            "status": "open",
            "amount": "59.90",
            "currency": "CHF",
            "items": [{"line_id": f"ORD-{n}-1", "sku": "SKU-1", "quantity": 1}],
        }
        for n in range(6, 9)
    ]
    (directory / "conversions-2024-06.jsonl").write_text(
        "".join(json.dumps(order, ensure_ascii=False) + "\n" for order in orders), encoding="utf-8"
    )
    (directory / "partners.csv").write_text(
        "id,name,kind,website,country,categories\n"
        "P-1,Gutscheinkönig 🎁,voucher,https://gk.example,DE,vouchers|deals\n"
        "P-2,東京ファッション日記,influencer,,JP,fashion\n"
        "P-3,Ψηφιακά Κουπόνια,voucher,,GR,\n",
        encoding="utf-8",
    )


class TestCsvContract(ConnectorContract):
    """The example connector passes the contract every connector must pass."""

    connector_class = CsvConnector

    @pytest.fixture(autouse=True)
    def _dataset(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        write_dataset(tmp_path)

    def valid_config(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "chunk_size": 2}

    def broken_config(self) -> dict[str, Any]:
        return {"directory": str(self.directory / "no-such-folder")}


# ---------------------------------------------------------------------- helpers


def connector(directory: Path, **config: Any) -> CsvConnector:
    return CsvConnector(CsvConfig(directory=directory, **config))


def read(
    directory: Path,
    state: dict[str, Any] | None = None,
    streams: tuple[str, ...] = ("conversions",),
) -> list[Message]:
    return list(connector(directory, chunk_size=2).read(list(streams), state or {}))


def ids(messages: list[Message]) -> list[str]:
    return [m.data["order_id"] for m in messages if isinstance(m, Record)]


def final_state(messages: list[Message]) -> dict[str, Any]:
    return {
        m.stream: json.loads(json.dumps(m.state)) for m in messages if isinstance(m, Checkpoint)
    }


def shape(messages: list[Message]) -> str:
    return "".join("R" if isinstance(m, Record) else "C" for m in messages)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_dataset(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------- chunks and state


def test_a_checkpoint_follows_every_chunk_and_every_file(data: Path) -> None:
    messages = read(data)
    # csv: 5 rows in chunks of 2 (+ file end); jsonl: 3 rows (+ file end); the stream's final one
    assert shape(messages) == "RRCRRCRC" + "RRCRC" + "C"
    assert ids(messages) == [f"ORD-{n}" for n in range(1, 9)]
    first = messages[2]
    assert isinstance(first, Checkpoint)
    entry = first.state["files"]["conversions-2024-05.csv"]
    consumed = len((HEADER + conversion_line(1) + conversion_line(2)).encode())
    assert (entry["offset"], entry["line"], entry["rows"], entry["done"]) == (consumed, 3, 2, False)
    assert first.state["file"] == "conversions-2024-05.csv" and first.state["line"] == 3
    assert first.state["cursor"] == "2024-05-02T10:00:00Z"
    last = messages[-1]
    assert isinstance(last, Checkpoint) and last.state["cursor"] == "2024-06-03T10:00:00+02:00"
    assert all(entry["done"] for entry in last.state["files"].values())


def test_a_killed_sync_resumes_after_the_last_checkpoint(data: Path) -> None:
    everything = ids(read(data))
    full = read(data)
    checkpoints = [i for i, m in enumerate(full) if isinstance(m, Checkpoint)]
    for cut in checkpoints:
        committed = full[: cut + 1]  # the runner committed up to here, then the process died
        resumed = read(data, final_state(committed))
        assert ids(committed) + ids(resumed) == everything, f"killed after message {cut}"


def test_resume_mid_file_seeks_past_the_rows_already_read(data: Path) -> None:
    messages = read(data)
    state = final_state(messages[:3])  # after ORD-1, ORD-2
    resumed = read(data, state)
    records = [m for m in resumed if isinstance(m, Record)]
    assert [r.data["order_id"] for r in records[:3]] == ["ORD-3", "ORD-4", "ORD-5"]
    assert [r.data["_line"] for r in records[:3]] == [4, 5, 6]


def test_unchanged_files_are_skipped_on_the_next_run(data: Path) -> None:
    state = final_state(read(data))
    again = read(data, state)
    assert shape(again) == "C"
    assert again[0].state == state["conversions"]  # type: ignore[union-attr]


def test_a_touched_but_unchanged_file_is_not_read_again(data: Path) -> None:
    state = final_state(read(data))
    path = data / "conversions-2024-05.csv"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    again = read(data, state)
    assert ids(again) == []
    entry = final_state(again)["conversions"]["files"]["conversions-2024-05.csv"]
    assert entry["mtime_ns"] == path.stat().st_mtime_ns


def test_an_appended_file_yields_only_the_new_rows(data: Path) -> None:
    state = final_state(read(data))
    path = data / "conversions-2024-05.csv"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(conversion_line(9, "2024-05-09T10:00:00Z") + conversion_line(10))
    again = read(data, state)
    records = [m for m in again if isinstance(m, Record)]
    assert [(r.data["order_id"], r.data["_line"]) for r in records] == [("ORD-9", 7), ("ORD-10", 8)]
    assert final_state(again)["conversions"]["cursor"] == "2024-06-03T10:00:00+02:00"


def test_a_final_line_without_newline_is_read_and_read_again_when_extended(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversions.csv"
    path.write_text(HEADER + conversion_line(1) + conversion_line(2).rstrip("\n"), encoding="utf-8")
    first = read(tmp_path)
    assert ids(first) == ["ORD-1", "ORD-2"]
    assert ids(read(tmp_path, final_state(first))) == []  # unchanged: skipped
    with path.open("a", encoding="utf-8") as handle:  # the writer finishes the line, adds one
        handle.write("9\n" + conversion_line(3))
    again = [m.data for m in read(tmp_path, final_state(first)) if isinstance(m, Record)]
    assert [(r["order_id"], r["partner_name"], r["_line"]) for r in again] == [
        ("ORD-2", "Gutscheinkönig 🎁9", 3),  # the completed row replaces the partial one
        ("ORD-3", "Gutscheinkönig 🎁", 4),
    ]


def test_a_broken_final_line_without_newline_waits_until_complete(tmp_path: Path) -> None:
    path = tmp_path / "conversions.jsonl"
    path.write_text('{"order_id": "ORD-1"}\n{"order_id": "OR', encoding="utf-8")
    first = read(tmp_path)
    assert ids(first) == ["ORD-1"]  # no error record for a line still being written
    with path.open("a", encoding="utf-8") as handle:
        handle.write('D-2"}\n')
    assert ids(read(tmp_path, final_state(first))) == ["ORD-2"]

    csv_path = tmp_path / "conversions-2.csv"
    csv_path.write_text(HEADER + "ORD-3,2024-05-01T09:00:00Z,2024", encoding="utf-8")
    state = final_state(read(tmp_path))
    assert state["conversions"]["files"]["conversions-2.csv"]["offset"] == len(HEADER)


def test_a_rewritten_file_is_read_again_from_the_start(data: Path) -> None:
    state = final_state(read(data))
    path = data / "conversions-2024-05.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = conversion_line(1, "2024-07-01T00:00:00Z", amount="11.00")  # status update of row 1
    path.write_text("".join(lines), encoding="utf-8")
    again = read(data, state)
    assert ids(again) == [f"ORD-{n}" for n in range(1, 6)]
    assert next(m for m in again if isinstance(m, Record)).data["amount"] == "11.00"


def test_rows_older_than_the_cursor_are_kept_unless_the_stream_opts_out(data: Path) -> None:
    state = final_state(read(data))
    late = data / "conversions-2024-07.csv"  # a late file: old timestamps, new rows
    late.write_text(HEADER + conversion_line(20, "2024-04-01T00:00:00Z"), encoding="utf-8")
    assert ids(read(data, state)) == ["ORD-20"]

    streams = [
        {
            "name": "conversions",
            "primary_key": "order_id",
            "cursor_field": "updated_at",
            "skip_rows_before_cursor": True,
        }
    ]
    opted = CsvConnector(CsvConfig(directory=data, streams=streams, chunk_size=2))
    assert ids(list(opted.read(["conversions"], state))) == []


def test_skip_rows_before_cursor_keeps_the_boundary_and_newer_rows(tmp_path: Path) -> None:
    streams = [
        {
            "name": "conversions",
            "primary_key": "order_id",
            "cursor_field": "updated_at",
            "skip_rows_before_cursor": True,
        }
    ]
    path = tmp_path / "conversions.csv"
    path.write_text(HEADER + conversion_line(1, "2024-05-01T10:00:00Z"), encoding="utf-8")
    source = CsvConnector(CsvConfig(directory=tmp_path, streams=streams))
    state = final_state(list(source.read(["conversions"], {})))
    # tonight's full re-export: the old row, a row at the same instant, a newer row
    path.write_text(
        HEADER
        + conversion_line(0, "2024-04-30T23:00:00Z")
        + conversion_line(1, "2024-05-01T12:00:00+02:00")
        + conversion_line(2, "2024-05-02T00:00:00Z"),
        encoding="utf-8",
    )
    assert ids(list(source.read(["conversions"], state))) == ["ORD-1", "ORD-2"]


def test_deleted_files_are_forgotten(data: Path) -> None:
    state = final_state(read(data))
    (data / "conversions-2024-06.jsonl").unlink()
    again = final_state(read(data, state))
    assert list(again["conversions"]["files"]) == ["conversions-2024-05.csv"]


def test_temporary_hidden_and_empty_files_are_ignored(data: Path) -> None:
    (data / "conversions-2024-07.csv.part").write_text(HEADER + conversion_line(30))
    (data / ".conversions-2024-07.csv").write_text(HEADER + conversion_line(31))
    (data / "conversions-2024-08.csv").write_text("")
    assert ids(read(data)) == [f"ORD-{n}" for n in range(1, 9)]


# ---------------------------------------------------------------------- rows


def test_jsonl_rows_keep_their_items_and_bad_lines_become_error_records(tmp_path: Path) -> None:
    order = {"order_id": "ORD-1", "currency": "GBP", "items": [{"line_id": "L1", "sku": "S-1"}]}
    (tmp_path / "conversions.jsonl").write_text(
        json.dumps(order) + "\n\n" + '{"order_id": "ORD-2", "amount": \n' + "[1, 2]\n",
        encoding="utf-8",
    )
    records = [m.data for m in read(tmp_path) if isinstance(m, Record)]
    assert records[0] == {**order, "_file": "conversions.jsonl", "_line": 1}
    assert records[1]["_error"].startswith("invalid JSON") and records[1]["_line"] == 3
    assert records[1]["_raw"] == '{"order_id": "ORD-2", "amount":'
    assert records[2] == {
        "_error": "not a JSON object",
        "_raw": "[1, 2]",
        "_file": "conversions.jsonl",
        "_line": 4,
    }


def test_csv_rows_are_raw_strings_with_provenance(tmp_path: Path) -> None:
    (tmp_path / "conversions.csv").write_text(
        HEADER
        + 'ORD-1,2024-05-01T09:00:00Z,,paid,"12,3x",EUR,P-1,"Name, with comma"\n'
        + "ORD-2,2024-05-01T09:00:00Z,,paid,1,299.00,EUR,P-1,Too many\n"
        + "ORD-3,2024-05-01T09:00:00Z\n"
        + 'ORD-4,2024-05-01T09:00:00Z,,paid,5.00,EUR,P-1,"two\nlines"\n'
        + "ORD-5,2024-05-01T09:00:00Z,,paid,5.00,EUR,P-1,after\n",
        encoding="utf-8",
    )
    rows = [m.data for m in read(tmp_path) if isinstance(m, Record)]
    assert rows[0]["amount"] == "12,3x" and rows[0]["updated_at"] is None
    assert rows[0]["partner_name"] == "Name, with comma" and "_error" not in rows[0]
    assert rows[1]["_error"] == "9 values, but the header has 8 columns"
    assert rows[1]["_extra_values"] == ["Too many"]
    assert rows[2]["_error"] == "2 values, but the header has 8 columns"
    assert rows[2]["status"] is None
    assert rows[3]["partner_name"] == "two\nlines"
    assert [r["_line"] for r in rows] == [2, 3, 4, 5, 7]


def test_semicolons_cp1252_and_bom(tmp_path: Path) -> None:
    text = "id;name;kind\nP-1;Gutscheinkönig;voucher\nP-2;Café Crème;content\n"
    (tmp_path / "partners.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "partners-bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    latin = connector(
        tmp_path,
        delimiter=";",
        encoding="cp1252",
        streams=[{"name": "partners", "primary_key": "id", "files": "partners.csv"}],
    )
    names = [m.data["name"] for m in latin.read(["partners"], {}) if isinstance(m, Record)]
    assert names == ["Gutscheinkönig", "Café Crème"]
    bom = connector(
        tmp_path,
        delimiter=";",
        streams=[{"name": "partners", "primary_key": "id", "files": "partners-bom.csv"}],
    )
    rows = [m.data for m in bom.read(["partners"], {}) if isinstance(m, Record)]
    assert rows[0]["id"] == "P-1" and rows[1]["name"] == "Café Crème"


def test_undecodable_row_is_flagged_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "partners.csv").write_bytes(b"id,name\nP-1,Caf\xe9\nP-2,ok\n")
    rows = [m.data for m in read(tmp_path, streams=("partners",)) if isinstance(m, Record)]
    assert rows[0]["_error"] == "not valid utf-8-sig; undecodable bytes were replaced"
    assert rows[0]["name"] == "Caf\ufffd" and "_error" not in rows[1]


def test_tsv_files_default_to_tab(tmp_path: Path) -> None:
    (tmp_path / "partners.tsv").write_text("id\tname\nP-1\tA, B\n", encoding="utf-8")
    rows = [m.data for m in read(tmp_path, streams=("partners",)) if isinstance(m, Record)]
    assert rows[0]["name"] == "A, B"


# ---------------------------------------------------------------------- config, check, discover


def test_path_glob_sets_directory_and_pattern(data: Path) -> None:
    source = CsvConnector(
        CsvConfig(
            path=str(data / "conversions-*.csv"),
            streams=[{"name": "orders", "primary_key": "order_id", "cursor_field": "updated_at"}],
        )
    )
    source.check()
    assert ids(list(source.read(["orders"], {}))) == [f"ORD-{n}" for n in range(1, 6)]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "exactly one of `directory`"),
        ({"directory": ".", "path": "*.csv"}, "exactly one of `directory`"),
        ({"directory": ".", "encoding": "utf-16"}, "not ASCII-compatible"),
        ({"directory": ".", "encoding": "klingon"}, "unknown encoding"),
        ({"directory": ".", "delimiter": ";;"}, "delimiter"),
        ({"directory": ".", "chunk_size": 0}, "chunk_size"),
        ({"directory": ".", "streams": [{"name": "a", "primary_key": "id"}] * 2}, "unique"),
        ({"directory": ".", "dirctory": "."}, "dirctory"),
        (
            {
                "directory": ".",
                "streams": [{"name": "a", "primary_key": "id", "skip_rows_before_cursor": True}],
            },
            "needs a cursor_field",
        ),
    ],
)
def test_config_errors_name_the_problem(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CsvConfig.model_validate(config)


def test_check_names_a_missing_folder_and_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(FatalConnectorError) as caught:
        connector(tmp_path / "exports").check()
    assert "does not exist" in caught.value.message and str(tmp_path / "exports") in str(
        caught.value
    )
    assert caught.value.hint and "`directory`" in caught.value.hint


def test_check_refuses_a_file_as_folder(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n")
    with pytest.raises(FatalConnectorError, match="is a file, not a folder"):
        connector(tmp_path / "x.csv").check()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_check_refuses_an_unreadable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o000)
    try:
        with pytest.raises(FatalConnectorError, match="not readable"):
            connector(folder).check()
    finally:
        folder.chmod(0o755)


def test_check_names_missing_key_columns(tmp_path: Path) -> None:
    (tmp_path / "conversions.csv").write_text("order,updated_at\nORD-1,2024-05-01\n")
    with pytest.raises(FatalConnectorError) as caught:
        connector(tmp_path).check()
    assert "conversions.csv has no column 'order_id'" in caught.value.message
    assert "order, updated_at" in caught.value.message and caught.value.hint


def test_unknown_suffix_is_refused_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "conversions.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(FatalConnectorError, match="cannot tell the format") as caught:
        list(read(tmp_path))
    assert caught.value.hint and "format: csv" in caught.value.hint


def test_discover_reads_the_columns_of_the_first_file(data: Path) -> None:
    streams = {s.name: s for s in connector(data).discover()}
    conversions = streams["conversions"].json_schema["properties"]
    assert {"order_id", "partner_name", "_file", "_line"} <= set(conversions)
    assert streams["conversions"].cursor_field == "updated_at"
    assert streams["partners"].primary_key == ("id",)
    assert [s.name for s in CsvConnector.streams()] == ["conversions", "partners"]


# ---------------------------------------------------------------------- shipped sample


def sample_records() -> Iterator[Record]:
    source = connector(EXAMPLE / "hub_connector_csv" / "sample")
    source.check()
    for message in source.read(["conversions", "partners"], {}):
        if isinstance(message, Record):
            yield message


def test_the_shipped_sample_reads_with_its_deliberate_mistakes() -> None:
    records = list(sample_records())
    conversions = [r.data for r in records if r.stream == "conversions"]
    partners = [r.data for r in records if r.stream == "partners"]
    assert len(conversions) == 44 and len(partners) == 10
    assert {c.get("currency") for c in conversions} >= {"EUR", "CHF", "GBP"}
    flagged = {c.get("order_id"): c["_error"] for c in conversions if "_error" in c}
    assert set(flagged) == {"ORD-10430", None}  # a shifted CSV row, a truncated JSON line
    assert any(c["amount"] == "12,3x" for c in conversions)
    assert any("🔥" in (p["name"] or "") for p in partners)
    assert any(len(c.get("items") or []) == 2 for c in conversions)


def test_the_shipped_mapping_normalizes_the_sample_and_rejects_its_bad_rows() -> None:
    """Map and validate like the runner: the deliberate mistakes, and only they, fail."""
    mappings = Mappings([MAPPING_FILE])
    rows: dict[str, list[Any]] = {}
    rejected: set[str | None] = set()
    for record in sample_records():
        mapped = mappings.compile("csv", record.stream)
        try:
            produced = mapped(record.data, tenant="demo", connection="files")
            valid = [
                (
                    entity,
                    ENTITIES[entity][0].model_validate({**row, "synced_at": datetime.now(UTC)}),
                )
                for entity, row in produced
            ]
        except (RecordError, ValidationError):
            rejected.add(record.data.get("order_id"))
            continue
        for entity, row in valid:
            rows.setdefault(entity, []).append(row)
    # 12,3x / EURO / month 13 / a shifted row / quantity "two" / a truncated JSON line
    assert rejected == {"ORD-10408", "ORD-10416", "ORD-10423", "ORD-10430", "ORD-10505", None}
    conversions = {row.order_ref: row for row in rows["conversion"]}
    assert len(conversions) == 44 - len(rejected)
    assert {row.currency for row in conversions.values()} == {"EUR", "CHF", "GBP"}
    assert conversions["ORD-10501"].amount == Decimal("189.80")
    assert conversions["ORD-10501"].currency == "EUR"  # "eur" in the file
    assert conversions["ORD-10405"].voucher_codes == ["WELCOME5", "FREESHIP"]
    assert conversions["ORD-10405"].status == "cancelled"  # refunded
    assert conversions["ORD-10434"].status == "pending"  # no status in the file
    items = [
        row for row in rows["conversion_item"] if row.conversion_id == conversions["ORD-10501"].id
    ]
    assert [(i.sku, i.quantity, i.unit_price) for i in items] == [
        ("SHOE-RUN-42", 1, Decimal("129.90")),
        ("SOCK-3P", 2, Decimal("29.95")),
    ]
    listed = {row.external_id: row for row in rows["partner"] if row.website}
    assert listed["P-1002"].name == "Deal Hunters 🔥"
    assert listed["P-1004"].categories == ["fashion", "shoes"]
    assert listed["P-1010"].kind == "other"  # blank kind
    from_orders = [row for row in rows["partner"] if not row.website]
    # an order's partner only fills gaps: it never replaces the partner list's row
    assert from_orders and mappings.compile("csv", "conversions").fill_entities == {"partner"}
    assert conversions["ORD-10501"].partner_id == listed["P-1001"].id
