"""The roster as a file: ``GET /api/v1/courses/{id}/enrollments?format=csv|xlsx``.

The rows of the roster list (same filters, same queue order), every one of them rather than
a page, written by lms.core.export. Read in chunks of ``CHUNK_SIZE`` through one
server-side cursor: one statement whatever the size of the course. The people columns are
named as the imports read them (邮箱, 姓名, 单位, ...), so an exported roster can be edited
and imported again.
"""

from __future__ import annotations

from collections.abc import Iterator

from lms.catalog.models import Course
from lms.enrollments import services
from lms.extensions import db

CHUNK_SIZE = 500

COLUMNS = (
    ("full_name", "姓名", "Name"),
    ("email", "邮箱", "Email"),
    ("full_name_en", "英文名", "English name"),
    ("institution", "单位", "Institution"),
    ("department", "部门", "Department"),
    ("title", "职称", "Title"),
    ("status", "状态", "Status"),
    ("source", "来源", "Source"),
    ("queued_at", "报名时间", "Enrolled at"),
    ("activated_at", "生效时间", "Activated at"),
)
STATUS_ZH = {"active": "在读", "waitlisted": "候补", "withdrawn": "已退出", "completed": "已结业"}
SOURCE_ZH = {"self": "自主报名", "admin": "教务报名", "import": "名单导入"}


def header(lang: str) -> list[str]:
    return [zh if lang == "zh" else en for _, zh, en in COLUMNS]


def roster_chunks(
    course_id: int, *, lang: str, status: str | None = None, q: str | None = None
) -> Iterator[list[list]]:
    """The roster's rows, a chunk at a time. Takes the course's id: when streamed, this
    runs after the view returned, in the session of the moment."""
    course = db.session.get(Course, course_id)
    stmt = services.roster_query(course, status=status, q=q).execution_options(yield_per=CHUNK_SIZE)
    for enrolments in db.session.scalars(stmt).partitions():
        yield [row(enrollment, lang) for enrollment in enrolments]


def row(enrollment, lang: str) -> list:
    user = enrollment.user
    status, source = enrollment.status, enrollment.source
    if lang == "zh":
        status, source = STATUS_ZH.get(status, status), SOURCE_ZH.get(source, source)
    return [
        user.full_name,
        user.email,
        user.full_name_en,
        user.institution,
        user.department,
        user.title,
        status,
        source,
        enrollment.queued_at,
        enrollment.activated_at,
    ]
