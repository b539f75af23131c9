"""Certificate PDFs and ZIP export."""

from flask import Response, send_file
from flask_smorest import Blueprint

from lms.certificates import pdf
from lms.core.auth import actor, login_required, roles_required
from lms.core.storage import get_storage

blp = Blueprint(
    "certificate_files",
    __name__,
    url_prefix="/api/v1",
    description="Certificate PDFs and ZIP export.",
)


def _private_download(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/certificates/<string:serial>/pdf")
@login_required
@blp.response(200, content_type=pdf.PDF_MIMETYPE, description="The PDF, as an attachment.")
@blp.alt_response(
    409,
    description="The holder asked for a revoked (``certificate-revoked``) or superseded "
    "(``certificate-superseded``, with ``replaced_by``) certificate; admins still get it.",
)
def download_pdf(serial):
    """The certificate's PDF (the holder or an admin; 404 for anyone else).

    Rendered on the first download and stored: every later download returns the same bytes,
    whatever changed in the user's account or the course since.
    """
    certificate = pdf.downloadable_certificate(serial, actor())
    key, _ = pdf.ensure_pdf(certificate)
    response = send_file(
        get_storage().open(key),
        mimetype=pdf.PDF_MIMETYPE,
        as_attachment=True,
        download_name=pdf.pdf_filename(certificate),
        conditional=False,
        etag=False,
        max_age=None,
    )
    return _private_download(response)


@blp.route("/courses/<int:course_id>/certificates.zip")
@roles_required("admin")
@blp.response(
    200,
    content_type=pdf.ZIP_MIMETYPE,
    description="Every valid certificate of the course as ``<serial>_<name>.pdf``, streamed. "
    "A course without valid certificates gives an empty archive.",
)
def download_zip(course_id):
    """Every valid certificate PDF of a course, in one ZIP archive (admins).

    PDFs not rendered yet are rendered and stored first; the archive is then streamed,
    one PDF at a time.
    """
    entries = pdf.course_zip_entries(course_id)
    filename = pdf.zip_filename(course_id)
    # No stream_with_context: the generator needs neither the request nor the database.
    response = Response(pdf.zip_chunks(get_storage(), entries), mimetype=pdf.ZIP_MIMETYPE)
    response.headers["Content-Disposition"] = pdf.attachment(filename)
    return _private_download(response)
