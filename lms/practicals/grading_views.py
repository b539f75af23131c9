"""Grading queue, rubric grading and grade release."""

from __future__ import annotations

from functools import partial

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from lms.catalog.permissions import staff_course, staff_module
from lms.core.auth import actor, load
from lms.core.pagination import paginate
from lms.practicals import grading, queue
from lms.practicals.access import gradable_submission
from lms.practicals.grading_schemas import (
    GradeIn,
    GradeOut,
    GradeRevisionOut,
    QueueArgs,
    QueueItemOut,
    ReleaseOut,
)

blp = Blueprint(
    "grading",
    __name__,
    url_prefix="/api/v1",
    description="Grading queue, rubric grades with history, release.",
)

ETAG_HEADER = {
    "ETag": {
        "description": 'The grade\'s version, "<grade id>-<version>"; send it '
        "back as If-Match to regrade.",
        "schema": {"type": "string"},
    }
}


IF_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of the grade you read. Required once the submission has a grade "
    "(428 without it, 412 when stale); refused (412) on a first grade.",
}


STAFF_ONLY = "Not the course's staff (the teacher who owns the work included)."


@blp.route("/courses/<int:course_id>/submissions")
@load(course=staff_course)
@blp.arguments(QueueArgs, location="query")
@blp.response(200, QueueItemOut(many=True))
@blp.alt_response(403, description=STAFF_ONLY)
@blp.paginate()
def grading_queue(args, course, pagination_parameters):
    """The course's submissions, oldest first (course staff). Filters: ``status``,
    ``module_id``, ``late``, ``user_id``."""
    rows = paginate(
        partial(queue.page, course, **args),
        pagination_parameters,
        scalars=False,
        count=queue.count(course, **args),
    )
    return [queue.item(row) for row in rows]


@blp.route("/submissions/<int:submission_id>/grade")
class SubmissionGrade(MethodView):
    @load(submission=gradable_submission)
    @blp.response(200, GradeOut, headers=ETAG_HEADER)
    @blp.alt_response(403, description=STAFF_ONLY)
    def get(self, submission):
        """The current grade (course staff), with its ETag."""
        grade = grading.grade_of(submission)
        return grade, {"ETag": grading.etag(grade)}

    @load(submission=gradable_submission)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.arguments(GradeIn)
    @blp.response(200, GradeOut, headers=ETAG_HEADER)
    @blp.alt_response(
        409,
        description="Attempts used up, not the latest attempt, graded concurrently, or the "
        "course is archived.",
    )
    @blp.alt_response(412, description="If-Match is stale or does not name this grade.")
    @blp.alt_response(428, description="A regrade needs If-Match.")
    def post(self, data, submission):
        """Grade a submission against its rubric (course staff). A regrade needs If-Match
        with the ETag read; ``return_for_revision`` gives the work back for a new attempt."""
        grade = grading.grade_submission(
            submission, data, actor=actor(), if_match=request.headers.get("If-Match")
        )
        return grade, {"ETag": grading.etag(grade)}


@blp.route("/submissions/<int:submission_id>/grade/history")
@load(submission=gradable_submission)
@blp.response(200, GradeRevisionOut(many=True))
@blp.alt_response(403, description=STAFF_ONLY)
@blp.paginate()
def grade_history(submission, pagination_parameters):
    """Every version of the submission's grade, oldest first (course staff)."""
    grade = grading.grade_of(submission)
    return paginate(grading.history_query(grade), pagination_parameters)


@blp.route("/modules/<int:module_id>/release-grades", methods=["POST"])
@load(module=staff_module)
@blp.response(200, ReleaseOut)
@blp.alt_response(
    409, description="The course releases grades immediately, or the module is not practical."
)
def release_grades(module):
    """Release a practical module's grades to its teachers (manual-release courses).
    Idempotent: a second call reports the first release."""
    return grading.release_grades(module, actor=actor())
