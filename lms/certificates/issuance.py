"""Certificate issuance, single and bulk: eligibility triage, serial numbers, the inserts
and their audit events.

Race-freedom comes from the database, not from checks: the partial unique index
``uq_certificates_one_valid_per_enrollment`` admits at most one valid certificate per
enrolment. Issuance inserts with ``INSERT ... ON CONFLICT DO NOTHING`` against that index
(PostgreSQL and SQLite both accept a partial index as the conflict target), so a concurrent
or repeated request skips the enrolment as ``already_issued`` instead of failing. Serials
come from ``CertificateSequence`` rows, advanced by a conditional ``UPDATE ... RETURNING``.

Lock order, the same in every writer (here and in lms.certificates.lifecycle, so that they
cannot deadlock): enrolment rows, the course's serial sequence row, certificate rows, the
audit chain.

Services flush, never commit: the request boundary commits.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Row, case, func, literal, select, text, update

from lms.accounts.models import User
from lms.audit import services as audit
from lms.audit.services import PendingEvent
from lms.catalog.models import Course
from lms.certificates.models import REVOKED, VALID, Certificate, CertificateSequence
from lms.certificates.snapshot import build_snapshot
from lms.completion.eligibility import NOT_ACTIVE, Evaluation, evaluate_enrollments
from lms.core import bulk
from lms.core.bulk import gc_paused
from lms.core.db import utcnow
from lms.core.errors import Invalid
from lms.enrollments.models import Enrollment, EnrollmentStatus
from lms.extensions import db
from lms.jobs.progress import Progress, report

ALREADY_ISSUED, NOT_ELIGIBLE, NOT_ACTIVE_REASON = "already_issued", "not_eligible", "not_active"
# Certificates per INSERT, audit append and progress report (batches: see lms.core.bulk).
WRITE_BATCH = 500
ISSUABLE = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.COMPLETED.value)


# --- serial numbers, codes, expiry -------------------------------------------------------------


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


def reserve_serial_numbers(course: Course, year: int, count: int) -> int:
    """Reserve ``count`` consecutive numbers of the course's serial sequence for ``year``;
    return the first.

    The row is created if missing with ``ON CONFLICT DO NOTHING`` (a concurrent creator
    wins quietly), then advanced by one conditional ``UPDATE ... RETURNING``: the row lock
    serialises concurrent issuers of the course until commit, so numbers never repeat.
    Numbers reserved for an insert that turns out to be a duplicate are skipped (a gap).
    """
    db.session.execute(
        bulk.insert_ignoring(CertificateSequence, index_elements=["course_id", "year"]),
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
    for chunk in bulk.lookup_batches(wanted):
        found.update(
            db.session.scalars(
                select(Enrollment.id).where(
                    bulk.among(Enrollment.id, chunk), Enrollment.course_id == course.id
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
    stmt = bulk.insert_ignoring(
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
            not_returned=("snapshot",),  # already in hand: not decoded again
        )
    db.session.execute(stmt, rows)
    found: list[Certificate] = []
    for chunk in bulk.lookup_batches([row["serial"] for row in rows]):
        found += db.session.scalars(
            select(Certificate).where(bulk.among(Certificate.serial, chunk))
        )
    return _by_serial(found)


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
    written = 0
    for batch in bulk.chunked(rows, WRITE_BATCH):
        inserted = _insert_certificates(batch)  # in serial order
        audit.record_many([_issued_event(c) for c in inserted], actor=actor)
        issued += inserted
        written += len(batch)
        report(progress, written, len(rows))
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
    skipped = []
    for chunk in bulk.lookup_batches(enrollment_ids):
        rows = db.session.execute(
            select(Enrollment.id, Enrollment.status).where(bulk.among(Enrollment.id, chunk))
        )
        skipped += [{"enrollment_id": i, "reason": NOT_ACTIVE_REASON, "status": s} for i, s in rows]
    return skipped


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
