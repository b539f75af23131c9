"""Public verification: by the QR code's verification code, or by serial plus holder name.

Answers only what the certificate states and its status; never the holder's email, user
or enrolment ids. Rate limited per client address (``CERT_VERIFY_RATE_LIMIT``, default
``60 per minute``, shared by the API and the page).
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import Connection, Engine, bindparam, or_, select

from lms.certificates.models import Certificate
from lms.certificates.snapshot import is_expired, verify_url
from lms.core.db import utcnow
from lms.core.errors import NotFound
from lms.extensions import db

RATE_LIMIT_KEY = "CERT_VERIFY_RATE_LIMIT"
DEFAULT_RATE_LIMIT = "60 per minute"
# token_urlsafe output; anything else cannot be a code, and is answered without a query.
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SPACES = re.compile(r"\s+")


class UnknownCertificate(NotFound):
    code = "certificate-not-found"
    message_en = "No certificate matches."
    message_zh = "未找到匹配的证书。"


def normalise(text: str | None) -> str:
    """Compare names and serials ignoring spaces, case and full-width forms (NFKC)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or "")).casefold()


_certificates = Certificate.__table__
_replacement = _certificates.alias("replacement")
# The public lookup by code in one Core statement (the replacement's serial and code joined
# in), built once: no ORM entity, identity map or unit of work on the hottest public path,
# and SQLAlchemy's compiled cache keeps its SQL (docs/benchmarks.md, row 1).
_BY_CODE = (
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
    .where(_certificates.c.verify_code == bindparam("code"))
)


def answer_by_code(code: str) -> dict:
    """The public answer (``VerifyOut``, already JSON-ready) for a verification code; 404
    when none. What ``public_view`` says, read without loading the ORM entity."""
    if not CODE_PATTERN.fullmatch(code):
        raise UnknownCertificate()
    row = _reading_connection().execute(_BY_CODE, {"code": code}).first()
    if row is None:
        raise UnknownCertificate()
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
        "issuer": _text(snapshot.get("issuer")),
        "replaced_by": row.replaced_by,
        "replaced_by_url": verify_url(row.replaced_by_code) if row.replaced_by_code else None,
    }


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


def by_code(code: str) -> Certificate:
    """The certificate with this verification code (404 when none)."""
    if not CODE_PATTERN.fullmatch(code):
        raise UnknownCertificate()
    cert = db.session.scalar(select(Certificate).where(Certificate.verify_code == code))
    if cert is None:
        raise UnknownCertificate()
    return cert


def by_serial_and_name(serial: str, name: str) -> Certificate:
    """The certificate with ``serial`` whose holder's Chinese or English name matches
    ``name``; 404 otherwise (a wrong name reveals nothing about the serial)."""
    wanted = unicodedata.normalize("NFKC", serial).strip().replace(" ", "")
    cert = db.session.scalar(
        select(Certificate).where(
            or_(Certificate.serial == wanted, Certificate.serial == wanted.upper())
        )
    )
    snapshot = cert.snapshot if cert is not None else {}
    names = {normalise(snapshot.get("holder_name")), normalise(snapshot.get("holder_name_en"))}
    if cert is None or normalise(name) not in names - {""}:
        raise UnknownCertificate()
    return cert


def public_status(cert: Certificate) -> str:
    """valid, revoked, expired or superseded (superseded and revoked win over expired)."""
    if cert.status != "valid":
        return cert.status
    return "expired" if is_expired(cert.expires_at, utcnow()) else "valid"


def public_view(cert: Certificate, *, page_url=None) -> dict:
    """What the public may learn about ``cert``. ``page_url(code)`` builds the replacement's
    link (default: the absolute verification URL under LMS_BASE_URL)."""
    snapshot = cert.snapshot or {}
    replacement = db.session.get(Certificate, cert.replaced_by_id) if cert.replaced_by_id else None
    link = page_url or verify_url
    return {
        "status": public_status(cert),
        "serial": cert.serial,
        "holder_name": snapshot.get("holder_name"),
        "holder_name_en": snapshot.get("holder_name_en"),
        "course_title": snapshot.get("course_title"),
        "program_title": snapshot.get("program_title"),
        "certificate_title": snapshot.get("certificate_title"),
        "location": snapshot.get("location"),
        "starts_on": snapshot.get("starts_on"),
        "ends_on": snapshot.get("ends_on"),
        "theory_hours": snapshot.get("theory_hours"),
        "practical_hours": snapshot.get("practical_hours"),
        "total_hours": snapshot.get("total_hours"),
        "issued_at": cert.issued_at,
        "expires_at": cert.expires_at,
        "issuer": snapshot.get("issuer"),
        "replaced_by": replacement.serial if replacement else None,
        "replaced_by_url": link(replacement.verify_code) if replacement else None,
    }
