"""Bulk import of users: POST /api/v1/users/import (CSV UTF-8/GB18030 or XLSX, all or none)."""

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from lms.accounts.models import ActivationToken, User
from lms.audit.models import AuditEvent
from lms.extensions import db
from tests.http import assert_problem

URL = "/api/v1/users/import"
ZH_HEADER = ["邮箱", "姓名", "英文名", "单位", "部门", "职称", "工号", "手机", "角色"]
EN_HEADER = [
    "email",
    "full_name",
    "full_name_en",
    "institution",
    "department",
    "title",
    "staff_no",
    "phone",
    "role",
]
PASSPHRASE = "a long enough passphrase 2020"
SURNAMES = "王李张刘陈杨黄赵吴周"


def teacher_row(n: int, role: str = "学员") -> list:
    """A plausible teacher of the Guangzhou station, number ``n``."""
    return [
        f"teacher{n:03d}@gdqy.edu.cn",
        f"{SURNAMES[n % 10]}老师{n}",
        f"Teacher {n}",
        "广东轻工职业技术学院",
        "信息技术学院",
        "讲师",
        f"T{n:05d}",
        f"1380013{n:04d}",
        role,
    ]


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    text = "\r\n".join(delimiter.join("" if c is None else str(c) for c in r) for r in rows)
    return (text + "\r\n").encode(encoding)


def upload(client, content: bytes, filename: str = "teachers.csv", dry_run: bool = False):
    return client.post(
        URL,
        data={"file": (io.BytesIO(content), filename), "dry_run": "true" if dry_run else "false"},
        content_type="multipart/form-data",
    )


def find_users(client, q: str) -> list[dict]:
    response = client.get(f"/api/v1/users?q={q}&page_size=100")
    assert response.status_code == 200
    return response.get_json()


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- success ---------------------------------------------------------------------------------


def test_100_teachers_from_xlsx_with_chinese_headers_are_created_and_can_activate(
    admin_client, client
):
    content = xlsx_bytes([ZH_HEADER] + [teacher_row(n) for n in range(1, 101)])
    response = upload(admin_client, content, "研修班名单.xlsx")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report == {
        **report,
        "rows": 100,
        "created": 100,
        "updated": 0,
        "unchanged": 0,
        "enrolled": 0,
        "dry_run": False,
    }
    assert len(report["activation_tokens"]) == 100
    assert report["activation_tokens"][0]["email"] == "teacher001@gdqy.edu.cn"
    created = find_users(admin_client, "teacher0")
    assert len(created) == 99 and {u["role"] for u in created} == {"teacher"}
    assert created[0]["institution"] == "广东轻工职业技术学院"
    assert created[0]["is_activated"] is False

    token = report["activation_tokens"][41]
    client.fetch_csrf()
    response = client.post(
        "/api/v1/auth/activate", json={"token": token["token"], "password": PASSPHRASE}
    )
    assert response.status_code == 200, response.get_json()
    client.login(token["email"], PASSPHRASE)
    assert client.get("/api/v1/auth/me").get_json()["full_name"] == "张老师42"


def test_import_writes_one_audit_event_per_created_account(admin_client):
    upload(admin_client, xlsx_bytes([ZH_HEADER] + [teacher_row(n) for n in range(1, 4)]))
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.created")).all()
    assert sorted(e.data["email"] for e in events) == [
        "teacher001@gdqy.edu.cn",
        "teacher002@gdqy.edu.cn",
        "teacher003@gdqy.edu.cn",
    ]
    assert {e.data["source"] for e in events} == {"import"}


def test_100_teachers_from_a_gb18030_csv_keep_their_chinese_names(admin_client):
    rows = [ZH_HEADER] + [teacher_row(n) for n in range(1, 101)]
    response = upload(admin_client, csv_bytes(rows, "gb18030"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 100
    [user] = find_users(admin_client, "teacher077@")
    assert user["full_name"] == "赵老师77"
    assert user["institution"] == "广东轻工职业技术学院"
    assert user["title"] == "讲师"


def test_utf8_csv_with_bom_and_english_headers(admin_client):
    rows = [
        EN_HEADER,
        ["Zhang.Wei@GDQY.edu.cn", "张伟", "Zhang Wei", "", "", "", "", "", "admin"],
        ["li.na@gdqy.edu.cn", "李娜", "", "", "", "", "", "", "instructor"],
    ]
    response = upload(admin_client, csv_bytes(rows, "utf-8-sig"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 2
    [zhang] = find_users(admin_client, "zhang.wei")
    assert zhang["email"] == "zhang.wei@gdqy.edu.cn"
    assert zhang["role"] == "admin" and zhang["full_name_en"] == "Zhang Wei"
    assert zhang["institution"] is None
    assert find_users(admin_client, "li.na")[0]["role"] == "instructor"


def test_semicolon_csv_and_chinese_role_names(admin_client):
    rows = [
        ["邮箱", "姓名", "角色"],
        ["a@x.cn", "甲", "导师"],
        ["b@x.cn", "乙", "教务"],
        ["c@x.cn", "丙", ""],
    ]
    response = upload(admin_client, csv_bytes(rows, delimiter=";"))
    assert response.status_code == 200, response.get_json()
    roles = {u["email"]: u["role"] for u in find_users(admin_client, "x.cn")}
    assert roles == {"a@x.cn": "instructor", "b@x.cn": "admin", "c@x.cn": "teacher"}


def test_numeric_phone_and_staff_number_cells_in_xlsx_are_read_as_text(admin_client):
    content = xlsx_bytes(
        [
            ["email", "full_name", "phone", "staff_no"],
            ["num@gdqy.edu.cn", "数字", 13800138000, 2020001.0],
        ]
    )
    response = upload(admin_client, content, "t.xlsx")
    assert response.status_code == 200, response.get_json()
    [user] = find_users(admin_client, "num@")
    assert (user["phone"], user["staff_no"]) == ("13800138000", "2020001")


def test_dry_run_reports_counts_and_writes_nothing(admin_client, users):
    users.create(email="teacher001@gdqy.edu.cn", full_name="旧名字")
    content = xlsx_bytes([ZH_HEADER] + [teacher_row(n) for n in range(1, 11)])
    response = upload(admin_client, content, dry_run=True)
    assert response.status_code == 200, response.get_json()
    assert {k: v for k, v in response.get_json().items() if k not in ("plan", "warnings")} == {
        "rows": 10,
        "created": 9,
        "updated": 1,
        "unchanged": 0,
        "enrolled": 0,
        "dry_run": True,
        "activation_tokens": [],
    }
    assert [u["email"] for u in find_users(admin_client, "gdqy")] == ["teacher001@gdqy.edu.cn"]
    assert find_users(admin_client, "teacher001")[0]["full_name"] == "旧名字"
    assert count(ActivationToken) == 0
    assert count(AuditEvent, AuditEvent.action.in_(["user.created", "user.updated"])) == 0


def test_existing_user_is_updated_from_non_empty_cells_without_a_new_token(admin_client, users):
    old = users.create(
        email="teacher002@gdqy.edu.cn",
        full_name="旧名字",
        phone="13900000000",
        department="机电学院",
    )
    same = users.create(email="teacher003@gdqy.edu.cn", full_name="张老师3")
    rows = [
        ["email", "full_name", "phone", "department"],
        ["Teacher002@GDQY.edu.cn", "李老师2", "", "信息技术学院"],
        ["teacher003@gdqy.edu.cn", "张老师3", "", ""],
        ["new@gdqy.edu.cn", "新老师", "", ""],
    ]
    response = upload(admin_client, csv_bytes(rows))
    report = response.get_json()
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 1), report
    assert [t["email"] for t in report["activation_tokens"]] == ["new@gdqy.edu.cn"]
    updated = admin_client.get(f"/api/v1/users/{old.id}").get_json()
    assert (updated["full_name"], updated["department"]) == ("李老师2", "信息技术学院")
    assert updated["phone"] == "13900000000"  # an empty cell does not erase
    assert count(ActivationToken, ActivationToken.user_id.in_([old.id, same.id])) == 0
    assert count(AuditEvent, AuditEvent.action == "user.updated") == 1


def test_updates_are_audited_with_old_and_new_values_and_planned_in_a_dry_run(admin_client, users):
    old = users.create(email="teacher002@gdqy.edu.cn", full_name="陈晓燕", password=None)
    rows = [["email", "full_name", "phone"], ["teacher002@gdqy.edu.cn", "陈小燕", "13800138000"]]

    plan = upload(admin_client, csv_bytes(rows), dry_run=True).get_json()["plan"]
    assert plan == [
        {
            "row": 2,
            "email": "teacher002@gdqy.edu.cn",
            "action": "update",
            "changes": {
                "full_name": {"old": "陈晓燕", "new": "陈小燕"},
                "phone": {"old": None, "new": "13800138000"},
            },
            "errors": [],
        }
    ]
    assert upload(admin_client, csv_bytes(rows)).get_json()["updated"] == 1

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.updated"))
    assert event.entity_id == str(old.id)
    assert event.data["changes"] == plan[0]["changes"]


def test_with_update_existing_false_the_user_import_leaves_existing_accounts(admin_client, users):
    users.create(email="teacher002@gdqy.edu.cn", full_name="陈晓燕", password=None)
    rows = [["email", "full_name"], ["teacher002@gdqy.edu.cn", "陈小燕"], ["new@x.cn", "新"]]

    response = admin_client.post(
        URL,
        data={"file": (io.BytesIO(csv_bytes(rows)), "t.csv"), "update_existing": "false"},
        content_type="multipart/form-data",
    )

    report = response.get_json()
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 0, 1)
    assert [p["action"] for p in report["plan"]] == ["skip", "create"]
    assert find_users(admin_client, "teacher002")[0]["full_name"] == "陈晓燕"
    assert [w["field"] for w in report["warnings"]] == ["full_name"]


def test_empty_role_cell_keeps_the_role_of_an_existing_account(admin_client, users):
    instructor = users.create(role="instructor", email="daoshi@gdqy.edu.cn")
    rows = [["email", "full_name", "role"], ["daoshi@gdqy.edu.cn", "导师甲", ""]]
    assert upload(admin_client, csv_bytes(rows)).get_json()["updated"] == 1
    assert admin_client.get(f"/api/v1/users/{instructor.id}").get_json()["role"] == "instructor"


def test_role_change_from_a_file_is_audited(admin_client, users):
    teacher = users.create(email="promoted@gdqy.edu.cn", full_name="升职")
    rows = [["email", "full_name", "role"], ["promoted@gdqy.edu.cn", "升职", "导师"]]
    assert upload(admin_client, csv_bytes(rows)).get_json()["updated"] == 1
    assert admin_client.get(f"/api/v1/users/{teacher.id}").get_json()["role"] == "instructor"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.role_changed"))
    assert event.data == {"from": "teacher", "to": "instructor"}


def test_lookups_of_existing_accounts_do_not_grow_with_the_rows(admin_client, count_queries):
    def statements(n: int) -> int:
        content = csv_bytes([["email", "full_name"]] + [[f"q{i}@x.cn", "甲"] for i in range(n)])
        with count_queries() as queries:
            assert upload(admin_client, content, dry_run=True).status_code == 200
        return len(queries)

    assert statements(600) == statements(10) + 1  # one more lookup query per 500 emails


# --- refusals: nothing is written ------------------------------------------------------------


def test_one_invalid_email_refuses_the_whole_file_naming_the_row(admin_client):
    rows = [ZH_HEADER] + [teacher_row(n) for n in range(1, 101)]
    rows[56][0] = "teacher056 at gdqy.edu.cn"  # spreadsheet row 57
    body = assert_problem(
        upload(admin_client, xlsx_bytes(rows), "t.xlsx"), 422, "validation-failed"
    )
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(57, "email")]
    assert find_users(admin_client, "gdqy") == []
    assert count(User) == 1  # the admin


def test_several_bad_rows_are_all_reported(admin_client):
    rows = [
        ["email", "full_name", "phone", "role"],
        ["a@x.cn", "", "", ""],
        ["b@x.cn", "乙", "call me", "superuser"],
        ["c@x.cn", "丙", "", ""],
    ]
    body = assert_problem(upload(admin_client, csv_bytes(rows)), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (2, "full_name"),
        (3, "phone"),
        (3, "role"),
    ]
    assert "未知角色" in body["errors"][2]["message"]


def test_duplicate_email_in_the_file_is_an_error_on_the_later_row(admin_client):
    rows = [["email", "full_name"], ["dup@x.cn", "甲"], ["other@x.cn", "乙"], ["DUP@x.cn", "丙"]]
    body = assert_problem(upload(admin_client, csv_bytes(rows)), 422)
    assert body["errors"] == [
        {
            "row": 4,
            "field": "email",
            "column": "email",
            "message": 'Same "email" as row 2. “email”与第 2 行重复。',
        }
    ]
    assert find_users(admin_client, "x.cn") == []


def test_admin_cannot_change_their_own_role_through_a_file(admin_client, admin):
    rows = [
        ["email", "full_name", "role"],
        [admin.email, admin.full_name, "teacher"],
        ["fine@x.cn", "甲", ""],
    ]
    body = assert_problem(upload(admin_client, csv_bytes(rows)), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "role")]
    assert admin_client.get(f"/api/v1/users/{admin.id}").get_json()["role"] == "admin"
    assert find_users(admin_client, "fine@") == []


def test_an_unknown_column_is_ignored_and_named_in_the_warnings(admin_client):
    rows = [["邮箱", "姓名", "身份证号"], ["a@x.cn", "甲", "440100199001011234"]]
    response = upload(admin_client, csv_bytes(rows))
    assert response.status_code == 200, response.get_json()
    [warning] = response.get_json()["warnings"]
    assert (warning["row"], warning["field"]) == (1, "header")
    assert "身份证号" in warning["message"]
    assert find_users(admin_client, "a@x.cn")[0]["full_name"] == "甲"


def test_missing_email_column_is_refused(admin_client):
    body = assert_problem(upload(admin_client, csv_bytes([["姓名", "单位"], ["甲", "某校"]])), 422)
    assert [e["field"] for e in body["errors"]] == ["email"]


@pytest.mark.parametrize(
    "content",
    [
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,  # what Excel 97-2003 saves
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        bytes(range(256)) * 4,
        b"PK\x03\x04not really a zip",
    ],
    ids=["xls", "pdf", "garbage", "broken-zip"],
)
def test_files_that_are_not_csv_or_xlsx_are_refused(admin_client, content):
    body = assert_problem(upload(admin_client, content, "teachers.xls"), 422)
    assert body["errors"][0]["row"] is None and body["errors"][0]["field"] == "file"


def test_empty_file_is_refused(admin_client):
    body = assert_problem(upload(admin_client, b""), 422)
    assert "empty" in body["errors"][0]["message"]


def test_header_only_file_is_refused(admin_client):
    assert_problem(upload(admin_client, csv_bytes([["email", "full_name"]])), 422)


def test_missing_file_field_is_422(admin_client):
    response = admin_client.post(URL, data={"dry_run": "false"}, content_type="multipart/form-data")
    assert "file" in assert_problem(response, 422)["errors"]


def test_chinese_clients_get_a_chinese_detail(admin_client):
    response = admin_client.post(
        URL,
        data={"file": (io.BytesIO(b""), "t.csv")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert assert_problem(response, 422)["detail"] == "文件为空。"


# --- who may import --------------------------------------------------------------------------


def test_teacher_is_forbidden(teacher_client):
    content = csv_bytes([["email", "full_name"], ["a@x.cn", "甲"]])
    assert_problem(upload(teacher_client, content), 403)
    assert count(User, User.email == "a@x.cn") == 0


def test_anonymous_is_401(client):
    client.fetch_csrf()
    assert_problem(upload(client, csv_bytes([["email", "full_name"], ["a@x.cn", "甲"]])), 401)


def test_json_body_is_415(admin_client):
    response = admin_client.post(URL, json={"file": "email,full_name\na@x.cn,甲"})
    assert_problem(response, 415, "unsupported-media-type")
