"""Who is calling: session cookies (browsers) or bearer tokens (scripts), plus CSRF.

Cookie sessions carry an opaque LoginSession key (see lms.accounts.models.LoginSession).
Bearer requests authenticate with a personal API token and are exempt from CSRF, since a
browser never attaches them on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import wraps

from flask import Flask, g, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from lms.core.errors import (
    Forbidden,
    FormatNotSupported,
    Invalid,
    MalformedJson,
    NotAuthenticated,
    UnknownQueryParameter,
    UnsupportedMediaType,
)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

login_manager = LoginManager()
csrf = CSRFProtect()


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request has one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def actor():
    """The authenticated user of this request, or raise 401."""
    if not current_user.is_authenticated:
        raise NotAuthenticated()
    return current_user._get_current_object()


def may_forbid(resolver):
    """Mark a resolver of ``load`` that may answer 403 (a caller who may see the object but
    not act on it); unmarked resolvers only hide objects (404). The OpenAPI document lists
    403 from it."""
    resolver._lms_may_forbid = True
    return resolver


def load(*, roles: str | Iterable[str] | None = None, **resolvers):
    """Authorise a view: the caller must be logged in (else 401), have one of ``roles``
    when given (else 403), and reach every object its path names.

    Each keyword names an object injected into the view: ``name=resolver`` reads the path
    argument ``<name>_id``; ``name=(arg, resolver)`` another one, or a tuple of them. The
    raw argument leaves the view's kwargs and ``resolver(*values, user)`` takes its place;
    the resolver (the domain's access rule) raises NotFound or Forbidden. Placed above
    ``@blp.arguments``, so a caller learns nothing from validation (422) about objects
    they cannot reach. The mark it leaves (``_lms_auth``) tells lms.core.api which of
    401/403/404 the view may answer.
    """
    allowed = frozenset([roles] if isinstance(roles, str) else roles or ())
    specs = []
    for name, spec in resolvers.items():
        args, resolve = spec if isinstance(spec, tuple) else (f"{name}_id", spec)
        specs.append((name, (args,) if isinstance(args, str) else tuple(args), resolve))

    def decorator(view):
        query_names = declared_query_names(view)

        @wraps(view)
        def wrapper(*args, **kwargs):
            user = actor()
            if allowed and user.role not in allowed:
                raise Forbidden()
            for name, params, resolve in specs:
                kwargs[name] = resolve(*(kwargs.pop(param) for param in params), user)
            if query_names is not None:
                check_query_names(query_names)
            return view(*args, **kwargs)

        wrapper._lms_auth = {
            "roles": allowed,
            "resolves": bool(specs),
            "may_forbid": bool(allowed)
            or any(getattr(resolve, "_lms_may_forbid", False) for _, _, resolve in specs),
        }
        return wrapper

    return decorator


PAGINATION_NAMES = frozenset({"page", "page_size"})  # flask-smorest's pagination arguments


def declared_query_names(view) -> frozenset[str] | None:
    """The query parameters a flask-smorest view declares (its ``location="query"``
    schemas' fields, and page/page_size when paginated); None for a view that is not one
    (no OpenAPI doc), whose query string nobody checks."""
    doc = getattr(view, "_apidoc", None)
    if doc is None:
        return None
    names = set(PAGINATION_NAMES if "pagination" in doc else ())
    for parameter in doc.get("arguments", {}).get("parameters", []):
        if parameter.get("in") != "query":
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) else schema
        names |= {f.data_key or name for name, f in schema.fields.items() if not f.dump_only}
    return frozenset(names)


def check_query_names(declared: frozenset[str]) -> None:
    """422 for a query parameter the view does not declare: an unknown filter is refused
    rather than ignored (a typo would answer everything), and ``?format=`` on a view that
    cannot export is refused rather than answered as JSON. Runs after authorisation."""
    unknown = sorted(set(request.args) - declared)
    if not unknown:
        return
    if "format" in unknown:
        raise FormatNotSupported(
            errors={"format": ["This endpoint has no export formats."]},
        )
    raise UnknownQueryParameter(
        f"Unknown query parameter(s): {', '.join(unknown)}.",
        f"未知的查询参数：{'、'.join(unknown)}。",
        errors={name: ["Unknown query parameter."] for name in unknown},
    )


def accepts(*mimetypes: str):
    """Declare the request body media types of a view (default: application/json)."""

    def decorator(view):
        view._lms_accepts = frozenset(mimetypes)
        return view

    return decorator


def _check_media_type(app: Flask) -> None:
    if request.method not in UNSAFE_METHODS or not request.path.startswith("/api/"):
        return
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if not has_body:
        return
    view = app.view_functions.get(request.endpoint or "")
    allowed = getattr(view, "_lms_accepts", frozenset({"application/json"}))
    if request.mimetype not in allowed:
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(sorted(allowed))}.",
            f"请求体应为 {' 或 '.join(sorted(allowed))}。",
        )
    if request.mimetype == "application/json":
        _check_json_body(view)


def _declares_body(view) -> bool:
    """True when the view (a MethodView's method for this request) parses a body."""
    view_class = getattr(view, "view_class", None)
    func = getattr(view_class, request.method.lower(), None) if view_class else view
    return bool(getattr(func, "_apidoc", {}).get("arguments"))


def _check_json_body(view) -> None:
    """A JSON body must parse (a deeply nested one exhausts the parser's recursion: 400, not
    500; larger than MAX_CONTENT_LENGTH: 413), and a view that takes no body accepts only
    ``{}``: a body it would silently ignore is a client mistake, not an instruction."""
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError) as exc:
        raise MalformedJson() from exc
    if body != {} and not _declares_body(view):
        raise Invalid(
            {"_schema": ["This request takes no body; send none or {}."]},
            "This request takes no body.",
            "此请求不接受请求体。",
        )


def init_auth(app: Flask, *, user_for_session, user_for_token) -> None:
    """Wire flask-login and the CSRF / media-type checks into the app.

    Core knows no accounts: the app factory passes the two loaders of the accounts domain,
    ``user_for_session(key)`` and ``user_for_token(token)``, each returning a user or None.
    """
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are server-side; see LoginSession

    @login_manager.user_loader
    def _load_from_session(key: str):
        if bearer_token() is not None:
            return None  # an explicit bearer token wins over any cookie
        return user_for_session(key)

    @login_manager.request_loader
    def _load_from_bearer(req):
        token = bearer_token()
        if token is None:
            return None
        g.authenticated_by = "token"
        return user_for_token(token)

    @login_manager.unauthorized_handler
    def _unauthorized():
        raise NotAuthenticated()

    @app.before_request
    def _request_checks():
        if request.routing_exception is not None:
            return  # answer 404/405 first; there is no view to protect
        _check_media_type(app)
        if (
            request.method in UNSAFE_METHODS
            and bearer_token() is None
            and app.config.get("WTF_CSRF_ENABLED", True)
        ):
            csrf.protect()
