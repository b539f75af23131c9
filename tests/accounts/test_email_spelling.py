"""One account per email, however it is typed (issue 12): NFKC, lowercase, IDNA domains;
invisible characters and mixed-script labels refused. Users API, imports and login alike."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.extensions import db
from tests.builders import PASSWORD
from tests.http import ApiClient, assert_problem

FULLWIDTH = "ｔｅａｃｈｅｒ01@ＤＥＭＯ.lms.cn"  # NFKC: teacher01@demo.lms.cn
CYRILLIC_DOMAIN = "teacher01@d\u0435mo.lms.cn"  # Cyrillic е in "demo"
CYRILLIC_LOCAL = "t\u0435acher01@demo.lms.cn"


def _create(admin_client, email: str):
    return admin_client.post(
        "/api/v1/users", json={"email": email, "full_name": "李娜", "role": "teacher"}
    )


def _users(email: str) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.email == email))


def test_a_fullwidth_spelling_is_the_same_account(admin_client):
    created = _create(admin_client, "teacher01@demo.lms.cn")
    assert created.status_code == 201
    assert_problem(_create(admin_client, FULLWIDTH), 409, "email-taken")
    assert_problem(_create(admin_client, " TEACHER01@demo.LMS.cn "), 409, "email-taken")


def test_fullwidth_input_is_stored_in_its_plain_form(admin_client):
    created = _create(admin_client, FULLWIDTH)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["email"] == "teacher01@demo.lms.cn"


@pytest.mark.parametrize(
    "email",
    [
        CYRILLIC_DOMAIN,
        CYRILLIC_LOCAL,
        "teacher01@demo.l\u03bfms.cn",  # Greek omicron
        "teacher\u200b01@demo.lms.cn",  # zero-width space
        "teacher01@demo\u200d.lms.cn",  # zero-width joiner
        "\u202eteacher01@demo.lms.cn",  # right-to-left override
        "teacher\u00ad01@demo.lms.cn",  # soft hyphen
        "teacher01@-中国.cn",  # not a valid internationalised domain
    ],
)
def test_confusable_or_invisible_emails_are_refused(admin_client, email):
    body = assert_problem(_create(admin_client, email), 422, "validation-failed")
    (message,) = body["errors"]["email"]
    assert any("\u4e00" <= c <= "\u9fff" for c in message) and "email" in message.lower()
    assert _users("teacher01@demo.lms.cn") == 0


def test_mixed_script_message_names_the_problem(admin_client):
    body = assert_problem(_create(admin_client, CYRILLIC_DOMAIN), 422)
    (message,) = body["errors"]["email"]
    assert "scripts" in message and "不同文字" in message


def test_an_internationalised_domain_is_stored_in_its_idna_form(admin_client):
    created = _create(admin_client, "Li.Na@深圳职业技术大学.中国")
    assert created.status_code == 201, created.get_json()
    stored = created.get_json()["email"]
    assert stored.startswith("li.na@xn--") and stored.endswith(".xn--fiqs8s") and stored.isascii()
    # Typed in Unicode or in its IDNA form: the same account.
    assert_problem(_create(admin_client, stored.upper()), 409, "email-taken")


def test_han_and_latin_may_share_a_label(admin_client):
    assert _create(admin_client, "张san@gdqy.edu.cn").status_code == 201


def test_login_accepts_any_spelling_of_the_email(app, users):
    users.create(email="teacher01@demo.lms.cn")
    ApiClient(app.test_client()).login(FULLWIDTH)
    ApiClient(app.test_client()).login("teacher01@dEmO.lms.cn ")
    ApiClient(app.test_client()).login(CYRILLIC_DOMAIN, expect=401)
    ApiClient(app.test_client()).login("teacher\u200b01@demo.lms.cn", PASSWORD, expect=401)


def test_changing_an_email_normalises_it_too(admin_client, users):
    users.create(email="teacher01@demo.lms.cn")
    other = users.create(email="teacher02@demo.lms.cn")
    url = f"/api/v1/users/{other.id}"
    assert_problem(admin_client.patch(url, json={"email": FULLWIDTH}), 409, "email-taken")
    assert_problem(admin_client.patch(url, json={"email": CYRILLIC_DOMAIN}), 422)


def _import(admin_client, text: str, url: str = "/api/v1/users/import"):
    return admin_client.post(
        url,
        data={"file": (io.BytesIO(text.encode()), "people.csv"), "dry_run": "false"},
        content_type="multipart/form-data",
    )


def test_import_matches_an_existing_account_through_any_spelling(admin_client, users):
    users.create(email="teacher01@demo.lms.cn", full_name="李娜")
    response = _import(admin_client, f"email,full_name\n{FULLWIDTH},李娜\n")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 0
    assert _users("teacher01@demo.lms.cn") == 1
    assert db.session.scalar(select(func.count()).select_from(User)) == 2  # and the admin


def test_import_refuses_confusable_emails_and_writes_nothing(admin_client):
    before = db.session.scalar(select(func.count()).select_from(User))
    response = _import(
        admin_client, f"email,full_name\nok@demo.lms.cn,王芳\n{CYRILLIC_DOMAIN},李娜\n"
    )
    body = assert_problem(response, 422)
    assert [e["row"] for e in body["errors"]] == [3]
    assert "不同文字" in body["errors"][0]["message"]
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_import_finds_two_spellings_of_one_email_in_a_file(admin_client):
    response = _import(
        admin_client, f"email,full_name\nteacher01@demo.lms.cn,李娜\n{FULLWIDTH},李娜\n"
    )
    body = assert_problem(response, 422)
    assert [e["row"] for e in body["errors"]] == [3]


def test_roster_import_uses_the_same_spelling(admin_client, users):
    from tests.http import make_course

    users.create(email="teacher01@demo.lms.cn", full_name="李娜")
    course = make_course(admin_client)
    response = _import(
        admin_client,
        f"email,full_name\n{FULLWIDTH},李娜\n",
        f"/api/v1/courses/{course['id']}/enrollments/import",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 0 and response.get_json()["enrolled"] == 1
