"""RFC 9457 problem details for every error, and the domain exceptions that map onto them.

Services raise ``DomainError`` subclasses; views never build error responses themselves.
Each error carries an English and a Chinese message; the answer follows Accept-Language.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, current_app, has_request_context, json, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from lms.core.db import db

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# (English, Chinese) titles per status code.
TITLES = {
    400: ("Bad request", "请求格式错误"),
    401: ("Authentication required", "需要登录"),
    403: ("Forbidden", "没有权限"),
    404: ("Not found", "未找到"),
    405: ("Method not allowed", "不支持该请求方法"),
    409: ("Conflict", "状态冲突"),
    412: ("Precondition failed", "前置条件不满足"),
    413: ("Payload too large", "上传内容过大"),
    415: ("Unsupported media type", "不支持的内容类型"),
    422: ("Invalid input", "输入数据无效"),
    428: ("Precondition required", "缺少前置条件"),
    429: ("Too many requests", "请求过于频繁"),
    500: ("Internal server error", "服务器内部错误"),
    503: ("Service unavailable", "服务暂时不可用"),
}


def prefers_chinese() -> bool:
    """True when the client's Accept-Language ranks Chinese above English."""
    if not has_request_context():
        return False
    best = request.accept_languages.best_match(["en", "zh", "zh-CN", "zh-Hans"], default="en")
    return best.startswith("zh")


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    code: str | None = None,
    title: str | None = None,
    errors=None,
    headers=None,
    **extra,
):
    """Build an ``application/problem+json`` response."""
    en, zh = TITLES.get(status, ("Error", "错误"))
    body = {
        "type": f"urn:lms:problem:{code}" if code else "about:blank",
        "title": title or (zh if prefers_chinese() else en),
        "status": status,
        "detail": detail or (zh if prefers_chinese() else en),
    }
    if code:
        body["code"] = code
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class DomainError(Exception):
    """A rule of the domain was broken. Subclasses fix the status and the problem code."""

    status = 400
    code = "bad-request"
    message_en = "The request cannot be carried out."
    message_zh = "无法执行该请求。"

    def __init__(
        self,
        message_en: str | None = None,
        message_zh: str | None = None,
        *,
        errors=None,
        headers=None,
        **extra,
    ):
        self.message_en = message_en or self.message_en
        self.message_zh = message_zh or self.message_zh
        self.errors = errors
        self.headers = headers
        self.extra = extra
        super().__init__(self.message_en)

    def to_response(self):
        detail = self.message_zh if prefers_chinese() else self.message_en
        return problem_response(
            self.status,
            detail,
            code=self.code,
            errors=self.errors,
            headers=self.headers,
            **self.extra,
        )


class NotFound(DomainError):
    status, code = 404, "not-found"
    message_en, message_zh = "The resource does not exist.", "资源不存在。"


class NotAuthenticated(DomainError):
    status, code = 401, "not-authenticated"
    message_en, message_zh = "Log in to continue.", "请先登录。"


class Forbidden(DomainError):
    status, code = 403, "forbidden"
    message_en, message_zh = "You are not allowed to do this.", "您没有执行此操作的权限。"


class Conflict(DomainError):
    status, code = 409, "conflict"
    message_en, message_zh = "The request conflicts with the current state.", "请求与当前状态冲突。"


class Invalid(DomainError):
    """Field-level validation failure raised by a service (422)."""

    status, code = 422, "validation-failed"
    message_en, message_zh = "Some fields are invalid.", "部分字段无效。"

    def __init__(self, errors, message_en=None, message_zh=None, **extra):
        super().__init__(message_en, message_zh, errors=errors, **extra)


class UnknownQueryParameter(DomainError):
    """A query parameter the endpoint does not declare (a filter it does not have)."""

    status, code = 422, "unknown-query-parameter"
    message_en, message_zh = "Unknown query parameter.", "未知的查询参数。"


class FormatNotSupported(DomainError):
    """``?format=`` on an endpoint that has no export: refused, never answered as JSON."""

    status, code = 422, "format-not-supported"
    message_en, message_zh = (
        "This endpoint cannot export files; it has no format parameter.",
        "该接口不支持导出文件（没有 format 参数）。",
    )


class PreconditionFailed(DomainError):
    status, code = 412, "stale-version"
    message_en, message_zh = (
        "The resource changed since you read it.",
        "资源已被他人修改，请刷新后重试。",
    )


class PreconditionRequired(DomainError):
    status, code = 428, "if-match-required"
    message_en, message_zh = (
        "Send If-Match with the version you read.",
        "请在 If-Match 中提供您读取的版本。",
    )


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported-media-type"
    message_en, message_zh = "This content type is not accepted here.", "此处不接受该内容类型。"


class MalformedJson(DomainError):
    status, code = 400, "malformed-json"
    message_en, message_zh = "The request body is not valid JSON.", "请求体不是有效的 JSON。"


def _flatten_messages(messages) -> dict:
    """webargs nests messages by location ({"json": {...}}); clients want the fields."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    flat: dict = {}
    for fields in messages.values():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat.setdefault("_schema", []).extend(fields if isinstance(fields, list) else [fields])
    return flat


def http_exception_response(error: HTTPException):
    """Problem response for a werkzeug HTTPException (routing, webargs, limits, ...)."""
    status = error.code or 500
    if status >= 500:
        return internal_error_response(getattr(error, "original_exception", None) or error)
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    messages = data.get("messages")
    if status == 400 and messages and "json" in messages and isinstance(messages["json"], list):
        return problem_response(
            400, "The request body is not valid JSON.", code="malformed-json", headers=headers
        )
    if status == 422 and messages is not None:
        return problem_response(
            422,
            "Some fields are invalid.",
            code="validation-failed",
            errors=_flatten_messages(messages),
            headers=headers,
        )
    detail = data.get("message") or _default_detail(error)
    return problem_response(status, detail, code=http_error_code(error), headers=headers)


# Problem codes of werkzeug's HTTP errors where the name alone would be a poor code; every
# other one is its name as a slug ("Not Found" -> "not-found").
HTTP_ERROR_CODES = {
    413: "payload-too-large",
    429: "too-many-requests",
}


def http_error_code(error: HTTPException) -> str:
    """The problem code of a werkzeug HTTPException: every error answer carries one."""
    if error.code in HTTP_ERROR_CODES:
        return HTTP_ERROR_CODES[error.code]
    slug = re.sub(r"[^a-z0-9]+", "-", (error.name or "").lower()).strip("-")
    return slug or f"http-{error.code}"


def _default_detail(error: HTTPException) -> str:
    en, zh = TITLES.get(error.code or 500, (error.name, error.name))
    if prefers_chinese():
        return zh
    return error.description or en


def database_unavailable(exc: BaseException) -> bool:
    """True for transient database failures: a connection that failed or was lost, whatever
    class the driver gives the error (PostgreSQL ending a session for
    idle_in_transaction_session_timeout is an InternalError on an invalidated connection),
    or no pooled connection free within pool_timeout."""
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def internal_error_response(exc: BaseException):
    """Log the exception under a fresh error id and answer 500 without any internals."""
    if database_unavailable(exc):
        return database_unavailable_response(exc)
    error_id = uuid.uuid4().hex
    log.error("unhandled error %s", error_id, exc_info=exc)
    detail = (
        "服务器出错，请将错误编号告知管理员。"
        if prefers_chinese()
        else "Something went wrong on our side; quote the error id when reporting it."
    )
    return problem_response(500, detail, code="internal-error", error_id=error_id)


def database_unavailable_response(exc: BaseException):
    """The database connection failed, or no pooled connection came free within
    pool_timeout: a transient condition, answered with 503."""
    error_id = uuid.uuid4().hex
    log.error("database unavailable %s", error_id, exc_info=exc)
    return problem_response(
        503,
        "The database is unavailable; try again shortly.",
        code="database-unavailable",
        error_id=error_id,
        headers={"Retry-After": "5"},
    )


def register_error_handlers(app: Flask) -> None:
    """Map every exception the app can raise onto problem+json."""
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        db.session.rollback()
        return error.to_response()

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        db.session.rollback()
        return problem_response(403, f"CSRF check failed: {error.description}", code="csrf-failed")

    @app.errorhandler(OperationalError)
    def _operational(error: OperationalError):
        db.session.rollback()
        return database_unavailable_response(error)

    @app.errorhandler(Exception)
    def _unhandled(error: Exception):
        db.session.rollback()
        if isinstance(error, HTTPException):
            return http_exception_response(error)
        return internal_error_response(error)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError):
        db.session.rollback()
        return internal_error_response(error.original_exception or error)
