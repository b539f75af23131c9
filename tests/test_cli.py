"""The ``flask lms`` commands: create-admin, seed-demo and audit-verify."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import JSON, bindparam, func, select, text

from lms.accounts.models import User
from lms.audit.models import AuditEvent
from lms.demo import data
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


def test_a_seeded_teacher_logs_in_with_the_chosen_password(cli, client):
    assert_exit(cli("seed-demo", "--password", "Another-Demo-Secret-7"), 0)

    client.login("teacher90@demo.lms.cn", "Another-Demo-Secret-7")


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


# --- audit-verify -------------------------------------------------------------------------


def test_audit_verify_reports_an_intact_chain_after_seeding(cli):
    assert_exit(cli("seed-demo"), 0)

    result = cli("audit-verify")

    assert_exit(result, 0)
    assert result.output.startswith("OK:")
    assert f"{audit_count()} audit events" in result.output


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
