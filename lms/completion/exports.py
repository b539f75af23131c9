"""The completion list as a file: ``GET /api/v1/courses/{id}/completion?format=csv|xlsx``.

Every enrolment matching the list's filters (not a page), evaluated like the list
(``eligibility.evaluated``: the same statements whatever the size of the course), with the
verdict, the reasons in words and the serial of the enrolment's valid certificate. The
serials come from the certificates domain, which sits above this one: it registers its
lookup (one query per export) with ``use_certificate_serials`` in lms.app.connect_domains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lms.catalog.models import Course
from lms.completion import eligibility
from lms.completion.eligibility import (
    MODULE_NOT_COMPLETED,
    MODULE_NOT_PASSED,
    NOT_ACTIVE,
    PRACTICAL_HOURS_MISSING,
    THEORY_HOURS_MISSING,
)
from lms.core import export
from lms.extensions import db

CHUNK_SIZE = 500

COLUMNS = (
    ("姓名", "Name"),
    ("邮箱", "Email"),
    ("英文名", "English name"),
    ("单位", "Institution"),
    ("状态", "Status"),
    ("理论学时", "Theory hours"),
    ("实训学时", "Practical hours"),
    ("总学时", "Total hours"),
    ("是否符合结业条件", "Eligible"),
    ("未符合原因", "Reasons"),
    ("证书编号", "Certificate serial"),
)
STATUS_ZH = {"active": "在读", "waitlisted": "候补", "withdrawn": "已退出", "completed": "已结业"}

_serials: Callable[[int], dict[int, str]] = lambda course_id: {}  # noqa: E731


def use_certificate_serials(lookup: Callable[[int], dict[int, str]]) -> None:
    """Register ``lookup(course_id) -> {enrollment_id: serial}`` (the valid certificates)."""
    global _serials
    _serials = lookup


def header(lang: str) -> list[str]:
    return [zh if lang == "zh" else en for zh, en in COLUMNS]


def reason_text(missing: dict, lang: str) -> str:
    """One reason in words."""
    reason = missing["reason"]
    zh = lang == "zh"
    if reason == NOT_ACTIVE:
        status = missing.get("status", "")
        return f"报名状态为{STATUS_ZH.get(status, status)}" if zh else f"enrolment is {status}"
    if reason == MODULE_NOT_COMPLETED:
        return f"未完成“{missing['title']}”" if zh else f'"{missing["title"]}" not completed'
    if reason == MODULE_NOT_PASSED:
        return f"“{missing['title']}”未通过" if zh else f'"{missing["title"]}" not passed'
    hours = export.number_text(missing["hours_missing"])
    if reason == THEORY_HOURS_MISSING:
        return f"理论学时还差 {hours}" if zh else f"{hours} theory hours missing"
    if reason == PRACTICAL_HOURS_MISSING:
        return f"实训学时还差 {hours}" if zh else f"{hours} practical hours missing"
    return reason


def completion_chunks(
    course_id: int, *, statuses: list[str], q: str | None, eligible: bool | None, lang: str
) -> Iterator[list[list]]:
    """The rows, a chunk at a time. Takes the course's id: when streamed, this runs after
    the view returned, in the session of the moment."""
    course = db.session.get(Course, course_id)
    serials = _serials(course_id)
    stmt = eligibility.enrollments_query(course, statuses, q)
    chunk: list[list] = []
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    for row, evaluation in eligibility.evaluated(course, stmt):
        if eligible is not None and evaluation.eligible != eligible:
            continue
        progress = evaluation.progress
        status = STATUS_ZH.get(row.status, row.status) if lang == "zh" else row.status
        separator = "；" if lang == "zh" else "; "
        chunk.append(
            [
                row.full_name,
                row.email,
                row.full_name_en,
                row.institution,
                status,
                progress.theory_hours,
                progress.practical_hours,
                progress.total_hours,
                yes if evaluation.eligible else no,
                separator.join(reason_text(m, lang) for m in evaluation.missing),
                serials.get(row.id),
            ]
        )
        if len(chunk) == CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
