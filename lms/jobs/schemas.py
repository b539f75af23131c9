"""Job schemas: the status document of ``GET /api/v1/jobs/{id}`` (also the 202 body)."""

from __future__ import annotations

from marshmallow import Schema, fields

from lms.core.schemas import AwareDateTime
from lms.jobs.models import Job


def _progress(job: Job) -> dict:
    total = job.progress_total
    percent = None if not total else round(100 * min(job.progress_done, total) / total, 1)
    return {"done": job.progress_done, "total": total, "percent": percent}


def _result_url(job: Job) -> str | None:
    if job.status != "succeeded" or job.result_key is None:
        return None
    return f"/api/v1/jobs/{job.id}/result"


class JobProgressOut(Schema):
    done = fields.Integer()
    total = fields.Integer(allow_none=True)
    percent = fields.Float(allow_none=True)


class JobOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "certificates-zip or certificates-issue"})
    status = fields.String(metadata={"description": "queued, running, succeeded or failed"})
    progress = fields.Function(_progress, metadata={"description": "{done, total, percent}"})
    params = fields.Dict()
    result = fields.Dict(
        allow_none=True, metadata={"description": "What the job produced (when succeeded)."}
    )
    result_url = fields.Function(
        _result_url, metadata={"description": "Download of the file it produced, if any."}
    )
    error = fields.Dict(
        allow_none=True,
        metadata={"description": "Why it failed: a problem+json body (code, detail)."},
    )
    created_by_id = fields.Integer()
    created_at = AwareDateTime()
    started_at = AwareDateTime(allow_none=True)
    finished_at = AwareDateTime(allow_none=True)
    heartbeat_at = AwareDateTime(allow_none=True)
