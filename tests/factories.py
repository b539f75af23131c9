"""Test data builders and an HTTP client that speaks the API's CSRF protocol."""

from __future__ import annotations

import itertools

from flask.globals import _cv_app

from lms.accounts.models import User
from lms.accounts.passwords import hash_password
from lms.extensions import db

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


class UserFactory:
    """Creates users directly in the database (flushed, inside the test transaction)."""

    def create(
        self, *, role="teacher", email=None, full_name=None, password=PASSWORD, **fields
    ) -> User:
        n = next(_seq)
        user = User(
            email=email or f"user{n}@example.edu.cn",
            full_name=full_name or f"测试用户{n}",
            role=role,
            password_hash=hash_password(password) if password else None,
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        return user


class ApiClient:
    """Wraps Flask's test client: JSON by default, and X-CSRFToken on unsafe requests."""

    def __init__(self, client):
        self.client = client
        self.csrf_token: str | None = None
        self.bearer: str | None = None

    def fetch_csrf(self) -> str:
        self.csrf_token = self.get("/api/v1/auth/csrf").get_json()["csrf_token"]
        return self.csrf_token

    def login(self, email: str, password: str = PASSWORD, *, expect: int = 200):
        self.fetch_csrf()
        response = self.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == expect, response.get_data(as_text=True)
        if response.status_code == 200:
            self.csrf_token = response.get_json()["csrf_token"]
        return response

    def _headers(self, method: str, headers):
        merged = dict(headers or {})
        if self.bearer:
            merged.setdefault("Authorization", f"Bearer {self.bearer}")
        elif method in ("POST", "PUT", "PATCH", "DELETE") and self.csrf_token:
            merged.setdefault("X-CSRFToken", self.csrf_token)
        return merged

    def open(self, method: str, url: str, *, headers=None, **kwargs):
        # Each request gets its own app context, as in production: the test's own context
        # is hidden meanwhile, otherwise ``g`` (and flask-login's cached user) would leak
        # from one request into the next.
        hidden = _cv_app.set(None)
        # Buffered: a streamed body is read while the request's context still exists.
        kwargs.setdefault("buffered", True)
        try:
            return self.client.open(
                url, method=method, headers=self._headers(method, headers), **kwargs
            )
        finally:
            _cv_app.reset(hidden)

    def get(self, url, **kw):
        return self.open("GET", url, **kw)

    def post(self, url, **kw):
        return self.open("POST", url, **kw)

    def patch(self, url, **kw):
        return self.open("PATCH", url, **kw)

    def put(self, url, **kw):
        return self.open("PUT", url, **kw)

    def delete(self, url, **kw):
        return self.open("DELETE", url, **kw)


def client_for(app, user) -> ApiClient:
    """A fresh browser logged in as ``user`` (with the factory password)."""
    client = ApiClient(app.test_client())
    client.login(user.email)
    return client


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """Assert an RFC 9457 problem answer with ``status`` (and ``code``); return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, body
    assert body["status"] == status
    if code is not None:
        assert body.get("code") == code, body
    return body
