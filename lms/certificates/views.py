"""Certificate issuance, revocation, reissue, lookup and public verification."""

from flask import current_app, jsonify
from flask_smorest import Blueprint

from lms.accounts.models import Role
from lms.catalog.services import get_course
from lms.certificates import issuance, lifecycle, listing, services, verification
from lms.certificates import jobs as kinds
from lms.certificates.schemas import (
    CertificateHolderOut,
    CertificateListArgs,
    CertificateOut,
    IssueIn,
    IssueOut,
    MyCertificateArgs,
    ReasonIn,
    VerifyArgs,
    VerifyOut,
)
from lms.core import export
from lms.core.auth import actor, load
from lms.core.pagination import paginate
from lms.extensions import limiter
from lms.jobs import services as jobs
from lms.jobs.schemas import JobOut
from lms.jobs.views import accepted

blp = Blueprint(
    "certificates",
    __name__,
    url_prefix="/api/v1",
    description="Certificate issuance, revocation, reissue, lookup and public verification.",
)


def verify_rate_limit() -> str:
    """The public verification limit per client address (API and page share it)."""
    return current_app.config.get(verification.RATE_LIMIT_KEY, verification.DEFAULT_RATE_LIMIT)


verify_limit = limiter.shared_limit(verify_rate_limit, scope="certificate-verify")


@blp.route("/courses/<int:course_id>/certificates", methods=["POST"])
@load(roles=Role.ADMIN)
@blp.arguments(IssueIn)
@blp.response(200, IssueOut)
@blp.alt_response(
    202,
    schema=JobOut,
    description="More than ``LMS_JOB_SYNC_LIMIT`` enrolments, or ``Prefer: respond-async`` "
    "(not for a dry run): a job issues them; its ``result`` lists the serials issued and "
    "the enrolments skipped.",
)
def issue(data, course_id):
    """Issue certificates to ``enrollment_ids``, or to every eligible enrolment with
    ``all_eligible: true``. Enrolments with a certificate, not eligible (with the reasons)
    or not active are listed under ``skipped``. ``dry_run`` writes nothing;
    ``override_reason`` issues to named active enrolments that are not eligible."""
    course = get_course(course_id)
    if not data["dry_run"]:
        rows = issuance.check_issue_request(
            course,
            enrollment_ids=data.get("enrollment_ids"),
            override_reason=data.get("override_reason"),
        )
        if jobs.wants_async(rows):
            params = {
                "course_id": course.id,
                "enrollment_ids": data.get("enrollment_ids"),
                "override_reason": data.get("override_reason"),
            }
            job = jobs.create_job(kinds.CERTIFICATES_ISSUE, params, actor=actor(), total=rows)
            return accepted(job)
    return issuance.issue_certificates(
        course,
        actor=actor(),
        enrollment_ids=data.get("enrollment_ids"),
        dry_run=data["dry_run"],
        override_reason=data.get("override_reason"),
    )


@blp.route("/certificates")
@load(roles=Role.ADMIN)
@blp.arguments(CertificateListArgs, location="query")
@blp.response(200, CertificateOut(many=True))
@blp.doc(responses=export.EXPORT_RESPONSES)
@blp.paginate()
def list_certificates(args, pagination_parameters):
    """Every certificate (admins), newest first; filters ``course_id``, ``status`` and
    ``q`` (holder name or serial). With ``format`` (csv or xlsx) every matching
    certificate as a file."""
    fmt, lang = args.pop("format", None), args.pop("lang")
    if fmt is not None:
        pagination_parameters.item_count = 0  # a file: no page
        return export.table_download(
            fmt,
            listing.header(lang),
            listing.certificate_chunks(lang=lang, **args),
            filename="certificates",
            title="证书" if lang == "zh" else "Certificates",
        )
    page = paginate(services.certificates_query(**args), pagination_parameters)
    return services.preload_links(page)


@blp.route("/me/certificates")
@load()
@blp.arguments(MyCertificateArgs, location="query")
@blp.response(200, CertificateHolderOut(many=True))
@blp.paginate()
def my_certificates(args, pagination_parameters):
    """Your own certificates, newest first."""
    page = paginate(services.my_certificates_query(actor(), **args), pagination_parameters)
    return services.preload_links(page)


@blp.route("/certificates/<string:serial>")
@load(certificate=("serial", services.visible_certificate))
@blp.response(200, CertificateOut)
def get_certificate(certificate):
    """One certificate, for its holder or an admin (404 for anyone else); only admins see
    ``override_reason``."""
    schema = CertificateOut if actor().role == Role.ADMIN else CertificateHolderOut
    return jsonify(schema().dump(certificate))


@blp.route("/certificates/<string:serial>/revoke", methods=["POST"])
@load(roles=Role.ADMIN)
@blp.arguments(ReasonIn)
@blp.response(200, CertificateOut)
@blp.alt_response(409, description="The certificate is not valid.")
def revoke(data, serial):
    """Revoke a valid certificate; its verification then reads "revoked"."""
    cert = services.certificate_by_serial(serial)
    return lifecycle.revoke(cert, actor=actor(), reason=data["reason"])


@blp.route("/certificates/<string:serial>/restore", methods=["POST"])
@load(roles=Role.ADMIN)
@blp.arguments(ReasonIn)
@blp.response(200, CertificateOut)
@blp.alt_response(409, description="Not revoked, or the enrolment has another valid one.")
def restore(data, serial):
    """Undo a revocation."""
    cert = services.certificate_by_serial(serial)
    return lifecycle.restore(cert, actor=actor(), reason=data["reason"])


@blp.route("/certificates/<string:serial>/reissue", methods=["POST"])
@load(roles=Role.ADMIN)
@blp.arguments(ReasonIn)
@blp.response(200, CertificateOut)
@blp.alt_response(
    409, description="Already superseded, or the enrolment got another valid one meanwhile."
)
def reissue(data, serial):
    """Replace a valid or revoked certificate with a new serial and a fresh snapshot (a
    corrected name, say); the old one becomes superseded and points at the new one."""
    cert = services.certificate_by_serial(serial)
    return lifecycle.reissue(cert, actor=actor(), reason=data["reason"])


@blp.route("/verify/<string:code>")
@verify_limit
@blp.response(200, VerifyOut)
@blp.alt_response(404, description="Unknown verification code.")
@blp.alt_response(429, description="Too many verifications from this address.")
def verify_by_code(code):
    """Public: what the certificate with this verification code states, and its status."""
    # Already what VerifyOut dumps (tests/certificates/test_verification_answer.py checks it):
    # returned as a response, so that no schema dump runs on this busiest public path.
    return jsonify(verification.answer_by_code(code))


@blp.route("/verify")
@verify_limit
@blp.arguments(VerifyArgs, location="query")
@blp.response(200, VerifyOut)
@blp.alt_response(404, description="No certificate with this serial and holder name.")
@blp.alt_response(429, description="Too many verifications from this address.")
def verify_by_serial(args):
    """Public: verify by serial and holder name (spaces, case and full-width forms are
    ignored; the Chinese or the English name)."""
    return jsonify(verification.answer_by_serial_and_name(args["serial"], args["name"]))
