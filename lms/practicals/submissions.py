"""Practical submissions with files, deadlines and per-teacher extensions.

Services flush but never commit; the request boundary commits once. Files are written
through lms.core.storage and deleted again if the transaction does not commit.

Decisions:

- Attempts: a new attempt is allowed when there is none yet, when the latest one was
  returned for revision, or when it was graded as failed and the module reopens
  ``until_pass``; always within ``max_attempts`` (null: unlimited). Otherwise 409 with
  ``awaiting-grade``, ``already-passed``, ``not-reopened`` or ``no-attempts-left``.
  While a course's grades are not released (manual release), a graded attempt answers
  ``grade-not-released``, passed or failed alike: answering ``already-passed`` or reopening
  would reveal the result.
- Deadlines: the effective due date is the teacher's extension if there is one, else the
  module's ``due_at``; later submissions are accepted and flagged late. ``closes_at`` is the
  cut-off, after which submissions are refused (409 ``closed``). An extension later than the
  cut-off moves that teacher's cut-off to the extension's date: staff who grant a date mean
  that the teacher can still submit then. An extension must be later than the module's due
  date; on a module without one it gives that teacher a due date of their own.
- Uploads are checked completely (count, extension, size, content) before anything is
  written; one bad file refuses the whole submission.
- Two concurrent submissions cannot take the same attempt number: the unique constraint on
  (enrolment, module, attempt) refuses the second (409 ``concurrent-submission``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from lms.accounts.models import User
from lms.audit import services as audit
from lms.catalog.models import Module, ModuleKind
from lms.core import downloads
from lms.core.db import utcnow
from lms.core.errors import Invalid
from lms.core.storage import Storage, delete_unless_committed, get_storage
from lms.enrollments.errors import NoAttemptsLeft, OwnEnrollment
from lms.enrollments.models import Enrollment, EnrollmentStatus
from lms.extensions import db
from lms.practicals import files as checks
from lms.practicals.errors import (
    PRACTICAL_ATTEMPTS_USED,
    AlreadyPassed,
    AwaitingGrade,
    ConcurrentSubmission,
    FileTooLarge,
    GradeNotReleased,
    NotAPracticalModule,
    NotReopened,
    SubmissionClosed,
)
from lms.practicals.models import Extension, Grade, Submission, SubmissionFile
from lms.practicals.rules import grades_visible

SUBMITTED, RETURNED, GRADED = "submitted", "returned", "graded"
NOTHING_SUBMITTED = "Write a text or attach at least one file. 请填写文字说明或至少上传一个文件。"


# --- deadlines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    """One teacher's deadlines on one module (None: no such deadline)."""

    due_at: datetime | None
    closes_at: datetime | None
    extended: bool

    def late(self, at: datetime) -> bool:
        """A submission at ``at`` is accepted but flagged late."""
        return self.due_at is not None and at > self.due_at

    def closed(self, at: datetime) -> bool:
        """A submission at ``at`` is refused."""
        return self.closes_at is not None and at > self.closes_at


def deadlines_for(module: Module, enrollment: Enrollment) -> Deadlines:
    """The effective due date and cut-off of ``enrollment`` on ``module``."""
    extension = db.session.scalar(
        select(Extension).where(
            Extension.module_id == module.id, Extension.enrollment_id == enrollment.id
        )
    )
    if extension is None:
        return Deadlines(module.due_at, module.closes_at, False)
    closes_at = module.closes_at
    if closes_at is not None and extension.due_at > closes_at:
        closes_at = extension.due_at
    return Deadlines(extension.due_at, closes_at, True)


# --- attempts --------------------------------------------------------------------------------


def _latest_attempt(module: Module, enrollment: Enrollment) -> Submission | None:
    return db.session.scalar(
        select(Submission)
        .where(Submission.module_id == module.id, Submission.enrollment_id == enrollment.id)
        .options(selectinload(Submission.grade))
        .order_by(Submission.attempt_no.desc())
        .limit(1)
    )


def next_attempt_no(module: Module, enrollment: Enrollment) -> int:
    """The number of the attempt ``enrollment`` may make now, or raise a 409 saying why."""
    latest = _latest_attempt(module, enrollment)
    if latest is None:
        return 1
    _check_reopened(module, latest)
    if module.max_attempts is not None and latest.attempt_no >= module.max_attempts:
        raise NoAttemptsLeft(*PRACTICAL_ATTEMPTS_USED)
    return latest.attempt_no + 1


def _check_reopened(module: Module, latest: Submission) -> None:
    """Raise unless ``latest`` leaves room for another attempt (attempt count aside)."""
    if latest.status == RETURNED:
        return
    if latest.status != GRADED or latest.grade is None:
        raise AwaitingGrade()
    if not grades_visible(module):
        raise GradeNotReleased()
    if latest.grade.passed:
        raise AlreadyPassed()
    if module.reopen != "until_pass":
        exhausted = module.max_attempts is not None and latest.attempt_no >= module.max_attempts
        raise NoAttemptsLeft(*PRACTICAL_ATTEMPTS_USED) if exhausted else NotReopened()


# --- files -----------------------------------------------------------------------------------


@dataclass
class CheckedFile:
    upload: FileStorage
    filename: str
    kind: checks.FileKind
    size: int


def allowed_extensions(module: Module) -> tuple[str, ...]:
    """The extensions ``module`` accepts (its list, or the common formats)."""
    if module.allowed_extensions:
        return tuple(e.lower() for e in module.allowed_extensions)
    return checks.DEFAULT_EXTENSIONS


def check_uploads(module: Module, uploads: list[FileStorage]) -> list[CheckedFile]:
    """Check every upload before anything is stored: count (422), size (413), extension and
    content (422, naming the file)."""
    if len(uploads) > checks.MAX_FILES:
        raise Invalid(
            {"files": [f"At most {checks.MAX_FILES} files. 最多上传 {checks.MAX_FILES} 个文件。"]}
        )
    limit_mb = module.max_file_mb or checks.DEFAULT_MAX_FILE_MB
    checked = [_measure(upload) for upload in uploads]
    for item in checked:
        if item.size > limit_mb * 1024 * 1024:
            raise FileTooLarge(
                f"{item.filename} is larger than {limit_mb} MB.",
                f"文件“{item.filename}”超过 {limit_mb} MB。",
                max_file_mb=limit_mb,
            )
    errors = [error for item in checked if (error := _content_error(module, item))]
    if errors:
        raise Invalid(
            {"files": [f"{en} {zh}" for en, zh in errors]},
            " ".join(en for en, _ in errors),
            "".join(zh for _, zh in errors),
        )
    return checked


def _measure(upload: FileStorage) -> CheckedFile:
    filename = downloads.sanitize_filename(upload.filename)
    kind = checks.kind_for(downloads.extension_of(filename))
    return CheckedFile(upload, filename, kind, checks.stream_size(upload.stream))


def _content_error(module: Module, item: CheckedFile) -> tuple[str, str] | None:
    """(English, Chinese) messages when ``item`` is refused, else None."""
    allowed = allowed_extensions(module)
    if item.kind.extension not in allowed:
        shown = item.kind.extension or "(none)"
        return (
            f"{item.filename}: file type {shown} is not accepted here; use {', '.join(allowed)}.",
            f"文件“{item.filename}”的类型 {shown} 不被接受，请使用 {'、'.join(allowed)}。",
        )
    try:
        item.kind = checks.check_content(item.upload.stream, item.kind.extension)
    except checks.ContentMismatch as exc:
        return f"{item.filename}: {exc.en}.", f"文件“{item.filename}”无效：{exc.zh}。"
    return None


def _store(submission: Submission, items: list[CheckedFile], storage: Storage) -> None:
    for item in items:
        item.upload.stream.seek(0)
        suffix = item.kind.extension if item.kind.check is not None else ""
        stored = storage.save(item.upload.stream, suffix=suffix)
        delete_unless_committed(db.session(), storage, stored.key)
        submission.files.append(
            SubmissionFile(
                filename=item.filename,
                storage_key=stored.key,
                size=stored.size,
                sha256=stored.sha256,
                content_type=item.kind.content_type,
            )
        )


# --- submitting ------------------------------------------------------------------------------


def submit(
    module: Module,
    enrollment: Enrollment,
    user: User,
    *,
    text: str | None,
    uploads: list[FileStorage],
) -> Submission:
    """Submit an attempt at a practical module as ``user``, through their active
    ``enrollment`` (``lms.enrollments.access.learner_seat``)."""
    if module.kind != ModuleKind.PRACTICAL:
        raise NotAPracticalModule()
    # A browser sends an empty file input as a part without name or content: not a file.
    uploads = [u for u in uploads if u.filename or checks.stream_size(u.stream)]
    if not text and not uploads:
        raise Invalid({"files": [NOTHING_SUBMITTED]})
    now = utcnow()
    deadlines = deadlines_for(module, enrollment)
    if deadlines.closed(now):
        raise SubmissionClosed()
    attempt_no = next_attempt_no(module, enrollment)
    checked = check_uploads(module, uploads)
    submission = _insert_attempt(module, enrollment, attempt_no, text, now, deadlines.late(now))
    _store(submission, checked, get_storage())
    db.session.flush()
    _record_created(submission, user)
    return submission


def _record_created(submission: Submission, user: User) -> None:
    audit.record(
        "submission.created",
        "submission",
        submission.id,
        actor=user,
        data={
            "module_id": submission.module_id,
            "course_id": submission.course_id,
            "attempt_no": submission.attempt_no,
            "late": submission.late,
            "files": [
                {"filename": f.filename, "size": f.size, "sha256": f.sha256}
                for f in submission.files
            ],
        },
    )


def _insert_attempt(
    module: Module,
    enrollment: Enrollment,
    attempt_no: int,
    text: str | None,
    now: datetime,
    late: bool,
) -> Submission:
    """Insert the attempt row first: a concurrent twin fails here, before any file is written."""
    submission = Submission(
        enrollment_id=enrollment.id,
        module_id=module.id,
        course_id=module.course_id,
        attempt_no=attempt_no,
        text=text,
        submitted_at=now,
        late=late,
        status=SUBMITTED,
    )
    db.session.add(submission)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise ConcurrentSubmission() from exc
    return submission


def module_has_submissions(module: Module) -> bool:
    """Answers ``catalog.signals.module_activity``: a module with submissions keeps its
    rubric."""
    return bool(db.session.scalar(select(exists().where(Submission.module_id == module.id))))


# --- reading ---------------------------------------------------------------------------------


@dataclass
class SubmissionView:
    """A submission as one reader may see it: before grades are released, a teacher sees
    neither the grade nor that the attempt was graded."""

    submission: Submission
    user_id: int
    status: str
    grade: Grade | None

    def __getattr__(self, name):
        return getattr(self.submission, name)


@dataclass
class RevisionFeedback:
    """What a teacher sees of an attempt returned for revision before grades are released:
    the grader's feedback (they need it to revise), not the points."""

    feedback_html: str | None
    graded_at: datetime
    returned_for_revision: bool = True
    total_points = None
    passed = None
    scores = None


def _view(submission: Submission, user_id: int, *, full: bool) -> SubmissionView:
    if full:
        return SubmissionView(submission, user_id, submission.status, submission.grade)
    if submission.status == RETURNED and submission.grade is not None:
        feedback = RevisionFeedback(submission.grade.feedback_html, submission.grade.graded_at)
        return SubmissionView(submission, user_id, RETURNED, feedback)
    status = SUBMITTED if submission.status == GRADED else submission.status
    return SubmissionView(submission, user_id, status, None)


def view_for(submission: Submission, owner_id: int, *, staff: bool) -> SubmissionView:
    """The submission as course staff (everything) or its owner (the grade once grades are
    released) see it; who may read it at all is lms.practicals.access's rule."""
    if staff:
        return _view(submission, owner_id, full=True)
    module = db.session.get(Module, submission.module_id)
    return _view(submission, owner_id, full=grades_visible(module))


def my_submissions_query(module: Module, user: User):
    """``user``'s attempts on ``module``, newest first, files and grades preloaded."""
    return (
        select(Submission)
        .join(Enrollment, Enrollment.id == Submission.enrollment_id)
        .where(Submission.module_id == module.id, Enrollment.user_id == user.id)
        .options(selectinload(Submission.files), selectinload(Submission.grade))
        .order_by(Submission.attempt_no.desc())
    )


def own_views(submissions: list[Submission], module: Module, user: User) -> list[SubmissionView]:
    """A teacher's views of their own attempts (grade visibility computed once)."""
    visible = grades_visible(module)
    return [_view(s, user.id, full=visible) for s in submissions]


# --- extensions ------------------------------------------------------------------------------


def grant_extension(module: Module, data: dict, *, actor: User) -> tuple[Extension, bool]:
    """Give one teacher a later due date on ``module`` (insert or update). Returns the
    extension and whether it is new."""
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.course_id == module.course_id,
            Enrollment.user_id == data["user_id"],
            Enrollment.status != EnrollmentStatus.WITHDRAWN,
        )
    )
    if enrollment is None:
        raise Invalid(
            {"user_id": ["This user is not enrolled in the course. 该用户未报名本研修班。"]}
        )
    if enrollment.user_id == actor.id:
        raise OwnEnrollment()
    if module.due_at is not None and data["due_at"] <= module.due_at:
        raise Invalid({"due_at": ["Must be after the module's due date. 须晚于模块的提交期限。"]})
    extension, created = _upsert_extension(module, enrollment, data, actor)
    audit.record(
        "extension.granted",
        "extension",
        extension.id,
        actor=actor,
        data={
            "module_id": module.id,
            "enrollment_id": enrollment.id,
            "user_id": enrollment.user_id,
            "due_at": extension.due_at.isoformat(),
            "reason": extension.reason,
            "created": created,
        },
    )
    return extension, created


def _find_extension(module: Module, enrollment: Enrollment) -> Extension | None:
    return db.session.scalar(
        select(Extension).where(
            Extension.module_id == module.id, Extension.enrollment_id == enrollment.id
        )
    )


def _upsert_extension(
    module: Module, enrollment: Enrollment, data: dict, actor: User
) -> tuple[Extension, bool]:
    values = {
        "due_at": data["due_at"],
        "reason": data["reason"],
        "granted_by_id": actor.id,
        "granted_at": utcnow(),
    }
    extension = _find_extension(module, enrollment)
    if extension is None:
        extension = Extension(module_id=module.id, enrollment_id=enrollment.id, **values)
        db.session.add(extension)
        try:
            with db.session.begin_nested():
                db.session.flush()
            return extension, True
        except IntegrityError:  # granted concurrently: update that one instead
            extension = _find_extension(module, enrollment)
    for key, value in values.items():
        setattr(extension, key, value)
    db.session.flush()
    return extension, False


def extensions_query(module: Module):
    """The extensions of a module with their teachers, by teacher name."""
    return (
        select(Extension, Enrollment.user_id, User.full_name)
        .join(Enrollment, Enrollment.id == Extension.enrollment_id)
        .join(User, User.id == Enrollment.user_id)
        .where(Extension.module_id == module.id)
        .order_by(Extension.granted_at.desc(), Extension.id.desc())
    )
