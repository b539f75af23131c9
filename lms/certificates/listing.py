"""Certificates as tables: the admin list as a file (``GET /api/v1/certificates?format=``)
and the serials the completion export shows (registered in lms.app.connect_domains).

Both read what the certificate certified (its snapshot), in one statement: the list through
a server-side cursor, ``CHUNK_SIZE`` certificates at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from lms.certificates import services
from lms.certificates.models import VALID, Certificate
from lms.extensions import db

CHUNK_SIZE = 500

COLUMNS = (
    ("证书编号", "Serial"),
    ("状态", "Status"),
    ("姓名", "Name"),
    ("英文名", "English name"),
    ("邮箱", "Email"),
    ("单位", "Institution"),
    ("研修班编号", "Course code"),
    ("研修班", "Course"),
    ("理论学时", "Theory hours"),
    ("实训学时", "Practical hours"),
    ("总学时", "Total hours"),
    ("颁发单位", "Issuer"),
    ("颁发时间", "Issued at"),
    ("有效期至", "Expires at"),
    ("撤销原因", "Revoke reason"),
)
STATUS_ZH = {"valid": "有效", "revoked": "已撤销", "superseded": "已被替换"}


def header(lang: str) -> list[str]:
    return [zh if lang == "zh" else en for zh, en in COLUMNS]


def certificate_chunks(*, lang: str, **filters) -> Iterator[list[list]]:
    """The rows of the admin list (same filters and order), a chunk at a time."""
    stmt = services.certificates_query(**filters).execution_options(yield_per=CHUNK_SIZE)
    for certificates in db.session.scalars(stmt).partitions():
        yield [row(c, lang) for c in certificates]


def row(certificate: Certificate, lang: str) -> list:
    facts = certificate.snapshot or {}
    status = certificate.status
    if lang == "zh":
        status = STATUS_ZH.get(status, status)
    return [
        certificate.serial,
        status,
        facts.get("holder_name"),
        facts.get("holder_name_en"),
        facts.get("holder_email"),
        facts.get("institution"),
        facts.get("course_code"),
        facts.get("course_title"),
        facts.get("theory_hours"),
        facts.get("practical_hours"),
        facts.get("total_hours"),
        facts.get("issuer"),
        certificate.issued_at,
        certificate.expires_at,
        certificate.revoke_reason,
    ]


def valid_serials(course_id: int) -> dict[int, str]:
    """The serial of each enrolment's valid certificate in the course: one query."""
    rows = db.session.execute(
        select(Certificate.enrollment_id, Certificate.serial).where(
            Certificate.course_id == course_id, Certificate.status == VALID
        )
    )
    return dict(rows.all())
