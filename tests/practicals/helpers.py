"""Builders for practical tests: a course with a practical module, enrolled teachers, files
that pass the content checks, submissions over HTTP, and grades written straight to the
database (for states the grading endpoint would produce).

Stable API (also used by the grading tests):

    setup = practical_setup(admin_client, teacher_client, **module_overrides)
        -> {"course": dict, "module": dict, "enrollment": dict | None}
    response = submit(client, module_id, text="...", files=[("report.pdf", PDF_BYTES)])
    body = submitted(client, module_id, ...)            # asserts 201, returns the JSON
    client = client_for(app, user)                      # a logged-in ApiClient
    teacher, client = new_teacher(app, users, course_id) # created, logged in and enrolled
    client = instructor_of(app, users, admin_client, course_id)
    grade = set_grade(submission_id, passed=True, status="graded")  # direct DB write
    PDF_BYTES, PNG_BYTES, JPEG_BYTES, DOCX_BYTES, XLSX_BYTES, PPTX_BYTES, ZIP_BYTES,
    pdf_bytes(size=None), ooxml_bytes(kind), zip_bytes({name: bytes})
"""

from __future__ import annotations

import io
import itertools
import zipfile
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lms.extensions import db
from tests.catalog.helpers import PRACTICAL
from tests.factories import ApiClient, client_for

_codes = itertools.count(1)

# --- files that pass the content checks ----------------------------------------------------------


def pdf_bytes(size: int | None = None) -> bytes:
    """A small PDF; padded with a comment to exactly ``size`` bytes when given."""
    body = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n"
    )
    end = b"%%EOF\n"
    if size is None:
        return body + end
    padding = size - len(body) - len(end) - 2
    assert padding >= 0
    return body + b"%" + b"x" * padding + b"\n" + end


def png_bytes() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def zip_bytes(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/xml"/></Types>'
)
_MAIN_PART = {"word": "word/document.xml", "xl": "xl/workbook.xml", "ppt": "ppt/presentation.xml"}


def ooxml_bytes(kind: str = "word") -> bytes:
    """A minimal Office Open XML package: ``kind`` is word (docx), xl (xlsx) or ppt (pptx)."""
    return zip_bytes(
        {
            "[Content_Types].xml": _CONTENT_TYPES,
            "_rels/.rels": b"<Relationships/>",
            _MAIN_PART[kind]: "<doc>实训报告</doc>".encode(),
        }
    )


PDF_BYTES = pdf_bytes()
PNG_BYTES = png_bytes()
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
DOCX_BYTES = ooxml_bytes("word")
XLSX_BYTES = ooxml_bytes("xl")
PPTX_BYTES = ooxml_bytes("ppt")
ZIP_BYTES = zip_bytes({"src/main.py": b"print('hello')\n", "README.md": "# 设备接入".encode()})

# --- course, module, people ----------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def practical_defaults() -> dict:
    """The practical module payload, due in a week and closing in two, any common format."""
    now = datetime.now(UTC)
    return {
        **PRACTICAL,
        "due_at": _iso(now + timedelta(days=7)),
        "closes_at": _iso(now + timedelta(days=14)),
        "allowed_extensions": None,
    }


def enrol(client, course_id: int) -> dict:
    """Self-enrol the client's user; asserts 201 and returns the enrolment."""
    response = client.post(f"/api/v1/courses/{course_id}/enrollments", json={})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def practical_setup(
    admin_client, teacher_client=None, *, course: dict | None = None, **module_overrides
) -> dict:
    """A published course with one practical module; ``teacher_client`` (if given) enrols.

    ``module_overrides`` change the module payload (datetimes may be passed as datetime
    objects, ``None`` removes a deadline); ``course`` overrides course fields.
    Returns {"course", "module", "enrollment"} (JSON bodies; enrollment None without teacher).
    """
    payload = {
        "code": f"GZ-PRAC-{next(_codes)}",
        "title": "工业互联网产教融合教师研修·广州站",
        "host_institution": "广东轻工职业技术学院",
        "location": "广州",
        "starts_on": "2020-12-02",
        "ends_on": "2020-12-08",
        **(course or {}),
    }
    response = admin_client.post("/api/v1/courses", json=payload)
    assert response.status_code == 201, response.get_json()
    course_body = response.get_json()
    module_payload = {
        **practical_defaults(),
        **{k: _iso(v) if isinstance(v, datetime) else v for k, v in module_overrides.items()},
    }
    response = admin_client.post(
        f"/api/v1/courses/{course_body['id']}/modules", json=module_payload
    )
    assert response.status_code == 201, response.get_json()
    module = response.get_json()
    response = admin_client.post(f"/api/v1/courses/{course_body['id']}/publish")
    assert response.status_code == 200, response.get_json()
    enrollment = enrol(teacher_client, course_body["id"]) if teacher_client else None
    return {"course": response.get_json(), "module": module, "enrollment": enrollment}


def new_teacher(app, users, course_id: int | None = None, **fields):
    """A new teacher, logged in, and enrolled in ``course_id`` when given: (user, client)."""
    user = users.create(role="teacher", **fields)
    client = client_for(app, user)
    if course_id is not None:
        enrol(client, course_id)
    return user, client


def instructor_of(app, users, admin_client, course_id: int, **fields) -> ApiClient:
    """A new instructor assigned to the course, logged in."""
    user = users.create(role="instructor", **fields)
    response = admin_client.put(f"/api/v1/courses/{course_id}/instructors/{user.id}")
    assert response.status_code in (200, 201), response.get_json()
    return client_for(app, user)


# --- submissions ---------------------------------------------------------------------------------

DEFAULT_FILES = (("report.pdf", PDF_BYTES),)


def submit(
    client,
    module_id: int,
    text: str | None = "实训报告：设备已接入平台。",
    files=DEFAULT_FILES,
    **kwargs,
):
    """POST a multipart submission; ``files`` is a list of (filename, bytes). Returns the
    response (no assertion)."""
    data: dict = {"files": [(io.BytesIO(content), name) for name, content in files]}
    if text is not None:
        data["text"] = text
    return client.post(
        f"/api/v1/modules/{module_id}/submissions",
        data=data,
        content_type="multipart/form-data",
        **kwargs,
    )


def submitted(client, module_id: int, **kwargs) -> dict:
    """``submit`` that asserts 201 and returns the submission."""
    response = submit(client, module_id, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def set_grade(
    submission_id: int,
    *,
    passed: bool,
    status: str = "graded",
    total_points: Decimal | int | None = None,
    feedback: str | None = "做得不错",
    grader_id: int | None = None,
    scores: list | None = None,
):
    """Write a Grade and the submission's status straight to the database (``returned``
    marks the grade as returned for revision). Returns the Grade."""
    from lms.practicals.models import Grade, Submission

    submission = db.session.get(Submission, submission_id)
    submission.status = status
    grade = Grade(
        submission_id=submission_id,
        scores=scores or [],
        total_points=Decimal(total_points if total_points is not None else (80 if passed else 30)),
        passed=passed,
        feedback=feedback,
        feedback_html=f"<p>{feedback}</p>" if feedback else None,
        grader_id=grader_id,
        returned_for_revision=status == "returned",
        version=1,
    )
    db.session.add(grade)
    db.session.commit()
    return grade
