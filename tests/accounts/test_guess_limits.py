"""Password guesses are counted before the hash: login and password change (issue 12).

The per-account allowance (LMS_LOGIN_LIMIT_ACCOUNT, 5 per minute) is taken atomically
before the password is verified, so parallel wrong guesses cannot all be checked; it is
kept per account and address, so a guesser elsewhere does not lock the owner out.
"""

from __future__ import annotations

import threading

import pytest

from lms.accounts import services
from tests import races
from tests.builders import PASSWORD, create_users
from tests.http import ApiClient, assert_problem

WRONG = "wrong password 2026"


@pytest.fixture
def checks(monkeypatch):
    """How many passwords were verified (each is a costly Argon2id hash)."""
    counted = {"n": 0}
    lock = threading.Lock()
    verify = services.verify_password

    def counting(password_hash, password):
        with lock:
            counted["n"] += 1
        return verify(password_hash, password)

    monkeypatch.setattr(services, "verify_password", counting)
    return counted


def _browser(app, address: str) -> ApiClient:
    client = ApiClient(app.test_client())
    client.client.environ_base["REMOTE_ADDR"] = address
    client.fetch_csrf()
    return client


@pytest.mark.real_db
@pytest.mark.slow
def test_parallel_wrong_passwords_check_at_most_five_and_do_not_lock_out_other_addresses(
    app, checks
):
    (email,) = create_users(app, 1)
    guessers = [_browser(app, "10.66.0.1") for _ in range(25)]
    results = races.fire_together(
        [
            lambda c=c: c.post("/api/v1/auth/login", json={"email": email, "password": WRONG})
            for c in guessers
        ]
    )
    races.no_server_errors(results)
    statuses = sorted(status for status, _ in results)
    assert statuses.count(401) <= 5 and statuses.count(401) + statuses.count(429) == 25
    assert checks["n"] <= 5, checks["n"]
    assert {body["code"] for status, body in results if status == 429} == {"too-many-attempts"}
    # The guesser's address stays locked for the window, with the right password too ...
    assert_problem(
        _browser(app, "10.66.0.1").post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ),
        429,
        "too-many-attempts",
    )
    # ... while the owner, from another address, logs in at once.
    _browser(app, "10.66.0.2").login(email)
    races.race_passed("25 parallel wrong passwords for one account")


def test_the_account_allowance_is_counted_before_the_hash_and_refunded_on_success(
    app, client, teacher, checks
):
    for _ in range(4):
        client.login(teacher.email, WRONG, expect=401)
    client.login(teacher.email)  # right: the four failures are forgotten
    for _ in range(5):
        client.login(teacher.email, WRONG, expect=401)
    assert checks["n"] == 10
    assert_problem(client.login(teacher.email, WRONG, expect=429), 429, "too-many-attempts")
    assert checks["n"] == 10  # refused without a hash
    response = client.login(teacher.email, expect=429)
    assert int(response.headers["Retry-After"]) >= 1


def test_password_change_guesses_are_limited_like_logins(app, teacher, checks):
    browser = _browser(app, "10.66.1.1")
    browser.login(teacher.email)
    statuses = [
        browser.post(
            "/api/v1/auth/password",
            json={"current_password": WRONG, "new_password": "a brand new passphrase 2026"},
        ).status_code
        for _ in range(40)
    ]
    assert statuses == [422] * 5 + [429] * 35
    assert checks["n"] == 1 + 5  # the login, then five guesses
    response = browser.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase 2026"},
    )
    assert_problem(response, 429)  # 41 from this address: the per-address limit too
    assert checks["n"] == 6


def test_password_change_is_limited_per_address(app, teacher, monkeypatch):
    browser = _browser(app, "10.66.2.1")
    browser.login(teacher.email)
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_PER_ADDRESS", "3 per minute")
    body = {"current_password": WRONG, "new_password": "a brand new passphrase 2026"}
    statuses = [browser.post("/api/v1/auth/password", json=body).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_a_weak_new_password_with_the_right_current_one_does_not_use_up_guesses(
    app, teacher, checks
):
    browser = _browser(app, "10.66.3.1")
    browser.login(teacher.email)
    body = {"current_password": PASSWORD, "new_password": "short"}
    statuses = [browser.post("/api/v1/auth/password", json=body).status_code for _ in range(8)]
    assert statuses == [422] * 8
