"""Practical work: submissions, their files, extensions, grades and grade history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from lms.core.db import utcnow
from lms.core.markdown import render as render_markdown
from lms.extensions import db


class Submission(db.Model):
    """One attempt at a practical module. ``course_id`` is copied from the module so that
    the grading queue of a course is one index scan."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "module_id", "attempt_no"),
        CheckConstraint("status IN ('submitted', 'returned', 'graded')", name="status_valid"),
        CheckConstraint("attempt_no > 0", name="attempt_no_positive"),
        Index("ix_submissions_queue", "course_id", "status", "submitted_at", "id"),
        # The unfiltered grading queue's order (all statuses), read from the index.
        Index("ix_submissions_course_submitted", "course_id", "submitted_at", "id"),
        Index("ix_submissions_module_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="RESTRICT"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    text_html: Mapped[str | None] = mapped_column(Text)  # rendered when text is set
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    late: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="submitted")

    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission",
        cascade="all, delete-orphan",
        order_by="SubmissionFile.id",
    )
    grade: Mapped[Grade | None] = relationship(back_populates="submission", uselist=False)

    @validates("text")
    def _render_text(self, key: str, text: str | None) -> str | None:
        self.text_html = render_markdown(text)
        return text


class SubmissionFile(db.Model):
    """A stored file. ``storage_key`` is a server-made name; ``filename`` is the sanitised
    original name, used only in Content-Disposition."""

    __tablename__ = "submission_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))

    submission: Mapped[Submission] = relationship(back_populates="files")


class Extension(db.Model):
    """A later due date for one teacher on one practical module."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("module_id", "enrollment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Grade(db.Model):
    """The current grade of a submission. ``version`` is the optimistic lock: a regrade
    updates ``WHERE version = <the version the grader read>``, and the ETag carries it."""

    __tablename__ = "grades"
    __table_args__ = (CheckConstraint("version > 0", name="version_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    scores: Mapped[list] = mapped_column(JSON)  # [{criterion_id, points}]
    total_points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    passed: Mapped[bool]
    feedback: Mapped[str | None] = mapped_column(Text)
    feedback_html: Mapped[str | None] = mapped_column(Text)
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    graded_at: Mapped[datetime] = mapped_column(default=utcnow)
    returned_for_revision: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    submission: Mapped[Submission] = relationship(back_populates="grade")


class GradeRevision(db.Model):
    """Every version a grade has had, kept when it is regraded."""

    __tablename__ = "grade_revisions"
    __table_args__ = (UniqueConstraint("grade_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    scores: Mapped[list] = mapped_column(JSON)
    total_points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    passed: Mapped[bool]
    feedback: Mapped[str | None] = mapped_column(Text)
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    graded_at: Mapped[datetime]
    returned_for_revision: Mapped[bool] = mapped_column(default=False)


class GradeRelease(db.Model):
    """Manual release of a practical module's grades (courses with grade_release=manual).
    Once released, the module's grades, present and future, are visible to teachers."""

    __tablename__ = "grade_releases"

    module_id: Mapped[int] = mapped_column(
        ForeignKey("modules.id", ondelete="CASCADE"), primary_key=True
    )
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
