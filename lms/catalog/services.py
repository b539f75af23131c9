"""Catalogue rules: programmes, courses and their status workflow, instructors, modules.

Services flush but never commit; the request boundary commits once.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import Role, User
from lms.audit import services as audit
from lms.catalog import permissions, signals
from lms.catalog.errors import BadTransition, CodeTaken, ModuleInUse
from lms.catalog.models import (
    Course,
    CourseInstructor,
    CourseStatus,
    Module,
    ModuleKind,
    Program,
    Quiz,
    QuizQuestion,
    RubricCriterion,
)
from lms.core.db import utcnow, violated_constraint
from lms.core.errors import Conflict, Invalid, NotFound
from lms.extensions import db


def module_has_activity(module: Module) -> bool:
    """True when a domain connected to ``signals.module_activity`` (learning, practicals)
    has learner data for ``module``: it cannot then be deleted or restructured."""
    return any(answer for _, answer in signals.module_activity.send(module))


def _flush_unique(error_cls, *, field: str):
    """Flush, turning a unique violation of ``field`` into ``error_cls`` (a concurrent
    duplicate) and a capacity check violation (a concurrent enrolment) into 409."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        constraint = violated_constraint(exc)
        if "within_capacity" in constraint:
            raise Conflict(
                "More seats were taken meanwhile; choose a larger capacity.",
                "名额已被占用，请设置更大的容量。",
            ) from exc
        if field in constraint or "UNIQUE" in constraint.upper():
            raise error_cls(errors={field: ["Already used."]}) from exc
        raise


def _changed(obj, changes: dict) -> dict:
    """Apply ``changes`` to ``obj``; return {field: [old, new]} for those that differ."""
    diff = {}
    for key, value in changes.items():
        old = getattr(obj, key)
        if old != value:
            diff[key] = [old, value]
            setattr(obj, key, value)
    return diff


# --- programmes ----------------------------------------------------------------------------


def get_program(program_id: int) -> Program:
    """The programme or 404."""
    program = db.session.get(Program, program_id)
    if program is None:
        raise NotFound()
    return program


def create_program(data: dict, *, actor: User) -> Program:
    """Create a programme (unique code)."""
    program = Program(**data)
    db.session.add(program)
    _flush_unique(CodeTaken, field="code")
    audit.record(
        "program.created",
        "program",
        program.id,
        actor=actor,
        data={"code": program.code, "title": program.title},
    )
    return program


def update_program(program: Program, changes: dict, *, actor: User) -> Program:
    """Update a programme."""
    diff = _changed(program, changes)
    _flush_unique(CodeTaken, field="code")
    if diff:
        audit.record(
            "program.updated", "program", program.id, actor=actor, data={"fields": sorted(diff)}
        )
    return program


def program_query():
    return select(Program).order_by(Program.id)


# --- courses -------------------------------------------------------------------------------


def get_course(course_id: int) -> Course:
    """The course or 404 (no visibility check: see ``permissions.visible_course``)."""
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound()
    return course


def course_query(user: User, *, status=None, program_id=None, q=None):
    """The courses ``user`` may see, newest start first."""
    stmt = (
        select(Course)
        .where(permissions.visible_courses_clause(user))
        .order_by(Course.starts_on.desc(), Course.id.desc())
    )
    if status:
        stmt = stmt.where(Course.status == status)
    if program_id:
        stmt = stmt.where(Course.program_id == program_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Course.title).like(like),
                func.lower(Course.code).like(like),
                func.lower(Course.location).like(like),
            )
        )
    return stmt


def _check_course_rules(course: Course) -> None:
    """Cross-field rules on the merged state of a course."""
    errors = {}
    if course.ends_on < course.starts_on:
        errors["ends_on"] = ["Must not be before starts_on. 结束日期不能早于开始日期。"]
    if (
        course.enroll_opens_at
        and course.enroll_closes_at
        and course.enroll_closes_at <= course.enroll_opens_at
    ):
        errors["enroll_closes_at"] = ["Must be after enroll_opens_at. 报名截止须晚于报名开始。"]
    if course.capacity is not None and course.capacity < course.seats_taken:
        errors["capacity"] = [
            f"{course.seats_taken} seats are already taken. 已有 {course.seats_taken} 人报名。"
        ]
    # no autoflush: flushing the changed course first would hit the foreign key (a 500)
    with db.session.no_autoflush:
        if course.program_id is not None and db.session.get(Program, course.program_id) is None:
            errors["program_id"] = ["No such programme. 项目不存在。"]
    if errors:
        raise Invalid(errors)


def create_course(data: dict, *, actor: User) -> Course:
    """Create a course in draft status."""
    course = Course(**data, status=CourseStatus.DRAFT.value, seats_taken=0)
    _check_course_rules(course)
    db.session.add(course)
    _flush_unique(CodeTaken, field="code")
    audit.record(
        "course.created",
        "course",
        course.id,
        actor=actor,
        data={"code": course.code, "title": course.title},
    )
    return course


def update_course(course: Course, changes: dict, *, actor: User) -> Course:
    """Update a course; completion-rule and capacity changes are audited with values."""
    if course.status == CourseStatus.ARCHIVED:
        raise Conflict("An archived course cannot be changed.", "已归档的研修班不能修改。")
    diff = _changed(course, changes)
    _check_course_rules(course)
    _flush_unique(CodeTaken, field="code")
    if diff:
        audit.record(
            "course.updated",
            "course",
            course.id,
            actor=actor,
            data={k: [str(a), str(b)] for k, (a, b) in diff.items()},
        )
    if "capacity" in diff and _capacity_grew(*diff["capacity"]):
        signals.seats_added.send(course, actor=actor)
    return course


def _capacity_grew(old: int | None, new: int | None) -> bool:
    """True when seats were added (a larger number, or no limit any more)."""
    return new is None or (old is not None and new > old)


# action -> (allowed source states, target state)
TRANSITIONS = {
    "publish": ({CourseStatus.DRAFT, CourseStatus.CLOSED}, CourseStatus.PUBLISHED),
    "close": ({CourseStatus.PUBLISHED}, CourseStatus.CLOSED),
    "archive": ({CourseStatus.CLOSED, CourseStatus.DRAFT}, CourseStatus.ARCHIVED),
}


def change_status(course: Course, action: str, *, actor: User) -> Course:
    """Move a course along draft -> published -> closed -> archived (closed can reopen)."""
    sources, target = TRANSITIONS[action]
    if course.status not in sources:
        raise BadTransition(
            f"Cannot {action} a {course.status} course.",
            f"状态为 {course.status} 的研修班不能执行该操作（{action}）。",
        )
    if target == CourseStatus.PUBLISHED and not db.session.scalar(
        select(func.count()).select_from(Module).where(Module.course_id == course.id)
    ):
        raise BadTransition(
            "Add at least one module before publishing.", "发布前请至少添加一个模块。"
        )
    previous = course.status
    course.status = target.value
    if target == CourseStatus.PUBLISHED and course.published_at is None:
        course.published_at = utcnow()
    # Lock the course row before the audit chain, in the order enrolments take them;
    # the opposite order deadlocks with a concurrent enrolment.
    db.session.flush()
    audit.record(
        f"course.{target.value}",
        "course",
        course.id,
        actor=actor,
        data={"from": previous, "to": target.value},
    )
    return course


# --- instructors ---------------------------------------------------------------------------


def instructors_query(course: Course):
    return (
        select(CourseInstructor)
        .where(CourseInstructor.course_id == course.id)
        .order_by(CourseInstructor.assigned_at, CourseInstructor.user_id)
    )


def assign_instructor(course: Course, user_id: int, *, actor: User) -> CourseInstructor:
    """Assign an instructor (idempotent). Only accounts with the instructor role qualify."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    if user.role != Role.INSTRUCTOR or not user.is_active:
        raise Invalid({"user_id": ["Only active instructors can be assigned. 只能指派在职导师。"]})
    link = db.session.get(CourseInstructor, (course.id, user.id))
    if link is not None:
        return link
    link = CourseInstructor(course_id=course.id, user_id=user.id, assigned_by_id=actor.id)
    db.session.add(link)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # assigned concurrently: same end state
        return db.session.get(CourseInstructor, (course.id, user.id))
    audit.record(
        "course.instructor_assigned", "course", course.id, actor=actor, data={"user_id": user.id}
    )
    return link


def unassign_instructor(course: Course, user_id: int, *, actor: User) -> None:
    """Remove an instructor from a course (404 if not assigned)."""
    removed = db.session.execute(
        delete(CourseInstructor).where(
            CourseInstructor.course_id == course.id, CourseInstructor.user_id == user_id
        )
    ).rowcount
    if not removed:
        raise NotFound()
    audit.record(
        "course.instructor_removed", "course", course.id, actor=actor, data={"user_id": user_id}
    )


# --- modules -------------------------------------------------------------------------------


def get_module(module_id: int) -> Module:
    module = db.session.get(Module, module_id)
    if module is None:
        raise NotFound()
    return module


def modules_query(course: Course):
    """A course's modules in display order, quiz and rubric loaded in a constant number
    of queries."""
    from sqlalchemy.orm import selectinload

    return (
        select(Module)
        .where(Module.course_id == course.id)
        .options(
            selectinload(Module.quiz).selectinload(Quiz.questions), selectinload(Module.criteria)
        )
        .order_by(Module.position, Module.id)
    )


def _build_quiz(spec: dict | None) -> Quiz | None:
    if spec is None:
        return None
    return Quiz(
        pass_percent=spec["pass_percent"],
        max_attempts=spec.get("max_attempts"),
        questions=[
            QuizQuestion(
                position=i,
                prompt=q["prompt"],
                choices=q["choices"],
                correct=sorted(q["correct"]),
                points=q["points"],
            )
            for i, q in enumerate(spec["questions"])
        ],
    )


def _build_rubric(spec: list[dict]) -> list[RubricCriterion]:
    return [
        RubricCriterion(
            position=i,
            title=c["title"],
            description=c.get("description"),
            max_points=c["max_points"],
        )
        for i, c in enumerate(spec)
    ]


def _check_module_rules(module: Module) -> None:
    errors = {}
    if module.kind == ModuleKind.PRACTICAL:
        total = sum((c.max_points for c in module.criteria), Decimal("0"))
        if module.pass_points is not None and module.pass_points > total:
            errors["pass_points"] = [
                f"Must not exceed the rubric total ({total}). "
                f"及格分不能超过评分标准总分（{total}）。"
            ]
        if module.due_at and module.closes_at and module.closes_at < module.due_at:
            errors["closes_at"] = ["Must not be before due_at. 截止关闭时间不能早于提交期限。"]
    if errors:
        raise Invalid(errors)


def _next_position(course: Course) -> int:
    last = db.session.scalar(select(func.max(Module.position)).where(Module.course_id == course.id))
    return 0 if last is None else last + 1


def create_module(course: Course, data: dict, *, actor: User) -> Module:
    """Add a theory or practical module to a course."""
    if course.status == CourseStatus.ARCHIVED:
        raise Conflict("An archived course cannot be changed.", "已归档的研修班不能修改。")
    data = dict(data)
    quiz, rubric = data.pop("quiz", None), data.pop("rubric", None)
    module = Module(course_id=course.id, resources=data.pop("resources", []), **data)
    if module.position is None:
        module.position = _next_position(course)
    if module.kind == ModuleKind.PRACTICAL:
        module.criteria = _build_rubric(rubric)
        module.reopen = module.reopen or "manual"
    else:
        module.quiz = _build_quiz(quiz)
    _check_module_rules(module)
    db.session.add(module)
    db.session.flush()
    audit.record(
        "module.created",
        "module",
        module.id,
        actor=actor,
        data={"course_id": course.id, "kind": module.kind, "hours": str(module.hours)},
    )
    return module


def update_module(module: Module, changes: dict, *, actor: User) -> Module:
    """Update a module. Replacing the quiz or rubric is refused once learners have used it."""
    changes = dict(changes)
    wrong_kind = [
        k
        for k in (
            ("quiz",)
            if module.kind == ModuleKind.PRACTICAL
            else (
                "rubric",
                "pass_points",
                "brief",
                "due_at",
                "closes_at",
                "max_attempts",
                "reopen",
                "allowed_extensions",
                "max_file_mb",
            )
        )
        if k in changes
    ]
    if wrong_kind:
        raise Invalid({k: [f"Not allowed on a {module.kind} module."] for k in wrong_kind})
    structural = {"quiz", "rubric"} & set(changes)
    if structural and module_has_activity(module):
        raise ModuleInUse()
    # Old rows go first: the unit of work would insert the new ones before deleting the old,
    # and (module, position) and (quiz, module) are unique.
    if "quiz" in changes:
        module.quiz = None
        db.session.flush()
        module.quiz = _build_quiz(changes.pop("quiz"))
    if "rubric" in changes:
        module.criteria = []
        db.session.flush()
        module.criteria = _build_rubric(changes.pop("rubric"))
    diff = _changed(module, changes)
    _check_module_rules(module)
    db.session.flush()
    audit.record(
        "module.updated",
        "module",
        module.id,
        actor=actor,
        data={"fields": sorted(set(diff) | structural)},
    )
    return module


def delete_module(module: Module, *, actor: User) -> None:
    """Delete a module that no learner has touched."""
    if module_has_activity(module):
        raise ModuleInUse()
    audit.record(
        "module.deleted",
        "module",
        module.id,
        actor=actor,
        data={"course_id": module.course_id, "title": module.title},
    )
    db.session.delete(module)
    db.session.flush()


def reorder_modules(course: Course, module_ids: list[int], *, actor: User) -> list[Module]:
    """Set the display order: ``module_ids`` must list every module of the course once."""
    modules = db.session.scalars(modules_query(course)).all()
    if sorted(module_ids) != sorted(m.id for m in modules):
        raise Invalid(
            {
                "module_ids": [
                    "List every module of this course exactly once. "
                    "请完整列出本研修班的所有模块，且不重复。"
                ]
            }
        )
    by_id = {m.id: m for m in modules}
    for position, module_id in enumerate(module_ids):
        by_id[module_id].position = position
    db.session.flush()
    audit.record(
        "course.modules_reordered",
        "course",
        course.id,
        actor=actor,
        data={"module_ids": module_ids},
    )
    return [by_id[i] for i in module_ids]
