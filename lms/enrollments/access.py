"""Which enrolment lets a user work on a module."""

from __future__ import annotations

from sqlalchemy import exists, select

from lms.accounts.models import User
from lms.catalog.models import CourseStatus, Module
from lms.catalog.permissions import can_view_modules
from lms.core.errors import Conflict, NotFound
from lms.enrollments.models import SEAT_HOLDING, Enrollment, EnrollmentStatus
from lms.extensions import db


class EnrollmentNotActive(Conflict):
    code = "enrollment-not-active"
    message_en = "Your enrolment in this course is not active."
    message_zh = "您在该研修班的报名状态不是进行中。"


class CourseNotOpen(Conflict):
    code = "course-not-open"
    message_en = "The course is not open for work."
    message_zh = "该研修班当前不接受学习或提交。"


def seat_clause(user: User, course_id, holding: bool):
    """SQL: ``user`` is enrolled in the course ``course_id`` (a column or a value): with an
    active or completed enrolment when ``holding``, else with any but a withdrawn one.
    Handed to the catalogue's permissions by the app factory."""
    status = (
        Enrollment.status.in_(SEAT_HOLDING)
        if holding
        else Enrollment.status != EnrollmentStatus.WITHDRAWN
    )
    return exists().where(Enrollment.course_id == course_id, Enrollment.user_id == user.id, status)


def visible_module(module_id: int, user: User) -> Module:
    """The module if ``user`` may read it (staff, or enrolled active/completed); else 404."""
    module = db.session.get(Module, module_id)
    if module is None or not can_view_modules(user, module.course):
        raise NotFound()
    return module


def learner_enrollment(module: Module, user: User) -> Enrollment:
    """The active enrolment through which ``user`` works on ``module``.

    404 when the user cannot see the module at all; 409 when they can (a completed
    enrolment) but may no longer work, or when the course is not published.
    """
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.course_id == module.course_id, Enrollment.user_id == user.id
        )
    )
    if enrollment is None or enrollment.status in (
        EnrollmentStatus.WAITLISTED,
        EnrollmentStatus.WITHDRAWN,
    ):
        raise NotFound()
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise EnrollmentNotActive()
    if module.course.status != CourseStatus.PUBLISHED:
        raise CourseNotOpen()
    return enrollment
