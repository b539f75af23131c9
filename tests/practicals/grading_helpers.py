"""Builders for the grading and gradebook tests.

Courses, modules, enrolments and submissions are written straight to the database (inside
the test's transaction), so that these tests do not depend on the submission endpoint and
can build any state (late, many attempts, exhausted attempts, ...) in a few lines.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from lms.accounts.models import User
from lms.catalog.models import Course, CourseInstructor, Module, Quiz, QuizQuestion, RubricCriterion
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.learning.models import ModuleCompletion, QuizAttempt
from lms.practicals.models import Grade, Submission, SubmissionFile
from tests.factories import ApiClient, client_for

_seq = itertools.count(1)
BASE_TIME = datetime(2020, 12, 3, 9, 0, tzinfo=UTC)
RUBRIC = (("设备接入", 40), ("数据上报", 40), ("实训报告", 20))


def make_course(*, grade_release: str = "immediate", status: str = "published", **fields) -> Course:
    n = next(_seq)
    course = Course(
        code=fields.pop("code", f"GZ-GRADE-{n}"),
        title=fields.pop("title", "工业互联网产教融合教师研修·广州站"),
        starts_on=date(2020, 12, 2),
        ends_on=date(2020, 12, 8),
        status=status,
        grade_release=grade_release,
        **fields,
    )
    db.session.add(course)
    db.session.commit()
    return course


def make_practical(
    course: Course,
    *,
    title: str = "工业互联网平台设备接入实训",
    pass_points: int = 60,
    max_attempts: int | None = 3,
    reopen: str = "manual",
    hours: str = "8",
    rubric=RUBRIC,
    position: int | None = None,
) -> Module:
    module = Module(
        course_id=course.id,
        kind="practical",
        title=title,
        hours=Decimal(hours),
        position=next(_seq) if position is None else position,
        pass_points=Decimal(pass_points),
        max_attempts=max_attempts,
        reopen=reopen,
        criteria=[
            RubricCriterion(position=i, title=t, max_points=Decimal(p))
            for i, (t, p) in enumerate(rubric)
        ],
    )
    db.session.add(module)
    db.session.commit()
    return module


def make_theory(
    course: Course,
    *,
    title: str = "工业互联网体系架构",
    hours: str = "4",
    quiz: bool = False,
    position: int | None = None,
) -> Module:
    module = Module(
        course_id=course.id,
        kind="theory",
        title=title,
        hours=Decimal(hours),
        position=next(_seq) if position is None else position,
    )
    if quiz:
        module.quiz = Quiz(
            pass_percent=Decimal(60),
            questions=[
                QuizQuestion(
                    position=0,
                    prompt="三大体系？",
                    choices=["网络、平台、安全", "云、管、端"],
                    correct=[0],
                    points=Decimal(1),
                )
            ],
        )
    db.session.add(module)
    db.session.commit()
    return module


def assign(course: Course, user: User) -> None:
    db.session.add(CourseInstructor(course_id=course.id, user_id=user.id))
    db.session.commit()


def enrol(course: Course, user: User, status: str = "active") -> Enrollment:
    enrollment = Enrollment(
        course_id=course.id, user_id=user.id, status=status, source="admin", queued_at=BASE_TIME
    )
    db.session.add(enrollment)
    db.session.commit()
    return enrollment


def submit(
    enrollment: Enrollment,
    module: Module,
    *,
    attempt_no: int = 1,
    status: str = "submitted",
    late: bool = False,
    minutes: int | None = None,
    files: int = 0,
) -> Submission:
    """A submission written directly; ``minutes`` after BASE_TIME sets submitted_at."""
    at = BASE_TIME + timedelta(minutes=next(_seq) if minutes is None else minutes)
    submission = Submission(
        enrollment_id=enrollment.id,
        module_id=module.id,
        course_id=module.course_id,
        attempt_no=attempt_no,
        text="实训报告：设备已接入平台。",
        submitted_at=at,
        late=late,
        status=status,
    )
    submission.files = [
        SubmissionFile(
            filename=f"report{i}.pdf",
            storage_key=f"grading-test-{next(_seq)}",
            content_type="application/pdf",
            size=100,
            sha256="0" * 64,
        )
        for i in range(files)
    ]
    db.session.add(submission)
    db.session.commit()
    return submission


def add_grade(
    submission: Submission,
    *,
    total: int | str,
    passed: bool | None = None,
    status: str = "graded",
) -> Grade:
    """A grade written directly (version 1), and the submission's status; ``passed``
    defaults to total >= the module's pass_points."""
    module = db.session.get(Module, submission.module_id)
    total = Decimal(str(total))
    grade = Grade(
        submission_id=submission.id,
        scores=[],
        total_points=total,
        passed=total >= module.pass_points if passed is None else passed,
        returned_for_revision=status == "returned",
        version=1,
    )
    submission.status = status
    db.session.add(grade)
    db.session.commit()
    return grade


def complete(enrollment: Enrollment, module: Module, how: str = "manual") -> None:
    db.session.add(ModuleCompletion(enrollment_id=enrollment.id, module_id=module.id, how=how))
    db.session.commit()


def quiz_attempt(
    enrollment: Enrollment, module: Module, percent: int, *, attempt_no: int = 1
) -> None:
    db.session.add(
        QuizAttempt(
            enrollment_id=enrollment.id,
            module_id=module.id,
            attempt_no=attempt_no,
            answers=[[0]],
            score=Decimal(percent),
            max_score=Decimal(100),
            percent=Decimal(percent),
            passed=percent >= 60,
        )
    )
    db.session.commit()


def scores_for(module: Module, *points) -> list[dict]:
    """A score for every criterion, in rubric order (default: full marks)."""
    criteria = sorted(module.criteria, key=lambda c: c.position)
    values = points or [float(c.max_points) for c in criteria]
    return [{"criterion_id": c.id, "points": p} for c, p in zip(criteria, values, strict=True)]


@dataclass
class Graded:
    """A practical set-up: course, module, its instructor and one teacher's submission."""

    course: Course
    module: Module
    instructor: User
    instructor_client: ApiClient
    owner: User
    owner_client: ApiClient
    enrollment: Enrollment
    submission: Submission

    def grade(self, *points, client: ApiClient | None = None, headers=None, **body):
        payload = {"scores": scores_for(self.module, *points), **body}
        return (client or self.instructor_client).post(
            f"/api/v1/submissions/{self.submission.id}/grade", json=payload, headers=headers
        )


def graded_setup(app, users, **options) -> Graded:
    """A published course (``grade_release`` etc. in options) with one practical module,
    an assigned instructor, and a teacher with one submitted attempt."""
    module_options = {
        k: options.pop(k) for k in ("max_attempts", "reopen", "pass_points") if k in options
    }
    course = make_course(**options)
    module = make_practical(course, **module_options)
    instructor = users.create(role="instructor", full_name="张导师")
    assign(course, instructor)
    owner = users.create(role="teacher", full_name="李明", institution="广东轻工职业技术学院")
    enrollment = enrol(course, owner)
    submission = submit(enrollment, module, files=1, minutes=0)
    return Graded(
        course,
        module,
        instructor,
        client_for(app, instructor),
        owner,
        client_for(app, owner),
        enrollment,
        submission,
    )
