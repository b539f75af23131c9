"""Theory progress: completions and quiz attempts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lms.core.db import utcnow
from lms.extensions import db


class ModuleCompletion(db.Model):
    """A theory module completed by an enrolment: manually, by passing its quiz, or marked
    by an instructor. At most one per (enrolment, module)."""

    __tablename__ = "module_completions"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "module_id"),
        CheckConstraint("how IN ('manual', 'quiz', 'instructor')", name="how_valid"),
        Index("ix_module_completions_module_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="RESTRICT"))
    how: Mapped[str] = mapped_column(String(20))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class QuizAttempt(db.Model):
    """One scored attempt. (enrolment, module, attempt_no) is unique, so two concurrent
    submissions cannot both take the last allowed attempt."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "module_id", "attempt_no"),
        CheckConstraint("attempt_no > 0", name="attempt_no_positive"),
        Index("ix_quiz_attempts_module_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="RESTRICT"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    answers: Mapped[list] = mapped_column(JSON)
    score: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    max_score: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    passed: Mapped[bool]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
