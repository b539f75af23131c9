"""Job endpoints: status and progress, and the download of a finished job's file."""

from __future__ import annotations

from flask import jsonify, send_file
from flask_smorest import Blueprint

from lms.core.api import BINARY
from lms.core.auth import load
from lms.core.downloads import as_download
from lms.core.storage import get_storage
from lms.jobs import services
from lms.jobs.models import Job
from lms.jobs.schemas import JobOut

blp = Blueprint(
    "jobs",
    __name__,
    url_prefix="/api/v1",
    description="Background jobs: long work accepted with 202 Accepted (status, progress, result).",
)

POLL_SECONDS = 2


def job_location(job: Job) -> str:
    return f"/api/v1/jobs/{job.id}"


def accepted(job: Job):
    """The 202 Accepted answer of an endpoint that turned its work into ``job``: the job's
    status document, ``Location`` to poll, and ``Preference-Applied`` when the client
    asked for ``respond-async``."""
    response = jsonify(JobOut().dump(job))
    response.status_code = 202
    response.headers["Location"] = job_location(job)
    response.headers["Retry-After"] = str(POLL_SECONDS)
    if services.prefers_async():
        response.headers["Preference-Applied"] = "respond-async"
    return response


@blp.route("/jobs/<int:job_id>")
@load(job=services.visible_job)
@blp.response(200, JobOut)
def get_job(job):
    """A job's status and progress (the user who started it, or an admin; 404 for anyone
    else). While it is queued or running the answer carries ``Retry-After``; once it has
    succeeded, ``result`` (and ``result_url`` for a file) say what it produced; a failed
    job has ``error`` (problem+json), also when its process died (``job-stale``)."""
    headers = {}
    if job.status in (services.QUEUED, services.RUNNING):
        headers["Retry-After"] = str(POLL_SECONDS)
    return job, 200, headers


@blp.route("/jobs/<int:job_id>/result")
@load(job=services.visible_job)
@blp.response(
    200, BINARY, content_type="*/*", description="The job's file (application/zip for a ZIP)."
)
@blp.alt_response(409, description="The job has not succeeded (yet).")
def get_job_result(job):
    """The file a succeeded job produced (a certificates ZIP), as an attachment."""
    key, filename = services.result_file(job)
    response = send_file(
        get_storage().open(key),
        mimetype="application/zip" if filename.endswith(".zip") else None,
        conditional=False,
        etag=False,
        max_age=None,
    )
    return as_download(response, filename)
