"""The practicals' domain errors (submissions and grading): one class per problem code
(lms.core.errors maps them), and this domain's wordings of codes raised in several
situations."""

from __future__ import annotations

from lms.core.errors import Conflict, DomainError, NotFound

# lms.enrollments.errors.NoAttemptsLeft, as a submission and as a grade say it.
PRACTICAL_ATTEMPTS_USED = (
    "You have used every attempt of this practical.",
    "该实训的提交次数已用完。",
)
GRADE_IS_FINAL = (
    "The teacher has used every attempt; this grade is final.",
    "该学员的提交次数已用完，成绩为最终成绩，不能退回修改。",
)
# NotAPracticalModule, as grade release says it.
ONLY_PRACTICALS_HAVE_GRADES = ("Only practical modules have grades.", "只有实训模块有成绩。")


class NotAPracticalModule(Conflict):
    code = "not-a-practical-module"
    message_en = "Only practical modules take submissions."
    message_zh = "只有实训模块可以提交作业。"


class AwaitingGrade(Conflict):
    code = "awaiting-grade"
    message_en = "Your previous attempt has not been graded yet."
    message_zh = "您上一次提交的作业尚未评分。"


class GradeNotReleased(Conflict):
    """The previous attempt is graded but the course's grades are not released: passed or
    failed alike, so that the answer does not tell the result."""

    code = "grade-not-released"
    message_en = "Your previous attempt has been graded; grades are not released yet."
    message_zh = "您上一次提交的作业已评分，成绩尚未发布。"


class AlreadyPassed(Conflict):
    code = "already-passed"
    message_en = "You have already passed this practical."
    message_zh = "您已通过该实训。"


class NotReopened(Conflict):
    code = "not-reopened"
    message_en = "Your attempt was graded; the instructor has not returned it for revision."
    message_zh = "您的作业已评分，导师未退回修改，不能再次提交。"


class SubmissionClosed(Conflict):
    code = "closed"
    message_en = "Submissions for this practical are closed."
    message_zh = "该实训已截止提交。"


class ConcurrentSubmission(Conflict):
    code = "concurrent-submission"
    message_en = "Another submission for this practical was made at the same time."
    message_zh = "该实训的另一份作业正在同时提交。"


class FileTooLarge(DomainError):
    status, code = 413, "file-too-large"
    message_en, message_zh = "A file is too large.", "文件过大。"


class NotLatestAttempt(Conflict):
    code = "not-latest-attempt"
    message_en = "Only the latest attempt can be returned for revision."
    message_zh = "只有最新一次提交可以退回修改。"


class GradeExists(Conflict):
    code = "grade-exists"
    message_en = "Someone graded this submission meanwhile; reload it and regrade with If-Match."
    message_zh = "该提交刚被他人评分，请刷新后携带 If-Match 重新评分。"


class ReleaseNotNeeded(Conflict):
    code = "release-not-needed"
    message_en = "This course releases grades immediately; there is nothing to release."
    message_zh = "该研修班的成绩即时发布，无需手动发布。"


class CourseArchived(Conflict):
    code = "course-archived"
    message_en = "The course is archived; its grades can no longer change."
    message_zh = "该研修班已归档，成绩不能再修改。"


class NotGraded(NotFound):
    code = "not-graded"
    message_en, message_zh = "This submission has no grade yet.", "该提交尚未评分。"
