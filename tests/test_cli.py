"""The ``flask lms`` commands: create-admin, seed-demo and audit-verify."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import JSON, bindparam, func, select, text

from lms.accounts.models import User
from lms.audit.models import AuditEvent
from lms.catalog.models import Course, CourseInstructor, Module, Program
from lms.demo import data
from lms.enrollments import services as enrollment_services
from lms.enrollments.models import Enrollment
from lms.extensions import db

ADMIN_PASSWORD = "Quiet-River-Lantern-42"
HAN_NAME = re.compile(r"^[\u4e00-\u9fff]{2,3}$")
PINYIN_NAME = re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+$")


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return runner.invoke(args=["lms", *args], input=input)

    return invoke


def assert_exit(result, code: int) -> None:
    """``code`` as the exit status, and never an uncaught exception (a traceback)."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def demo_users() -> list[User]:
    stmt = select(User).where(User.email.like(f"%@{data.DEMO_DOMAIN}")).order_by(User.email)
    return list(db.session.scalars(stmt))


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def logins_block(output: str) -> str:
    return output[output.index("Demo logins:") :]


# --- create-admin -------------------------------------------------------------------------


def test_create_admin_creates_an_active_admin_who_can_log_in(cli, client):
    result = cli(
        "create-admin",
        "--email",
        "Jiaowu@Example.edu.cn",
        "--password",
        ADMIN_PASSWORD,
        "--name",
        "王教务",
        "--name-en",
        "Wang Jiaowu",
    )

    assert_exit(result, 0)
    admin = user_by_email("jiaowu@example.edu.cn")
    assert (admin.role, admin.is_active, admin.full_name, admin.full_name_en) == (
        "admin",
        True,
        "王教务",
        "Wang Jiaowu",
    )
    assert "jiaowu@example.edu.cn" in result.output
    me = client.login("jiaowu@example.edu.cn", ADMIN_PASSWORD).get_json()["user"]
    assert me["role"] == "admin"
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "user.created", AuditEvent.entity_id == str(admin.id)
        )
    )
    assert event.actor_id is None and event.data["activated"] is True


def test_create_admin_prompts_twice_for_a_hidden_password_when_omitted(cli, client):
    result = cli(
        "create-admin",
        "--email",
        "prompted@example.edu.cn",
        "--name",
        "李教务",
        input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n",
    )

    assert_exit(result, 0)
    assert ADMIN_PASSWORD not in result.output
    client.login("prompted@example.edu.cn", ADMIN_PASSWORD)


def test_create_admin_refuses_an_existing_email_without_changing_its_role(cli, teacher):
    result = cli(
        "create-admin",
        "--email",
        teacher.email.upper(),
        "--password",
        ADMIN_PASSWORD,
        "--name",
        "冒名者",
    )

    assert_exit(result, 1)
    assert "already exists" in result.output and teacher.email in result.output
    db.session.expire_all()
    assert user_by_email(teacher.email).role == "teacher"


@pytest.mark.parametrize(
    "password, message",
    [
        ("short-pass", "at least 12 characters"),
        ("password1234", "too common"),
    ],
)
def test_create_admin_with_a_weak_password_prints_why_and_creates_nothing(cli, password, message):
    events = audit_count()

    result = cli(
        "create-admin", "--email", "weak@example.edu.cn", "--password", password, "--name", "赵教务"
    )

    assert_exit(result, 1)
    assert "password:" in result.output and message in result.output
    assert user_by_email("weak@example.edu.cn") is None
    assert audit_count() == events


def test_create_admin_refuses_an_invalid_email(cli):
    result = cli(
        "create-admin", "--email", "not-an-email", "--password", ADMIN_PASSWORD, "--name", "钱教务"
    )

    assert_exit(result, 1)
    assert "email:" in result.output
    assert user_by_email("not-an-email") is None


# --- seed-demo ----------------------------------------------------------------------------


@pytest.mark.slow
def test_seed_demo_creates_an_admin_three_instructors_and_ninety_teachers(cli, client):
    result = cli("seed-demo")

    assert_exit(result, 0)
    users = demo_users()
    roles = [u.role for u in users]
    assert (roles.count("admin"), roles.count("instructor"), roles.count("teacher")) == (1, 3, 90)
    assert len({u.email for u in users}) == 94
    assert len({u.full_name for u in users}) == 94
    assert all(HAN_NAME.match(u.full_name) for u in users), [u.full_name for u in users]
    assert all(PINYIN_NAME.match(u.full_name_en) for u in users), [u.full_name_en for u in users]
    assert {len(u.full_name) for u in users} == {2, 3}
    assert all(u.is_active and u.is_activated for u in users)
    teachers = [u for u in users if u.role == "teacher"]
    assert len({t.institution for t in teachers}) >= 20
    assert all(re.fullmatch(r"138\d{8}", t.phone) and t.staff_no and t.title for t in teachers)
    assert {u.institution for u in users if u.role == "instructor"} == {
        "广东轻工职业技术学院",
        "海尔数字科技（南京）有限公司",
    }
    assert "admin@demo.lms.cn" in result.output
    assert "teacher01..teacher90@demo.lms.cn" in result.output
    assert data.DEMO_PASSWORD in result.output
    client.login("admin@demo.lms.cn", data.DEMO_PASSWORD)


@pytest.mark.slow
def test_seeded_accounts_are_audited_as_created_and_activated(cli):
    assert_exit(cli("seed-demo"), 0)

    teacher = user_by_email("teacher07@demo.lms.cn")
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(
            AuditEvent.entity_type == "user",
            AuditEvent.entity_id == str(teacher.id),
        )
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["user.created", "user.activated"]


@pytest.mark.slow
def test_a_seeded_teacher_logs_in_with_the_chosen_password(cli, client):
    assert_exit(cli("seed-demo", "--password", "Another-Demo-Secret-7"), 0)

    client.login("teacher90@demo.lms.cn", "Another-Demo-Secret-7")


@pytest.mark.slow
def test_seed_demo_twice_creates_nothing_new_and_prints_the_same_logins(cli):
    first = cli("seed-demo")
    events = audit_count()

    second = cli("seed-demo")

    assert_exit(second, 0)
    assert len(demo_users()) == 94
    assert audit_count() == events
    assert "created 0 admin(s), 0 instructor(s), 0 teacher(s)" in second.output
    assert logins_block(second.output).startswith(logins_block(first.output))


def test_seed_demo_with_a_weak_password_exits_1_and_creates_nothing(cli):
    result = cli("seed-demo", "--password", "short")

    assert_exit(result, 1)
    assert "at least 12 characters" in result.output
    assert demo_users() == []


@pytest.mark.slow
def test_seed_demo_refuses_production_unless_forced(cli, app, monkeypatch):
    monkeypatch.setitem(app.config, "LMS_ENV", "production")

    refused = cli("seed-demo")
    assert_exit(refused, 1)
    assert "production" in refused.output and "--force" in refused.output
    assert demo_users() == []

    assert_exit(cli("seed-demo", "--force"), 0)
    assert len(demo_users()) == 94


def test_demo_data_is_spread_over_at_least_twenty_provinces():
    assert len({province for _, province in data.COLLEGES}) >= 20
    assert len(data.teacher_accounts()) == data.FIRST_STATION_TEACHERS == 90


# --- seed-demo: the Guangzhou station ----------------------------------------------------


def demo_course() -> Course | None:
    return db.session.scalar(select(Course).where(Course.code == data.FIRST_STATION_CODE))


def station_counts() -> tuple:
    """Everything the station step creates, counted."""
    course = demo_course()
    return (
        db.session.scalar(select(func.count()).select_from(Program)),
        db.session.scalar(select(func.count()).select_from(Course)),
        db.session.scalar(select(func.count()).where(Module.course_id == course.id)),
        db.session.scalar(select(func.count()).where(CourseInstructor.course_id == course.id)),
        db.session.scalar(select(func.count()).where(Enrollment.course_id == course.id)),
    )


@pytest.mark.slow
def test_seed_demo_builds_and_publishes_the_guangzhou_station(cli):
    result = cli("seed-demo")

    assert_exit(result, 0)
    course = demo_course()
    assert course.status == "published" and course.published_at is not None
    assert course.program.title == "工业互联网产教融合教师研修·中国行"
    assert course.host_institution == "广东轻工职业技术学院"
    assert course.organizers == [
        "中国职业技术教育学会",
        "中国工业互联网研究院",
        "海尔数字科技（南京）有限公司",
    ]
    assert "协办" in course.description
    assert (course.location, str(course.starts_on), str(course.ends_on)) == (
        "广州",
        "2020-12-02",
        "2020-12-06",
    )
    assert (course.capacity, course.waitlist_enabled) == (100, True)
    assert (course.certificate_title, course.certificate_issuer) == (
        "结业证书",
        "中国职业技术教育学会",
    )
    assert course.certificate_signatory and course.certificate_validity_months is None
    assert course.min_theory_hours > 0 and course.min_practical_hours > 0
    lines = [line for line in result.output.splitlines() if data.FIRST_STATION_CODE in line]
    assert len(lines) == 1 and lines[0].startswith("Demo course: IIOT-GZ-2020")
    assert "published" in lines[0] and "90 active" in lines[0]


@pytest.mark.slow
def test_the_demo_course_has_three_theory_and_two_practical_modules(cli):
    assert_exit(cli("seed-demo"), 0)

    modules = db.session.scalars(
        select(Module).where(Module.course_id == demo_course().id).order_by(Module.position)
    ).all()
    assert [(m.kind, m.title) for m in modules] == [
        ("theory", "工业互联网体系架构"),
        ("theory", "5G+工业互联网应用"),
        ("theory", "工业大数据与人工智能基础"),
        ("practical", "工业互联网平台设备接入实训"),
        ("practical", "数字孪生产线建模实训"),
    ]
    quizzes = [m.quiz for m in modules if m.quiz is not None]
    assert len(quizzes) == 1 and 3 <= len(quizzes[0].questions) <= 5
    assert {len(q.correct) > 1 for q in quizzes[0].questions} == {True, False}
    course = demo_course()
    theory = sum(m.hours for m in modules if m.kind == "theory")
    practical = sum(m.hours for m in modules if m.kind == "practical")
    assert theory >= course.min_theory_hours and practical >= course.min_practical_hours
    for practical_module in modules[3:]:
        assert 3 <= len(practical_module.criteria) <= 4
        total = sum(c.max_points for c in practical_module.criteria)
        assert 0 < practical_module.pass_points <= total


@pytest.mark.slow
def test_the_demo_course_has_the_three_instructors_and_ninety_active_teachers(cli, client):
    assert_exit(cli("seed-demo"), 0)
    course = demo_course()

    instructors = db.session.scalars(
        select(User.email)
        .join(CourseInstructor, CourseInstructor.user_id == User.id)
        .where(CourseInstructor.course_id == course.id)
    ).all()
    assert sorted(instructors) == [data.instructor_email(n) for n in (1, 2, 3)]
    enrolled = db.session.execute(
        select(User.email, Enrollment.status)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id)
    ).all()
    # Everyone is enrolled; the ten who completed the course hold certificates.
    assert sorted(email for email, _ in enrolled) == [data.teacher_email(n) for n in range(1, 91)]
    assert sum(status == "completed" for _, status in enrolled) == 10
    assert {status for _, status in enrolled} == {"active", "completed"}
    assert course.seats_taken == 90

    client.login("teacher20@demo.lms.cn", data.DEMO_PASSWORD)
    mine = client.get("/api/v1/me/enrollments").get_json()
    assert [(e["course"]["code"], e["status"]) for e in mine] == [("IIOT-GZ-2020", "active")]
    # (teacher20 was asked to revise a practical: still active)


@pytest.mark.slow
def test_the_demo_course_is_built_by_the_demo_admin_with_audit_events(cli):
    assert_exit(cli("seed-demo"), 0)
    admin = user_by_email(data.ADMIN["email"])

    rows = db.session.execute(
        select(
            AuditEvent.action,
            func.count(),
            func.min(AuditEvent.actor_id),
            func.max(AuditEvent.actor_id),
        )
        .where(AuditEvent.entity_type.in_(("program", "course", "module", "enrollment")))
        .group_by(AuditEvent.action)
    ).all()
    by_action = {action: (n, low, high) for action, n, low, high in rows}
    assert by_action == {
        "program.created": (1, admin.id, admin.id),
        "course.created": (1, admin.id, admin.id),
        "module.created": (5, admin.id, admin.id),
        "course.instructor_assigned": (3, admin.id, admin.id),
        "enrollment.created": (90, admin.id, admin.id),
        "course.published": (1, admin.id, admin.id),
    }


@pytest.mark.slow
def test_a_second_seed_demo_adds_nothing_to_the_station(cli):
    assert_exit(cli("seed-demo"), 0)
    counts, events = station_counts(), audit_count()

    second = cli("seed-demo")

    assert_exit(second, 0)
    assert station_counts() == counts == (1, 1, 5, 3, 90)
    assert audit_count() == events
    assert demo_course().status == "published"


@pytest.mark.slow
def test_seed_demo_keeps_a_withdrawal_made_during_a_demo(cli):
    assert_exit(cli("seed-demo"), 0)
    teacher = user_by_email(data.teacher_email(5))
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == teacher.id))
    enrollment_services.withdraw(enrollment, actor=teacher)

    assert_exit(cli("seed-demo"), 0)

    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "withdrawn"
    assert demo_course().seats_taken == 89


@pytest.mark.slow
def test_audit_verify_passes_after_seeding_the_station_twice(cli):
    assert_exit(cli("seed-demo"), 0)
    assert_exit(cli("seed-demo"), 0)

    result = cli("audit-verify")

    assert_exit(result, 0)
    assert result.output.startswith("OK:")
    assert audit_count() > 94 + 90  # accounts, and the station's enrolments among others


# --- audit-verify -------------------------------------------------------------------------


@pytest.mark.slow
def test_audit_verify_reports_an_intact_chain_after_seeding(cli):
    assert_exit(cli("seed-demo"), 0)

    result = cli("audit-verify")

    assert_exit(result, 0)
    assert result.output.startswith("OK:")
    assert f"{audit_count()} audit events" in result.output


@pytest.mark.slow
def test_audit_verify_names_the_event_whose_data_was_tampered_with(cli):
    assert_exit(cli("seed-demo"), 0)
    victim = db.session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.action == "user.created")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    tamper = text("UPDATE audit_events SET data = :data WHERE id = :id").bindparams(
        bindparam("data", type_=JSON)
    )
    db.session.execute(
        tamper, {"data": {"email": "mallory@example.cn", "role": "admin"}, "id": victim}
    )
    db.session.expire_all()  # the command shares this session; forget what it loaded

    result = cli("audit-verify")

    assert_exit(result, 1)
    assert f"TAMPERED: event {victim}:" in result.output


@pytest.mark.slow
def test_seed_demo_fills_the_grading_queue_and_progress(cli, app):
    from tests.http import ApiClient

    assert_exit(cli("seed-demo"), 0)
    course = demo_course()
    instructor = ApiClient(app.test_client())
    instructor.login(data.instructor_email(1), data.DEMO_PASSWORD)
    queue = instructor.get(f"/api/v1/courses/{course.id}/submissions?status=submitted")
    assert queue.status_code == 200
    waiting = data.DEMO_SUBMITTERS - data.DEMO_GRADED
    assert len(queue.get_json()) == min(waiting, 10)
    graded = instructor.get(f"/api/v1/courses/{course.id}/submissions?status=graded")
    assert graded.get_json() and all(s["grade"] for s in graded.get_json())

    teacher = ApiClient(app.test_client())
    teacher.login(data.teacher_email(13), data.DEMO_PASSWORD)
    enrollment = teacher.get("/api/v1/me/enrollments").get_json()[0]
    progress = teacher.get(f"/api/v1/enrollments/{enrollment['id']}/progress").get_json()
    assert progress["theory_hours"] > 0
    practicals = [m["status"] for m in progress["modules"] if m["kind"] == "practical"]
    assert practicals == ["passed", "not_started"]

    events = audit_count()
    assert_exit(cli("seed-demo"), 0)
    assert audit_count() == events  # the activity is added once


@pytest.mark.slow
def test_the_demo_gradebook_downloads_as_xlsx_and_csv_with_chinese_headers(cli, app):
    import io

    import openpyxl

    from tests.http import ApiClient

    assert_exit(cli("seed-demo"), 0)
    course = demo_course()
    admin = ApiClient(app.test_client())
    admin.login(data.ADMIN["email"], data.DEMO_PASSWORD)
    csv_response = admin.get(f"/api/v1/courses/{course.id}/gradebook?format=csv")
    assert csv_response.status_code == 200
    text = csv_response.get_data().decode("utf-8")
    assert text.startswith("\ufeff") and "姓名" in text.splitlines()[0]
    assert len(text.strip().splitlines()) == 1 + 90
    xlsx_response = admin.get(f"/api/v1/courses/{course.id}/gradebook?format=xlsx")
    assert xlsx_response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "姓名" in str(rows[0][0]) and len(rows) == 1 + 90
    assert "工业互联网平台设备接入实训" in " ".join(str(c) for c in rows[0])


@pytest.mark.slow
def test_seed_demo_issues_certificates_to_the_teachers_who_completed(cli, app):
    from lms.certificates.models import Certificate
    from tests.http import ApiClient

    assert_exit(cli("seed-demo"), 0)
    course = demo_course()
    valid = db.session.scalars(
        select(Certificate).where(Certificate.course_id == course.id, Certificate.status == "valid")
    ).all()
    assert len(valid) == 10
    assert all(c.serial.startswith("IIOT-GZ-2020-") for c in valid)
    assert_exit(cli("seed-demo"), 0)
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 10

    teacher = ApiClient(app.test_client())
    teacher.login(data.teacher_email(1), data.DEMO_PASSWORD)
    [mine] = teacher.get("/api/v1/me/certificates").get_json()
    verified = teacher.get(
        mine["verify_url"].split("127.0.0.1:5000")[-1].replace("/verify/", "/api/v1/verify/")
    ).get_json()
    assert verified["status"] == "valid"


# --- long work: imports, bulk issuance, ZIP export, the job worker ----------------------------


def _write_csv(path, rows: list[str]) -> str:
    path.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    return str(path)


PEOPLE = [
    "邮箱,姓名,单位",
    "cli.one@example.edu.cn,陈一,深圳职业技术大学",
    "cli.two@example.edu.cn,林二,天津职业大学",
]


def test_import_users_creates_the_accounts_and_saves_their_tokens(cli, admin, tmp_path):
    tokens = tmp_path / "tokens.csv"
    result = cli(
        "import-users",
        _write_csv(tmp_path / "people.csv", PEOPLE),
        "--as",
        admin.email,
        "--tokens-file",
        str(tokens),
    )

    assert_exit(result, 0)
    assert "Imported 2 row(s): 2 account(s) created" in result.output
    assert user_by_email("cli.two@example.edu.cn").full_name == "林二"
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"
    lines = tokens.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "email,token" and len(lines) == 3


def test_import_users_with_a_bad_row_names_it_and_creates_nobody(cli, admin, tmp_path):
    rows = [*PEOPLE, "not-an-email,王三,深圳职业技术大学"]
    result = cli("import-users", _write_csv(tmp_path / "people.csv", rows), "--as", admin.email)

    assert_exit(result, 1)
    assert "row 4, email" in result.output
    assert user_by_email("cli.one@example.edu.cn") is None


def test_import_commands_act_only_for_an_active_admin(cli, teacher, tmp_path):
    result = cli("import-users", _write_csv(tmp_path / "p.csv", PEOPLE), "--as", teacher.email)
    assert_exit(result, 1)
    assert "no active admin" in result.output
    assert user_by_email("cli.one@example.edu.cn") is None


def test_import_roster_issue_and_export_certificates_of_a_course(
    cli, admin, admin_client, tmp_path
):
    import zipfile

    from lms.catalog.models import Course
    from lms.certificates.models import Certificate
    from lms.learning.models import ModuleCompletion
    from tests.http import certificate_course

    course = certificate_course(admin_client)
    result = cli(
        "import-roster", course["code"], _write_csv(tmp_path / "r.csv", PEOPLE), "--as", admin.email
    )
    assert_exit(result, 0)
    assert "2 account(s) created" in result.output and "2 enrolled" in result.output
    enrolments = db.session.scalars(
        select(Enrollment).where(Enrollment.course_id == course["id"])
    ).all()
    assert {e.status for e in enrolments} == {"active"} and len(enrolments) == 2
    assert db.session.get(Course, course["id"]).seats_taken == 2
    db.session.add_all(
        ModuleCompletion(enrollment_id=e.id, module_id=course["modules"][0]["id"], how="manual")
        for e in enrolments
    )
    db.session.commit()

    issued = cli("issue-certificates", course["code"], "--as", admin.email)
    again = cli("issue-certificates", course["code"], "--as", admin.email)

    assert_exit(issued, 0)
    assert "Issued 2 certificate(s); skipped: none." in issued.output
    assert "Issued 0 certificate(s); skipped: 2 already_issued." in again.output

    out = tmp_path / "certificates.zip"
    exported = cli("export-certificates", course["code"], str(out))

    assert_exit(exported, 0)
    assert f"Wrote 2 certificate(s) to {out}" in exported.output
    serials = sorted(
        db.session.scalars(
            select(Certificate.serial).where(Certificate.course_id == course["id"])
        ).all()
    )
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert [name.split("_")[0] for name in archive.namelist()] == serials
    assert list(tmp_path.glob("*.partial")) == []


def test_commands_refuse_an_unknown_course_and_write_no_file(cli, admin, tmp_path):
    out = tmp_path / "none.zip"
    assert "No course has the code NOPE" in cli("export-certificates", "NOPE", str(out)).output
    assert not out.exists() and list(tmp_path.iterdir()) == []
    result = cli("issue-certificates", "NOPE", "--as", admin.email)
    assert_exit(result, 1)


def test_run_jobs_once_runs_the_queued_jobs(cli, app, admin, admin_client, monkeypatch):
    from lms.jobs.models import Job
    from tests.http import certificate_course

    monkeypatch.setitem(app.config, "LMS_JOBS_RUNNER", "worker")
    course = certificate_course(admin_client)
    response = admin_client.get(
        f"/api/v1/courses/{course['id']}/certificates.zip", headers={"Prefer": "respond-async"}
    )
    assert response.status_code == 202

    result = cli("run-jobs", "--once")

    assert_exit(result, 0)
    assert "Ran 1 job(s)." in result.output
    job = db.session.get(Job, response.get_json()["id"], populate_existing=True)
    assert job.status == "succeeded" and job.result["certificates"] == 0
