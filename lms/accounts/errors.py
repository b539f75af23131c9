"""The accounts' domain errors: one class per problem code (lms.core.errors maps them)."""

from __future__ import annotations

from lms.core.errors import Conflict, DomainError, Forbidden, Invalid, NotAuthenticated


class InvalidCredentials(NotAuthenticated):
    code = "invalid-credentials"
    message_en = "The email or password is incorrect."
    message_zh = "邮箱或密码错误。"


class EmailTaken(Conflict):
    code = "email-taken"
    message_en = "An account with this email already exists."
    message_zh = "该邮箱已被注册。"


class AlreadyActivated(Conflict):
    code = "already-activated"
    message_en = "This account already has a password."
    message_zh = "该账号已设置密码。"


class InvalidActivationToken(Invalid):
    code = "invalid-activation-token"


class SessionRequired(Forbidden):
    """A bearer token cannot mint further tokens: a leaked token must not outlive its own
    revocation through tokens it created."""

    code = "session-required"
    message_en = "API tokens can only be created after logging in, not with an API token."
    message_zh = "只能在登录后创建 API 令牌，不能使用 API 令牌创建。"


class TooManyAttempts(DomainError):
    """Password checks of one account from one address beyond LMS_LOGIN_LIMIT_ACCOUNT."""

    status, code = 429, "too-many-attempts"
    message_en = "Too many attempts for this account; try again later."
    message_zh = "该账号尝试次数过多，请稍后再试。"
