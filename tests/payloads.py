"""Request bodies and upload files the tests send: courses, modules, quizzes, and files
that pass the upload content checks.

    COURSE (the Guangzhou course, code GZ-2020-IIOT), FULL_COURSE (the same without code),
    BRIEF_COURSE (title, host, place, dates only); THEORY, SHORT_THEORY, TWO_HOUR_THEORY,
    NO_QUIZ, WITH_QUIZ, QUIZ, PRACTICAL, practical_defaults(); ALL_RIGHT, ONLY_FIRST_RIGHT
    PDF_BYTES, PNG_BYTES, JPEG_BYTES, DOCX_BYTES, XLSX_BYTES, PPTX_BYTES, ZIP_BYTES,
    pdf_bytes(size=None), ooxml_bytes(kind), zip_bytes({name: bytes})
"""

from __future__ import annotations

import io
import zipfile
import zlib
from datetime import UTC, datetime, timedelta

# --- courses and modules ---------------------------------------------------------------------

COURSE = {
    "code": "GZ-2020-IIOT",
    "title": "工业互联网产教融合教师研修·广州站",
    "host_institution": "广东轻工职业技术学院",
    "organizers": ["中国职业技术教育学会", "中国工业互联网研究院"],
    "location": "广州",
    "starts_on": "2020-12-02",
    "ends_on": "2099-12-08",
    "capacity": 90,
    "waitlist_enabled": True,
    "min_theory_hours": 12,
    "min_practical_hours": 16,
}

THEORY = {
    "kind": "theory",
    "title": "工业互联网体系架构",
    "hours": 4,
    "content": "## 体系架构\n网络、平台、安全三大体系。",
    "resources": [{"title": "白皮书", "url": "https://example.org/aii.pdf"}],
}

QUIZ = {
    "pass_percent": 60,
    "max_attempts": 3,
    "questions": [
        {
            "prompt": "工业互联网的三大体系是？",
            "choices": ["网络、平台、安全", "云、管、端", "人、机、料"],
            "correct": [0],
            "points": 2,
        },
        {
            "prompt": "以下哪些属于5G关键特性？",
            "choices": ["eMBB", "URLLC", "mMTC", "ADSL"],
            "correct": [0, 1, 2],
            "points": 3,
        },
    ],
}

PRACTICAL = {
    "kind": "practical",
    "title": "工业互联网平台设备接入实训",
    "hours": 8,
    "brief": "将PLC设备接入平台并上报数据。",
    "pass_points": 60,
    "due_at": "2020-12-06T18:00:00+08:00",
    "closes_at": "2020-12-08T18:00:00+08:00",
    "max_attempts": 3,
    "reopen": "manual",
    "allowed_extensions": [".pdf", ".zip"],
    "max_file_mb": 20,
    "rubric": [
        {"title": "设备接入", "max_points": 40},
        {"title": "数据上报", "max_points": 40},
        {"title": "实训报告", "description": "结构清晰", "max_points": 20},
    ],
}

FULL_COURSE = {k: v for k, v in COURSE.items() if k != "code"}
BRIEF_COURSE = {
    "title": "工业互联网产教融合教师研修·广州站",
    "host_institution": "广东轻工职业技术学院",
    "location": "广州",
    "starts_on": "2020-12-02",
    "ends_on": "2099-12-08",
}

SHORT_THEORY = {"kind": "theory", "title": "工业互联网体系架构", "hours": 4}
TWO_HOUR_THEORY = {"kind": "theory", "title": "工业互联网体系架构", "hours": 2}
NO_QUIZ = {"kind": "theory", "title": "5G与工业互联网", "hours": 2}
WITH_QUIZ = {"kind": "theory", "title": "工业大数据与人工智能", "hours": 4, "quiz": QUIZ}
# QUIZ: question 0 (2 points) single choice [0]; question 1 (3 points) multiple [0, 1, 2].
ALL_RIGHT = [[0], [0, 1, 2]]
ONLY_FIRST_RIGHT = [[0], [0, 1]]  # 2 of 5 points: 40 %, below the 60 % pass mark


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


# --- files that pass the content checks ------------------------------------------------------


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
