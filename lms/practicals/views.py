"""Practical submissions, their files, and extensions."""

from flask import send_file
from flask_smorest import Blueprint

from lms.accounts.models import User
from lms.catalog.permissions import visible_module
from lms.core.api import BINARY
from lms.core.auth import accepts, actor, load
from lms.core.downloads import as_download
from lms.core.pagination import paginate
from lms.core.storage import get_storage
from lms.enrollments.access import learner_seat
from lms.extensions import db
from lms.practicals import access
from lms.practicals import submissions as services
from lms.practicals.schemas import (
    ExtensionIn,
    ExtensionOut,
    SubmissionFiles,
    SubmissionForm,
    SubmissionOut,
    SubmissionUpload,
)

blp = Blueprint(
    "submissions",
    __name__,
    url_prefix="/api/v1",
    description="Practical submissions with files; deadlines and extensions.",
)


@blp.route("/modules/<int:module_id>/submissions", methods=["POST"])
@load(seat=("module_id", learner_seat))
@accepts("multipart/form-data")
@blp.arguments(SubmissionFiles, location="files")
@blp.arguments(SubmissionForm, location="form", content_type="multipart/form-data")
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": SubmissionUpload}}})
@blp.response(201, SubmissionOut)
@blp.alt_response(
    409,
    description="Not a practical module, or no attempt allowed now: "
    "``awaiting-grade``, ``already-passed``, ``not-reopened``, "
    "``no-attempts-left``, ``closed`` (after the cut-off).",
)
@blp.alt_response(413, description="``file-too-large``: a file exceeds the module's limit.")
def submit(files, form, seat):
    """Submit an attempt at a practical: ``text`` and/or repeated ``files`` (at most 10).

    Your enrolment must be active. Each file must have an extension the module accepts
    and content that matches it. After the (extended) due date the attempt is flagged
    ``late``; after the cut-off it is refused.
    """
    user = actor()
    submission = services.submit(
        seat.module, seat.enrollment, user, text=form["text"], uploads=files["files"]
    )
    return services.SubmissionView(submission, user.id, submission.status, None)


@blp.route("/modules/<int:module_id>/submissions/mine")
@load(module=visible_module)
@blp.response(200, SubmissionOut(many=True))
@blp.paginate()
def my_submissions(module, pagination_parameters):
    """Your own attempts at a practical module, newest first."""
    user = actor()
    items = paginate(services.my_submissions_query(module, user), pagination_parameters)
    return services.own_views(items, module, user)


@blp.route("/submissions/<int:submission_id>")
@load(submission=access.readable_submission)
@blp.response(200, SubmissionOut)
def get_submission(submission):
    """One submission: its owner and the course staff only (404 for anyone else).

    The owner sees the grade once grades are released; staff always.
    """
    return submission


@blp.route("/submissions/<int:submission_id>/files/<int:file_id>")
@load(stored=(("submission_id", "file_id"), access.readable_file))
@blp.response(
    200,
    BINARY,
    content_type="*/*",
    description="The file, as an attachment, with the media type checked at upload "
    "(application/pdf, image/png, ...; application/octet-stream for other extensions).",
)
def download_file(stored):
    """Download a submitted file (owner and course staff), always as an attachment."""
    response = send_file(
        get_storage().open(stored.storage_key),
        mimetype=stored.content_type,
        as_attachment=True,
        download_name=stored.filename,
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.content_length = stored.size
    return as_download(response, stored.filename)


def _extension_out(extension, user_id: int, full_name: str) -> dict:
    out = {
        name: getattr(extension, name)
        for name in (
            "id",
            "module_id",
            "enrollment_id",
            "due_at",
            "reason",
            "granted_by_id",
            "granted_at",
        )
    }
    return {**out, "user_id": user_id, "full_name": full_name}


@blp.route("/modules/<int:module_id>/extensions", methods=["POST"])
@load(module=access.staff_practical)
@blp.arguments(ExtensionIn)
@blp.response(201, ExtensionOut)
@blp.alt_response(
    200,
    schema=ExtensionOut,
    description="The teacher already had an extension on this module: it was updated.",
)
@blp.alt_response(409, description="``not-a-practical-module``.")
def grant_extension(data, module):
    """Give one enrolled teacher a later due date (course staff). Upserts per teacher."""
    extension, created = services.grant_extension(module, data, actor=actor())
    holder = db.session.get(User, data["user_id"])
    return _extension_out(extension, holder.id, holder.full_name), 201 if created else 200


@blp.route("/modules/<int:module_id>/extensions", methods=["GET"])
@load(module=access.staff_practical)
@blp.response(200, ExtensionOut(many=True))
@blp.alt_response(403, description="Not the course's staff.")
@blp.alt_response(409, description="``not-a-practical-module``.")
@blp.paginate()
def list_extensions(module, pagination_parameters):
    """The extensions granted on a practical module (course staff), newest first."""
    rows = paginate(services.extensions_query(module), pagination_parameters, scalars=False)
    return [_extension_out(ext, user_id, name) for ext, user_id, name in rows]
