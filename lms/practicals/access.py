"""Who may read, grade and manage practical work: the resolvers views pass to
``lms.core.auth.load``. Each answers the object or refuses with 404 (the caller may not
know it exists) or 403 (they may see it but not act on it)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from lms.accounts.models import User
from lms.catalog.models import Course, Module, ModuleKind
from lms.catalog.permissions import is_course_staff, staff_module
from lms.core.auth import may_forbid
from lms.core.errors import Forbidden, NotFound
from lms.enrollments.errors import OwnEnrollment
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.practicals.errors import NotAPracticalModule
from lms.practicals.models import Submission, SubmissionFile
from lms.practicals.submissions import SubmissionView, view_for


@may_forbid
def staff_practical(module_id: int, user: User) -> Module:
    """A practical module ``user`` manages as course staff (404/403 as
    ``catalog.permissions.staff_module``; 409 for a theory module)."""
    module = staff_module(module_id, user)
    if module.kind != ModuleKind.PRACTICAL:
        raise NotAPracticalModule()
    return module


@may_forbid
def gradable_submission(submission_id: int, user: User) -> Submission:
    """The submission if ``user`` may grade it (its course staff). Its owner gets 403,
    ``own-enrollment`` when they are course staff too; anyone else 404, so that another
    teacher's work is never revealed."""
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        raise NotFound()
    owns = db.session.scalar(
        select(
            exists().where(Enrollment.id == submission.enrollment_id, Enrollment.user_id == user.id)
        )
    )
    if is_course_staff(user, db.session.get(Course, submission.course_id)):
        if owns:  # enrolled, then made staff of the same course (or an admin)
            raise OwnEnrollment()
        return submission
    if owns:
        raise Forbidden("Teachers cannot grade.", "学员不能评分。")
    raise NotFound()


def readable_submission(submission_id: int, user: User) -> SubmissionView:
    """The submission, as ``user`` may see it, if they own it or are course staff; 404 for
    everyone else."""
    row = db.session.execute(
        select(Submission, Enrollment.user_id)
        .join(Enrollment, Enrollment.id == Submission.enrollment_id)
        .where(Submission.id == submission_id)
        .options(selectinload(Submission.files), selectinload(Submission.grade))
    ).first()
    if row is None:
        raise NotFound()
    submission, owner_id = row
    staff = is_course_staff(user, db.session.get(Course, submission.course_id))
    if not staff and owner_id != user.id:
        raise NotFound()
    return view_for(submission, owner_id, staff=staff)


def readable_file(submission_id: int, file_id: int, user: User) -> SubmissionFile:
    """A file of a readable submission; 404 for a file of another submission."""
    view = readable_submission(submission_id, user)
    for stored in view.submission.files:
        if stored.id == file_id:
            return stored
    raise NotFound()
