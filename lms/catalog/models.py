"""Programmes, courses, instructors and modules (theory with quiz, practical with rubric)."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from lms.core.db import TimestampMixin, utcnow
from lms.core.markdown import render as render_markdown
from lms.extensions import db

HOURS = Numeric(6, 1)
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class CourseStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    ARCHIVED = "archived"


class ModuleKind(enum.StrEnum):
    THEORY = "theory"
    PRACTICAL = "practical"


class Program(TimestampMixin, db.Model):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    organizers: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)


class Course(TimestampMixin, db.Model):
    """One training offering (研修班).

    ``seats_taken`` counts active and completed enrolments. It is only changed by
    conditional updates in lms.enrollments.services, and the check constraint makes the
    database refuse any write that would exceed the capacity, whatever the code does.
    """

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'published', 'closed', 'archived')", name="status_valid"
        ),
        CheckConstraint("grade_release IN ('immediate', 'manual')", name="grade_release_valid"),
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        CheckConstraint("seats_taken >= 0", name="seats_not_negative"),
        CheckConstraint("capacity IS NULL OR seats_taken <= capacity", name="within_capacity"),
        CheckConstraint(
            "min_theory_hours >= 0 AND min_practical_hours >= 0", name="min_hours_not_negative"
        ),
        CheckConstraint(
            "certificate_validity_months IS NULL OR certificate_validity_months > 0",
            name="validity_positive",
        ),
        Index("ix_courses_status_starts_on", "status", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    program_id: Mapped[int | None] = mapped_column(
        ForeignKey("programs.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str | None] = mapped_column(Text)
    host_institution: Mapped[str | None] = mapped_column(String(200))
    organizers: Mapped[list] = mapped_column(JSON, default=list)
    location: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    # IANA name: the zone in which the course's dates are days (validated by the schema)
    time_zone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIME_ZONE, server_default=DEFAULT_TIME_ZONE
    )
    capacity: Mapped[int | None] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    waitlist_enabled: Mapped[bool] = mapped_column(default=False)
    self_enrollment: Mapped[bool] = mapped_column(default=True)
    enroll_opens_at: Mapped[datetime | None]
    enroll_closes_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default=CourseStatus.DRAFT.value)
    min_theory_hours: Mapped[Decimal] = mapped_column(HOURS, default=Decimal("0"))
    min_practical_hours: Mapped[Decimal] = mapped_column(HOURS, default=Decimal("0"))
    grade_release: Mapped[str] = mapped_column(String(20), default="immediate")
    certificate_title: Mapped[str | None] = mapped_column(String(200))
    certificate_issuer: Mapped[str | None] = mapped_column(String(200))
    certificate_signatory: Mapped[str | None] = mapped_column(String(200))
    certificate_validity_months: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None]

    program: Mapped[Program | None] = relationship(lazy="joined")

    @property
    def ends_at(self) -> datetime:
        """The instant the course ends: the end of ``ends_on`` in the course's time zone
        (midnight after it), in UTC."""
        zone = ZoneInfo(self.time_zone or DEFAULT_TIME_ZONE)
        end = datetime.combine(self.ends_on + timedelta(days=1), time(0), tzinfo=zone)
        return end.astimezone(UTC)

    @property
    def self_enrollment_closes_at(self) -> datetime:
        """When self-enrolment closes: ``enroll_closes_at`` when an admin set one (earlier or
        later than the end), else the end of the course (``ends_at``)."""
        return self.enroll_closes_at or self.ends_at


class CourseInstructor(db.Model):
    """An instructor assigned to a course: they grade it and see its progress."""

    __tablename__ = "course_instructors"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user = relationship("User", foreign_keys=[user_id], lazy="joined")


class Module(TimestampMixin, db.Model):
    """A theory or practical unit of a course. Practical settings are null on theory ones."""

    __tablename__ = "modules"
    __table_args__ = (
        CheckConstraint("kind IN ('theory', 'practical')", name="kind_valid"),
        CheckConstraint("hours > 0", name="hours_positive"),
        CheckConstraint(
            "reopen IS NULL OR reopen IN ('manual', 'until_pass')", name="reopen_valid"
        ),
        CheckConstraint("kind = 'practical' OR pass_points IS NULL", name="theory_no_rubric"),
        CheckConstraint(
            "closes_at IS NULL OR due_at IS NULL OR closes_at >= due_at", name="cutoff_after_due"
        ),
        Index("ix_modules_course_position", "course_id", "position", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(Text)
    # Markdown sources keep their sanitised HTML, rendered when they are set: rendering a
    # long text takes milliseconds, too many for every module of a listing.
    content_html: Mapped[str | None] = mapped_column(Text)
    resources: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[Decimal] = mapped_column(HOURS)
    required: Mapped[bool] = mapped_column(default=True)
    # practical
    brief: Mapped[str | None] = mapped_column(Text)
    brief_html: Mapped[str | None] = mapped_column(Text)
    pass_points: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    due_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    reopen: Mapped[str | None] = mapped_column(String(20))
    allowed_extensions: Mapped[list | None] = mapped_column(JSON)
    max_file_mb: Mapped[int | None] = mapped_column(Integer)

    course: Mapped[Course] = relationship()
    quiz: Mapped[Quiz | None] = relationship(
        back_populates="module", cascade="all, delete-orphan", uselist=False
    )
    criteria: Mapped[list[RubricCriterion]] = relationship(
        back_populates="module",
        cascade="all, delete-orphan",
        order_by="RubricCriterion.position",
    )

    @validates("content", "brief")
    def _render_markdown(self, key: str, source: str | None) -> str | None:
        setattr(self, f"{key}_html", render_markdown(source))
        return source


class Quiz(db.Model):
    __tablename__ = "quizzes"
    __table_args__ = (
        CheckConstraint("pass_percent >= 0 AND pass_percent <= 100", name="pass_percent_range"),
        CheckConstraint("max_attempts IS NULL OR max_attempts > 0", name="attempts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(
        ForeignKey("modules.id", ondelete="CASCADE"), unique=True
    )
    pass_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    max_attempts: Mapped[int | None] = mapped_column(Integer)

    module: Mapped[Module] = relationship(back_populates="quiz")
    questions: Mapped[list[QuizQuestion]] = relationship(
        back_populates="quiz", cascade="all, delete-orphan", order_by="QuizQuestion.position"
    )


class QuizQuestion(db.Model):
    """A single or multiple choice question; ``correct`` is the set of right choices."""

    __tablename__ = "quiz_questions"
    __table_args__ = (
        UniqueConstraint("quiz_id", "position"),
        CheckConstraint("points > 0", name="points_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    choices: Mapped[list] = mapped_column(JSON)
    correct: Mapped[list] = mapped_column(JSON)
    points: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("1"))

    quiz: Mapped[Quiz] = relationship(back_populates="questions")


class RubricCriterion(db.Model):
    __tablename__ = "rubric_criteria"
    __table_args__ = (
        UniqueConstraint("module_id", "position"),
        CheckConstraint("max_points > 0", name="max_points_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    max_points: Mapped[Decimal] = mapped_column(Numeric(6, 2))

    module: Mapped[Module] = relationship(back_populates="criteria")
