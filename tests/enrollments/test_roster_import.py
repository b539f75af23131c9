"""Roster import: POST /api/v1/courses/{id}/enrollments/import (creates accounts, enrols all)."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from sqlalchemy import func, select

from lms.accounts.models import ActivationToken, User
from lms.audit.models import AuditEvent
from lms.audit.services import verify_chain
from lms.catalog.models import Course
from lms.enrollments.models import Enrollment
from lms.extensions import db
from tests import races
from tests.builders import UserFactory
from tests.http import ApiClient, assert_problem, client_for, make_course
from tests.payloads import COURSE, THEORY

ZH_HEADER = ["邮箱", "姓名", "英文名", "单位", "部门", "职称", "工号", "手机"]
PASSPHRASE = "a long enough passphrase 2020"
SURNAMES = "王李张刘陈杨黄赵吴周"
COLLEGES = ("深圳职业技术大学", "浙江机电职业技术学院", "天津职业大学")


def email(n: int) -> str:
    return f"t{n:03d}@gz-roster.edu.cn"


def teacher_row(n: int) -> list:
    """Teacher ``n`` of the Guangzhou station roster; spreadsheet row ``n + 1``."""
    return [
        email(n),
        f"{SURNAMES[n % 10]}老师{n}",
        f"Teacher {n}",
        COLLEGES[n % 3],
        "智能制造学院",
        "讲师",
        f"GZ{n:05d}",
        f"1380020{n:04d}",
    ]


def roster(count: int = 90) -> list[list]:
    return [ZH_HEADER] + [teacher_row(n) for n in range(1, count + 1)]


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    text = "\r\n".join(",".join("" if c is None else str(c) for c in row) for row in rows)
    return (text + "\r\n").encode(encoding)


def upload(client, course_id: int, content: bytes, filename="名单.xlsx", dry_run=False, **form):
    return client.post(
        f"/api/v1/courses/{course_id}/enrollments/import",
        data={
            "file": (io.BytesIO(content), filename),
            "dry_run": "true" if dry_run else "false",
            **form,
        },
        content_type="multipart/form-data",
    )


def existing_teachers(users, numbers) -> dict[int, User]:
    """Accounts that exist before the import (no password: hashing 45 of them is slow)."""
    return {
        n: users.create(email=email(n), full_name=f"{SURNAMES[n % 10]}老师{n}", password=None)
        for n in numbers
    }


def roster_of(client, course_id: int, **params) -> tuple[list[dict], dict]:
    query = "&".join(f"{k}={v}" for k, v in {"page_size": 100, **params}.items())
    response = client.get(f"/api/v1/courses/{course_id}/enrollments?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json(), json.loads(response.headers["X-Roster-Counts"])


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(course_id: int) -> tuple:
    """What an import may write: accounts, tokens, enrolments, seats, audit events."""
    db.session.expire_all()
    return (
        count(User),
        count(ActivationToken),
        count(Enrollment),
        db.session.get(Course, course_id).seats_taken,
        count(AuditEvent),
    )


@pytest.fixture
def course(admin_client):
    return make_course(admin_client, [THEORY], base=COURSE, capacity=90, waitlist_enabled=False)


# --- success ---------------------------------------------------------------------------------


def test_xlsx_roster_of_90_half_new_creates_45_accounts_and_enrols_all_90(
    admin_client, users, course
):
    existing_teachers(users, range(1, 91, 2))

    response = upload(admin_client, course["id"], xlsx_bytes(roster()), update_existing="true")

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    omitted = ("activation_tokens", "plan", "warnings")
    assert {k: v for k, v in report.items() if k not in omitted} == {
        "rows": 90,
        "created": 45,
        "updated": 45,  # the existing accounts take the file's institution, phone, ...
        "unchanged": 0,
        "enrolled": 90,
        "dry_run": False,
    }
    assert [t["email"] for t in report["activation_tokens"]] == [email(n) for n in range(2, 91, 2)]
    entries, counts = roster_of(admin_client, course["id"])
    assert len(entries) == 90 and {e["status"] for e in entries} == {"active"}
    assert {e["source"] for e in entries} == {"import"}
    assert [e["user"]["email"] for e in entries] == [email(n) for n in range(1, 91)]
    assert counts == {"active": 90, "waitlisted": 0, "withdrawn": 0, "completed": 0}
    assert entries[2]["user"]["institution"] == COLLEGES[0]  # t003 existed: updated
    assert admin_client.get(f"/api/v1/courses/{course['id']}").get_json()["seats_taken"] == 90


def test_a_new_teacher_from_the_roster_activates_logs_in_and_sees_the_course(
    admin_client, client, course
):
    report = upload(admin_client, course["id"], xlsx_bytes(roster(3))).get_json()
    token = report["activation_tokens"][1]

    client.fetch_csrf()
    response = client.post(
        "/api/v1/auth/activate", json={"token": token["token"], "password": PASSPHRASE}
    )
    assert response.status_code == 200, response.get_json()
    client.login(token["email"], PASSPHRASE)

    mine = client.get("/api/v1/me/enrollments").get_json()
    assert [(e["course"]["code"], e["status"], e["source"]) for e in mine] == [
        (course["code"], "active", "import")
    ]
    assert client.get("/api/v1/auth/me").get_json()["full_name"] == "张老师2"


def test_beyond_capacity_with_a_waitlist_the_last_rows_are_waitlisted_in_file_order(
    admin_client, users
):
    course = make_course(admin_client, [THEORY], base=COURSE, capacity=80, waitlist_enabled=True)
    existing_teachers(users, range(1, 91, 2))

    report = upload(admin_client, course["id"], xlsx_bytes(roster())).get_json()

    assert (report["created"], report["enrolled"]) == (45, 90)
    active, counts = roster_of(admin_client, course["id"], status="active")
    waiting, _ = roster_of(admin_client, course["id"], status="waitlisted")
    assert counts["active"] == 80 and counts["waitlisted"] == 10
    assert [e["user"]["email"] for e in active] == [email(n) for n in range(1, 81)]
    assert [e["user"]["email"] for e in waiting] == [email(n) for n in range(81, 91)]
    first_waiting = admin_client.get(f"/api/v1/enrollments/{waiting[0]['id']}").get_json()
    last_waiting = admin_client.get(f"/api/v1/enrollments/{waiting[-1]['id']}").get_json()
    assert (first_waiting["waitlist_position"], last_waiting["waitlist_position"]) == (1, 10)


def test_a_gb18030_csv_roster_keeps_the_chinese_names(admin_client, course):
    content = csv_bytes(roster(5), encoding="gb18030")

    response = upload(admin_client, course["id"], content, "名单.csv")

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["created"], response.get_json()["enrolled"]) == (5, 5)
    entries, _ = roster_of(admin_client, course["id"])
    assert [e["user"]["full_name"] for e in entries] == [
        f"{SURNAMES[n]}老师{n}" for n in (1, 2, 3, 4, 5)
    ]
    assert entries[0]["user"]["institution"] == "浙江机电职业技术学院"


def test_dry_run_reports_the_counts_and_writes_nothing(admin_client, users):
    course = make_course(admin_client, [THEORY], base=COURSE, capacity=80, waitlist_enabled=True)
    existing_teachers(users, range(1, 91, 2))
    before = snapshot(course["id"])

    response = upload(
        admin_client, course["id"], xlsx_bytes(roster()), dry_run=True, update_existing="true"
    )

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert {k: v for k, v in report.items() if k not in ("plan", "warnings")} == {
        "rows": 90,
        "created": 45,
        "updated": 45,
        "unchanged": 0,
        "enrolled": 90,
        "dry_run": True,
        "activation_tokens": [],
    }
    assert len(report["plan"]) == 90
    assert snapshot(course["id"]) == before
    assert roster_of(admin_client, course["id"])[0] == []


def test_dry_run_counts_the_seats_already_taken(admin_client, users, course):
    upload(admin_client, course["id"], xlsx_bytes(roster(60)))

    response = upload(admin_client, course["id"], xlsx_bytes(roster(90)), dry_run=True)

    assert response.get_json()["enrolled"] == 30
    assert response.get_json()["unchanged"] == 60
    rows = roster(91)
    body = assert_problem(upload(admin_client, course["id"], xlsx_bytes(rows), dry_run=True), 422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(92, "email")]


def test_importing_the_same_file_again_enrols_and_creates_nothing(admin_client, course):
    content = xlsx_bytes(roster())
    assert upload(admin_client, course["id"], content).status_code == 200
    events = count(AuditEvent)

    report = upload(admin_client, course["id"], content).get_json()

    assert (report["created"], report["updated"], report["enrolled"]) == (0, 0, 0)
    assert report["unchanged"] == 90 and report["activation_tokens"] == []
    assert count(AuditEvent) == events
    assert roster_of(admin_client, course["id"])[1]["active"] == 90


def test_a_withdrawn_teacher_in_the_file_is_enrolled_again(admin_client, course):
    upload(admin_client, course["id"], xlsx_bytes(roster(3)))
    entries, _ = roster_of(admin_client, course["id"])
    withdrawn = admin_client.post(f"/api/v1/enrollments/{entries[1]['id']}/withdraw")
    assert withdrawn.get_json()["status"] == "withdrawn"

    report = upload(admin_client, course["id"], xlsx_bytes(roster(3))).get_json()

    assert report["enrolled"] == 1
    entries, counts = roster_of(admin_client, course["id"])
    assert counts["active"] == 3 and counts["withdrawn"] == 0
    assert entries[-1]["user"]["email"] == email(2)  # queued again, behind the others


def test_a_roster_enrols_into_a_draft_course_too(admin_client):
    draft = admin_client.post(
        "/api/v1/courses",
        json={
            "code": "GZ-DRAFT",
            "title": "草稿研修班",
            "starts_on": "2020-12-02",
            "ends_on": "2020-12-06",
        },
    ).get_json()

    report = upload(admin_client, draft["id"], xlsx_bytes(roster(2))).get_json()

    assert report["enrolled"] == 2


def test_each_placement_and_new_account_is_audited_and_the_chain_holds(admin_client, course):
    upload(admin_client, course["id"], xlsx_bytes(roster(4)))

    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "enrollment.created").order_by(AuditEvent.id)
    ).all()
    assert [e.data["status"] for e in events] == ["active"] * 4
    assert {e.data["source"] for e in events} == {"import"}
    assert {e.data["course_id"] for e in events} == {course["id"]}
    assert count(AuditEvent, AuditEvent.action == "user.created") == 4
    assert verify_chain()[1] is None


def test_updates_of_existing_accounts_are_audited(admin_client, users, course):
    teacher = existing_teachers(users, [1])[1]

    upload(admin_client, course["id"], xlsx_bytes(roster(1)), update_existing="true")

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.updated"))
    assert event.entity_id == str(teacher.id)
    assert event.data["fields"] == [
        "department",
        "full_name_en",
        "institution",
        "phone",
        "staff_no",
        "title",
    ]


def _import_statements(admin_client, users, count_queries, first: int, rows: int, dry_run: bool):
    """The SQL of importing ``rows`` rows, half of them existing accounts to update."""
    course = make_course(admin_client, [THEORY], base=COURSE, code=f"Q-{first}", capacity=None)
    numbers = range(first, first + rows)
    existing_teachers(users, [n for n in numbers if n % 2])
    content = xlsx_bytes([ZH_HEADER] + [teacher_row(n) for n in numbers])
    with count_queries() as statements:
        response = upload(admin_client, course["id"], content, dry_run=dry_run)
    assert response.get_json()["enrolled"] == rows
    return statements


def test_dry_run_query_count_does_not_grow_with_the_rows(admin_client, users, count_queries):
    small = _import_statements(admin_client, users, count_queries, 100, 10, True)
    large = _import_statements(admin_client, users, count_queries, 200, 40, True)
    assert len(small) == len(large)


def test_import_query_count_does_not_grow_with_the_rows(admin_client, users, count_queries):
    small = _import_statements(admin_client, users, count_queries, 100, 10, False)
    large = _import_statements(admin_client, users, count_queries, 200, 40, False)

    def not_inserts(statements):
        return [s for s in statements if not s.lstrip().upper().startswith("INSERT")]

    assert len(not_inserts(small)) == len(not_inserts(large))
    if db.session.get_bind().dialect.name == "postgresql":
        # One multi-row INSERT per batch there; SQLite's driver inserts row by row.
        assert len(small) == len(large)


# --- existing accounts, plans, real-world headers ---------------------------------------------


def chen(users, **fields):
    return users.create(
        email="cxy@gzpyp.edu.cn",
        full_name="陈晓燕",
        institution="广州番禺职业技术学院",
        password=None,
        **fields,
    )


CHEN_ROWS = [["邮箱", "姓名", "单位"], ["cxy@gzpyp.edu.cn", "陈小燕", "番禺职院"]]


def user_updated_events() -> list[AuditEvent]:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.updated").order_by(AuditEvent.id)
    ).all()


def test_a_roster_never_renames_an_existing_account_and_warns_about_the_difference(
    admin_client, users, course
):
    teacher = chen(users)

    response = upload(admin_client, course["id"], xlsx_bytes(CHEN_ROWS))

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["updated"], report["unchanged"], report["enrolled"]) == (0, 1, 1)
    db.session.expire_all()
    user = db.session.get(User, teacher.id)
    assert (user.full_name, user.institution) == ("陈晓燕", "广州番禺职业技术学院")
    assert user_updated_events() == []
    assert [(w["row"], w["field"], w["column"]) for w in report["warnings"]] == [
        (2, "full_name", "姓名"),
        (2, "institution", "单位"),
    ]
    assert "陈晓燕" in report["warnings"][0]["message"]
    assert "陈小燕" in report["warnings"][0]["message"]


def test_with_update_existing_a_roster_changes_the_account_and_audits_old_and_new(
    admin_client, users, course
):
    teacher = chen(users)

    response = upload(admin_client, course["id"], xlsx_bytes(CHEN_ROWS), update_existing="true")

    assert response.get_json()["updated"] == 1
    db.session.expire_all()
    assert db.session.get(User, teacher.id).full_name == "陈小燕"
    [event] = user_updated_events()
    assert event.entity_id == str(teacher.id)
    assert event.data["changes"] == {
        "full_name": {"old": "陈晓燕", "new": "陈小燕"},
        "institution": {"old": "广州番禺职业技术学院", "new": "番禺职院"},
    }
    assert event.data["source"] == "import"
    assert verify_chain()[1] is None


def test_a_dry_run_answers_the_plan_of_every_row(admin_client, users):
    course = make_course(
        admin_client, [THEORY], base=COURSE, code="PLAN-1", capacity=2, waitlist_enabled=True
    )
    upload(admin_client, course["id"], xlsx_bytes(roster(1)))  # t001 enrolled already
    existing_teachers(users, [2])  # t002 exists, same name, no institution yet
    before = snapshot(course["id"])

    response = upload(
        admin_client, course["id"], xlsx_bytes(roster(4)), dry_run=True, update_existing="true"
    )

    assert response.status_code == 200, response.get_json()
    plan = response.get_json()["plan"]
    assert [(p["row"], p["email"], p["action"], p["account"]) for p in plan] == [
        (2, email(1), "skip", "skip"),
        (3, email(2), "enrol", "update"),
        (4, email(3), "waitlist", "create"),
        (5, email(4), "waitlist", "create"),
    ]
    assert plan[1]["changes"]["institution"] == {"old": None, "new": COLLEGES[2]}
    assert "full_name" not in plan[1]["changes"]
    assert plan[2]["changes"]["full_name"] == {"old": None, "new": teacher_row(3)[1]}
    assert all(p["errors"] == [] for p in plan)
    assert snapshot(course["id"]) == before


def test_a_dry_run_with_bad_rows_is_a_422_that_still_plans_every_row(admin_client, users, course):
    users.create(role="instructor", email=email(2), full_name="陈导师", password=None)
    rows = roster(4)
    rows[3][0] = "t003 at gz-roster.edu.cn"
    before = snapshot(course["id"])

    body = assert_problem(upload(admin_client, course["id"], xlsx_bytes(rows), dry_run=True), 422)

    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "email"), (4, "email")]
    assert [(p["row"], p["action"], [e["column"] for e in p["errors"]]) for p in body["plan"]] == [
        (2, "enrol", []),
        (3, "skip", ["邮箱"]),
        (4, "skip", ["邮箱"]),
        (5, "enrol", []),
    ]
    assert body["plan"][0]["account"] == "create"
    assert snapshot(course["id"]) == before
    real = assert_problem(upload(admin_client, course["id"], xlsx_bytes(rows)), 422)
    assert "plan" not in real


def test_a_real_roster_with_a_title_row_extra_columns_and_chinese_aliases_is_read(
    admin_client, course
):
    rows = [
        ["2026年双师型教师培训（广州站）学员名单"],
        ["序号", "名字", "性别", "电子邮箱", "学校", "手机号码", "身份", "备注"],
        [1, "陈晓燕", "女", "cxy@gzpyp.edu.cn", "广州番禺职业技术学院", 13800138000, "老师", ""],
        [
            2,
            "王强",
            "男",
            "wq@gdqy.edu.cn",
            "广东轻工职业技术学院",
            13900139000,
            "参训教师",
            "组长",
        ],
    ]

    response = upload(admin_client, course["id"], xlsx_bytes(rows))

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["created"], report["enrolled"]) == (2, 2)
    assert [p["row"] for p in report["plan"]] == [3, 4]
    assert [w["message"].split(".")[0] for w in report["warnings"]] == [
        'Unknown column "序号" is ignored',
        'Unknown column "性别" is ignored',
        'Unknown column "备注" is ignored',
    ]
    entries, _ = roster_of(admin_client, course["id"])
    assert [(e["user"]["full_name"], e["user"]["institution"]) for e in entries] == [
        ("陈晓燕", "广州番禺职业技术学院"),
        ("王强", "广东轻工职业技术学院"),
    ]


def test_a_missing_column_is_named_in_chinese_and_row_errors_name_the_files_column(
    admin_client, course
):
    body = assert_problem(
        upload(admin_client, course["id"], xlsx_bytes([["名字", "学校"], ["甲", "某校"]])), 422
    )
    assert [(e["field"], e["message"]) for e in body["errors"]] == [
        ("email", 'Required column "email" is missing. 缺少必填列“邮箱”。')
    ]

    rows = [["电子邮箱", "名字"], ["a@x.cn", "甲"], ["not an email", "乙"]]
    body = assert_problem(upload(admin_client, course["id"], xlsx_bytes(rows)), 422)
    assert [(e["row"], e["field"], e["column"]) for e in body["errors"]] == [
        (3, "email", "电子邮箱")
    ]


# --- refusals: nothing is written ------------------------------------------------------------


def test_beyond_capacity_without_a_waitlist_names_the_first_row_that_does_not_fit(
    admin_client, users
):
    course = make_course(admin_client, [THEORY], base=COURSE, capacity=80, waitlist_enabled=False)
    existing_teachers(users, range(1, 91, 2))
    before = snapshot(course["id"])

    body = assert_problem(upload(admin_client, course["id"], xlsx_bytes(roster())), 422)

    assert [(e["row"], e["field"]) for e in body["errors"]] == [(82, "email")]
    assert "course is full" in body["errors"][0]["message"]
    assert "名额已满" in body["errors"][0]["message"]
    assert snapshot(course["id"]) == before
    assert count(User, User.email.like("%@gz-roster.edu.cn")) == 45  # only those that existed


def test_an_existing_instructors_email_is_a_row_error(admin_client, users, course):
    users.create(role="instructor", email=email(7), full_name="陈导师", password=None)
    before = snapshot(course["id"])

    body = assert_problem(upload(admin_client, course["id"], xlsx_bytes(roster(10))), 422)

    assert [(e["row"], e["field"]) for e in body["errors"]] == [(8, "email")]
    assert "instructor" in body["errors"][0]["message"]
    assert snapshot(course["id"]) == before


def test_the_admins_own_email_and_a_deactivated_teacher_are_row_errors(
    admin_client, admin, users, course
):
    users.create(email=email(3), full_name="停用", password=None, is_active=False)
    rows = roster(5)
    rows[5][0] = admin.email

    body = assert_problem(upload(admin_client, course["id"], xlsx_bytes(rows)), 422)

    assert [(e["row"], e["field"]) for e in body["errors"]] == [(4, "email"), (6, "email")]
    assert "deactivated" in body["errors"][0]["message"]


def test_a_role_other_than_teacher_is_a_row_error(admin_client, course):
    rows = [row + ["学员"] for row in roster(4)]
    rows[0][-1] = "角色"
    rows[3][-1] = "导师"

    body = assert_problem(upload(admin_client, course["id"], xlsx_bytes(rows)), 422)

    assert [(e["row"], e["field"]) for e in body["errors"]] == [(4, "role")]
    assert count(User, User.email.like("%@gz-roster.edu.cn")) == 0


def test_a_bad_email_refuses_the_whole_file_with_every_bad_row(admin_client, users, course):
    users.create(role="admin", email=email(20), full_name="另一位教务", password=None)
    rows = roster(30)
    rows[12][0] = "t012 at gz-roster.edu.cn"  # spreadsheet row 13

    body = assert_problem(
        upload(admin_client, course["id"], xlsx_bytes(rows)), 422, "validation-failed"
    )

    assert [(e["row"], e["field"]) for e in body["errors"]] == [(13, "email"), (21, "email")]
    assert count(Enrollment) == 0
    assert count(User, User.email.like("%@gz-roster.edu.cn")) == 1


@pytest.mark.parametrize("action", ["close", "archive"])
def test_a_closed_or_archived_course_takes_no_roster(admin_client, course, action):
    assert admin_client.post(f"/api/v1/courses/{course['id']}/close").status_code == 200
    if action == "archive":
        assert admin_client.post(f"/api/v1/courses/{course['id']}/archive").status_code == 200
    before = snapshot(course["id"])

    response = upload(admin_client, course["id"], xlsx_bytes(roster(3)))

    assert_problem(response, 409, "enrollment-closed")
    assert snapshot(course["id"]) == before


def test_a_teacher_is_forbidden(teacher_client, course):
    assert_problem(upload(teacher_client, course["id"], xlsx_bytes(roster(2))), 403)
    assert count(User, User.email.like("%@gz-roster.edu.cn")) == 0


def test_an_instructor_of_the_course_is_forbidden(admin_client, app, users, course):

    instructor = users.create(role="instructor", email="mentor@gdqy.edu.cn", full_name="黄导师")
    admin_client.put(f"/api/v1/courses/{course['id']}/instructors/{instructor.id}")
    mentor = ApiClient(app.test_client())
    mentor.login(instructor.email)

    assert_problem(upload(mentor, course["id"], xlsx_bytes(roster(2))), 403)


def test_anonymous_is_401(anon, course):
    anon.fetch_csrf()
    assert_problem(upload(anon, course["id"], xlsx_bytes(roster(2))), 401)


def test_an_unknown_course_is_404(admin_client):
    assert_problem(upload(admin_client, 999999, xlsx_bytes(roster(2))), 404)


def test_a_json_body_is_415(admin_client, course):
    response = admin_client.post(
        f"/api/v1/courses/{course['id']}/enrollments/import", json={"file": "roster.xlsx"}
    )
    assert_problem(response, 415)


# --- under concurrency (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.real_db
@pytest.mark.slow
@pytest.mark.parametrize("run", [1, 2])
def test_a_roster_racing_self_enrolments_never_overbooks_and_is_all_or_nothing(app, run):
    factory = UserFactory()
    with app.app_context():
        admin_email = factory.create(role="admin").email
        teacher_emails = [factory.create().email for _ in range(15)]
    admin = client_for(app, admin_email, own_address=True)
    course = make_course(
        admin, [THEORY], base=COURSE, code=f"RACE-{run}", capacity=20, waitlist_enabled=False
    )
    teachers = [client_for(app, e, own_address=True) for e in teacher_emails]
    content = xlsx_bytes(roster(10))  # ten new accounts: 25 candidates for 20 seats
    url = f"/api/v1/courses/{course['id']}/enrollments"

    responses = races.fire_together(
        [lambda: upload(admin, course["id"], content)]
        + [lambda c=c: c.post(url, json={}) for c in teachers]
    )

    (imported_status, imported), enrolled = responses[0], responses[1:]
    assert imported_status in (200, 422), imported
    assert {status for status, _ in enrolled} <= {201, 409}
    with app.app_context():
        seats = db.session.get(Course, course["id"]).seats_taken
        active = count(
            Enrollment, Enrollment.course_id == course["id"], Enrollment.status == "active"
        )
        from_file = count(User, User.email.like("%@gz-roster.edu.cn"))
    self_enrolled = sum(status == 201 for status, _ in enrolled)
    assert seats == active <= 20
    if imported_status == 200:
        assert imported["enrolled"] == from_file == 10
        assert active == 10 + self_enrolled
    else:  # more than ten teachers were faster: the whole file is refused
        assert from_file == 0 and active == self_enrolled > 10
