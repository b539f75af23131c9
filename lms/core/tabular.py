"""Reading spreadsheets (CSV or XLSX) for the bulk imports; knows no domain.

- ``read_table`` turns an upload into numbered rows keyed by the canonical column names
  the caller's vocabulary gives (the people columns live in lms.accounts.people);
- ``validate_rows`` loads every row with a marshmallow schema and reports
  ``{row, field, message}`` errors, ``duplicate_errors`` finds repeated keys;
- ``raise_if_errors`` turns those errors into one 422 answer, so nothing is written.

The bulk SQL that imports use to look rows up and insert them is lms.core.bulk.

Row numbers are the ones a spreadsheet program shows: the header is row 1 (unless blank
rows precede it), the first data row is row 2. Any file problem is a 422 whose ``errors``
hold ``{"row": None, "field": "file", "message": ...}``.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, time

import openpyxl
from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage

from lms.core.errors import Invalid

MAX_ROWS = 20_000  # data rows per file: bounds memory and the length of one transaction
MAX_COLUMNS = 64  # XLSX columns read per row; a sheet may claim 16,384
MAX_XLSX_UNPACKED = 200 * 1024 * 1024  # declared uncompressed size: refuses zip bombs
MAX_REPORTED_ERRORS = 1_000

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, .doc, encrypted .xlsx
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class RowData:
    """One data row: its spreadsheet row number and its values by canonical column."""

    number: int
    values: dict[str, str | None]


@dataclass(frozen=True)
class Table:
    """The data rows of a file (empty rows left out) and the columns its header named."""

    columns: tuple[str, ...]
    rows: list[RowData]


# --- errors ----------------------------------------------------------------------------------


def row_error(row: int | None, field: str, message: str) -> dict:
    """One entry of a 422 ``errors`` list."""
    return {"row": row, "field": field, "message": message}


def file_invalid(message_en: str, message_zh: str) -> Invalid:
    """A 422 about the file as a whole (format, encoding, size)."""
    return Invalid([row_error(None, "file", f"{message_en} {message_zh}")], message_en, message_zh)


def raise_if_errors(errors: list[dict]) -> None:
    """Raise one 422 listing ``errors`` (sorted by row) when there are any."""
    if not errors:
        return
    errors = sorted(errors, key=lambda e: (e["row"] or 0, e["field"]))
    rows = len({e["row"] for e in errors})
    raise Invalid(
        errors[:MAX_REPORTED_ERRORS],
        f"The file has errors in {rows} row(s); nothing was imported.",
        f"文件中有 {rows} 行存在错误，未导入任何数据。",
        error_count=len(errors),
    )


# --- reading ---------------------------------------------------------------------------------


def read_table(
    source: FileStorage | bytes,
    *,
    columns: dict[str, str],
    required: Sequence[str],
    max_rows: int = MAX_ROWS,
) -> Table:
    """Read an uploaded CSV or XLSX file (detected by content, not by name) into a Table.

    ``columns`` maps accepted headers to canonical names; unknown, duplicate or missing
    required columns are refused with 422, as are more than ``max_rows`` data rows.
    """
    data = source if isinstance(source, bytes) else source.stream.read()
    records = _xlsx_records(data) if data.startswith(_ZIP_MAGIC) else _csv_records(data)
    with closing(records):  # closes the workbook even when we stop early
        header_number, header = _first_nonempty(records)
        names = map_headers(header, columns, required, row=header_number)
        rows = _data_rows(records, names, max_rows)
    if not rows:
        raise file_invalid("The file has a header but no data rows.", "文件只有表头，没有数据行。")
    return Table(tuple(n for n in names if n), rows)


def _data_rows(records, names: list[str | None], max_rows: int) -> list[RowData]:
    rows: list[RowData] = []
    for number, cells in records:
        if not any(cells):
            continue
        if len(rows) == max_rows:
            raise file_invalid(
                f"The file has more than {max_rows} data rows; split it.",
                f"文件数据超过 {max_rows} 行，请拆分后导入。",
            )
        rows.append(_row(number, names, cells))
    return rows


def _first_nonempty(records: Iterator[tuple[int, list[str | None]]]):
    """The first non-empty record of ``records`` (the header), consuming it."""
    for number, cells in records:
        if any(cells):
            return number, cells
    raise file_invalid("The file is empty.", "文件为空。")


def _row(number: int, names: list[str | None], cells: list[str | None]) -> RowData:
    if len(cells) > len(names) and any(cells[len(names) :]):
        raise Invalid(
            [
                row_error(
                    number,
                    "file",
                    "This row has more cells than the header "
                    "has columns (a comma inside an unquoted value?). "
                    "该行单元格数多于表头列数（值中含未加引号的逗号？）。",
                )
            ],
            "A row has more cells than the header.",
            "某行单元格数多于表头列数。",
        )
    values = {name: (cells[i] if i < len(cells) else None) for i, name in enumerate(names) if name}
    return RowData(number, values)


def _clean(value) -> str | None:
    """A cell as trimmed text; numbers typed into Excel lose their ".0"; empty is None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime | date | time):
        value = value.isoformat()
    text = str(value).strip()
    return text or None


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[str | None]]]:
    """Rows of the first worksheet, numbered from 1, as lists of cleaned cells."""
    _check_zip_size(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception as exc:  # openpyxl raises KeyError, ValueError, ... on foreign zips
        raise file_invalid(
            "The file is a ZIP archive but not a readable XLSX workbook.",
            "文件不是可读取的 XLSX 工作簿。",
        ) from exc
    return _sheet_records(workbook, sheet)


def _sheet_records(workbook, sheet) -> Iterator[tuple[int, list[str | None]]]:
    try:
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        for number, values in enumerate(rows, start=1):
            yield number, _trimmed([_clean(v) for v in values])
    finally:
        workbook.close()


def _check_zip_size(data: bytes) -> None:
    try:
        unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except zipfile.BadZipFile as exc:
        raise file_invalid("The file is a damaged ZIP/XLSX file.", "XLSX 文件已损坏。") from exc
    if unpacked > MAX_XLSX_UNPACKED:
        raise file_invalid("The workbook is too large once unpacked.", "工作簿解压后过大。")


def _trimmed(cells: list[str | None]) -> list[str | None]:
    """Drop trailing empty cells, so that rows compare with the header by content."""
    while cells and cells[-1] is None:
        cells.pop()
    return cells


def decode_text(data: bytes) -> str:
    """Decode CSV bytes: UTF-8 (BOM optional), UTF-16 with BOM, else GB18030; 422 otherwise."""
    _refuse_known_binary(data)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)  # Excel's "Unicode text" export
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise file_invalid(
            "The file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8.",
            "文件编码既不是 UTF-8 也不是 GB18030，请另存为 CSV UTF-8。",
        )
    if not text.strip():
        raise file_invalid("The file is empty.", "文件为空。")
    if _CONTROL_CHARS.search(text):
        raise file_invalid(
            "The file is not a CSV or XLSX spreadsheet.", "文件不是 CSV 或 XLSX 表格。"
        )
    return text


def _refuse_known_binary(data: bytes) -> None:
    if data.startswith(_OLE2_MAGIC):
        raise file_invalid(
            "Legacy .xls and password-protected workbooks are not supported; save as .xlsx or CSV.",
            "不支持旧版 .xls 或加密的工作簿，请另存为 .xlsx 或 CSV。",
        )
    if data.startswith(b"%PDF"):
        raise file_invalid(
            "A PDF is not a spreadsheet; upload CSV or XLSX.",
            "PDF 不是表格文件，请上传 CSV 或 XLSX。",
        )


def sniff_delimiter(text: str) -> str:
    """The delimiter among comma, semicolon and tab, guessed from the first lines; else comma."""
    sample = text[:16384]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _csv_records(data: bytes) -> Iterator[tuple[int, list[str | None]]]:
    text = decode_text(data)
    # strict: an unterminated quote is an error rather than a cell swallowing later rows
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text), strict=True)
    return _csv_rows(reader)


def _csv_rows(reader) -> Iterator[tuple[int, list[str | None]]]:
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, _trimmed([_clean(c) for c in cells])
    except csv.Error as exc:
        raise file_invalid(
            f"The CSV file is malformed near line {reader.line_num}.",
            f"CSV 文件格式错误（约第 {reader.line_num} 行）。",
        ) from exc


# --- headers ---------------------------------------------------------------------------------


def normalize_header(header: str) -> str:
    """``" Full Name* "`` -> ``"full_name"``: trimmed, lowercased, required-marks dropped."""
    text = header.strip().strip("*＊").strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def map_headers(
    header: Sequence[str | None], columns: dict[str, str], required: Sequence[str], *, row: int = 1
) -> list[str | None]:
    """Canonical column name per header cell, or 422 naming every unknown, duplicate,
    blank or missing required column."""
    names: list[str | None] = []
    errors = []
    for position, cell in enumerate(header, start=1):
        name = columns.get(normalize_header(cell)) if cell else None
        if cell is None:
            errors.append(
                row_error(
                    row, "header", f"Column {position} has no header. 第 {position} 列缺少表头。"
                )
            )
        elif name is None:
            errors.append(row_error(row, "header", f'Unknown column "{cell}". 未知列“{cell}”。'))
        elif name in names:
            errors.append(
                row_error(row, "header", f'Column "{cell}" appears twice. 列“{cell}”重复。')
            )
        names.append(name)
    errors += [
        row_error(row, name, f'Required column "{name}" is missing. 缺少必填列“{name}”。')
        for name in required
        if name not in names
    ]
    if errors:
        raise Invalid(errors, "The header row is not valid.", "表头无效。")
    return names


# --- validation ------------------------------------------------------------------------------


def validate_rows(table: Table, schema, *, fast=None) -> tuple[list[RowData], list[dict]]:
    """Load each row with ``schema`` (empty cells left out); returns valid rows and errors.

    ``fast``, when given, is the caller's own loader for rows it is sure about: it returns
    what ``schema.load`` would return, or None to let the schema decide and word every
    error (see lms.accounts.people.fast_person_row)."""
    valid, errors = [], []
    for row in table.rows:
        given = {k: v for k, v in row.values.items() if v is not None}
        loaded = fast(given) if fast is not None else None
        if loaded is not None:
            valid.append(RowData(row.number, loaded))
            continue
        try:
            valid.append(RowData(row.number, schema.load(given)))
        except ValidationError as exc:
            errors += [
                row_error(row.number, field, str(message))
                for field, messages in _flat(exc.messages)
                for message in messages
            ]
    return valid, errors


def _flat(messages) -> Iterator[tuple[str, list]]:
    if not isinstance(messages, dict):
        yield "_row", messages if isinstance(messages, list) else [messages]
        return
    for field, value in messages.items():
        yield field, value if isinstance(value, list) else [value]


def duplicate_errors(rows: Iterable[RowData], field: str, *, key=lambda value: value) -> list[dict]:
    """An error on each row whose ``field`` (compared through ``key``) repeats an earlier
    row's; empty cells are not compared."""
    first: dict[str, int] = {}
    errors = []
    for row in rows:
        value = row.values.get(field)
        if value is None:
            continue
        seen = first.setdefault(key(value), row.number)
        if seen != row.number:
            errors.append(
                row_error(row.number, field, f"Same {field} as row {seen}. 与第 {seen} 行重复。")
            )
    return errors
