"""Certificate schemas: issuance, lifecycle, listing and public verification.

``CertificateOut`` serialises a ``Certificate`` row: what it states comes from its frozen
snapshot; ``replaced_by`` / ``replaces`` are serials of the linked certificates (read from
the session's identity map: callers serialising many certificates preload them with
``lms.certificates.services.preload_links``, so that lists stay at a constant number of
queries).
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from lms.certificates.models import Certificate
from lms.certificates.snapshot import is_expired, verify_url
from lms.core import export
from lms.core.db import utcnow
from lms.core.schemas import AwareDateTime, StrictSchema, Text
from lms.extensions import db

STATUSES = ("valid", "revoked", "superseded")
VERIFY_STATUSES = ("valid", "revoked", "expired", "superseded")
SKIP_REASONS = ("already_issued", "not_eligible", "not_active")


def linked_serial(certificate: Certificate, relation: str) -> str | None:
    """The serial of the certificate ``relation`` ("replaced_by" or "replaces") points to."""
    linked_id = getattr(certificate, f"{relation}_id")
    if linked_id is None:
        return None
    linked = db.session.get(Certificate, linked_id)
    return linked.serial if linked is not None else None


def _snap(key: str):
    return lambda certificate: (certificate.snapshot or {}).get(key)


def _hours(key: str):
    return lambda certificate: float((certificate.snapshot or {}).get(key) or 0)


class PdfRenderingOut(Schema):
    """How the certificate's stored PDF was rendered."""

    stored = fields.Boolean(metadata={"description": "A PDF is stored (first download done)."})
    font = fields.String(
        allow_none=True,
        metadata={"description": "The font file's name, or the non-embedded CID font's."},
    )
    font_embedded = fields.Boolean(allow_none=True)
    rendered_at = AwareDateTime(allow_none=True)


class CertificateHolderOut(Schema):
    """A certificate as its holder sees it: without the admins' internal notes."""

    serial = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    holder_name = fields.Function(_snap("holder_name"))
    holder_name_en = fields.Function(_snap("holder_name_en"), allow_none=True)
    institution = fields.Function(_snap("institution"), allow_none=True)
    course_title = fields.Function(_snap("course_title"))
    program_title = fields.Function(_snap("program_title"), allow_none=True)
    course_id = fields.Integer()
    enrollment_id = fields.Integer()
    starts_on = fields.Function(_snap("starts_on"), metadata={"format": "date"})
    ends_on = fields.Function(_snap("ends_on"), metadata={"format": "date"})
    location = fields.Function(_snap("location"), allow_none=True)
    theory_hours = fields.Function(_hours("theory_hours"))
    practical_hours = fields.Function(_hours("practical_hours"))
    total_hours = fields.Function(_hours("total_hours"))
    issued_at = AwareDateTime()
    expires_at = AwareDateTime(allow_none=True)
    expired = fields.Function(lambda c: is_expired(c.expires_at, utcnow()))
    verify_url = fields.Function(lambda c: verify_url(c.verify_code))
    replaced_by = fields.Function(lambda c: linked_serial(c, "replaced_by"), allow_none=True)
    replaces = fields.Function(lambda c: linked_serial(c, "replaces"), allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    revoked_at = AwareDateTime(allow_none=True)
    pdf = fields.Nested(PdfRenderingOut, attribute="pdf_rendering")


class CertificateOut(CertificateHolderOut):
    """A certificate as admins see it: with why completion was overridden at issuance."""

    override_reason = fields.String(
        allow_none=True, metadata={"description": "Admins only; never shown to the holder."}
    )


class IssuePreviewOut(Schema):
    """What a dry run would issue (no serial yet)."""

    serial = fields.Constant(None, allow_none=True)
    enrollment_id = fields.Integer()
    course_id = fields.Integer()
    holder_name = fields.String()
    holder_name_en = fields.String(allow_none=True)
    institution = fields.String(allow_none=True)
    course_title = fields.String()
    program_title = fields.String(allow_none=True)
    theory_hours = fields.Float()
    practical_hours = fields.Float()
    total_hours = fields.Float()
    override_reason = fields.String(allow_none=True)
    eligible = fields.Boolean()


class IssueIn(StrictSchema):
    """Exactly one of ``enrollment_ids`` and ``all_eligible``."""

    enrollment_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1)),
        validate=validate.Length(min=1, max=10000),
    )
    all_eligible = fields.Boolean()
    dry_run = fields.Boolean(load_default=False)
    override_reason = Text(validate=validate.Length(max=2000), allow_none=True)

    @validates_schema
    def _one_selector(self, data, **kwargs):
        if ("enrollment_ids" in data) == bool(data.get("all_eligible")):
            raise ValidationError(
                "Give exactly one of enrollment_ids and all_eligible: true. "
                "请在 enrollment_ids 与 all_eligible 中二选一。",
                "_schema",
            )


class SkippedOut(Schema):
    enrollment_id = fields.Integer()
    reason = fields.String(metadata={"enum": list(SKIP_REASONS)})
    missing = fields.List(fields.Dict(), metadata={"description": "not_eligible: why"})
    status = fields.String(
        metadata={
            "description": "not_active: the enrolment's status; already_issued: the "
            "existing certificate's status (valid, or revoked: restore or reissue it)"
        }
    )
    serial = fields.String(metadata={"description": "already_issued: the existing serial"})


class IssueOut(Schema):
    dry_run = fields.Boolean()
    issued = fields.Method(
        "_issued",
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "CertificateOut entries; on a dry run, what would be issued "
            "(IssuePreviewOut: serial null).",
        },
    )
    skipped = fields.List(fields.Nested(SkippedOut))

    def _issued(self, result):
        schema = IssuePreviewOut if result["dry_run"] else CertificateOut
        return schema(many=True).dump(result["issued"])


class ReasonIn(StrictSchema):
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))


class CertificateListArgs(StrictSchema):
    course_id = fields.Integer(validate=validate.Range(min=1))
    status = fields.String(validate=validate.OneOf(STATUSES))
    q = fields.String(validate=validate.Length(min=1, max=100))
    format = export.format_field()
    lang = export.lang_field()


class MyCertificateArgs(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))


class VerifyArgs(StrictSchema):
    serial = Text(required=True, validate=validate.Length(min=1, max=64))
    name = Text(required=True, validate=validate.Length(min=1, max=200))


class VerifyOut(Schema):
    """What the public may learn: the certificate's statements and status, nothing else."""

    status = fields.String(metadata={"enum": list(VERIFY_STATUSES)})
    serial = fields.String()
    holder_name = fields.String()
    holder_name_en = fields.String(allow_none=True)
    course_title = fields.String()
    program_title = fields.String(allow_none=True)
    theory_hours = fields.Float()
    practical_hours = fields.Float()
    total_hours = fields.Float()
    issued_at = AwareDateTime()
    expires_at = AwareDateTime(allow_none=True)
    issued_on = fields.String(
        metadata={"format": "date", "description": "The issue day in the course's time zone."}
    )
    expires_on = fields.String(
        allow_none=True,
        metadata={"format": "date", "description": "The expiry day in the course's time zone."},
    )
    issuer = fields.String(allow_none=True)
    replaced_by = fields.String(allow_none=True)
    replaced_by_url = fields.String(allow_none=True)
