"""The certificates' background jobs: the course ZIP and bulk issuance.

The app factory registers each handler with the job machinery (``jobs.register_handler``).
Each handler runs in the job's own session, reports ``progress(done, total)`` and returns
an ``Outcome``; the runner commits its work, stores its file and records the result.
"""

from __future__ import annotations

import tempfile

from lms.accounts.models import User
from lms.catalog.services import get_course
from lms.certificates import export, issuance, pdf
from lms.extensions import db
from lms.jobs.models import Job
from lms.jobs.services import Outcome

CERTIFICATES_ZIP = "certificates-zip"
CERTIFICATES_ISSUE = "certificates-issue"


def certificates_zip(job: Job, progress) -> Outcome:
    """Render the course's missing PDFs (committing each batch) and build its ZIP."""
    course_id = job.params["course_id"]
    out = tempfile.TemporaryFile()
    count = export.build_course_zip(
        course_id, out, progress=progress, after_batch=db.session.commit
    )
    return Outcome(
        {"course_id": course_id, "certificates": count, "size": out.tell()},
        file=out,
        filename=pdf.zip_filename(course_id),
        suffix=".zip",
    )


def certificates_issue(job: Job, progress) -> Outcome:
    """Bulk issuance, all or nothing like the synchronous endpoint. The result lists the
    serials issued (not whole certificates: 10k of them would bloat the job row) and every
    skipped enrolment with its reason."""
    params = job.params
    outcome = issuance.issue_certificates(
        get_course(params["course_id"]),
        actor=db.session.get(User, job.created_by_id),
        enrollment_ids=params.get("enrollment_ids"),
        override_reason=params.get("override_reason"),
        progress=progress,
    )
    issued = [c.serial for c in outcome["issued"]]
    return Outcome(
        {
            "course_id": params["course_id"],
            "issued_count": len(issued),
            "skipped_count": len(outcome["skipped"]),
            "issued": issued,
            "skipped": outcome["skipped"],
        }
    )


HANDLERS = {CERTIFICATES_ZIP: certificates_zip, CERTIFICATES_ISSUE: certificates_issue}
