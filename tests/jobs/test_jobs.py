"""Background jobs: 202 Accepted with a job resource for long work (certificate ZIP export,
bulk issuance), its status and progress, its result, failures and stale jobs.

The suite runs jobs with ``LMS_JOBS_RUNNER=inline`` (in the request, after its commit:
deterministic); tests that need the queue switch to ``worker`` and drive
``jobs.run_worker`` / ``jobs.execute`` themselves; one test runs a real thread.
"""

from __future__ import annotations

import io
import threading
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from lms.audit.models import AuditEvent
from lms.audit.services import verify_chain
from lms.certificates.models import Certificate
from lms.core.db import utcnow
from lms.core.errors import Conflict
from lms.extensions import db
from lms.jobs import services as jobs
from lms.jobs.models import Job
from tests import evidence
from tests.builders import UserFactory
from tests.http import (
    assert_problem,
    certificate_course,
    client_for,
    eligible_enrollment,
    issued_certificate,
)

ASYNC = {"Prefer": "respond-async"}


def zip_url(course_id: int) -> str:
    return f"/api/v1/courses/{course_id}/certificates.zip"


def issue_url(course_id: int) -> str:
    return f"/api/v1/courses/{course_id}/certificates"


@pytest.fixture
def worker_runner(app, monkeypatch):
    """Jobs stay queued until the test runs them (as with ``flask lms run-jobs``)."""
    monkeypatch.setitem(app.config, "LMS_JOBS_RUNNER", "worker")


@pytest.fixture
def course_with_certificates(admin_client, users):
    course = certificate_course(admin_client)
    setups = [
        issued_certificate(admin_client, users, course, full_name=name)
        for name in ("欧阳晓燕", "李明", "王芳")
    ]
    return course, setups


def accepted_job(response) -> dict:
    """Assert a 202 Accepted answer pointing at its job; return the job document."""
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{body['id']}"
    assert response.headers["Retry-After"].isdigit()
    assert "type" not in body and body["status"] in ("queued", "running")
    return body


# --- the certificates ZIP as a job ------------------------------------------------------------


def test_zip_export_with_prefer_respond_async_is_a_job_whose_result_is_the_archive(
    admin_client, course_with_certificates
):
    course, setups = course_with_certificates

    response = admin_client.get(zip_url(course["id"]), headers=ASYNC)

    job = accepted_job(response)
    assert response.headers["Preference-Applied"] == "respond-async"
    assert job["kind"] == "certificates-zip" and job["progress"]["total"] == 3
    status = admin_client.get(f"/api/v1/jobs/{job['id']}")
    assert status.status_code == 200
    done = status.get_json()
    assert done["status"] == "succeeded", done
    assert done["error"] is None and "Retry-After" not in status.headers
    # 3 PDFs rendered, then 3 entries written
    assert done["progress"] == {"done": 6, "total": 6, "percent": 100.0}
    assert done["result"]["certificates"] == 3
    assert done["started_at"] <= done["finished_at"]

    download = admin_client.get(done["result_url"])

    assert download.status_code == 200
    assert download.mimetype == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "private, no-store"
    assert len(download.data) == done["result"]["size"]
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert archive.testzip() is None
        serials = sorted(s["certificate"]["serial"] for s in setups)
        assert [name.split("_")[0] for name in archive.namelist()] == serials
        first = archive.read(archive.namelist()[0])
    # the PDFs the job rendered are the stored ones: a later download gives the same bytes
    assert admin_client.get(f"/api/v1/certificates/{serials[0]}/pdf").data == first


def test_a_course_above_the_sync_limit_gets_a_job_and_a_small_one_a_stream(
    app, admin_client, course_with_certificates, monkeypatch
):
    course, _ = course_with_certificates
    monkeypatch.setitem(app.config, "LMS_JOB_SYNC_LIMIT", 3)
    assert admin_client.get(zip_url(course["id"])).status_code == 200  # 3 rows: synchronous

    monkeypatch.setitem(app.config, "LMS_JOB_SYNC_LIMIT", 2)
    response = admin_client.get(zip_url(course["id"]))

    job = accepted_job(response)
    assert "Preference-Applied" not in response.headers  # large, not asked for
    assert admin_client.get(f"/api/v1/jobs/{job['id']}").get_json()["status"] == "succeeded"


def test_zip_job_of_an_unknown_course_is_404_and_creates_no_job(admin_client):
    before = db.session.scalar(select(func.count()).select_from(Job))
    assert_problem(admin_client.get(zip_url(999_999), headers=ASYNC), 404)
    assert db.session.scalar(select(func.count()).select_from(Job)) == before


# --- who sees a job ---------------------------------------------------------------------------


def test_a_job_is_visible_to_its_owner_and_admins_only(
    app, admin_client, course_with_certificates, anon
):
    course, setups = course_with_certificates
    job = accepted_job(admin_client.get(zip_url(course["id"]), headers=ASYNC))
    other_admin = client_for(app, UserFactory().create(role="admin"))
    holder = client_for(app, setups[0]["user"])
    urls = (f"/api/v1/jobs/{job['id']}", f"/api/v1/jobs/{job['id']}/result")

    for url in urls:
        assert other_admin.get(url).status_code == 200
        assert_problem(holder.get(url), 404)  # not theirs: never revealed
        assert_problem(anon.get(url), 401)
    assert_problem(admin_client.get("/api/v1/jobs/999999"), 404)
    evidence.add("job visibility checks", 2 * len(urls) + 1)


# --- the queue: worker, progress, failure, stale -----------------------------------------------


def test_a_queued_job_has_no_result_yet_and_the_worker_runs_it(
    admin_client, course_with_certificates, worker_runner
):
    course, _ = course_with_certificates
    job = accepted_job(admin_client.get(zip_url(course["id"]), headers=ASYNC))
    status = admin_client.get(f"/api/v1/jobs/{job['id']}")
    assert status.get_json()["status"] == "queued"
    assert status.headers["Retry-After"] == "2"
    body = assert_problem(admin_client.get(f"/api/v1/jobs/{job['id']}/result"), 409)
    assert body["code"] == "job-not-finished" and body["job_status"] == "queued"

    assert jobs.run_worker(once=True) == 1

    assert admin_client.get(f"/api/v1/jobs/{job['id']}").get_json()["status"] == "succeeded"
    assert admin_client.get(f"/api/v1/jobs/{job['id']}/result").status_code == 200
    assert jobs.run_worker(once=True) == 0  # nothing left; a job runs once
    assert jobs.execute(job["id"]) is False


def test_a_job_is_claimed_once(admin, worker_runner):
    job = jobs.create_job("certificates-zip", {"course_id": 1}, actor=admin)
    db.session.commit()
    assert jobs.claim(job.id) == job.id
    assert jobs.claim(job.id) is None  # already running
    assert jobs.claim() is None  # and not offered to another worker


def test_a_domain_error_fails_the_job_with_a_problem_and_keeps_none_of_its_work(
    admin, worker_runner, monkeypatch
):
    def failing(job, progress):
        progress(1, 2)
        admin.full_name = "改过的名字"  # work that must be rolled back
        db.session.flush()
        raise Conflict("The course was archived meanwhile.", "研修班已归档。")

    monkeypatch.setitem(jobs.HANDLERS, "test-failing", failing)
    job = jobs.create_job("test-failing", {}, actor=admin)
    db.session.commit()

    assert jobs.execute(job.id) is True

    db.session.refresh(job)
    db.session.refresh(admin)
    assert job.status == "failed" and job.finished_at is not None
    assert job.error["status"] == 409 and job.error["code"] == "conflict"
    assert job.error["detail_zh"] == "研修班已归档。"
    assert admin.full_name == "王教务"


def test_an_unexpected_error_fails_the_job_without_a_traceback(
    admin, worker_runner, monkeypatch, caplog
):
    def crashing(job, progress):
        raise RuntimeError("secret internals /srv/lms")

    monkeypatch.setitem(jobs.HANDLERS, "test-crashing", crashing)
    job = jobs.create_job("test-crashing", {}, actor=admin)
    db.session.commit()

    jobs.execute(job.id)

    db.session.refresh(job)
    assert job.status == "failed" and job.error["code"] == "job-failed"
    assert "secret" not in str(job.error) and "Traceback" not in str(job.error)
    assert "secret internals" in caplog.text  # logged for the operator


def test_a_running_job_without_heartbeat_is_reported_stale(app, admin, admin_client, worker_runner):
    job = jobs.create_job("certificates-zip", {"course_id": 1}, actor=admin)
    db.session.commit()
    jobs.claim(job.id)
    old = utcnow() - timedelta(seconds=app.config["LMS_JOB_STALE_SECONDS"] + 1)
    db.session.execute(update(Job).where(Job.id == job.id).values(heartbeat_at=old))
    db.session.commit()

    body = admin_client.get(f"/api/v1/jobs/{job.id}").get_json()

    assert body["status"] == "failed"
    assert body["error"]["code"] == "job-stale"
    assert body["finished_at"] is not None


def test_a_running_job_with_a_fresh_heartbeat_is_not_stale(admin, admin_client, worker_runner):
    job = jobs.create_job("certificates-zip", {"course_id": 1}, actor=admin)
    db.session.commit()
    jobs.claim(job.id)
    assert admin_client.get(f"/api/v1/jobs/{job.id}").get_json()["status"] == "running"


def test_the_thread_runner_fails_a_queued_job_whose_thread_never_started(
    app, admin, admin_client, monkeypatch
):
    monkeypatch.setitem(app.config, "LMS_JOBS_RUNNER", "thread")
    job = Job(kind="certificates-zip", params={"course_id": 1}, created_by_id=admin.id)
    job.created_at = utcnow() - timedelta(seconds=app.config["LMS_JOB_STALE_SECONDS"] + 1)
    db.session.add(job)
    db.session.commit()

    assert admin_client.get(f"/api/v1/jobs/{job.id}").get_json()["error"]["code"] == "job-stale"


def test_progress_is_written_as_the_job_goes(admin, worker_runner, monkeypatch):
    seen = []

    def counting(job, progress):
        for done in range(1, 4):
            progress(done, 3)
            seen.append(db.session.get(Job, job.id, populate_existing=True).progress_done)
        return jobs.Outcome({"counted": 3})

    monkeypatch.setattr(jobs, "PROGRESS_INTERVAL", 0)
    monkeypatch.setitem(jobs.HANDLERS, "test-counting", counting)
    job = jobs.create_job("test-counting", {}, actor=admin)
    db.session.commit()

    jobs.execute(job.id, separate_progress=False)

    assert seen == [1, 2, 3]
    db.session.refresh(job)
    assert (job.status, job.result, job.progress_done, job.progress_total) == (
        "succeeded",
        {"counted": 3},
        3,
        3,
    )
    assert job.heartbeat_at >= job.started_at


# --- bulk issuance as a job -------------------------------------------------------------------


def _eligible_course(admin_client, users, n: int) -> tuple[dict, list[dict]]:
    course = certificate_course(admin_client)
    return course, [eligible_enrollment(admin_client, users, course) for _ in range(n)]


def test_bulk_issuance_with_prefer_respond_async_issues_in_a_job(admin_client, users):
    course, setups = _eligible_course(admin_client, users, 4)
    events_before = db.session.scalar(select(func.count()).select_from(AuditEvent))

    job = accepted_job(
        admin_client.post(issue_url(course["id"]), json={"all_eligible": True}, headers=ASYNC)
    )

    assert job["kind"] == "certificates-issue" and job["progress"]["total"] == 4
    done = admin_client.get(f"/api/v1/jobs/{job['id']}").get_json()
    assert done["status"] == "succeeded", done
    assert done["result"]["issued_count"] == 4 and done["result"]["skipped"] == []
    assert done["result_url"] is None  # a JSON result, no file
    issued = db.session.scalars(
        select(Certificate.serial).where(Certificate.course_id == course["id"])
    ).all()
    assert sorted(issued) == sorted(done["result"]["issued"])
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert events - events_before == 4 and verify_chain()[1] is None
    assert_problem(admin_client.get(done_result_url(done)), 404)

    again = admin_client.post(issue_url(course["id"]), json={"all_eligible": True}, headers=ASYNC)
    repeat = admin_client.get(again.headers["Location"]).get_json()
    assert repeat["result"]["issued_count"] == 0
    assert {s["reason"] for s in repeat["result"]["skipped"]} == {"already_issued"}


def done_result_url(job: dict) -> str:
    return f"/api/v1/jobs/{job['id']}/result"


def test_invalid_bulk_issuance_is_refused_before_any_job_is_created(admin_client, users):
    course, _ = _eligible_course(admin_client, users, 1)
    other, others = _eligible_course(admin_client, users, 1)
    before = db.session.scalar(select(func.count()).select_from(Job))

    override = admin_client.post(
        issue_url(course["id"]),
        json={"all_eligible": True, "override_reason": "补发"},
        headers=ASYNC,
    )
    foreign = admin_client.post(
        issue_url(course["id"]),
        json={"enrollment_ids": [others[0]["enrollment"]["id"]]},
        headers=ASYNC,
    )

    assert "override_reason" in assert_problem(override, 422)["errors"]
    assert "enrollment_ids" in assert_problem(foreign, 422)["errors"]
    assert db.session.scalar(select(func.count()).select_from(Job)) == before


def test_a_dry_run_stays_synchronous(admin_client, users):
    course, _ = _eligible_course(admin_client, users, 2)
    response = admin_client.post(
        issue_url(course["id"]), json={"all_eligible": True, "dry_run": True}, headers=ASYNC
    )
    assert response.status_code == 200
    assert len(response.get_json()["issued"]) == 2


def test_issuance_reports_progress_after_each_batch(admin, admin_client, users, monkeypatch):
    from lms.catalog.models import Course
    from lms.certificates import issuance

    monkeypatch.setattr(issuance, "WRITE_BATCH", 2)
    course, _ = _eligible_course(admin_client, users, 5)
    calls = []

    result = issuance.issue_certificates(
        db.session.get(Course, course["id"]),
        actor=admin,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert len(result["issued"]) == 5
    assert calls == [(2, 5), (4, 5), (5, 5)]
    serials = [c.serial for c in result["issued"]]
    assert serials == sorted(serials)


# --- one real thread --------------------------------------------------------------------------


@pytest.mark.real_db
def test_the_thread_runner_runs_the_job_in_a_thread_of_the_accepting_process(app, monkeypatch):
    monkeypatch.setitem(app.config, "LMS_JOBS_RUNNER", "thread")
    factory = UserFactory()
    with app.app_context():
        admin = factory.create(role="admin")
        client = client_for(app, admin)
        course = certificate_course(client)
        for name in ("欧阳晓燕", "李明"):
            issued_certificate(client, factory, course, full_name=name)
            db.session.commit()

    job = accepted_job(client.get(zip_url(course["id"]), headers=ASYNC))
    worker = next((t for t in threading.enumerate() if t.name == f"lms-job-{job['id']}"), None)
    if worker is not None:  # else it has already finished
        worker.join(timeout=120)
        assert not worker.is_alive()
    done = client.get(f"/api/v1/jobs/{job['id']}").get_json()
    assert done["status"] == "succeeded", done
    download = client.get(done["result_url"])
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert len(archive.namelist()) == 2


def test_bulk_issuance_above_the_sync_limit_is_a_job_and_below_it_is_not(
    app, admin_client, users, monkeypatch
):
    course, setups = _eligible_course(admin_client, users, 3)
    monkeypatch.setitem(app.config, "LMS_JOB_SYNC_LIMIT", 2)
    named = [s["enrollment"]["id"] for s in setups]

    small = admin_client.post(issue_url(course["id"]), json={"enrollment_ids": named[:2]})
    large = admin_client.post(issue_url(course["id"]), json={"all_eligible": True})

    assert small.status_code == 200 and len(small.get_json()["issued"]) == 2
    job = accepted_job(large)
    assert "Preference-Applied" not in large.headers
    done = admin_client.get(f"/api/v1/jobs/{job['id']}").get_json()
    assert done["result"]["issued_count"] == 1
    assert [s["reason"] for s in done["result"]["skipped"]] == ["already_issued"] * 2
