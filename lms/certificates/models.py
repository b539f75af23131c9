"""Certificates and their per-course serial sequence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import db

VALID, REVOKED, SUPERSEDED = "valid", "revoked", "superseded"
ONE_VALID_INDEX = "uq_certificates_one_valid_per_enrollment"


class Certificate(db.Model):
    """A completion certificate (结业证书).

    ``snapshot`` holds what the certificate states, frozen at issue: later changes to the
    user or the course never alter an issued certificate (a name correction is a reissue).
    At most one *valid* certificate per enrolment: a partial unique index, so that
    concurrent issuance can never produce two.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("status IN ('valid', 'revoked', 'superseded')", name="status_valid"),
        Index(
            ONE_VALID_INDEX,
            "enrollment_id",
            unique=True,
            postgresql_where=text("status = 'valid'"),
            sqlite_where=text("status = 'valid'"),
        ),
        Index("ix_certificates_course_status", "course_id", "status", "id"),
        # The admin list, newest first: read backwards from the index, not sorted.
        Index("ix_certificates_issued_at_id", "issued_at", "id"),
        Index("ix_certificates_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    verify_code: Mapped[str] = mapped_column(String(64), unique=True)
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="RESTRICT"), index=True
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    snapshot: Mapped[dict] = mapped_column(JSON)
    issued_at: Mapped[datetime]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="valid")
    override_reason: Mapped[str | None] = mapped_column(Text)
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="RESTRICT")
    )
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="RESTRICT")
    )
    # The PDF is rendered once, on first download, and stored; later downloads return
    # the same bytes.
    pdf_key: Mapped[str | None] = mapped_column(String(200))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    # How the stored PDF was rendered (None for PDFs stored before this was recorded): the
    # font's file name (or the non-embedded CID font's name), whether it is embedded, when.
    pdf_font: Mapped[str | None] = mapped_column(String(200))
    pdf_font_embedded: Mapped[bool | None]
    pdf_rendered_at: Mapped[datetime | None]

    @property
    def pdf_rendering(self) -> dict:
        """How the stored PDF was rendered (font and time are None for PDFs stored before
        they were recorded, everything but ``stored`` before the first download)."""
        return {
            "stored": self.pdf_key is not None,
            "font": self.pdf_font,
            "font_embedded": self.pdf_font_embedded,
            "rendered_at": self.pdf_rendered_at,
        }


class CertificateSequence(db.Model):
    """The last serial number used per course and year: ``<CODE>-<YEAR>-<NNNNN>``."""

    __tablename__ = "certificate_sequences"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_no: Mapped[int] = mapped_column(Integer, default=0)
