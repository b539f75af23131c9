"""Exports through HTTP: the roster, the completion list and the certificate list as CSV
(UTF-8 with BOM) and formatted XLSX (lms.core.export), with constant query counts; and the
strict query strings of list endpoints (unknown filters and ``?format=`` where there is no
export answer 422)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.http import (
    assert_problem,
    certificate_course,
    eligible_enrollment,
    ineligible_enrollment,
    issue,
)

BOM = b"\xef\xbb\xbf"


def get_file(client, url: str):
    response = client.get(url, buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def csv_rows(response) -> list[list[str]]:
    assert response.get_data().startswith(BOM)
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def xlsx_sheet(response):
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return openpyxl.load_workbook(io.BytesIO(response.get_data())).active


@pytest.fixture
def course_with_people(admin_client, users):
    """A certificate course with a teacher holding a certificate, one eligible without one
    and one who has completed nothing."""
    course = certificate_course(admin_client, code="GZ-EXPORT-1")
    done = eligible_enrollment(
        admin_client, users, course, full_name="陈晓燕", institution="广州番禺职业技术学院"
    )
    body = issue(admin_client, course["id"], enrollment_ids=[done["enrollment"]["id"]])
    eligible_enrollment(admin_client, users, course, full_name="王强")
    ineligible_enrollment(admin_client, users, course, full_name="=李四")
    return {"course": course, "serial": body["issued"][0]["serial"]}


# --- roster ----------------------------------------------------------------------------------


def test_the_roster_exports_as_csv_with_a_bom_and_reimportable_chinese_headers(
    admin_client, course_with_people
):
    course = course_with_people["course"]

    response = get_file(admin_client, f"/api/v1/courses/{course['id']}/enrollments?format=csv")

    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=GZ-EXPORT-1-roster.csv"
    rows = csv_rows(response)
    assert rows[0][:4] == ["姓名", "邮箱", "英文名", "单位"]
    assert [r[0] for r in rows[1:]] == ["陈晓燕", "王强", "'=李四"]  # formula neutralised
    assert [r[6] for r in rows[1:]] == ["已结业", "在读", "在读"]  # the certificate completed it


def test_the_roster_exports_as_formatted_xlsx_with_its_filters(admin_client, course_with_people):
    course = course_with_people["course"]

    response = get_file(
        admin_client, f"/api/v1/courses/{course['id']}/enrollments?format=xlsx&q=王&lang=en"
    )

    sheet = xlsx_sheet(response)
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Name", "Email")
    assert [r[0] for r in rows[1:]] == ["王强"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:J{len(rows)}"


# --- completion --------------------------------------------------------------------------------


def test_the_completion_list_exports_verdicts_reasons_in_words_and_serials(
    admin_client, course_with_people
):
    course, serial = course_with_people["course"], course_with_people["serial"]

    sheet = xlsx_sheet(
        get_file(admin_client, f"/api/v1/courses/{course['id']}/completion?format=xlsx")
    )

    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "姓名",
        "邮箱",
        "英文名",
        "单位",
        "状态",
        "理论学时",
        "实训学时",
        "总学时",
        "是否符合结业条件",
        "未符合原因",
        "证书编号",
    )
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["陈晓燕"][8:] == ("是", None, serial)
    assert by_name["陈晓燕"][5:8] == (2, 0, 2)  # hours are numbers
    assert by_name["王强"][8:] == ("是", None, None)
    assert by_name["'=李四"][8] == "否"
    assert "未完成“" in by_name["'=李四"][9]


def test_the_completion_csv_keeps_the_eligible_filter_and_speaks_english(
    admin_client, course_with_people
):
    course = course_with_people["course"]
    url = f"/api/v1/courses/{course['id']}/completion?format=csv&eligible=false&lang=en"

    rows = csv_rows(get_file(admin_client, url))

    assert [r[0] for r in rows[1:]] == ["'=李四"]
    assert rows[1][8] == "no" and "not completed" in rows[1][9]


# --- certificates ------------------------------------------------------------------------------


def test_the_certificate_list_exports_serials_and_certified_facts(admin_client, course_with_people):
    serial = course_with_people["serial"]

    rows = csv_rows(get_file(admin_client, "/api/v1/certificates?format=csv"))

    assert rows[0][:3] == ["证书编号", "状态", "姓名"]
    assert [(r[0], r[1], r[2], r[6]) for r in rows[1:]] == [
        (serial, "有效", "陈晓燕", "GZ-EXPORT-1")
    ]
    sheet = xlsx_sheet(get_file(admin_client, "/api/v1/certificates?format=xlsx&status=valid"))
    assert sheet.cell(2, 9).value == 2  # theory hours, a number


def test_export_query_counts_do_not_grow_with_the_rows(admin_client, users, count_queries):
    def statements(code: str, people: int) -> dict[str, int]:
        course = certificate_course(admin_client, code=code)
        for _ in range(people):
            eligible_enrollment(admin_client, users, course)
        found = {}
        for name, url in {
            "roster": f"/api/v1/courses/{course['id']}/enrollments?format=xlsx",
            "completion": f"/api/v1/courses/{course['id']}/completion?format=xlsx",
            "certificates": f"/api/v1/certificates?format=xlsx&course_id={course['id']}",
        }.items():
            with count_queries() as seen:
                get_file(admin_client, url)
            found[name] = len(seen)
        return found

    assert statements("GZ-EXPORT-Q1", 2) == statements("GZ-EXPORT-Q2", 12)


def test_exports_are_for_staff_only(teacher_client, course_with_people):
    course = course_with_people["course"]
    assert_problem(
        teacher_client.get(f"/api/v1/courses/{course['id']}/enrollments?format=csv"), 403
    )
    assert_problem(teacher_client.get("/api/v1/certificates?format=csv"), 403)


# --- strict query strings --------------------------------------------------------------------


def test_an_unsupported_export_format_is_422(admin_client, course_with_people):
    course = course_with_people["course"]
    body = assert_problem(
        admin_client.get(f"/api/v1/courses/{course['id']}/enrollments?format=pdf"), 422
    )
    assert "format" in body["errors"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/users?format=csv",
        "/api/v1/courses?format=xlsx",
        "/api/v1/me/enrollments?format=csv",
    ],
)
def test_format_on_an_endpoint_without_export_is_refused_never_json(admin_client, url):
    body = assert_problem(admin_client.get(url), 422, "format-not-supported")
    assert "format" in body["errors"]


def test_an_unknown_filter_is_422_naming_it_while_pagination_passes(
    admin_client, course_with_people
):
    course = course_with_people["course"]
    url = f"/api/v1/courses/{course['id']}/enrollments"

    body = assert_problem(admin_client.get(f"{url}?stauts=active"), 422, "unknown-query-parameter")

    assert body["errors"] == {"stauts": ["Unknown query parameter."]}
    assert admin_client.get(f"{url}?status=active&page=1&page_size=2").status_code == 200
    assert_problem(
        admin_client.get("/api/v1/certificates?course=1"), 422, "unknown-query-parameter"
    )


def test_an_unknown_filter_is_checked_only_after_authorisation(anon, course_with_people):
    course = course_with_people["course"]
    assert_problem(anon.get(f"/api/v1/courses/{course['id']}/enrollments?stauts=x"), 401)


def test_the_openapi_document_shows_plans_warnings_and_export_formats(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    report = spec["components"]["schemas"]["ImportReport"]["properties"]
    assert {"plan", "warnings"} <= set(report)
    entry = spec["components"]["schemas"]["ImportPlanEntry"]["properties"]
    assert {"row", "email", "action", "changes", "errors"} <= set(entry)
    for path in (
        "/api/v1/courses/{course_id}/enrollments",
        "/api/v1/courses/{course_id}/completion",
        "/api/v1/certificates",
    ):
        operation = spec["paths"][path]["get"]
        content = operation["responses"]["200"]["content"]
        assert {"text/csv", "application/json"} <= set(content), path
        assert "format" in {p["name"] for p in operation["parameters"]}, path
