"""lms.core.auth.load: the one authorisation decorator, and what the OpenAPI document derives
from the mark it leaves."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lms.core import auth
from lms.core.api import auth_mark, error_statuses, requires_login
from lms.core.errors import Forbidden, NotAuthenticated

TEACHER = SimpleNamespace(id=7, role="teacher")
RULE = SimpleNamespace(arguments=set())
PATH_RULE = SimpleNamespace(arguments={"course_id"})


@pytest.fixture
def caller(monkeypatch):
    """Who ``actor()`` answers (None: anonymous)."""
    who = {"user": TEACHER}

    def fake_actor():
        if who["user"] is None:
            raise NotAuthenticated()
        return who["user"]

    monkeypatch.setattr(auth, "actor", fake_actor)
    return who


def hidden(value, user):
    return ("hidden", value, user.id)


@auth.may_forbid
def forbidding(value, user):
    return ("forbidding", value, user.id)


def test_resolvers_replace_the_path_arguments(caller):
    @auth.load(course=hidden, pair=(("a_id", "b_id"), lambda a, b, user: (a, b, user.id)))
    def view(course, pair, other):
        return course, pair, other

    assert view(course_id=1, a_id=2, b_id=3, other=4) == (("hidden", 1, 7), (2, 3, 7), 4)


def test_named_path_argument(caller):
    @auth.load(certificate=("serial", hidden))
    def view(certificate):
        return certificate

    assert view(serial="S1") == ("hidden", "S1", 7)


def test_anonymous_is_refused_before_any_resolver(caller):
    caller["user"] = None
    called = []

    @auth.load(course=lambda value, user: called.append(value))
    def view(course):
        return course

    with pytest.raises(NotAuthenticated):
        view(course_id=1)
    assert not called


def test_roles_are_checked_before_the_resolvers(caller):
    called = []

    @auth.load(roles="admin", course=lambda value, user: called.append(value))
    def view(course):
        return course

    with pytest.raises(Forbidden):
        view(course_id=1)
    assert not called


def test_the_mark_drives_the_documented_errors():
    def plain():
        pass

    login = auth.load()(plain)
    admin = auth.load(roles=("admin",))(plain)
    hides = auth.load(course=hidden)(plain)
    forbids = auth.load(course=forbidding)(plain)

    assert not requires_login(plain) and requires_login(login)
    mark = {"roles": frozenset({"admin"}), "resolves": False, "may_forbid": True}
    assert auth_mark(admin) == mark
    assert error_statuses(plain, "get", RULE) == {503}
    assert error_statuses(login, "get", RULE) == {401, 503}
    assert error_statuses(admin, "get", RULE) == {401, 403, 503}
    assert error_statuses(hides, "get", PATH_RULE) == {401, 404, 503}
    assert error_statuses(forbids, "get", PATH_RULE) == {401, 403, 404, 503}


def test_the_mark_is_found_through_other_decorators():
    from functools import wraps

    def outer(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)

        wrapper.__dict__.pop("_lms_auth", None)  # as a decorator that copies nothing would
        return wrapper

    view = outer(auth.load(roles="admin")(lambda: None))
    assert auth_mark(view)["roles"] == frozenset({"admin"})


def _api_with(view_decorators):
    from flask import Flask
    from flask_smorest import Blueprint
    from marshmallow import Schema, fields

    from lms.core.api import ProblemApi

    class Body(Schema):
        x = fields.Integer()

    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = ProblemApi(app)
    blp = Blueprint("t", __name__)

    def view(data, course):
        return {}

    for decorator in reversed(view_decorators(blp, Body)):
        view = decorator(view)
    blp.route("/x/<int:course_id>", methods=["POST"])(view)
    return api, blp


def test_load_below_the_arguments_is_refused_when_documented():
    api, blp = _api_with(lambda blp, body: [blp.arguments(body), auth.load(course=hidden)])
    with pytest.raises(TypeError, match="put @load above @blp.arguments"):
        api.register_blueprint(blp)


def test_load_above_the_arguments_is_documented():
    api, blp = _api_with(lambda blp, body: [auth.load(course=forbidding), blp.arguments(body)])
    api.register_blueprint(blp)
    responses = api.spec.to_dict()["paths"]["/x/{course_id}"]["post"]["responses"]
    assert {"401", "403", "404", "422"} <= set(responses)
