"""Helpers of the bad-input sweep (tests/security/test_bad_input.py).

- ``Snapshot``: every row of every table (``db.metadata.sorted_tables``) and every file of
  the upload directory, taken before and after a request: "nothing written" means equal.
- ``wrong_values``: values of the wrong type (or out of range) for a marshmallow field,
  derived from the field's class, so that a field added to a schema is swept too.
- ``field_mutations``: (path, value) pairs over a valid body, top level and nested.
- ``assert_problem_answer``: a 4xx RFC 9457 problem with the standard members.
"""

from __future__ import annotations

import copy
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from lms.core.schemas import DecimalNumber
from lms.extensions import db

PROBLEM_MEMBERS = ("type", "title", "status", "detail")


@dataclass(frozen=True)
class Snapshot:
    tables: dict[str, list[str]]
    files: tuple[str, ...]

    @classmethod
    def take(cls, upload_dir: str) -> Snapshot:
        db.session.expire_all()
        tables = {}
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(select(table)).all()
            tables[table.name] = sorted(repr(tuple(row)) for row in rows)
        root = Path(upload_dir)
        files = tuple(
            sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
            if root.exists()
            else ()
        )
        return cls(tables, files)

    def diff(self, other: Snapshot) -> list[str]:
        """What changed from ``self`` to ``other`` (empty: nothing written)."""
        changes = []
        for name, rows in self.tables.items():
            after = other.tables.get(name, [])
            if rows != after:
                added = len(set(after) - set(rows))
                removed = len(set(rows) - set(after))
                changes.append(f"table {name}: {added} row(s) new or changed, {removed} gone")
        if self.files != other.files:
            changes.append(f"upload dir: {sorted(set(other.files) ^ set(self.files))}")
        return changes


def problem_errors(response) -> list[str]:
    """What is wrong with ``response`` as a 4xx problem answer (empty: nothing)."""
    wrong = []
    status = response.status_code
    if not 400 <= status < 500:
        return [f"status {status}: {response.get_data()[:300]!r}"]
    if response.mimetype != "application/problem+json":
        wrong.append(f"{status} with media type {response.mimetype}")
        return wrong
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return [f"{status}: body is not a JSON object"]
    missing = [m for m in PROBLEM_MEMBERS if m not in body]
    if missing:
        wrong.append(f"{status}: problem members missing {missing}")
    if body.get("status") != status:
        wrong.append(f"{status}: problem status member says {body.get('status')}")
    if "Traceback" in response.get_data(as_text=True):
        wrong.append(f"{status}: traceback in the body")
    return wrong


# --- wrong values per field ------------------------------------------------------------------


def _max_length(field: fields.Field) -> int | None:
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.max is not None:
            return validator.max
    return None


def _bounded_text(field: fields.Field) -> bool:
    """A string field whose length is limited by some validator (Length, OneOf, Regexp...)."""
    return any(
        isinstance(v, validate.Length | validate.OneOf | validate.Regexp) for v in field.validators
    )


def wrong_values(field: fields.Field) -> list[tuple[str, object]]:
    """(category, value) pairs the field must refuse with 422."""
    values: list[tuple[str, object]] = []
    if not field.allow_none:
        values.append(("wrong type", None))
    if isinstance(field, fields.Nested):
        values += [("wrong type", v) for v in ("x", [] if not field.many else {})]
    elif isinstance(field, fields.List):
        values += [("wrong type", v) for v in ("x", {"a": 1})]
    elif isinstance(field, fields.Boolean):
        values += [("wrong type", v) for v in ("maybe", 2)]
    elif isinstance(field, fields.Integer):
        values += [("wrong type", v) for v in ("abc", 1.5, True, float("inf"))]
    elif isinstance(field, DecimalNumber | fields.Decimal | fields.Float):
        values += [("wrong type", v) for v in ("abc", True, float("nan"), float("inf"))]
        values += [("out of range", 1e308)]
    elif isinstance(field, fields.DateTime):
        values += [("wrong type", v) for v in ("yesterday", "2021-02-30T10:00:00+08:00")]
        # Valid ISO 8601 whose conversion to UTC leaves the calendar.
        values += [("out of range", "9999-12-31T23:00:00-12:00")]
        values += [("out of range", "0001-01-01T00:30:00+14:00")]
    elif isinstance(field, fields.Date):
        values += [("wrong type", v) for v in ("2020-13-45", 20201202)]
    elif isinstance(field, fields.String):
        values += [("wrong type", v) for v in (12345, ["x"])]
        values += [("control characters", "李\x00明\x1b")]
        limit = _max_length(field)
        if limit is not None:
            values.append(("overlong", "字" * (limit + 1)))
        if not _bounded_text(field):
            values.append(("overlong", "x" * 100_001))
    return values


def out_of_range_ints(field: fields.Field) -> list[object]:
    if isinstance(field, fields.Integer):
        # Beyond PostgreSQL's integer, beyond any column, and below bigint.
        return [2**31, 10**30, -(2**63) - 1]
    return []


def _load_fields(schema: Schema) -> dict[str, fields.Field]:
    return {f.data_key or name: f for name, f in schema.load_fields.items()}


def field_mutations(schema: Schema, body, path=()) -> Iterator[tuple[str, tuple, object]]:
    """(category, path, value) for every field of ``schema``, recursing where ``body`` has
    a nested object or a list of them (their first element)."""
    for name, field in _load_fields(schema).items():
        for category, value in wrong_values(field):
            yield category, (*path, name), value
        for value in out_of_range_ints(field):
            yield "out of range", (*path, name), value
        given = body.get(name) if isinstance(body, dict) else None
        if isinstance(field, fields.Nested) and isinstance(given, dict):
            yield from field_mutations(field.schema, given, (*path, name))
        elif isinstance(field, fields.List) and isinstance(given, list) and given:
            inner = field.inner
            if isinstance(inner, fields.Nested) and isinstance(given[0], dict):
                yield from field_mutations(inner.schema, given[0], (*path, name, 0))
            elif not isinstance(inner, fields.Nested | fields.List):
                for category, value in wrong_values(inner):
                    yield category, (*path, name, 0), value
                for value in out_of_range_ints(inner):
                    yield "out of range", (*path, name, 0), value
            elif isinstance(inner, fields.List):
                for value in ("x", 5, {"a": 1}):
                    yield "wrong type", (*path, name, 0), value


def with_value(body: dict, path: tuple, value) -> dict:
    """A deep copy of ``body`` with ``value`` at ``path`` (keys and list indexes)."""
    result = copy.deepcopy(body)
    target = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return result


# --- hostile files ---------------------------------------------------------------------------


def xlsx_bytes(rows: list[list]) -> bytes:
    """A workbook with ``rows`` on its first sheet (openpyxl)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


SHEET_MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
# A declared size: openpyxl then stops reading the sheet there when it opens the workbook.
_DIMENSION = b'<dimension ref="A1:B2000"/>'
_HEADER = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>full_name</t></is></c></row>'
)
# Valid rows before the hostile part: openpyxl reads a sheet lazily, so a fault far enough
# into the XML surfaces while the rows are iterated, not when the workbook is opened.
_ROWS = b"".join(
    b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>p%d@example.edu.cn</t></is></c>'
    b'<c r="B%d" t="inlineStr"><is><t>n%d</t></is></c></row>' % ((n,) * 5)
    for n in range(2, 2000)
)


def _hostile_sheet(doctype: bytes, last_row: bytes) -> bytes:
    """A worksheet of 2,000 good rows (so openpyxl opens it and fails while reading rows)
    behind ``doctype``, ending with ``last_row``."""
    return (
        b'<?xml version="1.0"?>'
        + doctype
        + b'<worksheet xmlns="'
        + SHEET_MAIN
        + b'">'
        + _DIMENSION
        + b"<sheetData>"
        + _HEADER
        + _ROWS
        + last_row
    )


def _last_cell(text: bytes) -> bytes:
    return (
        b'<row r="2000"><c r="A2000" t="inlineStr"><is><t>'
        + text
        + b"</t></is></c></row></sheetData></worksheet>"
    )


_LAUGHS = b"".join(
    b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10) for i in range(8)
)

# Worksheet XML that no parser should accept, each as the first sheet of a good workbook.
HOSTILE_SHEETS = {
    "XLSX sheet with an undefined entity": _hostile_sheet(b"", _last_cell(b"&nope;")),
    "XLSX sheet with entity expansion (billion laughs)": _hostile_sheet(
        b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">' + _LAUGHS + b"]>", _last_cell(b"&i;")
    ),
    "XLSX sheet with an external entity": _hostile_sheet(
        b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>', _last_cell(b"&x;")
    ),
    "XLSX sheet with truncated XML": _hostile_sheet(
        b"", b'<row r="2000"><c r="A2000" t="inlineStr"><is><t>li'
    ),
}


def xlsx_with_sheet_xml(sheet_xml: bytes) -> bytes:
    """A workbook made by openpyxl whose first worksheet's XML is replaced by
    ``sheet_xml``."""
    good = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["email", "full_name"]])))
    entries = {info.filename: good.read(info) for info in good.infolist()}
    entries["xl/worksheets/sheet1.xml"] = sheet_xml
    return zip_of(entries)


def xlsx_without_sheets() -> bytes:
    """An OOXML package whose workbook lists no sheet at all."""
    content_types = (
        b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        b'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sheet.main+xml"/></Types>'
    )
    rels = (
        b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        b'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        b'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        b'Target="xl/workbook.xml"/></Relationships>'
    )
    workbook = (
        b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
        b'org/spreadsheetml/2006/main"><sheets/></workbook>'
    )
    return zip_of(
        {"[Content_Types].xml": content_types, "_rels/.rels": rels, "xl/workbook.xml": workbook}
    )
