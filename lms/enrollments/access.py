"""Who may read or act on an enrolment, and which enrolment lets a user work on a module.

The resolvers here are what views pass to ``lms.core.auth.load``.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from lms.accounts.models import User
from lms.catalog import permissions
from lms.catalog.models import CourseStatus, Module
from lms.core.auth import may_forbid
from lms.core.errors import Forbidden, NotFound
from lms.enrollments.errors import CourseNotOpen, EnrollmentNotActive
from lms.enrollments.models import SEAT_HOLDING, Enrollment, EnrollmentStatus
from lms.extensions import db


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


class Seat(NamedTuple):
    """A module and the enrolment through which someone works on it."""

    module: Module
    enrollment: Enrollment


def readable_enrollment(enrollment_id: int, user: User) -> Enrollment:
    """The enrolment if ``user`` owns it or is staff of its course; otherwise 404."""
    enrollment = db.session.scalar(
        select(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .options(joinedload(Enrollment.course), joinedload(Enrollment.user))
    )
    if enrollment is None:
        raise NotFound()
    if enrollment.user_id != user.id and not permissions.is_course_staff(user, enrollment.course):
        raise NotFound()
    return enrollment


@may_forbid
def withdrawable_enrollment(enrollment_id: int, user: User) -> Enrollment:
    """A readable enrolment that ``user`` may withdraw: their own, or any for an admin
    (403 for the course's instructors)."""
    enrollment = readable_enrollment(enrollment_id, user)
    if enrollment.user_id != user.id and not permissions.is_admin(user):
        raise Forbidden("Instructors cannot withdraw teachers.", "导师不能为学员办理退出。")
    return enrollment


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


def learner_seat(module_id: int, user: User) -> Seat:
    """The module and the active enrolment through which ``user`` works on it (404/409 as
    ``learner_enrollment``)."""
    module = permissions.visible_module(module_id, user)
    return Seat(module, learner_enrollment(module, user))
