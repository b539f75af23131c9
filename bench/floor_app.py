"""The floor of benchmark row 1: a bare Flask + psycopg app doing the same indexed lookup
as the public verification endpoint, and answering the same JSON.

No ORM, no schemas, no extensions: one psycopg connection per worker process (gunicorn's
sync workers serve one request at a time), one ``SELECT ... WHERE verify_code = %s``.
Served under exactly the gunicorn settings of the real app: ``gunicorn bench.floor_app:app``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import psycopg
from flask import Flask, jsonify

app = Flask(__name__)
_connection: psycopg.Connection | None = None

QUERY = """
SELECT c.serial, c.status, c.snapshot, c.issued_at, c.expires_at, r.serial
FROM certificates AS c LEFT JOIN certificates AS r ON r.id = c.replaced_by_id
WHERE c.verify_code = %s
"""


def _conn() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        _connection = psycopg.connect(url, autocommit=True)
    return _connection


@app.get("/api/v1/verify/<code>")
def verify(code: str):
    row = _conn().execute(QUERY, (code,)).fetchone()
    if row is None:
        return jsonify({"status": 404, "title": "Not Found"}), 404
    serial, status, snap, issued_at, expires_at, replaced_by = row
    if status == "valid" and expires_at is not None and expires_at <= datetime.now(UTC):
        status = "expired"
    keys = ("holder_name", "holder_name_en", "course_title", "program_title")
    keys += ("certificate_title", "location", "starts_on", "ends_on", "theory_hours")
    keys += ("practical_hours", "total_hours", "issuer")
    body = {"status": status, "serial": serial, **{k: snap.get(k) for k in keys}}
    body |= {
        "issued_at": issued_at.isoformat(),
        "expires_at": expires_at.isoformat() if expires_at else None,
        "replaced_by": replaced_by,
    }
    return jsonify(body)
