"""hub push --input files: CSV, JSON and JSON Lines rows that know where they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import InputFileError
from hub.rowfile import InputRow, read_rows


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_with_lines_blank_cells_and_a_bom(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.csv",
        "\ufeffaction, transaction_id ,reason\n"
        "approve,1,\n"
        "\n"
        'decline,2,"Ware retourniert, Karton beschädigt"\n'
        'amend,3,"zwei\nZeilen"\n'
        "approve,4\n",
    )
    rows = read_rows(path)
    assert rows == [
        {"action": "approve", "transaction_id": "1"},
        {
            "action": "decline",
            "transaction_id": "2",
            "reason": "Ware retourniert, Karton beschädigt",
        },
        {"action": "amend", "transaction_id": "3", "reason": "zwei\nZeilen"},
        {"action": "approve", "transaction_id": "4"},
    ]
    assert [row.line for row in rows] == [2, 4, 6, 7]
    assert rows[1].where == f"{path}:4"
    assert all(isinstance(row, InputRow) and row.file == str(path) for row in rows)


def test_json_and_json_lines(tmp_path: Path) -> None:
    array = read_rows(write(tmp_path, "d.json", '[{"a": 1}, {"b": [1, 2]}]'))
    assert array == [{"a": 1}, {"b": [1, 2]}]
    assert array[1].where == f"{tmp_path / 'd.json'}: item 2" and array[1].line is None
    lines = read_rows(write(tmp_path, "d.jsonl", '{"a": 1}\n\n{"a": 2.5}\n'))
    assert lines == [{"a": 1}, {"a": 2.5}] and [r.line for r in lines] == [1, 3]
    assert read_rows(write(tmp_path, "d.ndjson", '{"x": "ü"}\n')) == [{"x": "ü"}]


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("d.txt", "a", None, "cannot read .txt files"),
        ("d.csv", "", None, "the file is empty"),
        ("d.csv", "a,,c\n1,2,3\n", 1, "column 2 of the header line has no name"),
        ("d.csv", "a,b,a\n", 1, "the header names 'a' twice"),
        ("d.csv", "a,b\n1,2\n1,2,3\n", 3, "3 cells but the header names 2"),
        ("d.csv", b"a\n\xff\n", 2, "the file is not UTF-8 text"),
        ("d.json", '{"a": 1}', 1, "the file holds a JSON dict, not an array"),
        ("d.json", "[1]", None, "item 1 is a JSON int, not an object"),
        ("d.json", "[{", 1, "not valid JSON"),
        ("d.jsonl", '{"a": 1}\n[1]\n', 2, "a JSON list, not an object"),
        ("d.jsonl", '{"a": 1}\n{a}\n', 2, "not valid JSON"),
    ],
)
def test_unreadable_files_name_file_line_and_fix(
    tmp_path: Path, name: str, text: str | bytes, line: int | None, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputFileError) as caught:
        read_rows(path)
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.line == line
    assert message in problem.message
    assert problem.hint


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read the file"):
        read_rows(tmp_path / "absent.csv")
