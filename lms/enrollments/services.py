"""Enrolment rules: who may enrol, capacity, the waitlist, withdrawal and promotion.

Capacity is enforced by the database: a seat is taken with a conditional UPDATE of the
course's ``seats_taken`` (row-locked on PostgreSQL, serialised on SQLite), and a check
constraint refuses any state above capacity. Uniqueness per (course, user) is a constraint.
"""

from __future__ import annotations

from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from lms.accounts.models import Role, User
from lms.audit import services as audit
from lms.catalog import permissions
from lms.catalog.models import Course, CourseStatus
from lms.core.db import utcnow
from lms.core.errors import Forbidden, Invalid
from lms.enrollments.errors import (
    AlreadyEnrolled,
    CourseEnded,
    CourseFull,
    EnrollmentClosed,
    NotWithdrawable,
)
from lms.enrollments.models import SEAT_HOLDING, Enrollment, EnrollmentStatus
from lms.extensions import db

ACTIVE, WAITLISTED = EnrollmentStatus.ACTIVE.value, EnrollmentStatus.WAITLISTED.value
WITHDRAWN, COMPLETED = EnrollmentStatus.WITHDRAWN.value, EnrollmentStatus.COMPLETED.value


# --- seats ---------------------------------------------------------------------------------


def _take_seat(course_id: int) -> bool:
    """Atomically take a seat if one is free; True when taken."""
    result = db.session.execute(
        update(Course)
        .where(
            Course.id == course_id,
            or_(Course.capacity.is_(None), Course.seats_taken < Course.capacity),
        )
        .values(seats_taken=Course.seats_taken + 1)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


def _free_seat(course_id: int) -> None:
    db.session.execute(
        update(Course)
        .where(Course.id == course_id)
        .values(seats_taken=Course.seats_taken - 1)
        .execution_options(synchronize_session="fetch")
    )


# --- who may enrol -------------------------------------------------------------------------


def _check_self_enrollment(course: Course) -> None:
    """Self-enrolment is open in a published course between ``enroll_opens_at`` and
    ``enroll_closes_at``; without ``enroll_closes_at`` it closes when the course ends (the
    end of ``ends_on`` in the course's time zone). An admin keeps it open after the end only
    explicitly, by setting ``enroll_closes_at`` later."""
    now = utcnow()
    if course.status != CourseStatus.PUBLISHED or not course.self_enrollment:
        raise EnrollmentClosed()
    if course.enroll_opens_at and now < course.enroll_opens_at:
        raise EnrollmentClosed("Enrolment has not opened yet.", "报名尚未开始。")
    if now >= course.self_enrollment_closes_at:
        if course.enroll_closes_at is None:
            raise CourseEnded()
        raise EnrollmentClosed("Enrolment has closed.", "报名已截止。")


def _check_admin_enrollment(course: Course, user: User) -> None:
    if course.status not in (CourseStatus.DRAFT, CourseStatus.PUBLISHED):
        raise EnrollmentClosed(
            f"A {course.status} course takes no enrolments.", "该研修班已关闭或归档，不能报名。"
        )
    if user.role != Role.TEACHER or not user.is_active:
        raise Invalid(
            {
                "user_id": [
                    "Only active teacher accounts can be enrolled. 只能为在用的学员账号报名。"
                ]
            }
        )


# --- enrol ---------------------------------------------------------------------------------


def enroll(course: Course, user: User, *, source: str, actor: User) -> Enrollment:
    """Enrol ``user``: active if a seat is free, else waitlisted, else 409 full."""
    if source == "self":
        if user.role != Role.TEACHER:
            raise Forbidden("Only teachers enrol in courses.", "只有学员可以报名研修班。")
        _check_self_enrollment(course)
    else:
        _check_admin_enrollment(course, user)
    try:
        with db.session.begin_nested():
            enrollment = _place(course, user, source)
    except IntegrityError as exc:  # the same user enrolled concurrently
        raise AlreadyEnrolled() from exc
    _record_created(enrollment, source, actor)
    return enrollment


def enroll_requested(course: Course, user_id: int | None, *, actor: User) -> Enrollment:
    """Enrol the caller (no ``user_id``), or the user ``user_id``: admins only (403)."""
    if user_id is None:
        return enroll(course, actor, source="self", actor=actor)
    if not permissions.is_admin(actor):
        raise Forbidden("Only admins enrol other users.", "只有教务可以为他人报名。")
    target = db.session.get(User, user_id)
    if target is None:
        raise Invalid({"user_id": ["No such user. 用户不存在。"]})
    return enroll(course, target, source="admin", actor=actor)


def _record_created(enrollment: Enrollment, source: str, actor: User | None) -> None:
    audit.record(
        "enrollment.created",
        "enrollment",
        enrollment.id,
        actor=actor,
        data={
            "course_id": enrollment.course_id,
            "user_id": enrollment.user_id,
            "status": enrollment.status,
            "source": source,
        },
    )


def _place(course: Course, user: User, source: str) -> Enrollment:
    """Insert or revive the enrolment row, taking a seat or a waitlist place."""
    existing = db.session.scalar(
        select(Enrollment)
        .where(Enrollment.course_id == course.id, Enrollment.user_id == user.id)
        .with_for_update()
    )
    if existing is not None and existing.status != WITHDRAWN:
        raise AlreadyEnrolled()
    now = utcnow()
    if _take_seat(course.id):
        status = ACTIVE
    elif course.waitlist_enabled:
        status = WAITLISTED
    else:
        raise CourseFull()
    enrollment = existing or Enrollment(course_id=course.id, user_id=user.id)
    enrollment.status, enrollment.source, enrollment.queued_at = status, source, now
    enrollment.activated_at = now if status == ACTIVE else None
    enrollment.withdrawn_at = None
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def enroll_many(course: Course, users: list[User], *, source: str, actor: User) -> list[Enrollment]:
    """Enrol several users in order (roster import); existing live enrolments are kept."""
    placed = []
    for user in users:
        try:
            with db.session.begin_nested():
                enrollment = _place(course, user, source)
        except (AlreadyEnrolled, IntegrityError):  # enrolled meanwhile: keep theirs
            continue
        _record_created(enrollment, source, actor)
        placed.append(enrollment)
    return placed


# --- withdraw and promote ------------------------------------------------------------------


def withdraw(enrollment: Enrollment, *, actor: User) -> Enrollment:
    """Withdraw an active or waitlisted enrolment; a freed seat goes to the waitlist."""
    locked = db.session.scalar(
        select(Enrollment)
        .where(Enrollment.id == enrollment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked.status not in (ACTIVE, WAITLISTED):
        raise NotWithdrawable()
    held_seat = locked.status == ACTIVE
    locked.status, locked.withdrawn_at = WITHDRAWN, utcnow()
    db.session.flush()
    if held_seat:
        # Lock the course row before the audit chain, in the same order as ``enroll``;
        # the opposite order deadlocks with a concurrent enrolment.
        _free_seat(locked.course_id)
    audit.record(
        "enrollment.withdrawn",
        "enrollment",
        locked.id,
        actor=actor,
        data={"course_id": locked.course_id, "user_id": locked.user_id, "held_seat": held_seat},
    )
    if held_seat:
        promote_waitlist(locked.course_id, actor=actor)
    return locked


def promote_on_new_seats(course: Course, *, actor: User) -> None:
    """Receiver of ``catalog.signals.seats_added``: fill the new seats from the waitlist."""
    promote_waitlist(course.id, actor=actor)


def promote_waitlist(course_id: int, *, actor: User | None) -> list[Enrollment]:
    """Give free seats to waitlisted teachers, first come first served."""
    promoted = []
    while True:
        candidate = db.session.scalar(
            select(Enrollment)
            .where(Enrollment.course_id == course_id, Enrollment.status == WAITLISTED)
            .order_by(Enrollment.queued_at, Enrollment.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if candidate is None or not _take_seat(course_id):
            return promoted
        candidate.status, candidate.activated_at = ACTIVE, utcnow()
        db.session.flush()
        audit.record(
            "enrollment.promoted",
            "enrollment",
            candidate.id,
            actor=actor,
            data={"course_id": course_id, "user_id": candidate.user_id},
        )
        promoted.append(candidate)


# --- reading -------------------------------------------------------------------------------


def roster_query(course: Course, *, status: str | None = None, q: str | None = None):
    """A course's enrolments with their users, in queue order.

    The order is an index (``ix_enrollments_course_queue``, or the status one when
    filtered), so a page is read from the index without sorting the whole course; the user
    is joined once (for the filter, when there is one, and for the output).
    """
    stmt = (
        select(Enrollment)
        .join(Enrollment.user)
        .where(Enrollment.course_id == course.id)
        .options(contains_eager(Enrollment.user))
        .order_by(Enrollment.queued_at, Enrollment.id)
    )
    if status:
        stmt = stmt.where(Enrollment.status == status)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                User.email.like(like),
                func.lower(User.full_name).like(like),
                func.lower(User.institution).like(like),
            )
        )
    return stmt


def roster_total(counts: dict[str, int], *, status: str | None = None, q: str | None = None):
    """The number of roster rows, from ``roster_counts`` when no search narrows it (None:
    count them), which spares a second pass over a large course."""
    if q:
        return None
    return counts[status] if status else sum(counts.values())


def roster_counts(course: Course) -> dict[str, int]:
    """Number of enrolments per status, every status present."""
    rows = db.session.execute(
        select(Enrollment.status, func.count())
        .where(Enrollment.course_id == course.id)
        .group_by(Enrollment.status)
    ).all()
    counts = {s.value: 0 for s in EnrollmentStatus}
    counts.update(dict(rows))
    return counts


def my_enrollments_query(user: User, *, status: str | None = None):
    """The user's own enrolments with their courses, newest course first."""
    # A roster prepared in a draft course stays invisible until the course is published.
    # 'draft' is rendered into the SQL, not bound: with a parameter, PostgreSQL's generic
    # plan for the prepared statement (psycopg prepares after five runs) guesses that
    # "status <> $2" keeps one course and walks every course probing enrolments.
    not_draft = Course.status != literal(CourseStatus.DRAFT.value, literal_execute=True)
    stmt = (
        select(Enrollment)
        .join(Enrollment.course)
        .where(Enrollment.user_id == user.id, not_draft)
        .options(contains_eager(Enrollment.course).joinedload(Course.program))
        .order_by(Course.starts_on.desc(), Enrollment.id.desc())
    )
    if status:
        stmt = stmt.where(Enrollment.status == status)
    return stmt


def waitlist_position(enrollment: Enrollment) -> int | None:
    """1-based place in the waitlist, or None when not waitlisted."""
    if enrollment.status != WAITLISTED:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(
            Enrollment.course_id == enrollment.course_id,
            Enrollment.status == WAITLISTED,
            or_(
                Enrollment.queued_at < enrollment.queued_at,
                (Enrollment.queued_at == enrollment.queued_at) & (Enrollment.id < enrollment.id),
            ),
        )
    )
    return ahead + 1


__all__ = ["SEAT_HOLDING", "enroll", "withdraw", "promote_waitlist"]
