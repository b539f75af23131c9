"""Seeding the demo data through the domain services.

The seed is a list of steps (``STEPS``) run in order inside one transaction; the caller
commits. Every step is idempotent: it finds what an earlier run created by its natural key
(email; later course and programme codes) and creates only what is missing. Later issues
append their steps (programme, course, modules, enrolments, ...) and can use what earlier
steps put on the ``Seed`` (``seed.users`` by email).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from sqlalchemy import delete, func, select
from werkzeug.datastructures import FileStorage

from lms.accounts import services as accounts
from lms.accounts.models import ActivationToken, Role, User
from lms.accounts.passwords import hash_password
from lms.audit import services as audit
from lms.catalog import services as catalog
from lms.catalog.models import Course, CourseInstructor, CourseStatus, Module, Program
from lms.catalog.schemas import CourseCreate, ModuleCreate, ProgramCreate
from lms.certificates import issuance
from lms.certificates.models import Certificate
from lms.core import bulk
from lms.core.db import utcnow
from lms.demo import data
from lms.enrollments import services as enrollments
from lms.enrollments.access import learner_seat
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.learning import services as learning
from lms.practicals import grading, submissions
from lms.practicals.models import Submission


@dataclass
class Seed:
    """The state of one seeding run, handed from step to step."""

    password: str
    users: dict[str, User] = field(default_factory=dict)  # every demo account, by email
    created: Counter[str] = field(default_factory=Counter)  # what this run added, by kind
    existing: Counter[str] = field(default_factory=Counter)  # what was already there
    notes: list[str] = field(default_factory=list)  # anything the operator should know
    summary: list[str] = field(default_factory=list)  # what the demo holds, printed last

    @cached_property
    def password_hash(self) -> str:
        # Argon2 is slow by design: hash once for all accounts, and only if one is new.
        return hash_password(self.password)


Step = Callable[[Seed], None]


def seed_accounts(seed: Seed) -> None:
    """Create the demo admin, instructors and teachers that do not exist yet."""
    wanted = data.demo_accounts()
    emails = [account["email"] for account in wanted]
    found = bulk.fetch_by(User.email, emails)
    for account in wanted:
        user = found.get(account["email"])
        if user is None:
            user = _create_account(seed, account)
            seed.created[user.role] += 1
        else:
            seed.existing[account["role"]] += 1
            if user.role != account["role"]:
                seed.notes.append(f"{user.email} already exists as {user.role}; left unchanged.")
        seed.users[user.email] = user


def _create_account(seed: Seed, account: dict) -> User:
    """Create one account through the service and give it the demo password."""
    accounts.check_password_policy(
        seed.password, email=account["email"], names=(account["full_name"], account["full_name_en"])
    )
    # Created without a password (so the service does not hash it once per account), then
    # activated with the shared hash, the way an activation link would: audited as such.
    user, _activation_token = accounts.create_user(account, actor=None)
    user.password_hash = seed.password_hash
    user.password_changed_at = utcnow()
    db.session.execute(delete(ActivationToken).where(ActivationToken.user_id == user.id))
    audit.record("user.activated", "user", user.id, actor=None, data={"via": "seed-demo"})
    return user


def seed_first_station(seed: Seed) -> None:
    """Build the Guangzhou station of DESIGN section 1 through the catalogue and enrolment
    services, acting as the demo admin (so everything is audited): the programme, the
    course, its five modules, its three instructors and its 90 teachers; then publish it.

    Found by code and title on a later run, where only what is missing is added. A course
    that was closed or archived meanwhile is left as it is.
    """
    admin = seed.users[data.ADMIN["email"]]
    program = _find_or_create_program(admin)
    course = _find_or_create_course(program, admin)
    if course.status == CourseStatus.ARCHIVED:
        seed.notes.append(f"Course {course.code} is archived; left unchanged.")
    else:
        _add_missing_modules(course, admin)
        _assign_instructors(seed, course, admin)
        _enrol_teachers(seed, course, admin)
        if course.status == CourseStatus.DRAFT:
            catalog.change_status(course, "publish", actor=admin)
    seed.summary.append(describe_course(course))


def _find_or_create_program(admin: User) -> Program:
    program = db.session.scalar(select(Program).where(Program.code == data.PROGRAM_CODE))
    if program is None:
        program = catalog.create_program(ProgramCreate().load(data.program_payload()), actor=admin)
    return program


def _find_or_create_course(program: Program, admin: User) -> Course:
    course = db.session.scalar(select(Course).where(Course.code == data.FIRST_STATION_CODE))
    if course is None:
        payload = CourseCreate().load(data.course_payload(program.id))
        course = catalog.create_course(payload, actor=admin)
    return course


def _add_missing_modules(course: Course, admin: User) -> None:
    """Create the modules whose title the course does not have yet, in display order."""
    titles = set(db.session.scalars(select(Module.title).where(Module.course_id == course.id)))
    for payload in data.module_payloads():
        if payload["title"] not in titles:
            catalog.create_module(course, ModuleCreate().load(payload), actor=admin)


def _assign_instructors(seed: Seed, course: Course, admin: User) -> None:
    for n in range(1, len(data.INSTRUCTORS) + 1):
        user = seed.users[data.instructor_email(n)]
        if user.role == Role.INSTRUCTOR and user.is_active:
            catalog.assign_instructor(course, user.id, actor=admin)  # no-op when assigned
        else:
            seed.notes.append(f"{user.email} is not an active instructor; not assigned.")


def _enrol_teachers(seed: Seed, course: Course, admin: User) -> None:
    """Enrol the demo teachers that have no enrolment in the course yet, in roster order.

    A teacher who withdrew during a demo keeps that withdrawal: the seed fills in what is
    missing, it does not undo what demo users did.
    """
    if course.status not in (CourseStatus.DRAFT, CourseStatus.PUBLISHED):
        seed.notes.append(f"Course {course.code} is {course.status}; nobody was enrolled.")
        return
    teachers = [
        seed.users[data.teacher_email(n)] for n in range(1, data.FIRST_STATION_TEACHERS + 1)
    ]
    enrolled = set(
        db.session.scalars(
            select(Enrollment.user_id).where(
                Enrollment.course_id == course.id,
                Enrollment.user_id.in_([t.id for t in teachers]),
            )
        )
    )
    missing = [t for t in teachers if t.id not in enrolled]
    eligible = [t for t in missing if t.role == Role.TEACHER and t.is_active]
    seed.notes += [
        f"{t.email} is not an active teacher; not enrolled." for t in missing if t not in eligible
    ]
    enrollments.enroll_many(course, eligible, source="import", actor=admin)


def describe_course(course: Course) -> str:
    """One line on the demo course, the same on every run that changes nothing."""
    kinds = dict(
        db.session.execute(
            select(Module.kind, func.count())
            .where(Module.course_id == course.id)
            .group_by(Module.kind)
        ).all()
    )
    instructors = db.session.scalar(
        select(func.count())
        .select_from(CourseInstructor)
        .where(CourseInstructor.course_id == course.id)
    )
    counts = enrollments.roster_counts(course)
    return (
        f"Demo course: {course.code} {course.title} (id {course.id}), {course.status}, "
        f"{kinds.get('theory', 0)} theory + {kinds.get('practical', 0)} practical modules, "
        f"{instructors} instructors, {counts['active']} active and {counts['waitlisted']} "
        f"waitlisted teachers of {course.capacity or 'unlimited'} seats."
    )


def seed_learning_activity(seed: Seed) -> None:
    """Give the demo course learner activity, as on day four of the Guangzhou station:
    theory completed and quizzes taken, practical reports submitted, some graded, some
    returned for revision and the rest waiting in the grading queue.

    Runs once: a course that already has submissions is left as it is.
    """
    course = db.session.scalar(select(Course).where(Course.code == data.FIRST_STATION_CODE))
    if course is None or course.status != CourseStatus.PUBLISHED:
        return
    if db.session.scalar(select(func.count()).where(Submission.course_id == course.id)):
        return
    modules = db.session.scalars(catalog.modules_query(course)).all()
    enrolled = dict(
        db.session.execute(
            select(Enrollment.user_id, Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.status == "active"
            )
        ).all()
    )
    for n in range(1, data.DEMO_ACTIVE_LEARNERS + 1):
        user = seed.users[data.teacher_email(n)]
        if user.id in enrolled:
            _study(seed, n, user, enrolled[user.id], modules)
    seed.summary.append(
        f"Demo activity: {seed.created['submission']} practical submissions, "
        f"{seed.created['grade']} graded, {seed.created['returned']} returned for revision."
    )


def _study(seed: Seed, n: int, user: User, enrollment: Enrollment, modules: list) -> None:
    """One teacher's work: every n-th pattern gives the demo a realistic spread."""
    for module in modules:
        if module.kind == "theory" and module.quiz is None:
            learning.complete_module(module, enrollment)
        elif module.kind == "theory":
            if n % 3 == 0:  # a wrong first attempt, then a pass: the best attempt counts
                learning.submit_attempt(module, enrollment, [[] for _ in module.quiz.questions])
            learning.submit_attempt(module, enrollment, [q.correct for q in module.quiz.questions])
    practicals = [m for m in modules if m.kind == "practical"]
    if not practicals or n > data.DEMO_SUBMITTERS:
        return
    graded = n <= data.DEMO_GRADED
    _submit_report(seed, n, user, practicals[0], graded=graded)
    # The first few finish the whole course: the second practical too, passed.
    if n <= data.DEMO_COMPLETERS and graded and n % 5 and len(practicals) > 1:
        _submit_report(seed, n, user, practicals[1], graded=True)


def _submit_report(seed: Seed, n: int, user: User, practical: Module, *, graded: bool) -> None:
    upload = FileStorage(
        stream=io.BytesIO(data.demo_report_pdf(user.full_name_en or user.email)),
        filename="实训报告.pdf",
        content_type="application/pdf",
    )
    module, enrollment = learner_seat(practical.id, user)
    submission = submissions.submit(
        module, enrollment, user, text=data.DEMO_SUBMISSION_TEXT, uploads=[upload]
    )
    seed.created["submission"] += 1
    if graded:
        _grade(seed, n, submission, practical)


def _grade(seed: Seed, n: int, submission: Submission, practical: Module) -> None:
    grader = seed.users[data.instructor_email(1 + n % len(data.INSTRUCTORS))]
    returned = n % 5 == 0
    scores = [
        {
            "criterion_id": c.id,
            "points": c.max_points * (Decimal("0.5") if returned else Decimal("0.85")),
        }
        for c in practical.criteria
    ]
    feedback = data.DEMO_FEEDBACK_RETURNED if returned else data.DEMO_FEEDBACK_PASSED
    grading.grade_submission(
        submission,
        {"scores": scores, "feedback": feedback, "return_for_revision": returned},
        actor=grader,
        if_match=None,
    )
    seed.created["returned" if returned else "grade"] += 1


def seed_certificates(seed: Seed) -> None:
    """Issue certificates to every eligible teacher of the demo course (a no-op for those
    who have one: issuance is idempotent)."""
    course = db.session.scalar(select(Course).where(Course.code == data.FIRST_STATION_CODE))
    if course is None or course.status != CourseStatus.PUBLISHED:
        return
    admin = seed.users[data.ADMIN["email"]]
    result = issuance.issue_certificates(course, actor=admin)
    seed.created["certificate"] += len(result["issued"])
    valid = db.session.scalar(
        select(func.count()).where(
            Certificate.course_id == course.id, Certificate.status == "valid"
        )
    )
    seed.summary.append(f"Demo certificates: {valid} valid (teachers who completed the course).")


STEPS: tuple[Step, ...] = (
    seed_accounts,
    seed_first_station,
    seed_learning_activity,
    seed_certificates,
)


def run(password: str = data.DEMO_PASSWORD) -> Seed:
    """Run every step in order (flushes, never commits) and return what happened."""
    accounts.check_password_policy(password)
    seed = Seed(password=password)
    for step in STEPS:
        step(seed)
    return seed
