"""The accounts' domain errors: one class per problem code (lms.core.errors maps them)."""

from __future__ import annotations

from lms.core.errors import Conflict, Invalid, NotAuthenticated


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
