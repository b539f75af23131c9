"""Certificate PDFs and ZIP export."""

from flask import Response, send_file
from flask_smorest import Blueprint

from lms.accounts.models import Role
from lms.certificates import export, pdf, services
from lms.certificates import jobs as kinds
from lms.certificates.schemas import CertificateOut
from lms.core.api import BINARY
from lms.core.auth import actor, load
from lms.core.downloads import as_download
from lms.core.storage import get_storage
from lms.jobs import services as jobs
from lms.jobs.schemas import JobOut
from lms.jobs.views import accepted

blp = Blueprint(
    "certificate_files",
    __name__,
    url_prefix="/api/v1",
    description="Certificate PDFs and ZIP export.",
)


@blp.route("/certificates/<string:serial>/pdf")
@load(certificate=("serial", pdf.downloadable_certificate))
@blp.response(200, BINARY, content_type=pdf.PDF_MIMETYPE, description="The PDF, as an attachment.")
@blp.alt_response(
    409,
    description="The holder asked for a revoked (``certificate-revoked``) or superseded "
    "(``certificate-superseded``, with ``replaced_by``) certificate; admins still get it.",
)
def download_pdf(certificate):
    """The certificate's PDF (the holder or an admin; 404 for anyone else).

    Rendered on the first download and stored: every later download returns the same bytes,
    whatever changed in the user's account or the course since.
    """
    key, _ = pdf.ensure_pdf(certificate)
    response = send_file(
        get_storage().open(key),
        mimetype=pdf.PDF_MIMETYPE,
        conditional=False,
        etag=False,
        max_age=None,
    )
    return as_download(response, pdf.pdf_filename(certificate))


@blp.route("/certificates/<string:serial>/pdf/render", methods=["POST"])
@load(roles=Role.ADMIN)
@blp.response(200, CertificateOut, description="The certificate, with its new ``pdf`` record.")
@blp.alt_response(
    409,
    description="The server has no embeddable CJK font either "
    "(``certificate-font-not-embedded``): re-rendering would not fix the PDF.",
)
def render_pdf(serial):
    """Render the certificate's PDF again (admins), from its frozen snapshot with the
    server's current font: same serial, same text, a new stored file; the old file is
    deleted after the commit. For a PDF rendered without an embedded font (boxes in
    viewers). Any status: admins download revoked and superseded PDFs too. Audited as
    ``certificate.pdf_rendered`` with the old and the new font."""
    certificate = services.certificate_by_serial(serial)
    return pdf.rerender_pdf(certificate, actor=actor())


@blp.route("/courses/<int:course_id>/certificates.zip")
@load(roles=Role.ADMIN)
@blp.response(
    200,
    BINARY,
    content_type=pdf.ZIP_MIMETYPE,
    description="Every valid certificate of the course as ``<serial>_<name>.pdf``, streamed. "
    "A course without valid certificates gives an empty archive.",
)
@blp.alt_response(
    202,
    schema=JobOut,
    description="A large course (more than ``LMS_JOB_SYNC_LIMIT`` valid certificates), or "
    "``Prefer: respond-async``: the archive is built by a job; poll ``Location`` and "
    "download it from the job's ``result_url``.",
)
def download_zip(course_id):
    """Every valid certificate PDF of a course, in one ZIP archive (admins).

    PDFs not rendered yet are rendered and stored first; the archive is then streamed,
    one PDF at a time. Rendering is the slow part, so for a large course (or on
    ``Prefer: respond-async``) the answer is 202 with a job that builds the archive.
    """
    count = export.valid_count(course_id)
    if jobs.wants_async(count):
        job = jobs.create_job(
            kinds.CERTIFICATES_ZIP, {"course_id": course_id}, actor=actor(), total=count
        )
        return accepted(job)
    entries = pdf.course_zip_entries(course_id)
    filename = pdf.zip_filename(course_id)
    # No stream_with_context: the generator needs neither the request nor the database.
    response = Response(pdf.zip_chunks(get_storage(), entries), mimetype=pdf.ZIP_MIMETYPE)
    return as_download(response, filename)
