"""Login, logout, sessions, CSRF, activation, password change and API tokens."""

import pytest

from lms.accounts.models import LoginSession
from lms.extensions import db
from tests.builders import PASSWORD
from tests.http import ApiClient, assert_problem

NEW_PASSWORD = "a brand new passphrase 2026"


def test_login_returns_user_and_a_new_csrf_token(client, teacher):
    before = client.fetch_csrf()
    response = client.login(teacher.email)
    body = response.get_json()
    assert body["user"]["email"] == teacher.email
    assert body["user"]["role"] == "teacher"
    assert "password_hash" not in body["user"]
    assert body["csrf_token"] and body["csrf_token"] != before


def test_login_without_csrf_token_is_refused(client, teacher):
    response = client.post(
        "/api/v1/auth/login",
        headers={"X-CSRFToken": ""},
        json={"email": teacher.email, "password": PASSWORD},
    )
    assert_problem(response, 403, "csrf-failed")


def test_email_is_case_insensitive_at_login(client, teacher):
    client.login(teacher.email.upper())


@pytest.mark.parametrize(
    "email,password",
    [
        ("teacher@example.edu.cn", "wrong password entirely"),
        ("nobody@example.edu.cn", PASSWORD),
    ],
)
def test_wrong_email_and_wrong_password_get_the_same_401(client, teacher, email, password):
    response = client.login(email, password, expect=401)
    body = assert_problem(response, 401, "invalid-credentials")
    assert body["detail"] == "The email or password is incorrect."


def test_inactive_user_cannot_log_in(client, users):
    user = users.create(is_active=False)
    assert_problem(client.login(user.email, expect=401), 401, "invalid-credentials")


def test_user_without_password_cannot_log_in(client, users):
    user = users.create(password=None)
    assert_problem(client.login(user.email, "", expect=422), 422)
    assert_problem(client.login(user.email, PASSWORD, expect=401), 401)


def test_login_rotates_the_session_cookie(client, teacher):
    client.fetch_csrf()
    before = client.client.get_cookie("lms_session").value
    client.login(teacher.email)
    after = client.client.get_cookie("lms_session").value
    assert before != after


def test_session_cookie_flags(client, teacher):
    response = client.login(teacher.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development and tests only


def test_production_cookies_are_secure(monkeypatch):
    from config import load_config

    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("LMS_SIGNING_KEY", "/run/secrets/lms-signing-key.pem")  # only named
    assert load_config("production")["SESSION_COOKIE_SECURE"] is True
    assert load_config("development")["SESSION_COOKIE_SECURE"] is False


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    from config import ConfigError, load_config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        load_config("production")


def test_me_requires_login(client):
    assert_problem(client.get("/api/v1/auth/me"), 401)


def test_logout_makes_a_copied_cookie_useless(app, teacher_client):
    stolen = ApiClient(app.test_client())
    stolen.client.set_cookie("lms_session", teacher_client.client.get_cookie("lms_session").value)
    assert stolen.get("/api/v1/auth/me").status_code == 200

    assert teacher_client.post("/api/v1/auth/logout").status_code == 204
    assert_problem(teacher_client.get("/api/v1/auth/me"), 401)
    assert_problem(stolen.get("/api/v1/auth/me"), 401)


def test_logout_ends_only_this_session(app, teacher, teacher_client):
    other = ApiClient(app.test_client())
    other.login(teacher.email)
    teacher_client.post("/api/v1/auth/logout")
    assert other.get("/api/v1/auth/me").status_code == 200


def test_unsafe_request_with_session_needs_csrf_header(teacher_client):
    response = teacher_client.post(
        "/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRFToken": ""}
    )
    assert_problem(response, 403, "csrf-failed")
    response = teacher_client.post(
        "/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRFToken": "forged"}
    )
    assert_problem(response, 403, "csrf-failed")


def test_csrf_token_from_another_session_is_refused(app, teacher, teacher_client):
    other = ApiClient(app.test_client())
    other.login(teacher.email)
    response = teacher_client.post(
        "/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRFToken": other.csrf_token}
    )
    assert_problem(response, 403, "csrf-failed")


def test_password_change_ends_every_other_session(app, teacher, teacher_client):
    other = ApiClient(app.test_client())
    other.login(teacher.email)
    response = teacher_client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    teacher_client.csrf_token = response.get_json()["csrf_token"]
    assert teacher_client.get("/api/v1/auth/me").status_code == 200
    assert_problem(other.get("/api/v1/auth/me"), 401)
    ApiClient(app.test_client()).login(teacher.email, NEW_PASSWORD)
    ApiClient(app.test_client()).login(teacher.email, PASSWORD, expect=401)


def test_password_change_checks_current_password_and_policy(teacher_client):
    response = teacher_client.post(
        "/api/v1/auth/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
    )
    assert "current_password" in assert_problem(response, 422)["errors"]
    response = teacher_client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert "new_password" in assert_problem(response, 422)["errors"]


def test_expired_login_session_is_not_accepted(teacher_client):
    from datetime import timedelta

    from lms.core.db import utcnow

    for row in db.session.scalars(db.select(LoginSession)):
        row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_problem(teacher_client.get("/api/v1/auth/me"), 401)


def test_deactivated_user_loses_sessions_and_tokens(app, admin_client, teacher, teacher_client):
    token = teacher_client.post("/api/v1/auth/tokens", json={"name": "script"}).get_json()
    bot = ApiClient(app.test_client())
    bot.bearer = token["token"]
    assert bot.get("/api/v1/auth/me").status_code == 200
    response = admin_client.patch(f"/api/v1/users/{teacher.id}", json={"is_active": False})
    assert response.status_code == 200
    assert_problem(teacher_client.get("/api/v1/auth/me"), 401)
    assert_problem(bot.get("/api/v1/auth/me"), 401)


# --- activation ----------------------------------------------------------------------------


def _create_pending_teacher(admin_client, email="new.teacher@example.edu.cn"):
    response = admin_client.post(
        "/api/v1/users", json={"email": email, "full_name": "陈晓燕", "role": "teacher"}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_admin_creates_teacher_without_password_who_activates_and_logs_in(app, admin_client):
    created = _create_pending_teacher(admin_client)
    assert created["activation_token"]
    assert created["is_activated"] is False
    browser = ApiClient(app.test_client())
    browser.fetch_csrf()
    response = browser.post(
        "/api/v1/auth/activate",
        json={"token": created["activation_token"], "password": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert response.get_json()["is_activated"] is True
    browser.login(created["email"], NEW_PASSWORD)


def test_activation_token_is_single_use(app, admin_client):
    created = _create_pending_teacher(admin_client)
    browser = ApiClient(app.test_client())
    browser.fetch_csrf()
    payload = {"token": created["activation_token"], "password": NEW_PASSWORD}
    assert browser.post("/api/v1/auth/activate", json=payload).status_code == 200
    response = browser.post("/api/v1/auth/activate", json=payload)
    assert "token" in assert_problem(response, 422, "invalid-activation-token")["errors"]


def test_expired_activation_token_is_refused(app, admin_client):
    from datetime import timedelta

    from lms.accounts.models import ActivationToken
    from lms.core.db import utcnow

    created = _create_pending_teacher(admin_client)
    for row in db.session.scalars(db.select(ActivationToken)):
        row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    browser = ApiClient(app.test_client())
    browser.fetch_csrf()
    response = browser.post(
        "/api/v1/auth/activate",
        json={"token": created["activation_token"], "password": NEW_PASSWORD},
    )
    assert_problem(response, 422, "invalid-activation-token")


def test_unknown_activation_token_is_refused(client):
    client.fetch_csrf()
    response = client.post(
        "/api/v1/auth/activate", json={"token": "act_made-up", "password": NEW_PASSWORD}
    )
    assert_problem(response, 422, "invalid-activation-token")


def test_activation_enforces_the_password_policy_and_keeps_the_token(app, admin_client):
    created = _create_pending_teacher(admin_client)
    browser = ApiClient(app.test_client())
    browser.fetch_csrf()
    response = browser.post(
        "/api/v1/auth/activate",
        json={"token": created["activation_token"], "password": "password1234"},
    )
    assert "password" in assert_problem(response, 422)["errors"]
    response = browser.post(
        "/api/v1/auth/activate",
        json={"token": created["activation_token"], "password": NEW_PASSWORD},
    )
    assert response.status_code == 200


def test_admin_can_reissue_an_activation_token(app, admin_client):
    created = _create_pending_teacher(admin_client)
    response = admin_client.post(f"/api/v1/users/{created['id']}/activation-token")
    assert response.status_code == 201
    fresh = response.get_json()["activation_token"]
    browser = ApiClient(app.test_client())
    browser.fetch_csrf()
    old = browser.post(
        "/api/v1/auth/activate",
        json={"token": created["activation_token"], "password": NEW_PASSWORD},
    )
    assert_problem(old, 422)
    assert (
        browser.post(
            "/api/v1/auth/activate", json={"token": fresh, "password": NEW_PASSWORD}
        ).status_code
        == 200
    )
    again = admin_client.post(f"/api/v1/users/{created['id']}/activation-token")
    assert_problem(again, 409, "already-activated")


# --- API tokens ----------------------------------------------------------------------------


def test_api_token_is_shown_once_stored_hashed_and_works_without_csrf(app, teacher_client, teacher):
    from lms.accounts.models import ApiToken

    response = teacher_client.post(
        "/api/v1/auth/tokens", json={"name": "成绩同步脚本", "expires_in_days": 30}
    )
    assert response.status_code == 201
    created = response.get_json()
    assert created["token"].startswith("lms_pat_")
    stored = db.session.get(ApiToken, created["id"])
    assert stored.token_hash != created["token"] and created["token"] not in stored.token_hash

    listed = teacher_client.get("/api/v1/auth/tokens").get_json()
    assert [t["name"] for t in listed] == ["成绩同步脚本"]
    assert "token" not in listed[0]

    bot = ApiClient(app.test_client())
    bot.bearer = created["token"]
    assert bot.get("/api/v1/auth/me").get_json()["id"] == teacher.id
    # Unsafe request with a bearer token and no CSRF header: allowed.
    assert bot.delete(f"/api/v1/auth/tokens/{created['id']}").status_code == 204


def test_a_bearer_token_cannot_create_tokens(app, teacher_client):
    """A leaked token must not mint successors that outlive its revocation."""
    created = teacher_client.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()
    bot = ApiClient(app.test_client())
    bot.bearer = created["token"]
    body = assert_problem(
        bot.post("/api/v1/auth/tokens", json={"name": "second"}), 403, "session-required"
    )
    assert "API" in body["detail"]
    assert [t["name"] for t in teacher_client.get("/api/v1/auth/tokens").get_json()] == ["x"]


def test_token_lifetime_is_clamped_to_the_configured_maximum(app, teacher_client, monkeypatch):
    from datetime import datetime, timedelta

    from lms.core.db import utcnow

    monkeypatch.setitem(app.config, "API_TOKEN_MAX_DAYS", 30)
    limit = utcnow() + timedelta(days=30, minutes=1)
    for payload in ({"name": "long", "expires_in_days": 365}, {"name": "default"}):
        created = teacher_client.post("/api/v1/auth/tokens", json=payload).get_json()
        assert datetime.fromisoformat(created["expires_at"]) <= limit, created
    short = teacher_client.post(
        "/api/v1/auth/tokens", json={"name": "short", "expires_in_days": 7}
    ).get_json()
    assert datetime.fromisoformat(short["expires_at"]) <= utcnow() + timedelta(days=7, minutes=1)


def test_password_change_revokes_every_api_token(app, teacher_client):
    created = teacher_client.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()
    bot = ApiClient(app.test_client())
    bot.bearer = created["token"]
    assert bot.get("/api/v1/auth/me").status_code == 200
    response = teacher_client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    teacher_client.csrf_token = response.get_json()["csrf_token"]
    assert_problem(bot.get("/api/v1/auth/me"), 401)
    assert teacher_client.get("/api/v1/auth/tokens").get_json() == []


def test_deactivation_revokes_tokens_and_sessions_for_good(
    app, admin_client, teacher, teacher_client
):
    created = teacher_client.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()
    bot = ApiClient(app.test_client())
    bot.bearer = created["token"]
    for active in (False, True):
        response = admin_client.patch(f"/api/v1/users/{teacher.id}", json={"is_active": active})
        assert response.status_code == 200
    # Reactivated, the account logs in again; the old token and session stay dead.
    assert_problem(bot.get("/api/v1/auth/me"), 401)
    assert_problem(teacher_client.get("/api/v1/auth/me"), 401)
    ApiClient(app.test_client()).login(teacher.email)


def test_revoked_api_token_stops_working(app, teacher_client):
    created = teacher_client.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()
    assert teacher_client.delete(f"/api/v1/auth/tokens/{created['id']}").status_code == 204
    bot = ApiClient(app.test_client())
    bot.bearer = created["token"]
    assert_problem(bot.get("/api/v1/auth/me"), 401)
    assert teacher_client.get("/api/v1/auth/tokens").get_json() == []


def test_expired_api_token_stops_working(app, teacher_client):
    from datetime import timedelta

    from lms.accounts.models import ApiToken
    from lms.core.db import utcnow

    created = teacher_client.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()
    db.session.get(ApiToken, created["id"]).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    bot = ApiClient(app.test_client())
    bot.bearer = created["token"]
    assert_problem(bot.get("/api/v1/auth/me"), 401)


def test_cannot_revoke_another_users_token(users, app, teacher_client):
    other = users.create()
    other_client = ApiClient(app.test_client())
    other_client.login(other.email)
    created = other_client.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()
    assert_problem(teacher_client.delete(f"/api/v1/auth/tokens/{created['id']}"), 404)


def test_bogus_bearer_token_is_anonymous(client):
    client.bearer = "lms_pat_nope"
    assert_problem(client.get("/api/v1/auth/me"), 401)


def test_bearer_token_wins_over_a_session_cookie(app, admin_client, teacher_client):
    created = teacher_client.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()
    admin_client.bearer = created["token"]
    assert admin_client.get("/api/v1/auth/me").get_json()["role"] == "teacher"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "x", "expires_in_days": 0},
        {"name": "x", "expires_in_days": 10000},
        {"name": "x", "scope": "admin"},
    ],
)
def test_token_creation_validates_fields(teacher_client, payload):
    assert_problem(teacher_client.post("/api/v1/auth/tokens", json=payload), 422)


# --- rate limits ---------------------------------------------------------------------------


def test_login_is_rate_limited_per_account(app, client, teacher):
    for _ in range(5):
        client.login(teacher.email, "wrong password here", expect=401)
    response = client.login(teacher.email, PASSWORD, expect=429)
    assert_problem(response, 429)
    # Another account from the same address is not locked by this one.
    other = ApiClient(app.test_client())
    other.login("someone.else@example.edu.cn", "whatever password", expect=401)


def test_successful_logins_do_not_count_towards_the_account_limit(client, teacher):
    for _ in range(8):
        client.login(teacher.email)


def test_login_is_rate_limited_per_address(app, client):
    app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "3 per minute"
    try:
        for n in range(3):
            client.login(f"nobody{n}@example.edu.cn", "whatever password", expect=401)
        assert_problem(client.login("x@example.edu.cn", "whatever", expect=429), 429)
    finally:
        app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "30 per minute"
