"""The course's certificates as one ZIP archive, built into a file with progress reports:
what the ``certificates-zip`` job (``GET /api/v1/courses/{id}/certificates.zip`` for a
large course, or with ``Prefer: respond-async``) and ``flask lms export-certificates`` run.

Rendering is the slow part, so the missing PDFs are rendered and stored
first, a batch at a time (``after_batch`` may commit each batch: a stored PDF is final), then
the archive is written with the same entry names and layout as the streamed download
(``lms.certificates.pdf``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from sqlalchemy import func, select

from lms.catalog.models import Course
from lms.certificates import pdf
from lms.certificates.models import VALID, Certificate
from lms.core import bulk
from lms.core.errors import NotFound
from lms.core.storage import get_storage
from lms.extensions import db
from lms.jobs.progress import Progress, report


def valid_count(course_id: int) -> int:
    """How many valid certificates the course has (the rows of its ZIP); 404 when the
    course does not exist."""
    if db.session.get(Course, course_id) is None:
        raise NotFound()
    return db.session.scalar(
        select(func.count())
        .select_from(Certificate)
        .where(Certificate.course_id == course_id, Certificate.status == VALID)
    )


def build_course_zip(
    course_id: int,
    out: BinaryIO,
    *,
    progress: Progress | None = None,
    after_batch: Callable[[], None] | None = None,
) -> int:
    """Write the ZIP of the course's valid certificates into ``out``; return how many it
    holds. ``progress(done, total)`` counts each PDF rendered, then each entry written."""
    missing = db.session.scalars(
        select(Certificate.id).where(
            Certificate.course_id == course_id,
            Certificate.status == VALID,
            Certificate.pdf_key.is_(None),
        )
    ).all()
    total = len(missing) + valid_count(course_id)
    _render_missing(missing, total, progress, after_batch)
    entries = pdf.course_zip_entries(course_id)  # nothing left to render
    for chunk in pdf.zip_chunks(get_storage(), _counted(entries, len(missing), total, progress)):
        out.write(chunk)
    report(progress, total, total)
    return len(entries)


def _render_missing(ids, total: int, progress, after_batch) -> None:
    done = 0
    for batch in bulk.chunked(ids, pdf.ENSURE_BATCH):
        stmt = select(Certificate).where(bulk.among(Certificate.id, batch)).order_by(Certificate.id)
        for certificate in db.session.scalars(stmt).all():
            pdf.ensure_pdf(certificate)
            db.session.expunge(certificate)  # keeps the identity map small
            done += 1
            report(progress, done, total)
        if after_batch is not None:
            after_batch()


def _counted(entries, done: int, total: int, progress) -> Iterator[pdf.ZipEntry]:
    for n, entry in enumerate(entries, start=1):
        yield entry
        report(progress, done + n, total)
