"""Who may see and change courses and modules. Every check fails closed.

Teachers see closed courses and module content through their enrolment, which the
catalogue does not know (enrolments build on it): the app factory hands it the enrolment
domain's seat clause once, with ``use_seat_clause`` (lms.enrollments.access.seat_clause).
Until then no enrolment counts, so a teacher sees only what is published to everyone.

The resolvers at the end are what views pass to ``lms.core.auth.load``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, exists, false, or_, select

from lms.accounts.models import Role, User
from lms.catalog.models import Course, CourseInstructor, CourseStatus, Module
from lms.core.auth import may_forbid
from lms.core.errors import Forbidden, NotFound
from lms.extensions import db

VISIBLE_WHEN_ENROLLED = (CourseStatus.PUBLISHED, CourseStatus.CLOSED, CourseStatus.ARCHIVED)


def is_admin(user: User) -> bool:
    """Admins manage everything."""
    return user.role == Role.ADMIN


def instructs(user: User, course_id: int) -> bool:
    """True when ``user`` is an instructor assigned to the course."""
    return user.role == Role.INSTRUCTOR and db.session.scalar(
        select(
            exists().where(
                CourseInstructor.course_id == course_id, CourseInstructor.user_id == user.id
            )
        )
    )


def is_course_staff(user: User, course: Course) -> bool:
    """Admins and the course's assigned instructors."""
    return is_admin(user) or instructs(user, course.id)


# (user, course_id column or value, holding: True for active/completed only, False for any
# enrolment but a withdrawn one) -> SQL condition; set by the app factory.
SeatClause = Callable[[User, object, bool], ColumnElement[bool]]
_seat_clause: SeatClause = lambda user, course_id, holding: false()  # noqa: E731 - fails closed


def use_seat_clause(clause: SeatClause) -> None:
    """Tell the catalogue how to recognise a teacher's enrolment (called by the app factory)."""
    global _seat_clause
    _seat_clause = clause


def _enrolled_clause(user: User):
    return _seat_clause(user, Course.id, False)


def visible_courses_clause(user: User):
    """SQL condition of the courses ``user`` may see.

    Admins: all. Instructors: the courses they are assigned to. Teachers: published ones,
    and closed or archived ones they are enrolled in.
    """
    if is_admin(user):
        return Course.id.isnot(None)
    if user.role == Role.INSTRUCTOR:
        return exists().where(
            CourseInstructor.course_id == Course.id, CourseInstructor.user_id == user.id
        )
    return or_(
        Course.status == CourseStatus.PUBLISHED,
        Course.status.in_(VISIBLE_WHEN_ENROLLED) & _enrolled_clause(user),
    )


def can_view_course(user: User, course: Course) -> bool:
    """Object-level form of ``visible_courses_clause``."""
    return bool(
        db.session.scalar(
            select(exists().where(Course.id == course.id, visible_courses_clause(user)))
        )
    )


def can_view_modules(user: User, course: Course) -> bool:
    """Staff, and teachers with an active or completed enrolment, see module content."""
    if is_course_staff(user, course):
        return True
    return course.status != CourseStatus.DRAFT and bool(
        db.session.scalar(select(_seat_clause(user, course.id, True)))
    )


# --- resolvers for lms.core.auth.load: (id, user) -> the object, or NotFound / Forbidden ---


def visible_course(course_id: int, user: User) -> Course:
    """The course if ``user`` may see it; otherwise 404, never revealing that it exists."""
    course = db.session.get(Course, course_id)
    if course is None or not can_view_course(user, course):
        raise NotFound()
    return course


@may_forbid
def staff_course(course_id: int, user: User) -> Course:
    """The course if ``user`` is its staff. 404 when they cannot see the course (another
    instructor's course, a teacher and a draft), 403 when they can but are not staff."""
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound()
    if is_course_staff(user, course):
        return course
    if can_view_course(user, course):
        raise Forbidden()
    raise NotFound()


def module_course(course_id: int, user: User) -> Course:
    """The course if ``user`` may read its modules (``can_view_modules``); else 404."""
    course = db.session.get(Course, course_id)
    if course is None or not can_view_modules(user, course):
        raise NotFound()
    return course


def visible_module(module_id: int, user: User) -> Module:
    """The module if ``user`` may read it (staff, or enrolled active/completed); else 404."""
    module = db.session.get(Module, module_id)
    if module is None or not can_view_modules(user, module.course):
        raise NotFound()
    return module


@may_forbid
def staff_module(module_id: int, user: User) -> Module:
    """The module if ``user`` is staff of its course: 404 for anyone who cannot see the
    module (``visible_module``), 403 for a caller who can but is not staff."""
    module = db.session.get(Module, module_id)
    if module is None:
        raise NotFound()
    if is_course_staff(user, module.course):
        return module
    if can_view_modules(user, module.course):
        raise Forbidden()
    raise NotFound()
