"""Enrolment endpoints: enrol, roster, roster import, withdraw, my enrolments."""

import json

from flask_smorest import Blueprint

from lms.accounts.models import Role
from lms.accounts.schemas import ImportFile, ImportForm, ImportReport, ImportUpload
from lms.catalog.permissions import staff_course, visible_course
from lms.catalog.services import get_course
from lms.core import export
from lms.core.auth import accepts, actor, load
from lms.core.pagination import paginate
from lms.enrollments import access, exports, imports, services
from lms.enrollments.schemas import (
    EnrollmentCreate,
    EnrollmentOut,
    MyEnrollmentArgs,
    MyEnrollmentOut,
    RosterArgs,
    RosterEntryOut,
)

blp = Blueprint(
    "enrollments",
    __name__,
    url_prefix="/api/v1",
    description="Enrolments, capacity and waitlist, rosters.",
)


@blp.route("/courses/<int:course_id>/enrollments", methods=["POST"])
@load(course=visible_course)
@blp.arguments(EnrollmentCreate)
@blp.response(201, EnrollmentOut)
@blp.alt_response(409, description="Already enrolled, course full, or enrolment closed.")
def enroll(data, course):
    """Enrol yourself (teachers), or enrol ``user_id`` (admins). Answers with status active
    or waitlisted."""
    enrollment = services.enroll_requested(course, data.get("user_id"), actor=actor())
    enrollment.waitlist_position = services.waitlist_position(enrollment)
    return enrollment


@blp.route("/courses/<int:course_id>/enrollments", methods=["GET"])
@load(course=staff_course)
@blp.arguments(RosterArgs, location="query")
@blp.response(
    200,
    RosterEntryOut(many=True),
    headers={
        "X-Roster-Counts": {
            "description": "JSON: the number of enrolments per status.",
            "schema": {"type": "string"},
        }
    },
)
@blp.doc(responses=export.EXPORT_RESPONSES)
@blp.alt_response(403, description="Not the course's staff.")
@blp.paginate()
def roster(args, course, pagination_parameters):
    """The roster (admins and the course's instructors). ``X-Roster-Counts`` gives the
    number of enrolments per status. With ``format`` (csv or xlsx) the whole filtered
    roster as a file."""
    fmt, lang = args.pop("format", None), args.pop("lang")
    counts = services.roster_counts(course)
    if fmt is not None:
        pagination_parameters.item_count = services.roster_total(counts, **args) or 0
        chunks = exports.roster_chunks(course.id, lang=lang, **args)
        return export.table_download(
            fmt,
            exports.header(lang),
            chunks,
            filename=f"{course.code}-roster",
            title="名单" if lang == "zh" else "Roster",
        )
    items = paginate(
        services.roster_query(course, **args),
        pagination_parameters,
        count=services.roster_total(counts, **args),
    )
    return items, 200, {"X-Roster-Counts": json.dumps(counts)}


@blp.route("/courses/<int:course_id>/enrollments/import", methods=["POST"])
@load(roles=Role.ADMIN)
@accepts("multipart/form-data")
@blp.arguments(ImportFile, location="files")
@blp.arguments(ImportForm, location="form", content_type="multipart/form-data")
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": ImportUpload}}})
@blp.response(200, ImportReport)
@blp.alt_response(409, description="Enrolment closed, course full, or enrolled meanwhile.")
def import_roster(files, form, course_id):
    """Enrol a roster file (CSV or XLSX): creates missing accounts (with activation tokens)
    and enrols everyone. All rows or none."""
    return imports.import_roster(
        get_course(course_id),
        files["file"],
        dry_run=form["dry_run"],
        update_existing=form["update_existing"],
        actor=actor(),
    )


@blp.route("/enrollments/<int:enrollment_id>")
@load(enrollment=access.readable_enrollment)
@blp.response(200, EnrollmentOut)
def get_enrollment(enrollment):
    """One enrolment (its teacher, or the course staff)."""
    enrollment.waitlist_position = services.waitlist_position(enrollment)
    return enrollment


@blp.route("/enrollments/<int:enrollment_id>/withdraw", methods=["POST"])
@load(enrollment=access.withdrawable_enrollment)
@blp.response(200, EnrollmentOut)
@blp.alt_response(409, description="``not-withdrawable``: neither active nor waitlisted.")
def withdraw(enrollment):
    """Withdraw (the teacher themself, or an admin). A freed seat goes to the waitlist."""
    return services.withdraw(enrollment, actor=actor())


@blp.route("/me/enrollments")
@load()
@blp.arguments(MyEnrollmentArgs, location="query")
@blp.response(200, MyEnrollmentOut(many=True))
@blp.paginate()
def my_enrollments(args, pagination_parameters):
    """Your enrolments with a summary of each course."""
    return paginate(services.my_enrollments_query(actor(), **args), pagination_parameters)
