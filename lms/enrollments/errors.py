"""The enrolments' domain errors, and ``NoAttemptsLeft``, which learning and practicals
share (both count attempts per enrolment).

One class per problem code (lms.core.errors maps them). A code raised in several
situations keeps one class with a general message; each raising domain passes its own
wording, kept in its errors module.
"""

from __future__ import annotations

from lms.core.errors import Conflict, Forbidden


class AlreadyEnrolled(Conflict):
    code = "already-enrolled"
    message_en, message_zh = "Already enrolled in this course.", "已报名该研修班。"


class CourseFull(Conflict):
    code = "course-full"
    message_en, message_zh = "The course is full.", "该研修班名额已满。"


class EnrollmentClosed(Conflict):
    code = "enrollment-closed"
    message_en, message_zh = "Enrolment is not open for this course.", "该研修班当前不接受报名。"


class CourseEnded(Conflict):
    """Self-enrolment after the course's end (the end of ``ends_on`` in its time zone),
    when no admin set ``enroll_closes_at`` to keep it open."""

    code = "course-ended"
    message_en = "The course has ended; enrolment is closed."
    message_zh = "该研修班已结束，报名已关闭。"


class NotWithdrawable(Conflict):
    code = "not-withdrawable"
    message_en = "Only active or waitlisted enrolments can be withdrawn."
    message_zh = "只能退出进行中或候补中的报名。"


class EnrollmentNotActive(Conflict):
    code = "enrollment-not-active"
    message_en = "Your enrolment in this course is not active."
    message_zh = "您在该研修班的报名状态不是进行中。"


class CourseNotOpen(Conflict):
    code = "course-not-open"
    message_en = "The course is not open for work."
    message_zh = "该研修班当前不接受学习或提交。"


class NoAttemptsLeft(Conflict):
    """Every attempt a module allows (``max_attempts``) is used: a quiz's (learning), a
    practical's (practicals), or the last one, which cannot be returned for revision."""

    code = "no-attempts-left"
    message_en = "Every attempt allowed has been used."
    message_zh = "可用次数已用完。"


class OwnEnrollment(Forbidden):
    """Course staff who are also enrolled (a teacher later made instructor of the same
    course, or an admin) cannot grade, complete or extend their own enrolment."""

    code = "own-enrollment"
    message_en = "You cannot grade or mark your own enrolment, even as course staff."
    message_zh = "不能为自己的报名评分或标记完成（即使您是本研修班的管理人员）。"
