"""Certificate issuance and lifecycle: issue (single and bulk), revoke, restore, reissue,
lookups and lists.

Race-freedom comes from the database, not from checks: the partial unique index
``uq_certificates_one_valid_per_enrollment`` admits at most one valid certificate per
enrolment. Issuance inserts with ``INSERT ... ON CONFLICT DO NOTHING`` against that index
(PostgreSQL and SQLite both accept a partial index as the conflict target), so a concurrent
or repeated request skips the enrolment as ``already_issued`` instead of failing. Serials
come from ``CertificateSequence`` rows, advanced by a conditional ``UPDATE ... RETURNING``.

Lock order, the same in every writer (so that they cannot deadlock): enrolment rows, the
course's serial sequence row, certificate rows, the audit chain.

Services flush, never commit: the request boundary commits.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Row, case, func, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import User
from lms.audit import services as audit
from lms.audit.services import PendingEvent
from lms.catalog.models import Course
from lms.catalog.permissions import is_admin
from lms.certificates.models import Certificate, CertificateSequence
from lms.certificates.snapshot import build_snapshot
from lms.completion.eligibility import NOT_ACTIVE, Evaluation, evaluate_enrollments
from lms.core import bulk
from lms.core.bulk import gc_paused
from lms.core.db import utcnow, violated_constraint
from lms.core.errors import Conflict, Invalid, NotFound
from lms.enrollments.models import Enrollment, EnrollmentStatus
from lms.extensions import db
from lms.jobs.progress import Progress, report

VALID, REVOKED, SUPERSEDED = "valid", "revoked", "superseded"
ALREADY_ISSUED, NOT_ELIGIBLE, NOT_ACTIVE_REASON = "already_issued", "not_eligible", "not_active"
ONE_VALID_INDEX = "uq_certificates_one_valid_per_enrollment"
# Rows per statement: keeps IN lists and multi-row VALUES below the bind-parameter limits
# of SQLite (32766) and PostgreSQL (65535).
BATCH = 500
ISSUABLE = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.COMPLETED.value)


class AlreadyIssued(Conflict):
    code = "already-issued"
    message_en = "The enrolment already has a valid certificate."
    message_zh = "该报名已有有效证书。"


class NotValid(Conflict):
    code = "certificate-not-valid"
    message_en = "Only a valid certificate can be revoked."
    message_zh = "只有有效的证书才能撤销。"


class NotRevoked(Conflict):
    code = "certificate-not-revoked"
    message_en = "Only a revoked certificate can be restored."
    message_zh = "只有已撤销的证书才能恢复。"


class AlreadySuperseded(Conflict):
    code = "certificate-superseded"
    message_en = "This certificate was already replaced; act on its replacement."
    message_zh = "该证书已被替换，请对新证书操作。"


# --- small helpers -----------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months; the day is clamped to the target month's end
    (2024-01-31 + 1 month = 2024-02-29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expiry_for(course: Course, issued_at: datetime) -> datetime | None:
    """When a certificate of ``course`` issued at ``issued_at`` expires (None: never)."""
    months = course.certificate_validity_months
    return add_months(issued_at, months) if months else None


def new_verify_code() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def _chunks(items: Sequence, size: int = BATCH) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert_ignoring(model, *, index_elements, index_where=None):
    """``INSERT ... ON CONFLICT (index_elements) [WHERE ...] DO NOTHING`` into ``model``'s
    table for the session's dialect (PostgreSQL or SQLite). Executed with a list of rows,
    SQLAlchemy batches it ("insertmanyvalues"): one compiled statement, few round trips."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model.__table__).on_conflict_do_nothing(
        index_elements=index_elements, index_where=index_where
    )


def reserve_serial_numbers(course: Course, year: int, count: int) -> int:
    """Reserve ``count`` consecutive numbers of the course's serial sequence for ``year``;
    return the first.

    The row is created if missing with ``ON CONFLICT DO NOTHING`` (a concurrent creator
    wins quietly), then advanced by one conditional ``UPDATE ... RETURNING``: the row lock
    serialises concurrent issuers of the course until commit, so numbers never repeat.
    Numbers reserved for an insert that turns out to be a duplicate are skipped (a gap).
    """
    db.session.execute(
        _insert_ignoring(CertificateSequence, index_elements=["course_id", "year"]),
        [{"course_id": course.id, "year": year, "last_no": 0}],
    )
    last = db.session.execute(
        update(CertificateSequence)
        .where(CertificateSequence.course_id == course.id, CertificateSequence.year == year)
        .values(last_no=CertificateSequence.last_no + count)
        .returning(CertificateSequence.last_no)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return last - count + 1


def format_serial(course: Course, year: int, number: int) -> str:
    """``<COURSE CODE>-<YEAR>-<NNNNN>``."""
    return f"{course.code}-{year}-{number:05d}"


# --- issuance ----------------------------------------------------------------------------------


# What issuance reads of the enrolments: plain rows, not entities (cheaper by far for
# 10,000, and never stale after the bulk update that completes them).
ENROLLMENT_COLUMNS = (Enrollment.id, Enrollment.course_id, Enrollment.user_id, Enrollment.status)


def _load_enrollments(course: Course, enrollment_ids: list[int] | None) -> list[Row]:
    """The ``ENROLLMENT_COLUMNS`` of the enrolments named (all of ``course``, else 422), or
    of the course's active and completed enrolments."""
    if enrollment_ids is None:
        return list(
            db.session.execute(
                select(*ENROLLMENT_COLUMNS)
                .where(Enrollment.course_id == course.id, Enrollment.status.in_(ISSUABLE))
                .order_by(Enrollment.id)
            )
        )
    wanted = list(dict.fromkeys(enrollment_ids))
    found: dict[int, Row] = {}
    for chunk in bulk.lookup_batches(wanted):
        stmt = select(*ENROLLMENT_COLUMNS).where(bulk.among(Enrollment.id, chunk))
        found.update((e.id, e) for e in db.session.execute(stmt))
    _refuse_foreign([i for i in wanted if i not in found or found[i].course_id != course.id])
    return [found[i] for i in wanted]


def _refuse_foreign(foreign: list[int]) -> None:
    if foreign:
        raise Invalid(
            {
                "enrollment_ids": [
                    f"Not enrolments of this course 不属于该课程的报名: {foreign[:50]}"
                ]
            }
        )


def _refuse_override_without_ids(override_reason, enrollment_ids) -> None:
    if override_reason and enrollment_ids is None:
        raise Invalid(
            {"override_reason": ["Name the enrolments to override 越过资格检查须指定报名。"]}
        )


def check_issue_request(
    course: Course, *, enrollment_ids: list[int] | None, override_reason: str | None
) -> int:
    """Refuse (422) what ``issue_certificates`` would refuse before evaluating anything,
    and return how many enrolments the request covers: so that an endpoint can decide to
    hand the work to a background job, whose input is then known to be valid."""
    _refuse_override_without_ids(override_reason, enrollment_ids)
    if enrollment_ids is None:
        return db.session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(Enrollment.course_id == course.id, Enrollment.status.in_(ISSUABLE))
        )
    wanted = list(dict.fromkeys(enrollment_ids))
    found: set[int] = set()
    for chunk in _chunks(wanted):
        found.update(
            db.session.scalars(
                select(Enrollment.id).where(
                    Enrollment.id.in_(chunk), Enrollment.course_id == course.id
                )
            )
        )
    _refuse_foreign([i for i in wanted if i not in found])
    return len(wanted)


def _certified_enrollments(enrollment_ids: list[int]) -> dict[int, Row]:
    """(enrollment_id, serial, status) of the valid or revoked certificate of each
    enrolment that has one (only these columns: the snapshots are not needed)."""
    result: dict[int, Row] = {}
    for chunk in bulk.lookup_batches(enrollment_ids):
        for row in db.session.execute(
            select(Certificate.enrollment_id, Certificate.serial, Certificate.status).where(
                bulk.among(Certificate.enrollment_id, chunk),
                Certificate.status.in_((VALID, REVOKED)),
            )
        ):
            if row.enrollment_id not in result or row.status == VALID:
                result[row.enrollment_id] = row
    return result


def _skip_existing(cert: Certificate | Row) -> dict:
    return {
        "enrollment_id": cert.enrollment_id,
        "reason": ALREADY_ISSUED,
        "serial": cert.serial,
        "status": cert.status,
    }


def _triage(
    enrollments: list[Enrollment],
    evaluations: dict[int, Evaluation],
    existing: dict[int, Certificate],
    override_reason: str | None,
) -> tuple[list[tuple[Enrollment, Evaluation, str | None]], list[dict]]:
    """Split enrolments into (enrolment, evaluation, override reason) to issue and skips."""
    to_issue, skipped = [], []
    for enrollment in enrollments:
        evaluation = evaluations[enrollment.id]
        if enrollment.id in existing:
            skipped.append(_skip_existing(existing[enrollment.id]))
        elif enrollment.status not in ISSUABLE:
            skipped.append(
                {
                    "enrollment_id": enrollment.id,
                    "reason": NOT_ACTIVE_REASON,
                    "status": enrollment.status,
                }
            )
        elif evaluation.eligible:
            to_issue.append((enrollment, evaluation, None))
        elif override_reason and enrollment.status == EnrollmentStatus.ACTIVE:
            to_issue.append((enrollment, evaluation, override_reason))
        else:
            missing = [m for m in evaluation.missing if m["reason"] != NOT_ACTIVE]
            skipped.append(
                {"enrollment_id": enrollment.id, "reason": NOT_ELIGIBLE, "missing": missing}
            )
    return to_issue, skipped


# What a snapshot reads of its holder: plain rows, not User entities (10,000 of those cost
# more than the rest of the issuance's Python).
HOLDER_COLUMNS = (
    User.id,
    User.email,
    User.full_name,
    User.full_name_en,
    User.institution,
    User.department,
    User.title,
)


def _users_by_id(user_ids: Iterable[int]) -> dict[int, Row]:
    """The ``HOLDER_COLUMNS`` of the users, by id, in one query (PostgreSQL) or a few."""
    ids = list(dict.fromkeys(user_ids))
    users: dict[int, Row] = {}
    for chunk in bulk.lookup_batches(ids):
        stmt = select(*HOLDER_COLUMNS).where(bulk.among(User.id, chunk))
        users.update((u.id, u) for u in db.session.execute(stmt))
    return users


def _snapshot(user: User | Row, course: Course, evaluation: Evaluation) -> dict:
    return build_snapshot(
        user,
        course,
        theory_hours=evaluation.progress.theory_hours,
        practical_hours=evaluation.progress.practical_hours,
    )


def _preview(enrollment, evaluation, override, user, course) -> dict:
    """What a dry run reports for an enrolment it would issue to."""
    snapshot = _snapshot(user, course, evaluation)
    return {
        **snapshot,
        "enrollment_id": enrollment.id,
        "course_id": course.id,
        "override_reason": override,
        "eligible": evaluation.eligible,
    }


def _complete_enrollments(enrollment_ids: list[int], now: datetime) -> set[int]:
    """Mark enrolments completed (seats unchanged: completed holds its seat); return the
    ids still active or completed. Takes the enrolment row locks first (see module doc)."""
    kept: set[int] = set()
    for chunk in bulk.lookup_batches(sorted(enrollment_ids)):
        kept.update(
            db.session.execute(
                update(Enrollment)
                .where(bulk.among(Enrollment.id, chunk), Enrollment.status.in_(ISSUABLE))
                .values(
                    status=EnrollmentStatus.COMPLETED.value,
                    completed_at=case(
                        (
                            Enrollment.status == EnrollmentStatus.ACTIVE.value,
                            literal(now, Enrollment.__table__.c.completed_at.type),
                        ),
                        else_=Enrollment.completed_at,
                    ),
                    updated_at=now,
                )
                .returning(Enrollment.id)
                .execution_options(synchronize_session=False)
            ).scalars()
        )
    return kept


def _insert_certificates(rows: list[dict]) -> list[Certificate]:
    """Insert certificate rows, skipping enrolments that have a valid one (concurrently
    issued included); return the certificates inserted.

    PostgreSQL: one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` that loads
    the certificates (``bulk.insert_entities``), no second query. Elsewhere an
    executemany (which SQLAlchemy batches), then one SELECT by serial per batch."""
    stmt = _insert_ignoring(
        Certificate,
        index_elements=["enrollment_id"],
        # A literal, not a bound parameter: the database must match the partial index's
        # predicate when it plans the statement.
        index_where=text("status = 'valid'"),
    )
    if bulk.postgresql():
        return bulk.insert_entities(
            Certificate,
            rows,
            key="serial",
            stmt=stmt,
            not_returned=("snapshot",),  # decoding 10,000 of them again would cost 0.2 s
        )
    db.session.execute(stmt, rows)
    found: list[Certificate] = []
    for chunk in _chunks([row["serial"] for row in rows]):
        found += db.session.scalars(select(Certificate).where(Certificate.serial.in_(chunk)))
    return _by_serial(found)


def _load_certificates(ids: list[int]) -> list[Certificate]:
    found: dict[int, Certificate] = {}
    for chunk in _chunks(ids):
        found.update(
            (c.id, c)
            for c in db.session.scalars(select(Certificate).where(Certificate.id.in_(chunk)))
        )
    return [found[i] for i in ids if i in found]


def _certificate_row(course, enrollment, evaluation, override, user, serial, actor, now, expires):
    return {
        "serial": serial,
        "verify_code": new_verify_code(),
        "enrollment_id": enrollment.id,
        "course_id": course.id,
        "user_id": enrollment.user_id,
        "snapshot": _snapshot(user, course, evaluation),
        "issued_at": now,
        "issued_by_id": actor.id,
        "expires_at": expires,
        "status": VALID,
        "override_reason": override,
    }


def issue_certificates(
    course: Course,
    *,
    actor: User,
    enrollment_ids: list[int] | None = None,
    dry_run: bool = False,
    override_reason: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Issue certificates to the named enrolments (or, with ``enrollment_ids`` None, to
    every eligible enrolment of ``course``).

    Returns ``{"dry_run", "issued", "skipped"}``: ``issued`` holds Certificate rows (dicts
    describing what would be issued on a dry run, which writes nothing); ``skipped`` holds
    ``{enrollment_id, reason}`` with reason ``already_issued``, ``not_eligible`` (with
    ``missing``) or ``not_active``. ``override_reason`` issues to ineligible active
    enrolments (recorded on the certificate and in the audit log). A constant number of
    statements per batch of enrolments, whatever their number; ``progress(done, total)``
    is called after each batch written.
    """
    _refuse_override_without_ids(override_reason, enrollment_ids)
    with gc_paused():  # tens of thousands of objects that all survive: see gc_paused
        enrollments = _load_enrollments(course, enrollment_ids)
        ids = [e.id for e in enrollments]
        evaluations = evaluate_enrollments(course, enrollments)
        to_issue, skipped = _triage(
            enrollments, evaluations, _certified_enrollments(ids), override_reason
        )
        users = _users_by_id(e.user_id for e, _, _ in to_issue)
        if dry_run:
            issued = [_preview(e, ev, o, users[e.user_id], course) for e, ev, o in to_issue]
            return {"dry_run": True, "issued": issued, "skipped": skipped}
        if not to_issue:
            return {"dry_run": False, "issued": [], "skipped": skipped}
        issued, more_skipped = _write_certificates(course, to_issue, users, actor, progress)
    return {"dry_run": False, "issued": issued, "skipped": skipped + more_skipped}


def _write_certificates(
    course, to_issue, users, actor, progress: Progress | None = None
) -> tuple[list[Certificate], list[dict]]:
    """Complete the enrolments (locking them), reserve serials, insert and audit a batch at
    a time (``progress(done, total)`` after each).
    Enrolments withdrawn or issued concurrently since they were read come back as skips."""
    now = utcnow()
    kept = _complete_enrollments([e.id for e, _, _ in to_issue], now)
    skipped = _skips_not_active([e.id for e, _, _ in to_issue if e.id not in kept])
    meanwhile = _issued_while_waiting(sorted(kept))
    skipped += [_skip_existing(row) for row in meanwhile.values()]
    to_issue = [item for item in to_issue if item[0].id in kept and item[0].id not in meanwhile]
    if not to_issue:
        return [], skipped
    first = reserve_serial_numbers(course, now.year, len(to_issue))
    expires = expiry_for(course, now)
    rows = [
        _certificate_row(
            course,
            e,
            ev,
            o,
            users[e.user_id],
            format_serial(course, now.year, first + n),
            actor,
            now,
            expires,
        )
        for n, (e, ev, o) in enumerate(to_issue)
    ]
    issued: list[Certificate] = []
    for start in range(0, len(rows), BATCH):
        inserted = _insert_certificates(rows[start : start + BATCH])  # in serial order
        audit.record_many([_issued_event(c) for c in inserted], actor=actor)
        issued += inserted
        report(progress, min(start + BATCH, len(rows)), len(rows))
    done = {c.enrollment_id for c in issued}
    skipped += _skips_issued_meanwhile([e.id for e, _, _ in to_issue if e.id not in done])
    return issued, skipped


def _by_serial(certificates: list[Certificate]) -> list[Certificate]:
    return sorted(certificates, key=lambda c: (len(c.serial), c.serial))


def _issued_while_waiting(enrollment_ids: list[int]) -> dict[int, Row]:
    """Certificates committed by a concurrent issuer while this one waited for the
    enrolment row locks. Dropping those enrolments before reserving serials avoids gaps
    in the sequence; it is not what prevents duplicates (the partial unique index is)."""
    return _certified_enrollments(enrollment_ids)


def _skips_not_active(enrollment_ids: list[int]) -> list[dict]:
    """Skips for enrolments withdrawn since they were read."""
    if not enrollment_ids:
        return []
    rows = db.session.execute(
        select(Enrollment.id, Enrollment.status).where(Enrollment.id.in_(enrollment_ids))
    )
    return [{"enrollment_id": i, "reason": NOT_ACTIVE_REASON, "status": s} for i, s in rows]


def _skips_issued_meanwhile(enrollment_ids: list[int]) -> list[dict]:
    """Skips for enrolments whose insert met the partial unique index: a concurrent
    request issued their certificate first."""
    if not enrollment_ids:
        return []
    winners = _certified_enrollments(enrollment_ids)
    return [
        _skip_existing(winners[i])
        if i in winners
        else {"enrollment_id": i, "reason": ALREADY_ISSUED}
        for i in enrollment_ids
    ]


def _issued_event(cert: Certificate) -> PendingEvent:
    data = {
        "serial": cert.serial,
        "course_id": cert.course_id,
        "enrollment_id": cert.enrollment_id,
        "user_id": cert.user_id,
    }
    if cert.override_reason:
        data["override_reason"] = cert.override_reason
    return PendingEvent("certificate.issued", "certificate", cert.id, data)


def _one_valid_violation(exc: IntegrityError) -> bool:
    """True when ``exc`` is the partial unique index refusing a second valid certificate
    (PostgreSQL names the index; SQLite names the column)."""
    name = violated_constraint(exc)
    return ONE_VALID_INDEX in name or "certificates.enrollment_id" in name


# --- lifecycle ---------------------------------------------------------------------------------


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
        raise AlreadySuperseded()
    course = db.session.get(Course, cert.course_id)
    now = utcnow()
    # The sequence first: every issuer takes the sequence lock before certificate rows.
    number = reserve_serial_numbers(course, now.year, 1)
    if not _transition(cert, (VALID, REVOKED), status=SUPERSEDED):
        raise AlreadySuperseded()
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


# --- lookups and lists -------------------------------------------------------------------------


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
