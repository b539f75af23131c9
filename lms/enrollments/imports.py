"""Roster import (``POST /api/v1/courses/{id}/enrollments/import``).

A roster is a people file, read and validated exactly like the user import (lms.core.tabular,
lms.accounts.imports): missing accounts are created without a password but with an
activation token; existing ones are left as they are (a warning names each difference)
unless the admin sends ``update_existing``, when they take the non-empty cells of their
row, each change audited with its old and new value. Then everybody is
enrolled in file order: active while seats remain, then waitlisted when the course has a
waitlist. Rows already enrolled (active, waitlisted or completed) are left as they are.

All rows or none. Every check runs before the first write, and any problem is one 422 that
lists every bad row: besides the field rules of the user import, a row may not name an
instructor, an admin or a deactivated account, nor give a role other than teacher, and
without a waitlist the rows needing a seat must fit in the free seats.

Lookups are batched (one query per ``bulk.LOOKUP_BATCH`` keys, passed as one array on
PostgreSQL) and writes go in batches, each one INSERT of the places (returning their ids)
and one audit append, so the number of queries does not grow per row.
On a real import the course row stays locked from validation to commit: concurrent
enrolments in the course wait, and the seats counted are the seats taken. Like every
service, this flushes but never commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Row, or_, select, update
from sqlalchemy.exc import IntegrityError

from lms.accounts import imports as user_import
from lms.accounts import people
from lms.accounts.models import Role, User
from lms.audit import services as audit
from lms.catalog.models import Course, CourseStatus
from lms.core import bulk, tabular
from lms.core.bulk import gc_paused
from lms.core.db import utcnow
from lms.enrollments.errors import AlreadyEnrolled, CourseFull, EnrollmentClosed
from lms.enrollments.models import Enrollment, EnrollmentStatus
from lms.extensions import db
from lms.jobs.progress import Progress, report

SOURCE = "import"
ACTIVE, WAITLISTED = EnrollmentStatus.ACTIVE.value, EnrollmentStatus.WAITLISTED.value
WITHDRAWN = EnrollmentStatus.WITHDRAWN.value
OPEN_STATUSES = (CourseStatus.DRAFT.value, CourseStatus.PUBLISHED.value)


@dataclass
class RosterPlan:
    """What a roster import does: the account changes, then the places, in file order."""

    accounts: user_import.ImportPlan
    places: list[tuple[str, str]] = field(default_factory=list)  # (email, status)
    existing: dict[str, Row] = field(default_factory=dict)  # accounts found, by email
    withdrawn: dict[int, Enrollment] = field(default_factory=dict)  # by user id: to revive


def import_roster(
    course: Course,
    file,
    *,
    dry_run: bool,
    actor: User,
    update_existing: bool | None = None,
    progress: Progress | None = None,
) -> dict:
    """Create the missing accounts of a roster file and enrol everyone; the ``ImportReport``.

    Existing accounts are left as they are unless ``update_existing`` (default false): a
    roster must not rename a teacher platform-wide by accident; what the file says
    differently is a warning. With ``dry_run`` everything is validated and counted (seats
    simulated from the course's capacity and seats taken) and the per-row plan answered,
    but nothing is written and no activation token is issued. ``progress(done, total)``
    is called after each batch of places written.
    """
    check_open(course)
    table = people.read_people(file)
    if not dry_run:
        lock_course(course)
    with gc_paused():  # tens of thousands of objects that all survive: see gc_paused
        plan = plan_roster(
            course, table, actor=actor, update_existing=bool(update_existing), dry_run=dry_run
        )
        tokens = [] if dry_run else apply_roster(course, plan, actor=actor, progress=progress)
    return {
        "rows": len(table.rows),
        "created": len(plan.accounts.new),
        "updated": len(plan.accounts.updates),
        "unchanged": plan.accounts.unchanged,
        "enrolled": len(plan.places),
        "dry_run": dry_run,
        "activation_tokens": tokens,
        "plan": plan_entries(plan),
        "warnings": table.warnings + plan.accounts.warnings,
    }


def plan_entries(plan: RosterPlan) -> list[dict]:
    """The per-row plan: ``action`` is the place (enrol, waitlist, or skip when already
    enrolled), ``account`` what happens to the account (create, update, skip)."""
    statuses = dict(plan.places)
    actions = {ACTIVE: "enrol", WAITLISTED: "waitlist"}
    return [
        {
            **entry,
            "account": entry["action"],
            "action": actions.get(statuses.get(entry["email"]), "skip"),
        }
        for entry in plan.accounts.entries
    ]


def check_open(course: Course) -> None:
    """409 ``enrollment-closed`` unless the course is a draft or published."""
    if course.status not in OPEN_STATUSES:
        raise EnrollmentClosed(
            f"A {course.status} course takes no enrolments.",
            "该研修班已关闭或归档，不能报名。",
        )


def lock_course(course: Course) -> None:
    """Lock the course row until the transaction ends and reload it (PostgreSQL; SQLite
    serialises writers anyway), so that the seats counted are still free at the end."""
    db.session.scalars(
        select(Course)
        .where(Course.id == course.id)
        .with_for_update(of=Course)
        .execution_options(populate_existing=True)
    ).one()
    check_open(course)  # it may have been closed while the file was read


# --- planning (no writes) --------------------------------------------------------------------


def plan_roster(
    course: Course,
    table: tabular.Table,
    *,
    actor: User,
    update_existing: bool = False,
    dry_run: bool = False,
) -> RosterPlan:
    """Validate every row and decide what happens to it, or raise one 422 listing every
    invalid row (field rules, roster rules, and seats when there is no waitlist); for a
    ``dry_run`` the 422 also holds the plan of every row."""
    rows, errors = people.validate_people(table)
    existing = accounts_by_email([row.values["email"] for row in rows])
    enrolments = enrolments_by_user(course, [user.id for user in existing.values()])
    enrolled = {uid for uid, e in enrolments.items() if e.status != WITHDRAWN}
    roster_errors = [e for row in rows for e in row_errors(row, existing.get(row.values["email"]))]
    bad = {e["row"] for e in roster_errors}
    needing = [
        row for row in rows if row.number not in bad and _user_id(existing, row) not in enrolled
    ]
    places, seat_errors = assign_places(course, needing)
    if dry_run and (errors or roster_errors or seat_errors):
        bad |= {e["row"] for e in errors + seat_errors}
        good = [row for row in rows if row.number not in bad]
        accounts = user_import.plan_import(
            good, actor=actor, existing=existing, update_existing=update_existing
        )
        entries = plan_entries(RosterPlan(accounts, places))
        user_import.raise_with_plan(table, errors + roster_errors + seat_errors, entries)
    tabular.raise_if_errors(errors + roster_errors + seat_errors, headers=table.headers)
    withdrawn = {uid: e for uid, e in enrolments.items() if e.status == WITHDRAWN}
    accounts = user_import.plan_import(
        rows,
        actor=actor,
        existing=existing,
        update_existing=update_existing,
        headers=table.headers,
    )
    return RosterPlan(accounts, places, existing, withdrawn)


# What planning reads of the accounts named: plain rows, not entities (10,000 User objects
# cost more than all the rest of the planning); the accounts to update are loaded as
# entities when the plan is applied.
ACCOUNT_COLUMNS = (
    User.id,
    User.email,
    User.role,
    User.is_active,
    User.full_name,
    *(getattr(User, name) for name in user_import.PROFILE_FIELDS),
)


def accounts_by_email(emails: list[str]) -> dict[str, Row]:
    """The ``ACCOUNT_COLUMNS`` of the accounts with ``emails``, by email."""
    found = {}
    for batch in bulk.lookup_batches(sorted(set(emails))):
        stmt = select(*ACCOUNT_COLUMNS).where(bulk.among(User.email, batch))
        found.update((account.email, account) for account in db.session.execute(stmt))
    return found


def _user_id(existing: dict[str, Row], row: tabular.RowData) -> int | None:
    """The id of the row's existing account; None for a new one (never enrolled)."""
    user = existing.get(row.values["email"])
    return None if user is None else user.id


def row_errors(row: tabular.RowData, user: Row | None) -> list[dict]:
    """The roster rules of one valid person row: only active teacher accounts are enrolled."""
    errors = []
    role = row.values.get("role")
    if role is not None and role != Role.TEACHER:
        errors.append(
            tabular.row_error(
                row.number,
                "role",
                f"A roster enrols teachers only, not a {role}. "
                "名单只能报名学员，不能填写其他角色。",
            )
        )
    if user is not None and user.role != Role.TEACHER:
        errors.append(
            tabular.row_error(
                row.number,
                "email",
                f"This email belongs to an existing {user.role} account, which cannot be "
                f"enrolled. 该邮箱属于已有的{_ROLE_ZH.get(user.role, user.role)}账号，不能报名。",
            )
        )
    elif user is not None and not user.is_active:
        errors.append(
            tabular.row_error(
                row.number,
                "email",
                "This account is deactivated and cannot be enrolled. 该账号已停用，不能报名。",
            )
        )
    return errors


_ROLE_ZH = {"instructor": "导师", "admin": "教务"}


def assign_places(
    course: Course, rows: list[tabular.RowData]
) -> tuple[list[tuple[str, str]], list[dict]]:
    """Places for ``rows`` in file order: active while seats remain, then waitlisted.

    Without a waitlist the first row that does not fit is an error ("course full").
    """
    free = None if course.capacity is None else max(course.capacity - course.seats_taken, 0)
    places = []
    for index, row in enumerate(rows):
        if free is None or index < free:
            places.append((row.values["email"], ACTIVE))
        elif course.waitlist_enabled:
            places.append((row.values["email"], WAITLISTED))
        else:
            return places, [_course_full(row, free, len(rows))]
    return places, []


def _course_full(row: tabular.RowData, free: int, needed: int) -> dict:
    return tabular.row_error(
        row.number,
        "email",
        f"The course is full: {free} free seat(s) for {needed} row(s) needing one, and the "
        f"course has no waitlist; this row and the ones after it do not fit. "
        f"研修班名额已满：剩余 {free} 个名额，需报名 {needed} 人，且未开放候补；"
        f"自本行起的学员无法报名。",
    )


def enrolments_by_user(course: Course, user_ids: list[int]) -> dict[int, Enrollment]:
    """The course's enrolments (any status) of ``user_ids``, one query per batch of ids."""
    found = {}
    for batch in bulk.lookup_batches(sorted(set(user_ids))):
        stmt = select(Enrollment).where(
            Enrollment.course_id == course.id, bulk.among(Enrollment.user_id, batch)
        )
        found.update((e.user_id, e) for e in db.session.scalars(stmt))
    return found


# --- writing ---------------------------------------------------------------------------------


def apply_roster(
    course: Course, plan: RosterPlan, *, actor: User, progress: Progress | None = None
) -> list[dict]:
    """Write the plan: account updates, new accounts, then the enrolments; returns the
    activation tokens of the new accounts. ``progress`` counts accounts created, then
    places written."""
    created = len(plan.accounts.new)
    total = created + len(plan.places)
    update_accounts(plan.accounts.updates, actor=actor)
    tokens = user_import.create_accounts(
        plan.accounts.new, actor=actor, progress=lambda done: report(progress, done, total)
    )
    ids = {email: user.id for email, user in plan.existing.items()}
    ids.update(_ids_by_email([person["email"] for person in plan.accounts.new]))
    places = [(ids[email], status) for email, status in plan.places]
    enrol(
        course,
        places,
        revive=plan.withdrawn,
        actor=actor,
        progress=lambda done, _: report(progress, created + done, total),
    )
    return tokens


def _ids_by_email(emails: list[str]) -> dict[str, int]:
    """The ids of the accounts with ``emails`` (just created), one query per batch."""
    ids: dict[str, int] = {}
    for batch in bulk.lookup_batches(emails):
        ids.update(
            db.session.execute(
                select(User.email, User.id).where(bulk.among(User.email, batch))
            ).all()
        )
    return ids


def update_accounts(updates: list[tuple[Row, dict]], *, actor: User) -> None:
    """Apply profile changes of existing accounts, audited like ``accounts.update_user``
    but with one audit append per batch instead of one per account.

    Roster rows change profile fields only: email is the key, and a role other than
    teacher was refused while planning, so neither role nor activity changes here.
    """
    users = bulk.fetch_by(User.id, [account.id for account, _ in updates])
    updates = [(users[account.id], changes) for account, changes in updates]
    for batch in bulk.chunked(updates, user_import.FLUSH_BATCH):
        events = [user_import.updated_event(user, changes) for user, changes in batch]
        for user, changes in batch:
            for key, value in changes.items():
                setattr(user, key, value)
        db.session.flush()
        audit.record_many(events, actor=actor)


def enrol(
    course: Course,
    places: list[tuple[int, str]],
    *,
    revive: dict[int, Enrollment],
    actor: User,
    progress: Progress | None = None,
) -> int:
    """Enrol users (by id) with the statuses planned, in batches; the withdrawn enrolments in
    ``revive`` (by user id) are reused, as the (course, user) pair is unique. Returns the
    number of places written.

    Behaves like ``services.enroll_many`` (source "import", one audit event per placement)
    without a savepoint and two queries per user. The seats are taken with one conditional
    update; as the course row is locked it succeeds, and the check constraint on the
    course would refuse an overbooking anyway. New rows go in as one INSERT per batch
    that returns their ids (``bulk.insert_rows``), which the audit events need.
    """
    if not places:
        return 0
    take_seats(course, sum(1 for _, status in places if status == ACTIVE))
    now = utcnow()
    for batch_start in range(0, len(places), user_import.FLUSH_BATCH):
        batch = places[batch_start : batch_start + user_import.FLUSH_BATCH]
        rows, placed = [], {}
        for offset, (user_id, status) in enumerate(batch):
            # One microsecond apart: the waitlist is served by queued_at, so it keeps file order
            # also for revived rows, whose ids are older.
            queued_at = now + timedelta(microseconds=batch_start + offset)
            values = {
                "status": status,
                "source": SOURCE,
                "queued_at": queued_at,
                "activated_at": queued_at if status == ACTIVE else None,
                "withdrawn_at": None,
            }
            if user_id in revive:
                for key, value in values.items():
                    setattr(revive[user_id], key, value)
                placed[user_id] = revive[user_id].id
            else:
                rows.append({"course_id": course.id, "user_id": user_id, **values})
        placed.update(_write_enrolments(rows, now))
        audit.record_many(
            [_created_event(course, placed[user_id], user_id, status) for user_id, status in batch],
            actor=actor,
        )
        report(progress, batch_start + len(batch), len(places))
    return len(places)


def _write_enrolments(rows: list[dict], now) -> dict[int, int]:
    """Flush the revived rows and insert the new ones (409 if one was enrolled meanwhile);
    the new enrolments' ids by user id."""
    try:
        db.session.flush()
        inserted = bulk.insert_rows(
            Enrollment.__table__,
            [{**row, "created_at": now, "updated_at": now} for row in rows],
            returning=("user_id", "id"),
        )
    except IntegrityError as exc:  # someone enrolled one of these users meanwhile
        raise AlreadyEnrolled(
            "A teacher in the file was enrolled meanwhile; import again.",
            "文件中的某位学员刚被他人报名，请重新导入。",
        ) from exc
    return dict(inserted)


def take_seats(course: Course, seats: int) -> None:
    """Take ``seats`` seats at once, or 409 ``course-full`` if they are no longer free."""
    if not seats:
        return
    result = db.session.execute(
        update(Course)
        .where(
            Course.id == course.id,
            or_(Course.capacity.is_(None), Course.seats_taken + seats <= Course.capacity),
        )
        .values(seats_taken=Course.seats_taken + seats)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:
        raise CourseFull(
            "Seats were taken while the roster was imported; nothing was imported.",
            "导入期间名额已被占用，未导入任何数据。",
        )


def _created_event(course: Course, enrollment_id: int, user_id: int, status: str):
    data = {"course_id": course.id, "user_id": user_id, "status": status, "source": SOURCE}
    return audit.PendingEvent("enrollment.created", "enrollment", enrollment_id, data)
