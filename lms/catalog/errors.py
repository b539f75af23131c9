"""The catalogue's domain errors: one class per problem code (lms.core.errors maps them)."""

from __future__ import annotations

from lms.core.errors import Conflict


class CodeTaken(Conflict):
    code = "code-taken"
    message_en, message_zh = "This code is already used.", "该编号已被使用。"


class BadTransition(Conflict):
    code = "invalid-status-transition"


class ModuleInUse(Conflict):
    code = "module-in-use"
    message_en = "The module has learner activity; its quiz, rubric or existence cannot change."
    message_zh = "该模块已有学员学习或提交记录，不能删除或修改测验与评分标准。"
