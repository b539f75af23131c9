"""Certificate lifecycle: revoke, restore and reissue.

Each transition is a conditional ``UPDATE`` (only from the statuses it allows), so that
concurrent transitions cannot both win; the partial unique index
``uq_certificates_one_valid_per_enrollment`` refuses a second valid certificate of an
enrolment (a restore or a reissue racing an issuance: 409). Locks are taken in the order
of lms.certificates.issuance. Services flush, never commit: the request boundary commits.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import User
from lms.audit import services as audit
from lms.catalog.models import Course
from lms.certificates.errors import (
    SUPERSEDED_ACT_ON_NEW,
    AlreadyIssued,
    CertificateSuperseded,
    NotRevoked,
    NotValid,
)
from lms.certificates.issuance import format_serial, new_verify_code, reserve_serial_numbers
from lms.certificates.models import (
    ONE_VALID_INDEX,
    REVOKED,
    SUPERSEDED,
    VALID,
    Certificate,
)
from lms.certificates.snapshot import build_snapshot
from lms.core.db import utcnow, violated_constraint
from lms.extensions import db


def _one_valid_violation(exc: IntegrityError) -> bool:
    """True when ``exc`` is the partial unique index refusing a second valid certificate
    (PostgreSQL names the index; SQLite names the column)."""
    name = violated_constraint(exc)
    return ONE_VALID_INDEX in name or "certificates.enrollment_id" in name


def _transition(cert: Certificate, from_statuses: tuple[str, ...], **values) -> bool:
    """Conditionally update ``cert`` (only from ``from_statuses``); refresh it; True when
    the row changed. The conditional update is what makes concurrent transitions safe."""
    changed = db.session.execute(
        update(Certificate)
        .where(Certificate.id == cert.id, Certificate.status.in_(from_statuses))
        .values(**values)
        .returning(Certificate.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    db.session.refresh(cert)
    return changed is not None


def revoke(cert: Certificate, *, actor: User, reason: str) -> Certificate:
    """Revoke a valid certificate with a reason (409 otherwise). ``issued_at`` is kept."""
    now = utcnow()
    if not _transition(
        cert, (VALID,), status=REVOKED, revoke_reason=reason, revoked_at=now, revoked_by_id=actor.id
    ):
        raise NotValid()
    audit.record(
        "certificate.revoked",
        "certificate",
        cert.id,
        actor=actor,
        data={"serial": cert.serial, "reason": reason},
    )
    return cert


def restore(cert: Certificate, *, actor: User, reason: str) -> Certificate:
    """Undo a revocation (409 when not revoked, or when the enrolment has another valid
    certificate: the partial unique index refuses it)."""
    previous = cert.revoke_reason
    try:
        with db.session.begin_nested():
            changed = _transition(
                cert,
                (REVOKED,),
                status=VALID,
                revoke_reason=None,
                revoked_at=None,
                revoked_by_id=None,
            )
    except IntegrityError as exc:
        if not _one_valid_violation(exc):
            raise
        db.session.refresh(cert)
        raise AlreadyIssued(
            "The enrolment has another valid certificate.", "该报名已有其他有效证书。"
        ) from None
    if not changed:
        raise NotRevoked()
    audit.record(
        "certificate.restored",
        "certificate",
        cert.id,
        actor=actor,
        data={"serial": cert.serial, "reason": reason, "revoke_reason": previous},
    )
    return cert


def reissue(cert: Certificate, *, actor: User, reason: str) -> Certificate:
    """Replace a valid or revoked certificate by a new one: a new serial and verification
    code, a fresh snapshot of the holder and course (a corrected name, say) with the hours
    certified by the old one, and the old one's expiry and override. The old certificate
    becomes ``superseded`` (first, and flushed, so that the partial unique index never sees
    two valid certificates) and points at the new one."""
    if cert.status == SUPERSEDED:
        raise CertificateSuperseded(*SUPERSEDED_ACT_ON_NEW)
    course = db.session.get(Course, cert.course_id)
    now = utcnow()
    # The sequence first: every issuer takes the sequence lock before certificate rows.
    number = reserve_serial_numbers(course, now.year, 1)
    if not _transition(cert, (VALID, REVOKED), status=SUPERSEDED):
        raise CertificateSuperseded(*SUPERSEDED_ACT_ON_NEW)
    user = db.session.get(User, cert.user_id)
    snapshot = build_snapshot(
        user,
        course,
        theory_hours=Decimal(str(cert.snapshot.get("theory_hours") or 0)),
        practical_hours=Decimal(str(cert.snapshot.get("practical_hours") or 0)),
    )
    new = Certificate(
        serial=format_serial(course, now.year, number),
        verify_code=new_verify_code(),
        enrollment_id=cert.enrollment_id,
        course_id=cert.course_id,
        user_id=cert.user_id,
        snapshot=snapshot,
        issued_at=now,
        issued_by_id=actor.id,
        expires_at=cert.expires_at,
        status=VALID,
        override_reason=cert.override_reason,
        replaces_id=cert.id,
    )
    _add_replacement(new)
    cert.replaced_by_id = new.id
    db.session.flush()
    audit.record(
        "certificate.reissued",
        "certificate",
        new.id,
        actor=actor,
        data={"serial": new.serial, "replaces": cert.serial, "reason": reason},
    )
    return new


def _add_replacement(new: Certificate) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(new)
    except IntegrityError as exc:
        if not _one_valid_violation(exc):
            raise
        raise AlreadyIssued(
            "The enrolment got another valid certificate meanwhile.",
            "该报名已有其他有效证书。",
        ) from None
