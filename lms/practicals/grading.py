"""Rubric grading: scores, feedback, regrades with optimistic locking and manual grade
release (who may grade: lms.practicals.access; the grading queue: lms.practicals.queue).

Services flush but never commit; the request boundary commits once.

Versions and ETags: a grade's ETag is the strong tag ``"<grade id>-<version>"``. The first
grade of a submission needs no If-Match (sending one is refused with 412, as RFC 9110 says
for a resource that has no current representation). Once a grade exists, a regrade must
carry If-Match: missing or ``*`` -> 428, stale, weak, foreign or malformed -> 412. The
version check is the ``UPDATE ... WHERE version = :expected`` itself, so two graders who
read the same version cannot both win. Every version is kept in ``grade_revisions`` (the
first one too), so the history is complete and its last entry is the current grade.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.http import parse_etags

from lms.accounts.models import User
from lms.audit import services as audit
from lms.audit.services import PendingEvent
from lms.catalog.models import Module, ModuleKind
from lms.core.db import utcnow
from lms.core.errors import (
    Invalid,
    PreconditionFailed,
    PreconditionRequired,
)
from lms.core.markdown import render as render_markdown
from lms.enrollments.errors import NoAttemptsLeft
from lms.extensions import db
from lms.practicals.errors import (
    GRADE_IS_FINAL,
    ONLY_PRACTICALS_HAVE_GRADES,
    CourseArchived,
    GradeExists,
    NotAPracticalModule,
    NotGraded,
    NotLatestAttempt,
    ReleaseNotNeeded,
)
from lms.practicals.models import (
    Grade,
    GradeRelease,
    GradeRevision,
    Submission,
)

SUBMISSION_STATUSES = ("submitted", "returned", "graded")


# --- scores ----------------------------------------------------------------------------------


def checked_scores(module: Module, scores: list[dict]) -> tuple[list[dict], Decimal]:
    """Check that every rubric criterion is scored exactly once within its range.

    Returns the scores in rubric order and their total; raises 422 with the messages under
    ``errors.scores`` (by index, and ``_schema`` for criteria left unscored).
    """
    criteria = {c.id: c for c in module.criteria}
    errors: dict[str, object] = {}
    given: dict[int, Decimal] = {}
    for index, score in enumerate(scores):
        message = _score_error(criteria.get(score["criterion_id"]), score, given)
        if message:
            errors[str(index)] = message
        given.setdefault(score["criterion_id"], score["points"])
    missing = [c for c in module.criteria if c.id not in given]
    if missing:
        errors["_schema"] = [
            f"Criterion {c.id} ({c.title}) is not scored. 评分项“{c.title}”未评分。"
            for c in missing
        ]
    if errors:
        raise Invalid({"scores": errors})
    ordered = [{"criterion_id": c.id, "points": float(given[c.id])} for c in module.criteria]
    return ordered, sum((given[c.id] for c in module.criteria), Decimal("0"))


def _score_error(criterion, score: dict, given: dict) -> dict | None:
    if criterion is None:
        return {"criterion_id": ["Not a criterion of this module's rubric. 不是该模块的评分项。"]}
    if criterion.id in given:
        return {"criterion_id": ["Scored more than once. 该评分项重复评分。"]}
    if score["points"] > criterion.max_points:
        return {
            "points": [
                f"Must be at most {criterion.max_points}. 不能超过该项满分 {criterion.max_points}。"
            ]
        }
    return None


# --- grading ---------------------------------------------------------------------------------


def etag(grade: Grade) -> str:
    """The strong ETag of a grade's current version."""
    return f'"{grade.id}-{grade.version}"'


_TAG = re.compile(r"^(\d+)-(\d+)$")


def expected_version(if_match: str | None, grade: Grade) -> int:
    """The version an If-Match header names for ``grade``: 428 when the header is missing
    or ``*`` (a regrade must say which version it read), 412 when no strong tag of this
    grade is in it."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired()
    tags = parse_etags(if_match)
    if tags.star_tag:
        raise PreconditionRequired(
            "If-Match must name the version you read, not *.",
            "If-Match 须为您读取的版本，不能为 *。",
        )
    for tag in tags.as_set():  # strong tags only: If-Match uses the strong comparison
        match = _TAG.match(tag)
        if match and int(match.group(1)) == grade.id:
            return int(match.group(2))
    raise PreconditionFailed()


def current_grade(submission: Submission) -> Grade | None:
    """The submission's grade, read from the database (not from a cached relationship)."""
    return db.session.scalar(select(Grade).where(Grade.submission_id == submission.id))


def grade_submission(
    submission: Submission, data: dict, *, actor: User, if_match: str | None
) -> Grade:
    """Grade or regrade ``submission`` with ``data`` ({scores, feedback, return_for_revision}).

    Writes the grade (version 1, or the next version under the If-Match lock), a revision
    for the new version, the submission's status and the audit events.
    """
    module = db.session.get(Module, submission.module_id)
    if module.course.status == "archived":
        raise CourseArchived()
    values = grade_values(module, data, actor)
    if values["returned_for_revision"]:
        check_can_return(submission, module)
    grade = current_grade(submission)
    if grade is None:
        old = {}
        grade = _create_grade(submission, values, if_match)
    else:
        old = {"old_total_points": _points(grade.total_points), "old_passed": grade.passed}
        grade = _update_grade(grade, expected_version(if_match, grade), values)
    _add_revision(grade)
    events = [_grade_event(grade, old)]
    events += _set_status(
        submission, "returned" if grade.returned_for_revision else "graded", grade
    )
    audit.record_many(events, actor=actor)
    return grade


def grade_values(module: Module, data: dict, actor: User) -> dict:
    """The columns of a grade from checked input: total, passed, rendered feedback."""
    scores, total = checked_scores(module, data["scores"])
    feedback = data.get("feedback")
    return {
        "scores": scores,
        "total_points": total,
        "passed": total >= (module.pass_points or 0),
        "feedback": feedback,
        "feedback_html": render_markdown(feedback),
        "grader_id": actor.id,
        "graded_at": utcnow(),
        "returned_for_revision": bool(data.get("return_for_revision")),
    }


def _points(value) -> str:
    return f"{Decimal(value):.2f}"


def _grade_event(grade: Grade, old: dict) -> PendingEvent:
    """grade.created, or grade.updated with the old and new totals."""
    return PendingEvent(
        "grade.updated" if old else "grade.created",
        "grade",
        grade.id,
        {
            "submission_id": grade.submission_id,
            "version": grade.version,
            **old,
            "total_points": _points(grade.total_points),
            "passed": grade.passed,
            "returned_for_revision": grade.returned_for_revision,
        },
    )


def check_can_return(submission: Submission, module: Module) -> None:
    """Returning for revision gives the teacher another attempt: only the latest attempt
    can be returned, and not once the module's attempts are used up (409)."""
    if module.max_attempts is not None and submission.attempt_no >= module.max_attempts:
        raise NoAttemptsLeft(*GRADE_IS_FINAL)
    newer = db.session.scalar(
        select(
            exists().where(
                Submission.enrollment_id == submission.enrollment_id,
                Submission.module_id == submission.module_id,
                Submission.attempt_no > submission.attempt_no,
            )
        )
    )
    if newer:
        raise NotLatestAttempt()


def _create_grade(submission: Submission, values: dict, if_match: str | None) -> Grade:
    """Insert version 1. The unique submission_id makes a concurrent first grade fail here
    (409) instead of overwriting the winner's."""
    if if_match is not None:
        raise PreconditionFailed(
            "The submission has no grade yet; send no If-Match.",
            "该提交尚未评分，首次评分无需 If-Match。",
        )
    grade = Grade(submission_id=submission.id, version=1, **values)
    try:
        with db.session.begin_nested():
            db.session.add(grade)
            db.session.flush()
    except IntegrityError as exc:
        raise GradeExists() from exc
    return grade


def _update_grade(grade: Grade, expected: int, values: dict) -> Grade:
    """The optimistic lock: update only if the grade is still at ``expected`` (else 412)."""
    result = db.session.execute(
        update(Grade)
        .where(Grade.id == grade.id, Grade.version == expected)
        .values(**values, version=Grade.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise PreconditionFailed()
    db.session.refresh(grade)
    return grade


def _add_revision(grade: Grade) -> None:
    """Keep the new version in the history; (grade_id, version) is unique."""
    db.session.add(
        GradeRevision(
            grade_id=grade.id,
            version=grade.version,
            scores=grade.scores,
            total_points=grade.total_points,
            passed=grade.passed,
            feedback=grade.feedback,
            grader_id=grade.grader_id,
            graded_at=grade.graded_at,
            returned_for_revision=grade.returned_for_revision,
        )
    )
    db.session.flush()


def _set_status(submission: Submission, status: str, grade: Grade) -> list[PendingEvent]:
    """Set the submission's status; a new return for revision is an audit event."""
    was = submission.status
    submission.status = status
    db.session.flush()
    if status == "returned" and was != "returned":
        return [
            PendingEvent(
                "submission.returned",
                "submission",
                submission.id,
                {
                    "attempt_no": submission.attempt_no,
                    "module_id": submission.module_id,
                    "grade_id": grade.id,
                },
            )
        ]
    return []


def grade_of(submission: Submission) -> Grade:
    """The current grade of ``submission``, or 404 ``not-graded``."""
    grade = current_grade(submission)
    if grade is None:
        raise NotGraded()
    return grade


def history_query(grade: Grade):
    """Every version of a grade, oldest first."""
    return (
        select(GradeRevision)
        .where(GradeRevision.grade_id == grade.id)
        .order_by(GradeRevision.version)
    )


# --- release ---------------------------------------------------------------------------------


def release_grades(module: Module, *, actor: User) -> dict:
    """Make a practical module's grades (present and future) visible to its teachers.

    Only for courses with manual release (409 ``release-not-needed`` otherwise). Idempotent:
    a second call, or a concurrent one, reports the first release.
    """
    if module.kind != ModuleKind.PRACTICAL:
        raise NotAPracticalModule(*ONLY_PRACTICALS_HAVE_GRADES)
    if module.course.grade_release != "manual":
        raise ReleaseNotNeeded()
    release = db.session.get(GradeRelease, module.id)
    if release is None:
        release = _insert_release(module, actor)
    return {
        "module_id": module.id,
        "released_at": release.released_at,
        "released_by_id": release.released_by_id,
        "grades": _grade_count(module),
    }


def _insert_release(module: Module, actor: User) -> GradeRelease:
    release = GradeRelease(module_id=module.id, released_by_id=actor.id, released_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(release)
            db.session.flush()
    except IntegrityError:
        # A concurrent request released it first: report that release.
        return db.session.get(GradeRelease, module.id, populate_existing=True)
    audit.record(
        "grades.released",
        "module",
        module.id,
        actor=actor,
        data={"course_id": module.course_id, "grades": _grade_count(module)},
    )
    return release


def _grade_count(module: Module) -> int:
    return db.session.scalar(
        select(func.count(Grade.id))
        .join(Submission, Submission.id == Grade.submission_id)
        .where(Submission.module_id == module.id)
    )
