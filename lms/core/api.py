"""flask-smorest's Api with problem+json errors instead of its own error format.

The OpenAPI document declares every response an operation can give. The error responses
every view shares are not written by hand on ~80 views: ``ProblemResponses`` derives them
from what wraps the view and from the route itself, when the view enters the document:

- 401, 403 and 404 from the mark ``lms.core.auth.load`` leaves on the view: 401 for any
  view it guards, 403 when it checks roles or a resolver may forbid, 404 when it resolves
  path objects; a view without it is public (``security: []``);
- on every unsafe method, what is checked before any view runs: 403 (CSRF), 415 (media
  type), 400 (malformed JSON), 413 (too large), 422 (a body where the view takes none);
- 404 also when the path has parameters: the router refuses ids above MAX_ID, and an
  admin-only view looks its objects up itself (422 for query arguments comes from
  flask-smorest);
- 503 on every operation (the database is unreachable: lms.core.errors).

What only a view knows (409 conflicts, 412/428 preconditions, 429 rate limits) stays on
the view as ``@blp.alt_response``. Every error response has the shared ``Problem`` schema
under ``application/problem+json`` (lms.core.errors.problem_response).
"""

from __future__ import annotations

import http

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from werkzeug.routing import IntegerConverter

from lms.core.errors import PROBLEM_MEDIA_TYPE, http_exception_response

UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})  # as lms.core.auth
MAX_ID = 2**31 - 1  # the largest value an INTEGER primary key holds (PostgreSQL, SQLite)
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; the messages follow Accept-Language (en, zh).",
    "properties": {
        "type": {"type": "string", "description": "urn:lms:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Machine-readable problem code."},
        "errors": {
            "description": "Validation failures: field -> messages, or a list of "
            "{row, field, message} for file imports.",
            "oneOf": [{"type": "object"}, {"type": "array"}],
        },
        "error_id": {"type": "string", "description": "Quote it when reporting a 5xx."},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}

# Schemas of success responses a view builds itself (files, documents of other formats)
BINARY = {"type": "string", "format": "binary"}
JSON_OBJECT = {"type": "object"}

DESCRIPTIONS = {
    400: "Malformed request: the body is not valid JSON.",
    401: "Not logged in: no valid session cookie or bearer token.",
    403: "Logged in but not allowed (role or object permission), or a cookie-authenticated "
    "unsafe request without a valid X-CSRFToken.",
    404: "No such object, or not visible to the caller.",
    413: "The request body is larger than the server accepts.",
    415: "The request body has a media type this operation does not accept.",
    422: "Invalid fields (``errors`` names them).",
    503: "The database is unavailable; retry after Retry-After seconds.",
}


def auth_mark(func) -> dict | None:
    """What ``lms.core.auth.load`` recorded on ``func`` or a function it wraps, if any."""
    while func is not None:
        mark = getattr(func, "_lms_auth", None)
        if mark is not None:
            return mark
        func = getattr(func, "__wrapped__", None)
    return None


def _view_function(view, method: str):
    """The function answering ``method``: a MethodView's method, or the view itself."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, method, None)
    return view


def check_load_placement(func) -> None:
    """Refuse a view whose ``load`` sits below ``@blp.arguments``: it would authorise after
    validation, so a 422 would tell any caller that the object exists."""
    loader = None  # the innermost function carrying the mark: load's own wrapper
    outer = func
    while func is not None:
        if "_lms_auth" in getattr(func, "__dict__", {}):
            loader = func
        func = getattr(func, "__wrapped__", None)
    if loader is None:
        return
    declared = getattr(outer, "_apidoc", {}).get("arguments")
    if declared and not getattr(loader, "_apidoc", {}).get("arguments"):
        raise TypeError(f"{outer.__qualname__}: put @load above @blp.arguments")


def error_statuses(func, method: str, rule) -> set[int]:
    """Error statuses any view of this shape can answer, whatever its body does."""
    mark = auth_mark(func)
    statuses = {503}
    if mark is not None:
        statuses.add(401)
        if mark["may_forbid"]:
            statuses.add(403)
        if mark["resolves"]:
            statuses.add(404)
    if method in UNSAFE_METHODS:
        # checked before the view for any body sent (lms.core.auth): CSRF, media type,
        # malformed or oversized JSON, a body where the view takes none
        statuses |= {400, 403, 413, 415, 422}
    if rule.arguments:
        statuses.add(404)
    return statuses


def requires_login(func) -> bool:
    """True when ``lms.core.auth.load`` guards the view."""
    return auth_mark(func) is not None


class ProblemResponses(BasePlugin):
    """apispec plugin: completes each operation's error responses (see the module doc)."""

    def __init__(self, api: ProblemApi):
        self.api = api

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.api._app.view_functions.get(rule.endpoint)
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            func = _view_function(view, method)
            check_load_placement(func)
            responses = {str(code): value for code, value in operation.get("responses", {}).items()}
            for status in sorted(error_statuses(func, method, rule)):
                responses.setdefault(str(status), http.HTTPStatus(status).name)
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400 and isinstance(response, dict):
                    response.setdefault("content", {PROBLEM_MEDIA_TYPE: {"schema": "Problem"}})
            operation["responses"] = responses
            # webargs' "files" location becomes OpenAPI 2's formData parameters, which OpenAPI
            # 3 does not have: the multipart requestBody (@blp.doc) documents those files
            if "parameters" in operation:
                operation["parameters"] = [
                    p for p in operation["parameters"] if p.get("in") != "formData"
                ]
            if not requires_login(func):
                operation.setdefault("security", [])


class IdConverter(IntegerConverter):
    """``<int:...>`` path segments of at most MAX_ID.

    An id is a 32-bit INTEGER: a larger number cannot name an object and is answered 404 by
    the router, instead of overflowing the database driver (a 500). Limited by the pattern
    rather than by ``max``: werkzeug answers a converter's refusal with 405 when another
    method of the same path exists.
    """

    # 0 to 2147483647 (MAX_ID): up to 9 digits, or 10 digits not above MAX_ID.
    regex = (
        r"\d{1,9}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}|21474[0-7]\d{4}"
        r"|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7]"
    )


def _id_parameter_schema(converter: IdConverter) -> dict:
    return {"type": "integer", "minimum": 0, "maximum": MAX_ID}


class ProblemApi(Api):
    """Answers every HTTPException, including webargs' 400 and 422, as RFC 9457 problems,
    and documents them so (no catch-all ``default`` response: every status is listed)."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def init_app(self, app, *, spec_kwargs=None):
        # before any blueprint: the rules bind their converters when they are added
        app.url_map.converters["int"] = IdConverter
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.register_converter(IdConverter, _id_parameter_schema)

    def _init_spec(self, *, extra_plugins=None, **options):
        plugins = [*(extra_plugins or ()), ProblemResponses(self)]
        super()._init_spec(extra_plugins=plugins, **options)

    def _register_responses(self):
        self.spec.components.schema("Problem", PROBLEM_SCHEMA)
        for status in http.HTTPStatus:
            if status < 400:
                continue
            response = {
                "description": DESCRIPTIONS.get(status, status.phrase),
                "content": {PROBLEM_MEDIA_TYPE: {"schema": "Problem"}},
            }
            self.spec.components.response(status.name, response, lazy=True)

    def _register_pagination_header(self):
        # The header's value is a JSON object: described as content, not as a schema (which
        # would mean OpenAPI's "simple" style, key,value,key,value).
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata (JSON).",
                "content": {"application/json": {"schema": PaginationMetadataSchema}},
            },
            lazy=True,
        )

    def handle_http_exception(self, error):
        return http_exception_response(error)
