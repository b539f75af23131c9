"""The grading queue of a course: its submissions, oldest first, filtered by status,
module, lateness or teacher, a page at a time (what course staff grade next).

Queries only; the grading rules are in lms.practicals.grading.
"""

from __future__ import annotations

from sqlalchemy import func, select

from lms.accounts.models import User
from lms.catalog.models import Course, Module
from lms.enrollments.models import Enrollment
from lms.practicals.models import Grade, Submission, SubmissionFile


def _rows(columns, course: Course, *, status=None, module_id=None, late=None, user_id=None):
    """``columns`` of the course's submissions matching the queue's filters (no joins but
    the enrolment, and that only for ``user_id``)."""
    stmt = select(*columns).where(Submission.course_id == course.id)
    if status is not None:
        stmt = stmt.where(Submission.status == status)
    if module_id is not None:
        stmt = stmt.where(Submission.module_id == module_id)
    if late is not None:
        stmt = stmt.where(Submission.late == late)
    if user_id is not None:
        stmt = stmt.join(Enrollment, Enrollment.id == Submission.enrollment_id).where(
            Enrollment.user_id == user_id
        )
    return stmt


def page(course: Course, limit: int, offset: int, **filters):
    """One page of the grading queue of a course, oldest first: one row per submission with
    who, which module, the number of files and the grade (or None). One statement.

    The page's submission ids are chosen first, in a subquery on ``submissions`` alone (an
    index scan of ``ix_submissions_queue``), and only those rows are joined. Besides doing
    the joins for the page only, this keeps the plan the same for a course of 10 or 10k
    submissions, so PostgreSQL reuses one plan for the prepared statement; with the joins
    outside a LIMITed subquery it replanned the five-table join on every request for a
    large course.
    """
    ids = (
        _rows([Submission.id], course, **filters)
        .order_by(Submission.submitted_at, Submission.id)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    file_count = (
        select(func.count(SubmissionFile.id))
        .where(SubmissionFile.submission_id == Submission.id)
        .correlate(Submission)
        .scalar_subquery()
    )
    return (
        select(
            Submission,
            User.id.label("user_id"),
            User.full_name,
            User.institution,
            Module.title.label("module_title"),
            file_count.label("file_count"),
            Grade,
        )
        .join(ids, ids.c.id == Submission.id)
        .join(Enrollment, Enrollment.id == Submission.enrollment_id)
        .join(User, User.id == Enrollment.user_id)
        .join(Module, Module.id == Submission.module_id)
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .order_by(Submission.submitted_at, Submission.id)
    )


def count(course: Course, **filters):
    """A statement counting the grading queue's rows with the same filters: an index-only
    scan of ``ix_submissions_queue``, without the joins that never drop a submission."""
    return _rows([func.count(Submission.id)], course, **filters)


def item(row) -> dict:
    """One queue row as the dict the output schema reads."""
    submission, grade = row.Submission, row.Grade
    return {
        "id": submission.id,
        "attempt_no": submission.attempt_no,
        "submitted_at": submission.submitted_at,
        "late": submission.late,
        "status": submission.status,
        "file_count": row.file_count,
        "user": {"id": row.user_id, "full_name": row.full_name, "institution": row.institution},
        "module": {"id": submission.module_id, "title": row.module_title},
        "grade": grade,
    }
