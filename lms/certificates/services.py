"""Certificate lookups and lists: by serial, for the holder or an admin, the admin list
and the holder's own, and the linked certificates a list shows.

The writers are lms.certificates.issuance (issue, single and bulk) and
lms.certificates.lifecycle (revoke, restore, reissue).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select

from lms.accounts.models import User
from lms.catalog.permissions import is_admin
from lms.certificates.models import Certificate
from lms.core import bulk
from lms.core.errors import NotFound
from lms.extensions import db


def certificate_by_serial(serial: str) -> Certificate:
    """The certificate with ``serial`` (404 when none)."""
    cert = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
    if cert is None:
        raise NotFound("No such certificate.", "证书不存在。")
    return cert


def visible_certificate(serial: str, user: User) -> Certificate:
    """The certificate, for its holder or an admin; 404 for everyone else (never reveal
    another teacher's certificate)."""
    cert = certificate_by_serial(serial)
    if not (is_admin(user) or cert.user_id == user.id):
        raise NotFound("No such certificate.", "证书不存在。")
    return cert


def _holder_name():
    return Certificate.snapshot["holder_name"].as_string()


def certificates_query(*, course_id: int | None = None, status: str | None = None, q=None):
    """All certificates (admins), newest first; ``q`` matches holder names and serials."""
    stmt = select(Certificate).order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    if course_id is not None:
        stmt = stmt.where(Certificate.course_id == course_id)
    if status:
        stmt = stmt.where(Certificate.status == status)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(_holder_name()).contains(needle, autoescape=True),
                func.lower(Certificate.snapshot["holder_name_en"].as_string()).contains(
                    needle, autoescape=True
                ),
                func.lower(Certificate.serial).contains(needle, autoescape=True),
            )
        )
    return stmt


def my_certificates_query(user: User, *, status: str | None = None):
    """The user's own certificates, newest first."""
    stmt = (
        select(Certificate)
        .where(Certificate.user_id == user.id)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    )
    if status:
        stmt = stmt.where(Certificate.status == status)
    return stmt


def preload_links(certificates: Sequence[Certificate]) -> Sequence[Certificate]:
    """Load the certificates that ``certificates`` replace or are replaced by, in one
    query, so that serialising their serials needs none."""
    ids = {
        linked
        for c in certificates
        for linked in (c.replaced_by_id, c.replaces_id)
        if linked is not None
    }
    if ids:
        _load_certificates(sorted(ids))
    return certificates


def _load_certificates(ids: list[int]) -> list[Certificate]:
    found: dict[int, Certificate] = {}
    for chunk in bulk.lookup_batches(ids):
        stmt = select(Certificate).where(bulk.among(Certificate.id, chunk))
        found.update((c.id, c) for c in db.session.scalars(stmt))
    return [found[i] for i in ids if i in found]
