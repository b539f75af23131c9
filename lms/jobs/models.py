"""Background jobs: long work (certificate ZIP exports, bulk issuance) that an HTTP request
accepts with 202 and that runs outside the request (``lms.jobs.services``)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.core.db import utcnow
from lms.extensions import db


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(db.Model):
    """One piece of long work: what (``kind`` and ``params``), who asked, how far it is
    (``progress_done`` of ``progress_total``) and how it ended (``result``, a stored file
    under ``result_key``, or ``error``, a problem+json body). ``heartbeat_at`` is touched
    while it runs; a running job whose heartbeat is older than ``LMS_JOB_STALE_SECONDS``
    lost its worker and is reported failed."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="status_valid"
        ),
        CheckConstraint("progress_done >= 0", name="progress_done_positive"),
        Index("ix_jobs_status_id", "status", "id"),
        Index("ix_jobs_created_by_id", "created_by_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None]
    result: Mapped[dict | None] = mapped_column(JSON)
    result_key: Mapped[str | None] = mapped_column(String(200))
    result_filename: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
