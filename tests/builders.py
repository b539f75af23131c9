"""ORM builders: rows written straight to the database, without the API.

Inside a test they join the test's rolled-back transaction (``commit`` releases a
savepoint). ``create_users`` commits for real (the ``real_db`` race tests), in its own app
context. Builders that take an enrolment, a module or a submission accept the ORM object,
its JSON answer (a dict with "id") or the bare id.

    users = UserFactory(); user = users.create(role="teacher", **fields)
    emails = create_users(app, n, role="teacher")                 # committed
    course = add_course(grade_release="manual", status="published", **fields)
    module = add_practical(course, ...); module = add_theory(course, quiz=True, ...)
    add_instructor(course, user)
    enrollment = add_enrolment(course, user, status="active")
    submission = add_submission(enrollment, module, attempt_no=1, status="submitted",
                                late=False, minutes=None, files=0, passed=None)
    grade = add_grade(submission, total=None, passed=None, status="graded", ...)
    add_completion(enrollment, *modules, how="manual")
    add_quiz_attempt(enrollment, module, percent, attempt_no=1)
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from lms.accounts.models import User
from lms.accounts.passwords import hash_password
from lms.catalog.models import Course, CourseInstructor, Module, Quiz, QuizQuestion, RubricCriterion
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.learning.models import ModuleCompletion, QuizAttempt
from lms.practicals.models import Grade, Submission, SubmissionFile

PASSWORD = "correct horse battery staple"
BASE_TIME = datetime(2020, 12, 3, 9, 0, tzinfo=UTC)
RUBRIC = (("设备接入", 40), ("数据上报", 40), ("实训报告", 20))

_seq = itertools.count(1)
_people = itertools.count(1)


def id_of(thing) -> int:
    """The id of an ORM object, of a JSON answer (dict) or an id itself."""
    if isinstance(thing, int):
        return thing
    if isinstance(thing, dict):
        return thing["id"]
    return thing.id


# --- people ----------------------------------------------------------------------------------


class UserFactory:
    """Creates users directly in the database (committed to the test's transaction)."""

    def create(
        self, *, role="teacher", email=None, full_name=None, password=PASSWORD, **fields
    ) -> User:
        n = next(_people)
        user = User(
            email=email or f"user{n}@example.edu.cn",
            full_name=full_name or f"测试用户{n}",
            role=role,
            password_hash=hash_password(password) if password else None,
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        return user


def create_users(app, n: int, role: str = "teacher") -> list[str]:
    """Commit ``n`` users for real (in an app context of their own); return their emails."""
    factory = UserFactory()
    with app.app_context():
        return [factory.create(role=role).email for _ in range(n)]


# --- courses and modules ---------------------------------------------------------------------


def add_course(*, grade_release: str = "immediate", status: str = "published", **fields) -> Course:
    n = next(_seq)
    course = Course(
        code=fields.pop("code", f"GZ-GRADE-{n}"),
        title=fields.pop("title", "工业互联网产教融合教师研修·广州站"),
        starts_on=date(2020, 12, 2),
        ends_on=date(2099, 12, 8),
        status=status,
        grade_release=grade_release,
        **fields,
    )
    db.session.add(course)
    db.session.commit()
    return course


def add_practical(
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


def add_theory(
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


def add_instructor(course: Course, user: User) -> None:
    db.session.add(CourseInstructor(course_id=course.id, user_id=user.id))
    db.session.commit()


# --- enrolments and what they did ------------------------------------------------------------


def add_enrolment(course, user: User, status: str = "active") -> Enrollment:
    """An admin enrolment queued at BASE_TIME (and activated then, when active or completed)."""
    enrollment = Enrollment(
        course_id=id_of(course),
        user_id=user.id,
        status=status,
        source="admin",
        queued_at=BASE_TIME,
        activated_at=BASE_TIME if status in ("active", "completed") else None,
    )
    db.session.add(enrollment)
    db.session.commit()
    return enrollment


def add_submission(
    enrollment,
    module,
    *,
    attempt_no: int = 1,
    status: str = "submitted",
    late: bool = False,
    minutes: int | None = None,
    files: int = 0,
    passed: bool | None = None,
) -> Submission:
    """A submission written directly; ``minutes`` after BASE_TIME sets submitted_at;
    ``files`` PDF file rows; a grade too (80 or 30 points) when ``passed`` is given."""
    if isinstance(module, dict):
        module_id, course_id = module["id"], module["course_id"]
    else:
        if isinstance(module, int):
            module = db.session.get(Module, module)
        module_id, course_id = module.id, module.course_id
    at = BASE_TIME + timedelta(minutes=next(_seq) if minutes is None else minutes)
    submission = Submission(
        enrollment_id=id_of(enrollment),
        module_id=module_id,
        course_id=course_id,
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
    if passed is not None:
        add_grade(submission, passed=passed, status=status)
    return submission


def add_grade(
    submission,
    *,
    total: Decimal | int | str | None = None,
    passed: bool | None = None,
    status: str = "graded",
    feedback: str | None = None,
    grader_id: int | None = None,
    scores: list | None = None,
) -> Grade:
    """A grade written directly (version 1), and the submission's status (``returned``
    marks the grade as returned for revision). ``total`` defaults to 80 or 30 by
    ``passed``; ``passed`` defaults to total >= the module's pass_points."""
    submission = db.session.get(Submission, id_of(submission))
    if total is None:
        total = 80 if passed else 30
    total = Decimal(str(total))
    if passed is None:
        passed = total >= db.session.get(Module, submission.module_id).pass_points
    grade = Grade(
        submission_id=submission.id,
        scores=scores or [],
        total_points=total,
        passed=passed,
        feedback=feedback,
        feedback_html=f"<p>{feedback}</p>" if feedback else None,
        grader_id=grader_id,
        returned_for_revision=status == "returned",
        version=1,
    )
    submission.status = status
    db.session.add(grade)
    db.session.commit()
    return grade


def add_completion(enrollment, *modules, how: str = "manual") -> None:
    """Mark ``modules`` completed for the enrolment."""
    db.session.add_all(
        ModuleCompletion(enrollment_id=id_of(enrollment), module_id=id_of(m), how=how)
        for m in modules
    )
    db.session.commit()


def add_quiz_attempt(enrollment, module, percent: int, *, attempt_no: int = 1) -> None:
    """A quiz attempt scoring ``percent`` of 100 points (passed from 60 %)."""
    db.session.add(
        QuizAttempt(
            enrollment_id=id_of(enrollment),
            module_id=id_of(module),
            attempt_no=attempt_no,
            answers=[[0]],
            score=Decimal(percent),
            max_score=Decimal(100),
            percent=Decimal(percent),
            passed=percent >= 60,
        )
    )
    db.session.commit()
