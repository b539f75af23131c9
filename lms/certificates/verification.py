"""Public verification: by the QR code's verification code, or by serial plus holder name.

One answer for every way in: ``answer`` builds it (``VerifyOut``, JSON-ready) from one row
of a prebuilt Core statement, the certificate with its replacement's serial and code joined
in, for the API by code and by serial and name and for the HTML page (which also shows the
course's dates and place and the certificate's title: ``PAGE_STATEMENTS``). No ORM entity,
identity map, unit of work or schema dump on the busiest public path, and SQLAlchemy's
compiled cache keeps the SQL (docs/benchmarks.md, row 1).

Answers only what the certificate states and its status; never the holder's email, user
or enrolment ids. Rate limited per client address (``CERT_VERIFY_RATE_LIMIT``, default
``60 per minute``, shared by the API and the page).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine, Row, bindparam, or_, select

from lms.certificates.errors import UnknownCertificate
from lms.certificates.models import Certificate
from lms.certificates.snapshot import is_expired, local_day, verify_url
from lms.core.db import utcnow
from lms.extensions import db

RATE_LIMIT_KEY = "CERT_VERIFY_RATE_LIMIT"
DEFAULT_RATE_LIMIT = "60 per minute"
# token_urlsafe output; anything else cannot be a code, and is answered without a query.
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# What the page shows besides the answer, as the snapshot states it.
PAGE_STATEMENTS = ("certificate_title", "location", "starts_on", "ends_on")
_SPACES = re.compile(r"\s+")


def normalise(text: str | None) -> str:
    """Compare names and serials ignoring spaces, case and full-width forms (NFKC)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or "")).casefold()


_certificates = Certificate.__table__
_replacement = _certificates.alias("replacement")
# What the answer reads, built once.
_ANSWER = (
    select(
        _certificates.c.serial,
        _certificates.c.status,
        _certificates.c.snapshot,
        _certificates.c.issued_at,
        _certificates.c.expires_at,
        _replacement.c.serial.label("replaced_by"),
        _replacement.c.verify_code.label("replaced_by_code"),
    )
    .select_from(_certificates)
    .outerjoin(_replacement, _replacement.c.id == _certificates.c.replaced_by_id)
)
_BY_CODE = _ANSWER.where(_certificates.c.verify_code == bindparam("code"))
_BY_SERIAL = _ANSWER.where(
    or_(_certificates.c.serial == bindparam("serial"), _certificates.c.serial == bindparam("upper"))
)


def answer_by_code(code: str) -> dict:
    """The public answer for a verification code; 404 when none."""
    return answer(_row_by_code(code))


def answer_by_serial_and_name(serial: str, name: str) -> dict:
    """The public answer for the certificate with ``serial`` whose holder's Chinese or
    English name matches ``name``; 404 otherwise (a wrong name reveals nothing about the
    serial)."""
    wanted = unicodedata.normalize("NFKC", serial).strip().replace(" ", "")
    row = _read(_BY_SERIAL, {"serial": wanted, "upper": wanted.upper()})
    snapshot = (row.snapshot or {}) if row is not None else {}
    names = {normalise(snapshot.get("holder_name")), normalise(snapshot.get("holder_name_en"))}
    if row is None or normalise(name) not in names - {""}:
        raise UnknownCertificate()
    return answer(row)


def page_answer(code: str, *, link: Callable[[str], str]) -> dict:
    """The answer for the verification page: the replacement linked with ``link(code)``,
    and the ``PAGE_STATEMENTS`` too; 404 when no certificate has the code."""
    return answer(_row_by_code(code), link=link, statements=PAGE_STATEMENTS)


def answer(
    row: Row, *, link: Callable[[str], str] = verify_url, statements: Sequence[str] = ()
) -> dict:
    """What the public may learn of the certificate in ``row`` (a row of ``_ANSWER``), as
    ``VerifyOut`` documents and dumps it: its status (``expired`` once a valid one is past
    its expiry), what it states, and its replacement, linked with ``link(code)`` (default:
    the absolute verification URL under LMS_BASE_URL). ``statements``: more of what the
    snapshot states, as it states it."""
    snapshot = row.snapshot or {}
    status = row.status
    if status == "valid" and is_expired(row.expires_at, utcnow()):
        status = "expired"
    return {
        "status": status,
        "serial": row.serial,
        "holder_name": _text(snapshot.get("holder_name")),
        "holder_name_en": _text(snapshot.get("holder_name_en")),
        "course_title": _text(snapshot.get("course_title")),
        "program_title": _text(snapshot.get("program_title")),
        "theory_hours": _number(snapshot.get("theory_hours")),
        "practical_hours": _number(snapshot.get("practical_hours")),
        "total_hours": _number(snapshot.get("total_hours")),
        "issued_at": row.issued_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "issued_on": local_day(row.issued_at, snapshot).isoformat(),
        "expires_on": local_day(row.expires_at, snapshot).isoformat() if row.expires_at else None,
        "issuer": _text(snapshot.get("issuer")),
        "replaced_by": row.replaced_by,
        "replaced_by_url": link(row.replaced_by_code) if row.replaced_by_code else None,
        **{name: snapshot.get(name) for name in statements},
    }


def _row_by_code(code: str) -> Row:
    if not CODE_PATTERN.fullmatch(code):
        raise UnknownCertificate()
    row = _read(_BY_CODE, {"code": code})
    if row is None:
        raise UnknownCertificate()
    return row


def _read(stmt, params: dict) -> Row | None:
    return _reading_connection().execute(stmt, params).first()


def _reading_connection() -> Connection:
    """The session's connection; in autocommit mode when the request starts its database
    work here (one statement reads a consistent snapshot on its own): no ``BEGIN`` and no
    ``COMMIT`` round trip. Inside a transaction already begun (or a session bound to an
    outer connection, as in the tests) the ordinary transactional connection."""
    session = db.session()
    if session.in_transaction() or not isinstance(session.get_bind(), Engine):
        return session.connection()
    return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _text(value) -> str | None:
    """As ``fields.String`` dumps it."""
    return None if value is None else str(value)


def _number(value) -> float | None:
    """As ``fields.Float`` dumps it."""
    return None if value is None else float(value)
