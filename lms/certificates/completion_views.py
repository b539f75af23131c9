"""Completion evaluation with reasons: ``GET /api/v1/courses/{id}/completion``.

Course staff see every enrolment of the course with its verdict (``lms.certificates.
completion``, evaluated as staff: grades count before their release), the reasons when it
is not eligible, and a summary of the whole filtered set in ``X-Completion-Summary``.

Whether an enrolment is eligible is not a column: it comes out of the evaluation. So the
list evaluates every enrolment that passes the SQL filters (``status``, ``q``), in batches
of ``progress.BATCH`` by enrolment id (keyset), counts the summary, filters on ``eligible``
and keeps only the requested page. Each batch costs the same queries whatever its size (the
enrolments with their users, then progress's four grouped queries), plus one query for the
course's modules: a constant number for any course up to ``BATCH`` enrolments, and about a
hundred for 10,000. Memory holds one batch and one page. The trade-off: every page
re-evaluates the whole filtered set (the summary needs it anyway). A course of a hundred
takes milliseconds; 10,000 enrolments took about 1 s on SQLite and 2 to 3 s on PostgreSQL
(measured on a development machine). Beyond that, eligibility would have to be stored and
kept up to date on every completion, grade, release and change of the minimum hours, which
is not worth its invalidation rules at the sizes this system serves.
"""

from __future__ import annotations

import json
from functools import wraps

from flask_smorest import Blueprint

from lms.certificates import completion
from lms.certificates.completion_schemas import CompletionArgs, CompletionEntryOut
from lms.core.auth import actor, login_required
from lms.practicals.grading import staff_course

blp = Blueprint(
    "completion", __name__, url_prefix="/api/v1", description="Completion evaluation with reasons."
)

SUMMARY_HEADER = {
    "X-Completion-Summary": {
        "description": 'JSON {"eligible": n, "not_eligible": n}: the enrolments matching '
        "status and q (whatever eligible and the page).",
        "schema": {"type": "string"},
    }
}


def _with_staff_course(view):
    """Resolve ``course_id`` to the course if the caller is its staff (404/403 as
    ``grading.staff_course``), before the query arguments are validated."""

    @wraps(view)
    def wrapper(*args, course_id, **kwargs):
        return view(*args, course=staff_course(course_id, actor()), **kwargs)

    return wrapper


@blp.route("/courses/<int:course_id>/completion")
@login_required
@_with_staff_course
@blp.arguments(CompletionArgs, location="query")
@blp.response(200, CompletionEntryOut(many=True), headers=SUMMARY_HEADER)
@blp.paginate()
def course_completion(args, course, pagination_parameters):
    """Eligibility of every enrolment of the course, with the reasons (course staff).

    Active and completed enrolments unless ``status`` says otherwise; ``eligible`` keeps
    the eligible ones (true) or the others (false); ``q`` searches email and names.
    In enrolment order. ``X-Completion-Summary`` counts eligible and not eligible
    enrolments among those matching ``status`` and ``q``.
    """
    stmt = completion.enrollments_query(course, args["status"], args.get("q"))
    page, summary = completion.completion_page(
        course, stmt, args.get("eligible"), pagination_parameters
    )
    return page, 200, {"X-Completion-Summary": json.dumps(summary)}
