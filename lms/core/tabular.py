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
from dataclasses import field as dataclass_field
from datetime import date, datetime, time

import openpyxl
from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage

from lms.core.errors import Invalid

MAX_ROWS = 20_000  # data rows per file: bounds memory and the length of one transaction
MAX_COLUMNS = 64  # XLSX columns read per row; a sheet may claim 16,384
MAX_XLSX_UNPACKED = 200 * 1024 * 1024  # declared uncompressed size: refuses zip bombs
MAX_REPORTED_ERRORS = 1_000
HEADER_SEARCH_ROWS = 10  # non-empty rows looked at for the header (title rows above it)

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
    """The data rows of a file (empty rows left out) and the columns its header named.

    ``headers``: each canonical column's header as the file writes it (for messages);
    ``warnings``: ``{row, field, message}`` about what was ignored (unknown columns)."""

    columns: tuple[str, ...]
    rows: list[RowData]
    headers: dict[str, str] = dataclass_field(default_factory=dict)
    warnings: list[dict] = dataclass_field(default_factory=list)


# --- errors ----------------------------------------------------------------------------------


def row_error(row: int | None, field: str, message: str) -> dict:
    """One entry of a 422 ``errors`` list."""
    return {"row": row, "field": field, "message": message}


def file_invalid(message_en: str, message_zh: str) -> Invalid:
    """A 422 about the file as a whole (format, encoding, size)."""
    return Invalid([row_error(None, "file", f"{message_en} {message_zh}")], message_en, message_zh)


def name_columns(errors: list[dict], headers: dict[str, str]) -> list[dict]:
    """``errors`` with a ``column`` entry: the header of their field as the file names it."""
    return [
        {**e, "column": headers[e["field"]]} if e["field"] in headers and "column" not in e else e
        for e in errors
    ]


def raise_if_errors(errors: list[dict], *, headers: dict[str, str] | None = None, **extra) -> None:
    """Raise one 422 listing ``errors`` (sorted by row) when there are any; with
    ``headers`` (``Table.headers``) each error also names its column as the file does.
    ``extra`` entries go into the answer (a dry run's plan)."""
    if not errors:
        return
    errors = sorted(errors, key=lambda e: (e["row"] or 0, e["field"]))
    if headers:
        errors = name_columns(errors, headers)
    rows = len({e["row"] for e in errors})
    raise Invalid(
        errors[:MAX_REPORTED_ERRORS],
        f"The file has errors in {rows} row(s); nothing was imported.",
        f"文件中有 {rows} 行存在错误，未导入任何数据。",
        error_count=len(errors),
        **extra,
    )


# --- reading ---------------------------------------------------------------------------------


def read_table(
    source: FileStorage | bytes,
    *,
    columns: dict[str, str],
    required: Sequence[str],
    labels: dict[str, tuple[str, str]] | None = None,
    max_rows: int = MAX_ROWS,
) -> Table:
    """Read an uploaded CSV or XLSX file (detected by content, not by name) into a Table.

    ``columns`` maps accepted headers to canonical names. The header is the first of the
    first ``HEADER_SEARCH_ROWS`` non-empty rows that names every ``required`` column (title
    rows above it are skipped). Unknown and blank header cells are ignored with a warning;
    duplicate or missing required columns are refused with 422 (``labels`` gives the
    English and Chinese name of a column for those messages), as are more than
    ``max_rows`` data rows.
    """
    data = source if isinstance(source, bytes) else source.stream.read()
    records = _xlsx_records(data) if data.startswith(_ZIP_MAGIC) else _csv_records(data)
    with closing(records):  # closes the workbook even when we stop early
        header_number, header, ahead = _find_header(records, columns, required)
        names, warnings = map_headers(header, columns, required, row=header_number, labels=labels)
        rows = _data_rows(_chain(ahead, records), names, max_rows)
    if not rows:
        raise file_invalid("The file has a header but no data rows.", "文件只有表头，没有数据行。")
    headers = {name: str(cell) for name, cell in zip(names, header, strict=False) if name}
    return Table(tuple(n for n in names if n), rows, headers, warnings)


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _find_header(records, columns: dict[str, str], required: Sequence[str]):
    """The header record (number, cells) and the records read after it; when no row among
    the first few names the required columns, the first non-empty row (to be refused)."""
    seen: list[tuple[int, list[str | None]]] = []
    for number, cells in records:
        if not any(cells):
            if seen:
                seen.append((number, cells))
            continue
        seen.append((number, cells))
        mapped = {columns.get(normalize_header(c)) for c in cells if c}
        if all(name in mapped for name in required):
            position = len(seen) - 1
            return number, cells, seen[position + 1 :]
        if sum(1 for _, c in seen if any(c)) >= HEADER_SEARCH_ROWS:
            break
    if not seen:
        raise file_invalid("The file is empty.", "文件为空。")
    number, cells = seen[0]
    return number, cells, seen[1:]


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
    """Rows of ``sheet``; openpyxl parses its XML lazily, so malformed XML (an undefined
    entity, a DTD with entities, which defusedxml refuses, truncated XML) surfaces while
    iterating: a 422 about the file, never a 500."""
    try:
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # ParseError, defusedxml's DTD/entity errors, ...
                raise file_invalid(
                    "The workbook's sheet is not well-formed XML (damaged, or with "
                    "entities or a DTD, which are refused).",
                    "工作表的 XML 格式错误（文件损坏，或含有不允许的实体或 DTD）。",
                ) from exc
            number += 1
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
    header: Sequence[str | None],
    columns: dict[str, str],
    required: Sequence[str],
    *,
    row: int = 1,
    labels: dict[str, tuple[str, str]] | None = None,
) -> tuple[list[str | None], list[dict]]:
    """Canonical column name per header cell (None for an ignored one) and the warnings
    naming each unknown or blank header cell; 422 naming every duplicate or missing
    required column."""
    labels = labels or {}
    names: list[str | None] = []
    first: dict[str, str] = {}
    errors, warnings = [], []
    for position, cell in enumerate(header, start=1):
        name = columns.get(normalize_header(cell)) if cell else None
        if cell is None:
            warnings.append(
                row_error(
                    row,
                    "header",
                    f"Column {position} has no header; it is ignored. "
                    f"第 {position} 列没有表头，已忽略。",
                )
            )
        elif name is None:
            warnings.append(
                row_error(
                    row, "header", f'Unknown column "{cell}" is ignored. 未知列“{cell}”已忽略。'
                )
            )
        elif name in first:
            errors.append(
                row_error(
                    row,
                    "header",
                    f'Column "{cell}" repeats column "{first[name]}". '
                    f"列“{cell}”与列“{first[name]}”重复。",
                )
            )
            name = None
        else:
            first[name] = cell
        names.append(name)
    for name in required:
        if name not in first:
            en, zh = labels.get(name, (name, name))
            errors.append(
                row_error(row, name, f'Required column "{en}" is missing. 缺少必填列“{zh}”。')
            )
    if errors:
        raise Invalid(errors, "The header row is not valid.", "表头无效。", warnings=warnings)
    return names, warnings


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


def duplicate_errors(
    rows: Iterable[RowData], name: str, *, key=lambda value: value, label: str | None = None
) -> list[dict]:
    """An error on each row whose ``name`` column (compared through ``key``) repeats an
    earlier row's; empty cells are not compared. ``label``: the column as the file names it."""
    label = label or name
    first: dict[str, int] = {}
    errors = []
    for row in rows:
        value = row.values.get(name)
        if value is None:
            continue
        seen = first.setdefault(key(value), row.number)
        if seen != row.number:
            errors.append(
                row_error(
                    row.number,
                    name,
                    f'Same "{label}" as row {seen}. “{label}”与第 {seen} 行重复。',
                )
            )
    return errors
