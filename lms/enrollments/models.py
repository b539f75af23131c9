"""The enrolment of a user in a course."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import TimestampMixin
from lms.extensions import db


class EnrollmentStatus(enum.StrEnum):
    WAITLISTED = "waitlisted"
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


SEAT_HOLDING = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.COMPLETED.value)


class Enrollment(TimestampMixin, db.Model):
    """Unique per (course, user): re-enrolling after a withdrawal reuses the row."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("course_id", "user_id"),
        CheckConstraint(
            "status IN ('waitlisted', 'active', 'withdrawn', 'completed')", name="status_valid"
        ),
        CheckConstraint("source IN ('self', 'admin', 'import')", name="source_valid"),
        Index("ix_enrollments_course_status_queue", "course_id", "status", "queued_at", "id"),
        # The roster's order: a page of a 10k course is read from the index, not sorted.
        Index("ix_enrollments_course_queue", "course_id", "queued_at", "id"),
        Index("ix_enrollments_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    # When the user (last) asked for a seat: the waitlist is served in this order.
    queued_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    course = relationship("Course", lazy="raise")
    user = relationship("User", lazy="raise")
