"""The theory modules' domain errors: one class per problem code (lms.core.errors maps
them), and this domain's wording of the shared ``NoAttemptsLeft``."""

from __future__ import annotations

from lms.core.errors import Conflict

# lms.enrollments.errors.NoAttemptsLeft, as a quiz says it.
QUIZ_ATTEMPTS_USED = ("You have used every attempt of this quiz.", "该测验的作答次数已用完。")


class NotATheoryModule(Conflict):
    code = "not-a-theory-module"
    message_en = "Only theory modules are completed this way; practical work is submitted."
    message_zh = "只有理论模块可以这样完成；实训模块需提交作业。"


class QuizRequired(Conflict):
    code = "quiz-required"
    message_en = "This module has a quiz: pass it to complete the module."
    message_zh = "该模块设有测验，通过测验即完成该模块。"


class NoQuiz(Conflict):
    code = "no-quiz"
    message_en = "This module has no quiz; mark it complete instead."
    message_zh = "该模块没有测验，请直接标记完成。"


class AttemptConflict(Conflict):
    code = "attempt-conflict"
    message_en = "Another attempt was submitted at the same time; try again."
    message_zh = "另一份作答正在同时提交，请重试。"
