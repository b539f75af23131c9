"""Completion evaluation with reasons: ``GET /api/v1/courses/{id}/completion``.

Course staff see every enrolment of the course with its verdict (``lms.certificates.
completion``, evaluated as staff: grades count before their release), the reasons when it
is not eligible, and a summary of the whole filtered set in ``X-Completion-Summary``.

Whether an enrolment is eligible is not a column: it comes out of the evaluation. So the
list evaluates every enrolment that passes the SQL filters (``status``, ``q``), counts the
summary, filters on ``eligible`` and keeps only the requested page. The evaluation streams
(``completion.evaluated``, ``progress.stream_progress``): the course's modules, the ids of
the filtered enrolments, then one statement each for the enrolments with their users, the
theory completions, the quiz attempts and the submissions with their grades, read through
server-side cursors in enrolment order and merged ``progress.BATCH`` enrolments at a time.
So the statements are the same for a course of ten or of 100,000 (benchmark row 7), and
memory holds the ids, one batch and one page. The trade-off: every page re-evaluates the
whole filtered set (the summary needs it anyway), at a cost that grows with the course but
stays within a small factor of one hand-written SQL aggregate computing only the verdicts
and hours (benchmark row 3, ``bench/service_rows.py``; the figures are in
docs/benchmarks.md). Beyond that, eligibility would have to be stored and kept up to date
on every completion, grade, release and change of the minimum hours, which is not worth
its invalidation rules at the sizes this system serves.
"""

from __future__ import annotations

import json

from flask import Response, stream_with_context
from flask_smorest import Blueprint

from lms.catalog import permissions
from lms.completion import eligibility as completion
from lms.completion import exports, gradebook
from lms.completion.progress import progress_for_enrollment
from lms.completion.schemas import CompletionArgs, CompletionEntryOut, GradebookArgs, ProgressOut
from lms.core import export
from lms.core.api import BINARY, JSON_OBJECT
from lms.core.auth import actor, load
from lms.enrollments.access import readable_enrollment

blp = Blueprint(
    "completion",
    __name__,
    url_prefix="/api/v1",
    description="Progress, completion evaluation with reasons, the gradebook.",
)

STAFF_ONLY = "Not the course's staff."

SUMMARY_HEADER = {
    "X-Completion-Summary": {
        "description": 'JSON {"eligible": n, "not_eligible": n}: the enrolments matching '
        "status and q (whatever eligible and the page).",
        "schema": {"type": "string"},
    }
}


@blp.route("/courses/<int:course_id>/completion")
@load(course=permissions.staff_course)
@blp.arguments(CompletionArgs, location="query")
@blp.response(200, CompletionEntryOut(many=True), headers=SUMMARY_HEADER)
@blp.doc(responses=export.EXPORT_RESPONSES)
@blp.alt_response(403, description="Not the course's staff.")
@blp.paginate()
def course_completion(args, course, pagination_parameters):
    """Eligibility of every enrolment of the course, with the reasons (course staff).

    Active and completed enrolments unless ``status`` says otherwise; ``eligible`` keeps
    the eligible ones (true) or the others (false); ``q`` searches email and names.
    In enrolment order. ``X-Completion-Summary`` counts eligible and not eligible
    enrolments among those matching ``status`` and ``q``. With ``format`` (csv or xlsx)
    every matching enrolment as a file: hours, the verdict, the reasons in words and the
    serial of its valid certificate.
    """
    fmt = args.get("format")
    if fmt is not None:
        pagination_parameters.item_count = 0  # a file: no page
        lang = args["lang"]
        chunks = exports.completion_chunks(
            course.id,
            statuses=args["status"],
            q=args.get("q"),
            eligible=args.get("eligible"),
            lang=lang,
        )
        return export.table_download(
            fmt,
            exports.header(lang),
            chunks,
            filename=f"{course.code}-completion",
            title="结业情况" if lang == "zh" else "Completion",
        )
    stmt = completion.enrollments_query(course, args["status"], args.get("q"))
    page, summary = completion.completion_page(
        course, stmt, args.get("eligible"), pagination_parameters
    )
    return page, 200, {"X-Completion-Summary": json.dumps(summary)}


@blp.route("/enrollments/<int:enrollment_id>/progress")
@load(enrollment=readable_enrollment)
@blp.response(200, ProgressOut)
def enrollment_progress(enrollment):
    """Per-module status and credited hours of an enrolment (its teacher, or course staff).

    ``view`` says whose view it is: teachers do not see grades before their release.
    ``eligible`` and ``missing`` give the completion verdict in the same view (a teacher's
    unreleased pass does not count yet).
    """
    staff = permissions.is_course_staff(actor(), enrollment.course)
    progress = progress_for_enrollment(enrollment, viewer_is_staff=staff)
    return completion.evaluate(progress, enrollment.course)


@blp.route("/courses/<int:course_id>/gradebook")
@load(course=permissions.staff_course)
@blp.arguments(GradebookArgs, location="query")
@blp.response(
    200,
    BINARY,
    content_type=gradebook.CSV_MIMETYPE,
    description="CSV (UTF-8 with BOM), XLSX or a JSON list; one row per "
    "enrolment. CSV and JSON are streamed.",
)
@blp.doc(
    responses={
        200: {
            "content": {
                gradebook.XLSX_MIMETYPE: {"schema": BINARY},
                "application/json": {"schema": {"type": "array", "items": JSON_OBJECT}},
            }
        }
    }
)
@blp.alt_response(403, description=STAFF_ONLY)
def gradebook_export(args, course):
    """The gradebook (course staff): a row per enrolment (active and completed unless
    ``status`` says otherwise), a column per module, theory, practical and total hours."""
    modules = gradebook.course_modules(course)
    chunks = gradebook.iter_rows(course.id, args["status"])
    fmt, lang = args["format"], args["lang"]
    if fmt == "json":
        return Response(
            stream_with_context(gradebook.json_chunks(chunks)), mimetype="application/json"
        )
    criteria = gradebook.course_criteria(modules)
    return export.table_download(
        fmt,
        gradebook.header(modules, lang, criteria),
        gradebook.table_chunks(chunks, lang, criteria),
        filename=f"{course.code}-gradebook",
        title="成绩册" if lang == "zh" else "Gradebook",
    )
