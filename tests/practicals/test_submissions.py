"""Practical submissions over HTTP: files and their checks, storage, downloads and who may
read them, deadlines and extensions, attempts and the reopen rules."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.core import downloads
from lms.core.storage import KEY
from lms.extensions import db
from lms.practicals import files as checks
from lms.practicals.models import GradeRelease, Submission, SubmissionFile
from tests.builders import add_grade
from tests.http import (
    add_module,
    assert_problem,
    client_for,
    instructor_of,
    new_teacher,
    practical_setup,
    submit,
    submitted,
)
from tests.payloads import (
    DOCX_BYTES,
    JPEG_BYTES,
    PDF_BYTES,
    PNG_BYTES,
    PPTX_BYTES,
    THEORY,
    XLSX_BYTES,
    ZIP_BYTES,
    ooxml_bytes,
    pdf_bytes,
    zip_bytes,
)

NOW = datetime.now(UTC)
PAST, FUTURE = NOW - timedelta(days=2), NOW + timedelta(days=7)


@pytest.fixture
def setup(admin_client, teacher_client):
    return practical_setup(admin_client, teacher_client)


@pytest.fixture
def module_id(setup):
    return setup["module"]["id"]


def stored_files(app) -> list[Path]:
    return [p for p in Path(app.config["LMS_UPLOAD_DIR"]).rglob("*") if p.is_file()]


def submission_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Submission))


def stored_path(app, file_id: int) -> Path:
    key = db.session.scalar(select(SubmissionFile.storage_key).where(SubmissionFile.id == file_id))
    return Path(app.config["LMS_UPLOAD_DIR"]) / key


def raw_multipart(filename: bytes, content: bytes, *, boundary=b"xYzBoundary") -> bytes:
    """A multipart body with the file name exactly as given (the test client would escape
    it)."""
    return (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="files"; filename="' + filename + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )


# --- submitting files ----------------------------------------------------------------------------


def test_teacher_submits_pdf_docx_and_png_with_checked_metadata(
    app, teacher_client, setup, teacher
):
    module = setup["module"]
    body = submitted(
        teacher_client,
        module["id"],
        text="设备接入完成",
        files=[("实训报告.pdf", PDF_BYTES), ("report.docx", DOCX_BYTES), ("screen.png", PNG_BYTES)],
    )
    assert body["attempt_no"] == 1
    assert body["status"] == "submitted"
    assert body["late"] is False
    assert body["text"] == "设备接入完成"
    assert body["user_id"] == teacher.id and body["module_id"] == module["id"]
    assert body["grade"] is None
    assert datetime.fromisoformat(body["submitted_at"]).tzinfo is not None
    by_name = {f["filename"]: f for f in body["files"]}
    assert list(by_name) == ["实训报告.pdf", "report.docx", "screen.png"]
    for name, content, ctype in (
        ("实训报告.pdf", PDF_BYTES, "application/pdf"),
        (
            "report.docx",
            DOCX_BYTES,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("screen.png", PNG_BYTES, "image/png"),
    ):
        item = by_name[name]
        assert item["size"] == len(content)
        assert item["sha256"] == hashlib.sha256(content).hexdigest()
        assert item["content_type"] == ctype
        assert stored_path(app, item["id"]).read_bytes() == content


def test_submission_is_audited(teacher_client, module_id, teacher):
    body = submitted(teacher_client, module_id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "submission.created"))
    assert event.entity_id == str(body["id"]) and event.actor_id == teacher.id
    assert event.data["attempt_no"] == 1
    assert event.data["files"][0]["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("data.xlsx", XLSX_BYTES),
        ("slides.pptx", PPTX_BYTES),
        ("code.zip", ZIP_BYTES),
        ("photo.jpg", JPEG_BYTES),
        ("photo.JPEG", JPEG_BYTES),
        ("notes.txt", "实训笔记\n".encode()),
        ("README.md", "# 设备接入\n".encode("utf-8-sig")),
    ],
)
def test_common_formats_with_matching_content_are_accepted(
    teacher_client, module_id, filename, content
):
    body = submitted(teacher_client, module_id, files=[(filename, content)])
    assert body["files"][0]["size"] == len(content)


def test_text_only_submission_is_accepted(teacher_client, module_id):
    body = submitted(teacher_client, module_id, text="平台地址：http://10.0.0.8", files=[])
    assert body["files"] == [] and body["text"] == "平台地址：http://10.0.0.8"


def test_an_empty_file_input_is_not_a_file(teacher_client, module_id):
    assert_problem(submit(teacher_client, module_id, text=None, files=[("", b"")]), 422)
    body = submitted(teacher_client, module_id, text="只有文字", files=[("", b"")])
    assert body["files"] == []


def test_submission_needs_a_text_or_a_file(teacher_client, module_id):
    assert_problem(submit(teacher_client, module_id, text=None, files=[]), 422)
    assert_problem(submit(teacher_client, module_id, text="   ", files=[]), 422)


def _encrypted_zip() -> bytes:
    data = bytearray(zip_bytes({"a.txt": b"secret"}, compression=zipfile.ZIP_STORED))
    # set the "encrypted" flag in the local header and in the central directory entry
    data[6] |= 0x1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    return bytes(data)


def _zip_bomb() -> bytes:
    return zip_bytes({"zeros.bin": b"\x00" * (4 * 1024 * 1024)})


BAD_CONTENT = [
    ("report.pdf", b"MZ\x90\x00 this is an executable", "PDF"),
    ("report.pdf", b"junk" + PDF_BYTES, "PDF"),
    ("photo.png", JPEG_BYTES, "PNG"),
    ("photo.jpg", PNG_BYTES, "JPEG"),
    ("report.docx", ZIP_BYTES, "Word"),
    ("report.docx", XLSX_BYTES, "Word"),
    ("data.xlsx", DOCX_BYTES, "Excel"),
    ("slides.pptx", PDF_BYTES, "PowerPoint"),
    ("report.docx", DOCX_BYTES[: len(DOCX_BYTES) // 2], "Word"),
    ("code.zip", b"PK\x03\x04 broken", "zip"),
    ("code.zip", PDF_BYTES + ZIP_BYTES, "zip"),
    ("code.zip", _encrypted_zip(), "encrypted"),
    ("code.zip", _zip_bomb(), "too much"),
    ("code.zip", zip_bytes({"../../etc/cron.d/x": b"x"}), "unsafe"),
    ("notes.txt", "实训笔记".encode("gb18030"), "UTF-8"),
    ("notes.md", b"abc\x00def", "NUL"),
    ("empty.pdf", b"", "empty"),
]


@pytest.mark.parametrize(("filename", "content", "reason"), BAD_CONTENT)
def test_content_that_does_not_match_the_extension_is_refused(
    app, teacher_client, module_id, filename, content, reason
):
    before = stored_files(app)
    body = assert_problem(submit(teacher_client, module_id, files=[(filename, content)]), 422)
    assert filename in body["detail"] and reason in body["detail"]
    assert any(filename in message for message in body["errors"]["files"])
    assert submission_rows() == 0 and stored_files(app) == before


def test_refusal_message_is_bilingual_and_names_the_file(teacher_client, module_id):
    response = submit(
        teacher_client,
        module_id,
        files=[("报告.pdf", b"not a pdf")],
        headers={"Accept-Language": "zh-CN"},
    )
    body = assert_problem(response, 422)
    assert "报告.pdf" in body["detail"] and "PDF" in body["detail"]
    assert "文件“报告.pdf”无效" in body["detail"]
    assert "is not a PDF" in body["errors"]["files"][0]
    assert "无效" in body["errors"]["files"][0]


def test_one_bad_file_refuses_the_whole_submission(app, teacher_client, module_id):
    before = stored_files(app)
    response = submit(
        teacher_client, module_id, files=[("ok.pdf", PDF_BYTES), ("bad.pdf", b"nope")]
    )
    body = assert_problem(response, 422)
    assert "bad.pdf" in body["detail"] and "ok.pdf" not in body["detail"]
    assert submission_rows() == 0 and stored_files(app) == before


@pytest.mark.parametrize(
    "filename", ["setup.exe", "report.pdf.exe", "noextension", ".pdf", "run.sh"]
)
def test_extensions_outside_the_accepted_list_are_refused(teacher_client, module_id, filename):
    body = assert_problem(submit(teacher_client, module_id, files=[(filename, PDF_BYTES)]), 422)
    assert "not accepted" in body["detail"]


def test_module_list_of_extensions_restricts_the_formats(admin_client, teacher_client):
    module = practical_setup(admin_client, teacher_client, allowed_extensions=[".pdf"])["module"]
    body = assert_problem(
        submit(teacher_client, module["id"], files=[("screen.png", PNG_BYTES)]), 422
    )
    assert ".pdf" in body["detail"]
    assert submit(teacher_client, module["id"]).status_code == 201


def test_an_extension_without_a_content_check_is_stored_as_opaque_bytes(
    app, admin_client, teacher_client
):
    module = practical_setup(admin_client, teacher_client, allowed_extensions=[".dwg"])["module"]
    body = submitted(teacher_client, module["id"], files=[("drawing.dwg", b"AC1032 cad")])
    assert body["files"][0]["content_type"] == "application/octet-stream"
    path = stored_path(app, body["files"][0]["id"])
    assert path.suffix == ""  # no suffix that came from the user's side


def test_at_most_ten_files(teacher_client, module_id):
    files = [(f"part{i}.pdf", PDF_BYTES) for i in range(11)]
    body = assert_problem(submit(teacher_client, module_id, files=files), 422)
    assert "files" in body["errors"]
    assert (
        submitted(teacher_client, module_id, files=files[:10])["files"][9]["filename"]
        == "part9.pdf"
    )


def test_oversize_file_is_refused_with_413_and_nothing_is_written(
    app, admin_client, teacher_client
):
    module = practical_setup(admin_client, teacher_client, max_file_mb=1)["module"]
    before = stored_files(app)
    response = submit(
        teacher_client,
        module["id"],
        files=[("small.pdf", PDF_BYTES), ("big.pdf", pdf_bytes(1024 * 1024 + 1))],
    )
    body = assert_problem(response, 413, "file-too-large")
    assert "big.pdf" in body["detail"]
    assert submission_rows() == 0
    assert stored_files(app) == before
    exactly = submitted(teacher_client, module["id"], files=[("max.pdf", pdf_bytes(1024 * 1024))])
    assert exactly["files"][0]["size"] == 1024 * 1024


def test_default_file_limit_is_20_mb(admin_client, teacher_client):
    module = practical_setup(admin_client, teacher_client, max_file_mb=None)["module"]
    response = submit(
        teacher_client, module["id"], files=[("big.pdf", pdf_bytes(20 * 1024 * 1024 + 1))]
    )
    assert_problem(response, 413, "file-too-large")


def test_submission_must_be_multipart(teacher_client, module_id):
    response = teacher_client.post(
        f"/api/v1/modules/{module_id}/submissions", json={"text": "hello"}
    )
    assert_problem(response, 415)


def test_unknown_form_fields_are_refused(teacher_client, module_id):
    response = teacher_client.post(
        f"/api/v1/modules/{module_id}/submissions",
        data={"text": "x", "attempt_no": "7"},
        content_type="multipart/form-data",
    )
    assert_problem(response, 422)


# --- file names and storage keys -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\evil.pdf", "evil.pdf"),
        ("C:\\Users\\李明\\实训报告.pdf", "实训报告.pdf"),
        ("re\x00port\r\n\t.pdf", "report.pdf"),
        ("\u202egnp.pdf", "gnp.pdf"),
        ("...hidden.pdf", "hidden.pdf"),
        ("  spaced   name .pdf  ", "spaced name .pdf"),
        ('a<b>c:"d"|e?f*.pdf', "a_b_c__d__e_f_.pdf"),
        ("", "file"),
        ("../", "file"),
        ("....", "file"),
    ],
)
def test_file_names_are_sanitised(raw, expected):
    assert downloads.sanitize_filename(raw) == expected


def test_long_chinese_names_are_cut_to_255_bytes_keeping_the_extension():
    name = downloads.sanitize_filename("工业互联网平台设备接入实训报告" * 20 + ".pdf")
    assert len(name.encode("utf-8")) <= 255
    assert name.endswith(".pdf") and name.startswith("工业互联网")
    name.encode("utf-8").decode("utf-8")  # never cut inside a character


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (b"../../etc/passwd.pdf", "passwd.pdf"),
        (b"..\\\\evil.pdf", "evil.pdf"),
        ("C:\\\\Users\\\\实训报告.pdf".encode(), "实训报告.pdf"),
        (b"re\x01po\x7frt.pdf", "report.pdf"),
        (("设备接入实训报告" * 40 + ".pdf").encode(), None),
    ],
)
def test_hostile_file_names_are_stored_sanitised(app, teacher_client, module_id, raw, stored):
    response = teacher_client.post(
        f"/api/v1/modules/{module_id}/submissions",
        data=raw_multipart(raw, PDF_BYTES),
        content_type="multipart/form-data; boundary=xYzBoundary",
    )
    assert response.status_code == 201, response.get_json()
    item = response.get_json()["files"][0]
    if stored is None:
        assert len(item["filename"].encode()) <= 255 and item["filename"].endswith(".pdf")
    else:
        assert item["filename"] == stored
    key = db.session.scalar(
        select(SubmissionFile.storage_key).where(SubmissionFile.id == item["id"])
    )
    assert KEY.match(key) and key.endswith(".pdf")
    assert "passwd" not in key and "evil" not in key and "报告" not in key
    path = stored_path(app, item["id"]).resolve()
    assert path.is_relative_to(Path(app.config["LMS_UPLOAD_DIR"]).resolve())


# --- downloads and who may read ------------------------------------------------------------------


def _download(client, submission: dict, index: int = 0):
    return client.get(
        f"/api/v1/submissions/{submission['id']}/files/{submission['files'][index]['id']}"
    )


def _assert_attachment(response, content: bytes):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.data == content
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Length"] == str(len(content))


def test_owner_instructor_and_admin_download_the_file(
    app, users, admin_client, teacher_client, setup
):
    body = submitted(
        teacher_client,
        setup["module"]["id"],
        files=[("实训报告.pdf", PDF_BYTES), ("screen.png", PNG_BYTES)],
    )
    instructor = instructor_of(app, users, admin_client, setup["course"]["id"])
    for client in (teacher_client, instructor, admin_client):
        response = _download(client, body)
        _assert_attachment(response, PDF_BYTES)
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            "attachment; filename=file.pdf; "
            "filename*=UTF-8''%E5%AE%9E%E8%AE%AD%E6%8A%A5%E5%91%8A.pdf"
        )
        assert client.get(f"/api/v1/submissions/{body['id']}").status_code == 200
    png = _download(admin_client, body, 1)
    _assert_attachment(png, PNG_BYTES)
    assert png.headers["Content-Disposition"] == "attachment; filename=screen.png"


def test_other_teachers_and_other_instructors_get_404(
    app, users, admin_client, teacher_client, setup
):
    body = submitted(teacher_client, setup["module"]["id"])
    _, classmate = new_teacher(app, users, setup["course"]["id"])
    other_course = practical_setup(admin_client)["course"]
    outsider = instructor_of(app, users, admin_client, other_course["id"])
    for client in (classmate, outsider):
        assert_problem(client.get(f"/api/v1/submissions/{body['id']}"), 404)
        assert_problem(_download(client, body), 404)


def test_anonymous_callers_get_401(anon, teacher_client, module_id):
    body = submitted(teacher_client, module_id)
    assert_problem(anon.get(f"/api/v1/submissions/{body['id']}"), 401)
    assert_problem(_download(anon, body), 401)
    anon.fetch_csrf()  # a cookie client's POST is refused for CSRF before anything else
    assert_problem(submit(anon, module_id), 401)


def test_file_of_another_submission_is_404(app, users, admin_client, teacher_client, setup):
    mine = submitted(teacher_client, setup["module"]["id"])
    _, classmate = new_teacher(app, users, setup["course"]["id"])
    theirs = submitted(classmate, setup["module"]["id"])
    response = teacher_client.get(
        f"/api/v1/submissions/{mine['id']}/files/{theirs['files'][0]['id']}"
    )
    assert_problem(response, 404)
    assert_problem(
        admin_client.get(f"/api/v1/submissions/{mine['id']}/files/{theirs['files'][0]['id']}"), 404
    )
    assert_problem(teacher_client.get("/api/v1/submissions/999999"), 404)


def test_my_submissions_lists_own_attempts_newest_first(app, users, admin_client, teacher_client):
    setup = practical_setup(admin_client, teacher_client, reopen="until_pass")
    module_id = setup["module"]["id"]
    first = submitted(teacher_client, module_id)
    add_grade(first["id"], passed=False)
    second = submitted(teacher_client, module_id)
    _, classmate = new_teacher(app, users, setup["course"]["id"])
    submitted(classmate, module_id)
    response = teacher_client.get(f"/api/v1/modules/{module_id}/submissions/mine")
    assert response.status_code == 200
    assert [s["id"] for s in response.get_json()] == [second["id"], first["id"]]
    assert response.get_json()[1]["grade"]["passed"] is False
    assert "X-Pagination" in response.headers


def test_my_submissions_of_an_unseen_module_is_404(app, users, admin_client, setup):
    _, stranger = new_teacher(app, users)
    assert_problem(stranger.get(f"/api/v1/modules/{setup['module']['id']}/submissions/mine"), 404)


def test_my_submissions_runs_a_constant_number_of_queries(
    admin_client, teacher_client, count_queries
):
    module_id = practical_setup(
        admin_client, teacher_client, reopen="until_pass", max_attempts=None
    )["module"]["id"]
    url = f"/api/v1/modules/{module_id}/submissions/mine"
    first = submitted(teacher_client, module_id)
    add_grade(first["id"], passed=False)
    with count_queries() as one:
        assert teacher_client.get(url).status_code == 200
    for _ in range(3):
        attempt = submitted(teacher_client, module_id, files=[("a.pdf", PDF_BYTES)] * 2)
        add_grade(attempt["id"], passed=False)
    with count_queries() as four:
        assert len(teacher_client.get(url).get_json()) == 4
    assert len(four) == len(one)


# --- grades shown with the submission ------------------------------------------------------------


def test_owner_sees_the_grade_when_grades_are_released_immediately(teacher_client, module_id):
    body = submitted(teacher_client, module_id)
    add_grade(
        body["id"],
        passed=True,
        total=85,
        feedback="做得不错",
        scores=[{"criterion_id": 1, "points": 40}],
    )
    shown = teacher_client.get(f"/api/v1/submissions/{body['id']}").get_json()
    assert shown["status"] == "graded"
    assert shown["grade"]["total_points"] == 85 and shown["grade"]["passed"] is True
    assert shown["grade"]["feedback_html"] == "<p>做得不错</p>"
    assert shown["grade"]["scores"] == [{"criterion_id": 1, "points": 40}]
    assert shown["grade"]["graded_at"]


def test_with_manual_release_the_owner_sees_nothing_until_release(
    app, users, admin_client, teacher_client
):
    setup = practical_setup(
        admin_client, teacher_client, course={"grade_release": "manual"}, reopen="until_pass"
    )
    body = submitted(teacher_client, setup["module"]["id"])
    add_grade(body["id"], passed=False)
    hidden = teacher_client.get(f"/api/v1/submissions/{body['id']}").get_json()
    assert hidden["status"] == "submitted" and hidden["grade"] is None
    # resubmitting would reveal the failure: the grade is not released yet
    assert_problem(submit(teacher_client, setup["module"]["id"]), 409, "grade-not-released")
    staff = instructor_of(app, users, admin_client, setup["course"]["id"])
    seen = staff.get(f"/api/v1/submissions/{body['id']}").get_json()
    assert seen["status"] == "graded" and seen["grade"]["passed"] is False
    db.session.add(GradeRelease(module_id=setup["module"]["id"]))
    db.session.commit()
    released = teacher_client.get(f"/api/v1/submissions/{body['id']}").get_json()
    assert released["status"] == "graded" and released["grade"]["passed"] is False
    assert submitted(teacher_client, setup["module"]["id"])["attempt_no"] == 2


# --- who may submit ------------------------------------------------------------------------------


def test_withdrawn_and_waitlisted_teachers_cannot_submit(app, users, admin_client, teacher_client):
    setup = practical_setup(
        admin_client, teacher_client, course={"capacity": 1, "waitlist_enabled": True}
    )
    module_id = setup["module"]["id"]
    _, waiting = new_teacher(app, users, setup["course"]["id"])
    assert_problem(submit(waiting, module_id), 404)
    response = teacher_client.post(f"/api/v1/enrollments/{setup['enrollment']['id']}/withdraw")
    assert response.status_code == 200, response.get_json()
    assert_problem(submit(teacher_client, module_id), 404)
    assert submission_rows() == 0


def test_unenrolled_teachers_and_staff_cannot_submit(app, users, admin_client, setup):
    _, stranger = new_teacher(app, users)
    assert_problem(submit(stranger, setup["module"]["id"]), 404)
    assert_problem(submit(admin_client, setup["module"]["id"]), 404)


def test_theory_modules_take_no_submissions(admin_client, teacher_client, setup):
    theory = add_module(admin_client, setup["course"]["id"], THEORY)
    assert_problem(submit(teacher_client, theory["id"]), 409, "not-a-practical-module")


def test_closed_course_refuses_submissions(admin_client, teacher_client, setup):
    assert admin_client.post(f"/api/v1/courses/{setup['course']['id']}/close").status_code == 200
    assert_problem(submit(teacher_client, setup["module"]["id"]), 409, "course-not-open")


# --- deadlines and extensions --------------------------------------------------------------------


def test_submission_after_the_due_date_is_accepted_and_flagged_late(admin_client, teacher_client):
    module = practical_setup(admin_client, teacher_client, due_at=PAST, closes_at=FUTURE)["module"]
    assert submitted(teacher_client, module["id"])["late"] is True


def test_no_due_date_is_never_late(admin_client, teacher_client):
    module = practical_setup(admin_client, teacher_client, due_at=None, closes_at=None)["module"]
    assert submitted(teacher_client, module["id"])["late"] is False


def test_submission_after_the_cut_off_is_refused(app, admin_client, teacher_client):
    module = practical_setup(
        admin_client, teacher_client, due_at=PAST - timedelta(days=1), closes_at=PAST
    )["module"]
    before = stored_files(app)
    assert_problem(submit(teacher_client, module["id"]), 409, "closed")
    assert stored_files(app) == before


def _grant(client, module_id, user_id, due_at, reason="因公出差，延期提交"):
    return client.post(
        f"/api/v1/modules/{module_id}/extensions",
        json={"user_id": user_id, "due_at": due_at.isoformat(), "reason": reason},
    )


def test_extension_moves_the_due_date_for_that_teacher_only(
    app, users, admin_client, teacher_client, teacher
):
    setup = practical_setup(admin_client, teacher_client, due_at=PAST, closes_at=FUTURE)
    module_id = setup["module"]["id"]
    _, classmate = new_teacher(app, users, setup["course"]["id"])
    assert (
        _grant(admin_client, module_id, teacher.id, FUTURE - timedelta(days=1)).status_code == 201
    )
    assert submitted(teacher_client, module_id)["late"] is False
    assert submitted(classmate, module_id)["late"] is True


def test_extension_beyond_the_cut_off_extends_it_for_that_teacher(
    app, users, admin_client, teacher_client, teacher
):
    setup = practical_setup(
        admin_client, teacher_client, due_at=PAST - timedelta(days=1), closes_at=PAST
    )
    module_id = setup["module"]["id"]
    _, classmate = new_teacher(app, users, setup["course"]["id"])
    assert _grant(admin_client, module_id, teacher.id, FUTURE).status_code == 201
    assert submitted(teacher_client, module_id)["late"] is False
    assert_problem(submit(classmate, module_id), 409, "closed")


def test_expired_extension_still_flags_late(admin_client, teacher_client, teacher):
    setup = practical_setup(
        admin_client, teacher_client, due_at=PAST - timedelta(days=1), closes_at=FUTURE
    )
    module_id = setup["module"]["id"]
    assert _grant(admin_client, module_id, teacher.id, PAST).status_code == 201
    assert submitted(teacher_client, module_id)["late"] is True


def test_staff_grant_and_update_an_extension(app, users, admin_client, teacher_client, teacher):
    setup = practical_setup(admin_client, teacher_client)
    module = setup["module"]
    instructor = instructor_of(app, users, admin_client, setup["course"]["id"])
    due = datetime.fromisoformat(module["due_at"])
    created = _grant(instructor, module["id"], teacher.id, due + timedelta(days=2))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["user_id"] == teacher.id and body["full_name"] == "李明"
    assert body["enrollment_id"] == setup["enrollment"]["id"]
    assert body["reason"] == "因公出差，延期提交"
    updated = _grant(admin_client, module["id"], teacher.id, due + timedelta(days=3), "病假")
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["id"] == body["id"] and updated.get_json()["reason"] == "病假"
    listed = instructor.get(f"/api/v1/modules/{module['id']}/extensions")
    assert listed.status_code == 200
    assert [e["reason"] for e in listed.get_json()] == ["病假"]
    assert datetime.fromisoformat(listed.get_json()[0]["due_at"]) == due + timedelta(days=3)
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "extension.granted")
    ).all()
    assert len(events) == 2 and events[1].data["reason"] == "病假"


def test_extension_needs_an_enrolled_teacher_a_later_date_and_a_reason(
    app, users, admin_client, teacher_client, teacher
):
    setup = practical_setup(admin_client, teacher_client)
    module = setup["module"]
    due = datetime.fromisoformat(module["due_at"])
    stranger = users.create(role="teacher")
    body = assert_problem(
        _grant(admin_client, module["id"], stranger.id, due + timedelta(days=1)), 422
    )
    assert "user_id" in body["errors"]
    body = assert_problem(_grant(admin_client, module["id"], teacher.id, due), 422)
    assert "due_at" in body["errors"]
    for reason in ("", "   ", "x" * 1001):
        body = assert_problem(
            _grant(admin_client, module["id"], teacher.id, due + timedelta(days=1), reason), 422
        )
        assert "reason" in body["errors"]
    response = admin_client.post(
        f"/api/v1/modules/{module['id']}/extensions",
        json={"user_id": teacher.id, "due_at": (due + timedelta(days=1)).isoformat()},
    )
    assert "reason" in assert_problem(response, 422)["errors"]


def test_withdrawn_teacher_gets_no_extension(admin_client, teacher_client, teacher, setup):
    teacher_client.post(f"/api/v1/enrollments/{setup['enrollment']['id']}/withdraw")
    due = datetime.fromisoformat(setup["module"]["due_at"])
    assert_problem(
        _grant(admin_client, setup["module"]["id"], teacher.id, due + timedelta(days=1)), 422
    )


def test_only_course_staff_manage_extensions(
    app, users, admin_client, teacher_client, teacher, setup
):
    module_id = setup["module"]["id"]
    due = datetime.fromisoformat(setup["module"]["due_at"]) + timedelta(days=1)
    assert_problem(_grant(teacher_client, module_id, teacher.id, due), 403)
    assert_problem(teacher_client.get(f"/api/v1/modules/{module_id}/extensions"), 403)
    other = practical_setup(admin_client)["course"]
    outsider = instructor_of(app, users, admin_client, other["id"])
    assert_problem(_grant(outsider, module_id, teacher.id, due), 404)
    assert_problem(outsider.get(f"/api/v1/modules/{module_id}/extensions"), 404)


def test_extensions_are_for_practical_modules(admin_client, teacher, setup):
    theory = add_module(admin_client, setup["course"]["id"], THEORY)
    assert_problem(
        _grant(admin_client, theory["id"], teacher.id, FUTURE), 409, "not-a-practical-module"
    )


# --- attempts and reopening ----------------------------------------------------------------------


@pytest.mark.parametrize("passed", [False, True])
def test_an_attempt_graded_before_release_answers_grade_not_released_whatever_its_result(
    admin_client, teacher_client, passed
):
    setup = practical_setup(
        admin_client, teacher_client, course={"grade_release": "manual"}, reopen="until_pass"
    )
    body = submitted(teacher_client, setup["module"]["id"])
    add_grade(body["id"], passed=passed)
    problem = assert_problem(submit(teacher_client, setup["module"]["id"]), 409)
    assert problem["code"] == "grade-not-released"
    assert "not graded" not in problem["detail"]


def test_no_second_attempt_while_the_first_awaits_its_grade(teacher_client, module_id):
    submitted(teacher_client, module_id)
    assert_problem(submit(teacher_client, module_id), 409, "awaiting-grade")


def test_no_attempt_after_passing(teacher_client, module_id):
    first = submitted(teacher_client, module_id)
    add_grade(first["id"], passed=True)
    assert_problem(submit(teacher_client, module_id), 409, "already-passed")


def test_manual_reopen_needs_a_return_for_revision(teacher_client, module_id):
    first = submitted(teacher_client, module_id)
    add_grade(first["id"], passed=False)
    assert_problem(submit(teacher_client, module_id), 409, "not-reopened")


def test_returned_attempt_allows_the_next_one(teacher_client, module_id):
    first = submitted(teacher_client, module_id)
    add_grade(first["id"], passed=False, status="returned")
    second = submitted(teacher_client, module_id)
    assert second["attempt_no"] == 2 and second["status"] == "submitted"


def test_until_pass_reopens_a_failed_attempt(admin_client, teacher_client):
    module_id = practical_setup(admin_client, teacher_client, reopen="until_pass")["module"]["id"]
    first = submitted(teacher_client, module_id)
    add_grade(first["id"], passed=False)
    assert submitted(teacher_client, module_id)["attempt_no"] == 2


@pytest.mark.parametrize(
    ("reopen", "status"), [("until_pass", "graded"), ("manual", "returned"), ("manual", "graded")]
)
def test_exhausted_attempts_are_final(admin_client, teacher_client, reopen, status):
    module_id = practical_setup(admin_client, teacher_client, reopen=reopen, max_attempts=2)[
        "module"
    ]["id"]
    first = submitted(teacher_client, module_id)
    add_grade(first["id"], passed=False, status="returned" if reopen == "manual" else status)
    second = submitted(teacher_client, module_id)
    add_grade(second["id"], passed=False, status=status)
    assert_problem(submit(teacher_client, module_id), 409, "no-attempts-left")


def test_attempts_are_unlimited_without_max_attempts(admin_client, teacher_client):
    module_id = practical_setup(
        admin_client, teacher_client, reopen="until_pass", max_attempts=None
    )["module"]["id"]
    for number in range(1, 5):
        body = submitted(teacher_client, module_id)
        assert body["attempt_no"] == number
        add_grade(body["id"], passed=False)


def test_a_lost_race_for_the_attempt_number_is_409_and_leaves_no_file(
    app, monkeypatch, teacher_client, module_id
):
    from lms.practicals import submissions

    submitted(teacher_client, module_id)
    before = stored_files(app)
    # as if a concurrent request had read the state before the first attempt existed
    monkeypatch.setattr(submissions, "next_attempt_no", lambda module, enrollment: 1)
    assert_problem(submit(teacher_client, module_id), 409, "concurrent-submission")
    assert stored_files(app) == before and submission_rows() == 1


def test_files_are_deleted_when_the_request_fails_after_storing_them(
    app, monkeypatch, teacher_client, module_id
):
    from lms.practicals import submissions

    def broken(*args, **kwargs):
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(submissions.audit, "record", broken)
    before = stored_files(app)
    response = submit(
        teacher_client, module_id, files=[("a.pdf", PDF_BYTES), ("b.docx", DOCX_BYTES)]
    )
    assert_problem(response, 500, "internal-error")
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert stored_files(app) == before and submission_rows() == 0


# --- the catalogue respects submissions ----------------------------------------------------------


def test_practical_module_with_submissions_cannot_be_deleted_or_get_a_new_rubric(
    admin_client, teacher_client, module_id
):
    submitted(teacher_client, module_id)
    assert_problem(admin_client.delete(f"/api/v1/modules/{module_id}"), 409, "module-in-use")
    response = admin_client.patch(
        f"/api/v1/modules/{module_id}", json={"rubric": [{"title": "新标准", "max_points": 100}]}
    )
    assert_problem(response, 409, "module-in-use")
    # other settings still change: the deadline, say
    response = admin_client.patch(f"/api/v1/modules/{module_id}", json={"max_attempts": 5})
    assert response.status_code == 200, response.get_json()


def test_practical_module_without_submissions_can_be_deleted(admin_client, module_id):
    assert admin_client.delete(f"/api/v1/modules/{module_id}").status_code == 204


def test_client_helper_logs_in(app, users):
    user = users.create(role="teacher")
    assert client_for(app, user).get("/api/v1/auth/me").get_json()["id"] == user.id


def test_ooxml_builder_matches_its_kind():
    assert checks.check_content(io.BytesIO(ooxml_bytes("xl")), ".xlsx").extension == ".xlsx"


# --- real concurrency (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.real_db
@pytest.mark.slow
def test_simultaneous_submissions_of_one_teacher_make_one_attempt(app):
    from tests.builders import create_users
    from tests.races import fire_together

    (admin_email,) = create_users(app, 1, role="admin")
    (teacher_email,) = create_users(app, 1)
    clients = [client_for(app, teacher_email, own_address=True) for _ in range(8)]
    setup = practical_setup(client_for(app, admin_email, own_address=True), clients[0])
    module_id = setup["module"]["id"]
    before = len(stored_files(app))

    results = fire_together([lambda c=c: submit(c, module_id) for c in clients])

    assert sorted(status for status, _ in results) == [201] + [409] * 7, results
    codes = {body["code"] for status, body in results if status == 409}
    assert codes <= {"awaiting-grade", "concurrent-submission"}
    with app.app_context():
        rows = db.session.scalars(select(Submission).where(Submission.module_id == module_id))
        assert [s.attempt_no for s in rows] == [1]
    assert len(stored_files(app)) == before + 1  # the refused attempts left no file behind
