"""Tables as downloads: the one CSV/XLSX writer of every export (gradebook, roster,
completion list, certificates); knows no domain.

An export is a header and rows (lists of cells) that come a chunk at a time, so that the
caller runs the same queries per chunk whatever the size of the table:

- CSV is UTF-8 with a BOM (so that Excel reads the Chinese), streamed chunk by chunk;
- XLSX is written with openpyxl's write-only mode (rows are not kept in memory) to a
  spooled temporary file (a zip cannot be sent before it is complete), with the header row
  frozen, an autofilter over the table and column widths fitted to the header and the
  first chunk of rows.

Numbers stay numbers (a Decimal becomes the shortest int or float: 4.0 -> 4, 78.50 ->
78.5), booleans and empty cells are kept as such, dates and times become ISO 8601 text.
Every text cell that a spreadsheet could read as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) gets a leading ``'``, and control characters are
dropped (never data, and openpyxl refuses them in a cell).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from itertools import chain
from tempfile import SpooledTemporaryFile

from flask import Response, request, stream_with_context
from marshmallow import fields, validate
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from werkzeug.wsgi import wrap_file

from lms.core.downloads import as_download
from lms.core.schemas import CONTROL_CHARS

FORMATS = ("csv", "xlsx")
CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_SPOOL_BYTES = 16 * 1024 * 1024  # beyond this the workbook goes to a temporary file
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MIN_WIDTH, MAX_WIDTH = 8, 60  # XLSX column widths, in characters

Chunks = Iterable[Sequence[Sequence]]


def neutralise(value):
    """A text cell loses control characters, then gets a leading ``'`` when a spreadsheet
    would run it as a formula; other cells are returned as they are."""
    if not isinstance(value, str):
        return value
    value = CONTROL_CHARS.sub("", value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def number(value: Decimal | None):
    """A Decimal as the shortest int or float (4.0 -> 4, 78.50 -> 78.5); None stays None."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def number_text(value) -> str:
    """A number as short text (4.0 -> "4", 1.50 -> "1.5")."""
    if isinstance(value, float | int):
        value = Decimal(str(value))
    result = number(value)
    return "" if result is None else str(result)


def cell(value):
    """A value as a spreadsheet cell: numbers as numbers, text neutralised."""
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return neutralise(value)


def csv_chunks(header: Sequence[str], chunks: Chunks) -> Iterator[bytes]:
    """CSV as UTF-8 with a BOM, a chunk of rows at a time (the header comes first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(cell(h) for h in header)
    for rows in chunks:
        writer.writerows([cell(v) for v in row] for row in rows)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows at all: the header is still owed
        yield buffer.getvalue().encode("utf-8")


def _width(value) -> int:
    if value is None:
        return 0
    text = str(value)
    # CJK characters take two columns of a spreadsheet's default font
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def xlsx_file(header: Sequence[str], chunks: Chunks, title: str) -> SpooledTemporaryFile:
    """The workbook of one sheet named ``title``, rewound for reading."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    chunks = iter(chunks)
    first = [[cell(v) for v in row] for row in next(chunks, [])]
    head = [cell(h) for h in header]
    for index, label in enumerate(head, start=1):
        widest = max(
            [_width(label)] + [_width(row[index - 1]) for row in first if len(row) >= index]
        )
        width = min(max(widest + 2, MIN_WIDTH), MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append(head)
    count = 0
    for rows in chain([first], ([[cell(v) for v in row] for row in rows] for rows in chunks)):
        for row in rows:
            sheet.append(row)
            count += 1
    if head:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(head))}{count + 1}"
    spool = SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)  # closed by the response
    workbook.save(spool)
    spool.seek(0)
    return spool


def table_download(
    fmt: str, header: Sequence[str], chunks: Chunks, *, filename: str, title: str
) -> Response:
    """The table as a CSV (streamed) or XLSX attachment named ``filename`` + extension.

    The chunks of a CSV are produced while the answer streams: they must load what they
    need in the session of the moment (Flask pushes the contexts again around the stream).
    """
    if fmt == "csv":
        response = Response(stream_with_context(csv_chunks(header, chunks)), mimetype=CSV_MIMETYPE)
    else:
        spool = xlsx_file(header, chunks, title)
        size = spool.seek(0, os.SEEK_END)
        spool.seek(0)
        response = Response(
            wrap_file(request.environ, spool), mimetype=XLSX_MIMETYPE, direct_passthrough=True
        )
        response.content_length = size
    return as_download(response, f"{filename}.{fmt}")


# --- the query arguments and OpenAPI description of a list that can be exported ----------------


def format_field():
    """``?format=csv|xlsx``: the whole list (not a page) as a file instead of JSON."""
    return fields.String(
        validate=validate.OneOf(FORMATS),
        metadata={
            "description": "csv (UTF-8 with BOM) or xlsx: every matching row (page and "
            "page_size do not apply) as a download instead of the JSON page."
        },
    )


def lang_field():
    """``?lang=zh|en``: the language of an export's headers and labels."""
    return fields.String(
        load_default="zh",
        validate=validate.OneOf(("zh", "en")),
        metadata={"description": "The language of the export's headers and labels."},
    )


BINARY = {"type": "string", "format": "binary"}
EXPORT_RESPONSES = {
    200: {"content": {CSV_MIMETYPE: {"schema": BINARY}, XLSX_MIMETYPE: {"schema": BINARY}}}
}
