"""Background jobs: accept long work with 202, run it outside the request, show progress.

An endpoint whose work would take more than a few seconds (more than ``LMS_JOB_SYNC_LIMIT``
rows, or any size when the client sends ``Prefer: respond-async``, RFC 7240) creates a
``Job`` row and answers 202 with ``Location: /api/v1/jobs/<id>``. Who runs it depends on
``LMS_JOBS_RUNNER``:

- ``thread`` (default): a daemon thread of the process that accepted it, started once the
  request has committed (``after_this_request``), with its own app context and session;
- ``worker``: ``flask lms run-jobs`` on any host claims queued jobs with
  ``SELECT ... FOR UPDATE SKIP LOCKED``, so several workers never take the same job;
- ``inline``: in the request itself, after its commit (the test suite: deterministic).

Every runner goes through ``execute``: a conditional claim (``queued`` -> ``running``), the
kind's handler with a progress callback, then ``succeeded`` with the result (and a stored
result file) or ``failed`` with a problem+json body. Progress and the heartbeat are written
on their own short transactions (PostgreSQL), so pollers see them while the work's own
transaction is still open; on SQLite, which has one writer, they go with the work's
transaction. A running job whose heartbeat is older than ``LMS_JOB_STALE_SECONDS`` lost its
process and is reported failed (``job-stale``) instead of hanging forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from flask import after_this_request, current_app, has_request_context
from sqlalchemy import or_, select, update

from lms.core import bulk
from lms.core.db import utcnow
from lms.core.errors import DomainError, NotFound
from lms.core.storage import delete_unless_committed, get_storage
from lms.extensions import db
from lms.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)

QUEUED, RUNNING = JobStatus.QUEUED.value, JobStatus.RUNNING.value
SUCCEEDED, FAILED = JobStatus.SUCCEEDED.value, JobStatus.FAILED.value
RUNNERS = ("thread", "worker", "inline")
PROGRESS_INTERVAL = 0.5  # seconds between two progress writes (the last one always goes)


class JobNotFinished(DomainError):
    status = 409
    code = "job-not-finished"
    message_en = "The job has not succeeded (yet): there is no result to download."
    message_zh = "任务尚未成功完成，没有可下载的结果。"


@dataclass
class Outcome:
    """What a handler returns: a JSON ``result`` and optionally a file (an open binary
    file, read from its start) stored as the job's downloadable result."""

    result: dict
    file: BinaryIO | None = None
    filename: str | None = None
    suffix: str = ""


Handler = Callable[[Job, Callable[[int, int], None]], Outcome]
HANDLERS: dict[str, Handler] = {}


def register_handler(kind: str, function: Handler) -> None:
    """Make ``function`` do the work of jobs of ``kind`` (the app factory registers the
    domains' handlers; the machinery knows none of them)."""
    HANDLERS[kind] = function


# --- accepting ---------------------------------------------------------------------------------


def wants_async(rows: int) -> bool:
    """True when the work on ``rows`` rows should become a job: above the configured limit,
    or when the client asked for it (``Prefer: respond-async``)."""
    return rows > current_app.config["LMS_JOB_SYNC_LIMIT"] or prefers_async()


def prefers_async() -> bool:
    """True when the request carries the RFC 7240 preference ``respond-async``."""
    from flask import request

    preferences = ",".join(request.headers.getlist("Prefer")).lower()
    return any(p.split(";")[0].strip() == "respond-async" for p in preferences.split(","))


def create_job(kind: str, params: dict, *, actor, total: int | None = None) -> Job:
    """Queue a job of ``kind`` for ``actor`` and schedule it for the configured runner once
    the request commits. Flushes, never commits."""
    if kind not in HANDLERS:
        raise RuntimeError(f"no handler registered for jobs of kind {kind!r}")
    job = Job(kind=kind, params=params, created_by_id=actor.id, progress_total=total)
    db.session.add(job)
    db.session.flush()
    _schedule(job.id)
    return job


def _schedule(job_id: int) -> None:
    runner = current_app.config["LMS_JOBS_RUNNER"]
    if runner not in RUNNERS:
        raise RuntimeError(f"LMS_JOBS_RUNNER must be one of {RUNNERS}, not {runner!r}")
    if runner == "worker" or not has_request_context():
        return
    app = current_app._get_current_object()

    @after_this_request
    def start(response):
        if response.status_code >= 400:  # rolled back: the job row does not exist
            return response
        if runner == "inline":
            execute(job_id, separate_progress=False)
        else:
            threading.Thread(
                target=run_in_thread, args=(app, job_id), name=f"lms-job-{job_id}", daemon=True
            ).start()
        return response


def run_in_thread(app, job_id: int) -> None:
    """Thread target: run the job in its own app context (and so its own session)."""
    with app.app_context():
        try:
            execute(job_id)
        finally:
            db.session.remove()


# --- running -----------------------------------------------------------------------------------


def claim(job_id: int | None = None) -> int | None:
    """Take a queued job (``job_id``, or the oldest) and mark it running; commit. Returns
    its id, or None when there is none (or another worker took it)."""
    stmt = select(Job.id).where(Job.status == QUEUED).order_by(Job.id).limit(1)
    if job_id is not None:
        stmt = stmt.where(Job.id == job_id)
    found = db.session.scalar(stmt.with_for_update(skip_locked=True))
    if found is None:
        db.session.rollback()
        return None
    now = utcnow()
    taken = db.session.execute(
        update(Job)
        .where(Job.id == found, Job.status == QUEUED)
        .values(status=RUNNING, started_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return found if taken else None


def execute(job_id: int, *, claimed: bool = False, separate_progress: bool | None = None) -> bool:
    """Claim (unless ``claimed`` already) and run one job to its end (succeeded or failed);
    False if it was not queued.

    The handler's work is committed before the job is marked succeeded; any error rolls it
    back and marks the job failed with a problem+json body (no traceback: that is logged).
    """
    if not claimed and claim(job_id) is None:
        return False
    job = db.session.get(Job, job_id)
    if separate_progress is None:
        separate_progress = bulk.postgresql()
    progress = ProgressWriter(job_id, separate=separate_progress)
    try:
        outcome = HANDLERS[job.kind](job, progress)
        progress.flush()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        finish(job_id, FAILED, error=problem_of(error))
        return True
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        db.session.rollback()
        finish(job_id, FAILED, error=internal_problem())
        return True
    finish(job_id, SUCCEEDED, outcome=outcome)
    return True


def finish(job_id: int, status: str, *, outcome: Outcome | None = None, error=None) -> None:
    """Record how the job ended (storing its result file), and commit."""
    values = {"status": status, "finished_at": utcnow(), "heartbeat_at": utcnow()}
    if outcome is not None:
        values["result"] = outcome.result
        if outcome.file is not None:
            storage = get_storage()
            outcome.file.seek(0)
            stored = storage.save(outcome.file, suffix=outcome.suffix)
            delete_unless_committed(db.session, storage, stored.key)
            values.update(result_key=stored.key, result_filename=outcome.filename)
            outcome.file.close()
    if error is not None:
        values["error"] = error
    db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


class ProgressWriter:
    """The ``progress(done, total)`` callback given to a handler: writes progress and the
    heartbeat at most every ``PROGRESS_INTERVAL`` seconds (and always the last call)."""

    def __init__(self, job_id: int, *, separate: bool):
        self.job_id = job_id
        self.separate = separate
        self.last_write = 0.0
        self.pending: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        self.pending = (done, total)
        if done >= total or time.monotonic() - self.last_write >= PROGRESS_INTERVAL:
            self.flush()

    def flush(self) -> None:
        if self.pending is None:
            return
        done, total = self.pending
        stmt = (
            update(Job)
            .where(Job.id == self.job_id, Job.status == RUNNING)
            .values(progress_done=done, progress_total=total, heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if self.separate:  # its own transaction: visible at once, locks nothing for long
            with db.engine.begin() as connection:
                connection.execute(stmt)
        else:
            db.session.execute(stmt)
        self.pending, self.last_write = None, time.monotonic()


def problem_of(error: DomainError) -> dict:
    """The problem+json body (both languages) of a domain error that ended a job."""
    body = {
        "type": f"urn:lms:problem:{error.code}",
        "title": error.code,
        "status": error.status,
        "code": error.code,
        "detail": error.message_en,
        "detail_zh": error.message_zh,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    return body


def internal_problem() -> dict:
    return {
        "type": "urn:lms:problem:job-failed",
        "title": "job-failed",
        "status": 500,
        "code": "job-failed",
        "detail": "The job failed on an unexpected error; it was logged on the server.",
        "detail_zh": "任务因意外错误失败，错误已记录在服务器日志中。",
    }


def stale_problem(seconds: int) -> dict:
    return {
        "type": "urn:lms:problem:job-stale",
        "title": "job-stale",
        "status": 500,
        "code": "job-stale",
        "detail": f"The process running the job stopped answering (no heartbeat for "
        f"{seconds} s); nothing it did was kept. Start the work again.",
        "detail_zh": f"执行任务的进程已无响应（{seconds} 秒无心跳），其工作未保存，请重新提交。",
    }


def fail_stale(job_id: int | None = None) -> int:
    """Mark failed the running jobs whose heartbeat is older than ``LMS_JOB_STALE_SECONDS``
    (and, with the thread runner, queued jobs that old: their thread never started).
    Flushes, never commits; returns how many were failed."""
    seconds = current_app.config["LMS_JOB_STALE_SECONDS"]
    cutoff = utcnow() - timedelta(seconds=seconds)
    lost = (Job.status == RUNNING) & (Job.heartbeat_at < cutoff)
    if current_app.config["LMS_JOBS_RUNNER"] == "thread":
        lost = or_(lost, (Job.status == QUEUED) & (Job.created_at < cutoff))
    stmt = update(Job).where(lost)
    if job_id is not None:
        stmt = stmt.where(Job.id == job_id)
    result = db.session.execute(
        stmt.values(
            status=FAILED, finished_at=utcnow(), error=stale_problem(seconds)
        ).execution_options(synchronize_session=False)
    )
    return result.rowcount


def run_worker(*, once: bool = False, poll: float = 2.0, stop=None) -> int:
    """The ``run-jobs`` loop: fail stale jobs, claim the oldest queued job, run it; sleep
    ``poll`` seconds when there is none. With ``once``, stops when the queue is empty.
    Returns how many jobs it ran."""
    ran = 0
    while stop is None or not stop():
        fail_stale()
        db.session.commit()
        job_id = claim()
        if job_id is None:
            if once:
                return ran
            time.sleep(poll)
            continue
        execute(job_id, claimed=True)
        ran += 1
    return ran


# --- reading -----------------------------------------------------------------------------------


def visible_job(job_id: int, user) -> Job:
    """The job, for the user who started it or an admin; 404 for everyone else. A stale
    running job is failed first, so that nobody waits for it forever."""
    job = db.session.get(Job, job_id)
    if job is None or not (job.created_by_id == user.id or user.is_admin):
        raise NotFound("No such job.", "任务不存在。")
    if job.status in (QUEUED, RUNNING) and fail_stale(job.id):
        db.session.refresh(job)
    return job


def result_file(job: Job) -> tuple[str, str]:
    """(storage key, file name) of a succeeded job's file; 409 before it succeeded, 404
    for a job whose result is JSON only."""
    if job.status != SUCCEEDED:
        raise JobNotFinished(job_status=job.status)
    if job.result_key is None:
        raise NotFound("This job has no file to download.", "该任务没有可下载的文件。")
    return job.result_key, job.result_filename or f"job-{job.id}"
