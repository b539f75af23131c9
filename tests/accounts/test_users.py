"""User administration: create, list, read, update; roles and field rules."""

import json

import pytest

from lms.audit.models import AuditEvent
from lms.extensions import db
from tests.http import assert_problem

NEW_TEACHER = {
    "email": "Zhang.Wei@GDQY.edu.cn",
    "full_name": "张伟",
    "role": "teacher",
    "full_name_en": "Zhang Wei",
    "institution": "广东轻工职业技术学院",
    "department": "信息技术学院",
    "title": "讲师",
    "staff_no": "T2020001",
    "phone": "13800138000",
}


def test_admin_creates_a_user_with_lowercased_email(admin_client):
    response = admin_client.post("/api/v1/users", json=NEW_TEACHER)
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "zhang.wei@gdqy.edu.cn"
    assert body["institution"] == "广东轻工职业技术学院"
    assert body["activation_token"].startswith("act_")
    assert "password" not in body and "password_hash" not in body


def test_admin_creates_a_user_with_a_password_who_can_log_in(admin_client, anon):
    response = admin_client.post(
        "/api/v1/users", json={**NEW_TEACHER, "password": "a long enough passphrase"}
    )
    assert response.status_code == 201
    assert response.get_json()["activation_token"] is None
    anon.login("zhang.wei@gdqy.edu.cn", "a long enough passphrase")


def test_duplicate_email_is_409_whatever_the_case(admin_client):
    assert admin_client.post("/api/v1/users", json=NEW_TEACHER).status_code == 201
    response = admin_client.post(
        "/api/v1/users", json={**NEW_TEACHER, "email": "zhang.wei@gdqy.EDU.CN"}
    )
    assert_problem(response, 409, "email-taken")


@pytest.mark.parametrize(
    "field,value",
    [
        ("email", "not-an-email"),
        ("email", ""),
        ("full_name", ""),
        ("full_name", "x" * 101),
        ("role", "superuser"),
        ("phone", "call me"),
        ("password", "short"),
        ("password", "1qaz2wsx3edc"),
        ("password", "x" * 129),
        ("full_name", 42),
        ("password_hash", "$argon2id$..."),
        ("is_active", False),
        ("id", 7),
    ],
)
def test_invalid_or_forbidden_fields_are_refused_with_field_messages(admin_client, field, value):
    response = admin_client.post("/api/v1/users", json={**NEW_TEACHER, field: value})
    body = assert_problem(response, 422)
    assert field in body["errors"], body
    assert admin_client.get("/api/v1/users?q=zhang.wei").get_json() == []


def test_password_of_64_characters_is_accepted(admin_client):
    response = admin_client.post(
        "/api/v1/users",
        json={**NEW_TEACHER, "password": "".join(chr(0x4E00 + 7 * i) for i in range(64))},
    )
    assert response.status_code == 201


def test_password_equal_to_the_email_name_is_refused(admin_client):
    response = admin_client.post(
        "/api/v1/users",
        json={**NEW_TEACHER, "email": "wang.xiaoming1@example.cn", "password": "wang.xiaoming1"},
    )
    assert "password" in assert_problem(response, 422)["errors"]


def test_missing_required_fields_are_named(admin_client):
    body = assert_problem(admin_client.post("/api/v1/users", json={}), 422)
    assert set(body["errors"]) >= {"email", "full_name", "role"}


def test_malformed_json_is_400(admin_client):
    response = admin_client.post("/api/v1/users", data="{not json", content_type="application/json")
    assert_problem(response, 400, "malformed-json")


def test_json_array_body_is_422(admin_client):
    assert_problem(admin_client.post("/api/v1/users", json=[NEW_TEACHER]), 422)


def test_wrong_media_type_is_415(admin_client):
    response = admin_client.post(
        "/api/v1/users", data=json.dumps(NEW_TEACHER), content_type="text/plain"
    )
    assert_problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize("who,status", [("anonymous", 401), ("teacher", 403), ("instructor", 403)])
def test_only_admins_manage_users(app, users, client, who, status):
    from tests.http import ApiClient

    if who != "anonymous":
        user = users.create(role=who)
        client = ApiClient(app.test_client())
        client.login(user.email)
    else:
        client.fetch_csrf()
    assert_problem(client.post("/api/v1/users", json=NEW_TEACHER), status)
    assert_problem(client.get("/api/v1/users"), status)
    assert_problem(client.get("/api/v1/users/1"), status)
    assert_problem(client.patch("/api/v1/users/1", json={"role": "admin"}), status)


def test_list_is_paginated_and_filtered_by_role_and_search(admin_client, users):
    for n in range(12):
        users.create(role="teacher", full_name=f"刘{n}号", email=f"liu{n}@example.cn")
    users.create(
        role="instructor", full_name="周导师", email="zhou@example.cn", full_name_en="Zhou Daoshi"
    )
    response = admin_client.get("/api/v1/users?role=teacher&page=2&page_size=5")
    assert response.status_code == 200
    assert len(response.get_json()) == 5
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 12 and pagination["page"] == 2
    assert [u["email"] for u in admin_client.get("/api/v1/users?q=ZHOU").get_json()] == [
        "zhou@example.cn"
    ]
    assert len(admin_client.get("/api/v1/users?q=刘1").get_json()) == 3  # 刘1号, 刘10号, 刘11号
    assert admin_client.get("/api/v1/users?q=daoshi").get_json()[0]["role"] == "instructor"


@pytest.mark.parametrize(
    "query", ["role=boss", "page=0", "page_size=101", "page=abc", "is_active=maybe", "q="]
)
def test_bad_list_parameters_are_422(admin_client, query):
    assert_problem(admin_client.get(f"/api/v1/users?{query}"), 422)


def test_list_issues_the_same_number_of_queries_for_10_and_50_users(
    admin_client, users, count_queries
):
    for _ in range(10):
        users.create()
    with count_queries() as small:
        admin_client.get("/api/v1/users?page_size=100")
    for _ in range(40):
        users.create()
    with count_queries() as large:
        admin_client.get("/api/v1/users?page_size=100")
    assert len(small) == len(large)


def test_read_unknown_user_is_404(admin_client):
    assert_problem(admin_client.get("/api/v1/users/999999"), 404)


def test_admin_updates_profile_and_role_with_audit(admin_client, teacher):
    response = admin_client.patch(
        f"/api/v1/users/{teacher.id}",
        json={"title": "副教授", "role": "instructor", "full_name_en": "Li Ming"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["role"], body["full_name_en"]) == (
        "副教授",
        "instructor",
        "Li Ming",
    )
    actions = db.session.scalars(
        db.select(AuditEvent.action).where(
            AuditEvent.entity_type == "user", AuditEvent.entity_id == str(teacher.id)
        )
    ).all()
    assert "user.role_changed" in actions and "user.updated" in actions


def test_admin_cannot_change_own_role_or_deactivate_self(admin_client, admin):
    assert_problem(admin_client.patch(f"/api/v1/users/{admin.id}", json={"role": "teacher"}), 403)
    assert_problem(admin_client.patch(f"/api/v1/users/{admin.id}", json={"is_active": False}), 403)
    db.session.expire_all()
    assert db.session.get(type(admin), admin.id).role == "admin"


def test_teacher_cannot_raise_own_role(teacher_client, teacher):
    assert_problem(teacher_client.patch(f"/api/v1/users/{teacher.id}", json={"role": "admin"}), 403)


@pytest.mark.parametrize(
    "payload",
    [
        {"password_hash": "x"},
        {"created_at": "2020-01-01"},
        {"id": 5},
        {"role": "root"},
        {"email": "bad"},
    ],
)
def test_update_refuses_unknown_and_forbidden_fields(admin_client, teacher, payload):
    assert_problem(admin_client.patch(f"/api/v1/users/{teacher.id}", json=payload), 422)


def test_update_to_an_existing_email_is_409(admin_client, teacher, admin):
    response = admin_client.patch(f"/api/v1/users/{teacher.id}", json={"email": admin.email})
    assert_problem(response, 409, "email-taken")


def test_errors_follow_accept_language(admin_client):
    response = admin_client.get("/api/v1/users/999999", headers={"Accept-Language": "zh-CN"})
    assert assert_problem(response, 404)["detail"] == "资源不存在。"
