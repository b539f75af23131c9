"""Bulk import of accounts from a spreadsheet (``POST /api/v1/users/import``).

All rows or none: the whole file is read and validated first, and any problem is one 422
listing every bad row before anything is written. New accounts get no password but an
activation token; existing ones (matched by email) take the non-empty cells of their row.
Like every service, this flushes but never commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from lms.accounts import people, services
from lms.accounts.errors import EmailTaken
from lms.accounts.models import ActivationToken, Role, User
from lms.audit import services as audit
from lms.core import bulk, tabular
from lms.core.db import utcnow
from lms.core.tokens import digest, new_secret
from lms.extensions import db
from lms.jobs.progress import Progress, report

FLUSH_BATCH = 500


@dataclass
class ImportPlan:
    """What an import does: accounts to create, changes to existing accounts."""

    new: list[dict] = field(default_factory=list)
    updates: list[tuple[User, dict]] = field(default_factory=list)
    unchanged: int = 0


def import_users(file, *, dry_run: bool, actor: User, progress: Progress | None = None) -> dict:
    """Create or update the accounts of a CSV or XLSX upload; the ``ImportReport`` dict.

    With ``dry_run`` everything is validated and counted, but nothing is written and no
    activation token is issued. ``progress(done, total)`` follows the accounts written.
    """
    rows = read_people(file)
    plan = plan_import(rows, actor=actor)
    tokens = [] if dry_run else apply_plan(plan, actor=actor, progress=progress)
    return {
        "rows": len(rows),
        "created": len(plan.new),
        "updated": len(plan.updates),
        "unchanged": plan.unchanged,
        "enrolled": 0,
        "dry_run": dry_run,
        "activation_tokens": tokens,
    }


def read_people(file) -> list[tabular.RowData]:
    """The valid person rows of an upload, or a 422 listing every invalid row."""
    rows, errors = people.validate_people(people.read_people(file))
    tabular.raise_if_errors(errors)
    return rows


def plan_import(
    rows: list[tabular.RowData], *, actor: User, existing: dict[str, User] | None = None
) -> ImportPlan:
    """Sort rows into new accounts, updates and unchanged accounts (no writes).
    ``existing``: the accounts of the rows by email, when the caller has loaded them.

    An admin cannot change their own role through a file: that is a row error (422).
    """
    if existing is None:
        existing = bulk.fetch_by(User.email, [row.values["email"] for row in rows])
    plan, errors = ImportPlan(), []
    for row in rows:
        user = existing.get(row.values["email"])
        if user is None:
            plan.new.append(row.values)
            continue
        changes = changed_fields(user, row.values)
        if "role" in changes and user.id == actor.id:
            errors.append(
                tabular.row_error(
                    row.number,
                    "role",
                    "You cannot change your own role through an import. "
                    "不能通过导入修改自己的角色。",
                )
            )
        elif changes:
            plan.updates.append((user, changes))
        else:
            plan.unchanged += 1
    tabular.raise_if_errors(errors)
    return plan


def changed_fields(user: User, values: dict) -> dict:
    """The given fields of a row (role included, email excluded) that differ from ``user``."""
    return {
        key: value
        for key, value in values.items()
        if key != "email" and getattr(user, key) != value
    }


def apply_plan(plan: ImportPlan, *, actor: User, progress: Progress | None = None) -> list[dict]:
    """Write the plan; returns the activation tokens of the new accounts."""
    total = len(plan.updates) + len(plan.new)
    update_accounts(plan.updates, actor=actor, progress=lambda done: report(progress, done, total))

    def created(count: int) -> None:
        report(progress, len(plan.updates) + count, total)

    return create_accounts(plan.new, actor=actor, progress=created)


def update_accounts(
    updates: list[tuple[User, dict]],
    *,
    actor: User,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Apply the changes of existing accounts, audited like ``services.update_user``: a
    role change through ``services.set_role`` (its own event and rules), the profile
    fields with one ``user.updated`` event per account, appended once per batch.
    ``progress(updated)`` after each batch."""
    done = 0
    for batch in bulk.chunked(updates, FLUSH_BATCH):
        events = []
        for user, changes in batch:
            profile = dict(changes)
            role = profile.pop("role", None)
            if role is not None and role != user.role:
                services.set_role(user, role, actor=actor)
            for key, value in profile.items():
                setattr(user, key, value)
            if profile:
                events.append(
                    audit.PendingEvent("user.updated", "user", user.id, {"fields": sorted(profile)})
                )
        db.session.flush()
        audit.record_many(events, actor=actor)
        done += len(batch)
        if progress is not None:
            progress(done)


# The profile columns a person row may fill; every inserted row names all of them, so that
# one batch is one statement.
PROFILE_FIELDS = ("full_name_en", "institution", "department", "title", "staff_no", "phone")


def create_accounts(
    people: list[dict], *, actor: User, progress: Callable[[int], None] | None = None
) -> list[dict]:
    """Create accounts without password, each with an activation token, in batches;
    ``[{email, token}]``. ``progress(created)`` is called after each batch.

    A batch is one pipelined INSERT of the accounts (no RETURNING: see docs/decisions.md),
    one SELECT of their ids, one INSERT of their activation tokens (as
    ``services.issue_activation_token`` makes them) and one audit append.
    """
    tokens: list[dict] = []
    hours = current_app.config["ACTIVATION_TOKEN_HOURS"]
    for batch in bulk.chunked(people, FLUSH_BATCH):
        now = utcnow()
        rows = [_account_row(values, now) for values in batch]
        ids = _insert_accounts(rows)
        secrets = {row["email"]: new_secret("act_") for row in rows}
        db.session.execute(
            insert(ActivationToken.__table__),
            [
                {
                    "user_id": ids[email],
                    "token_hash": digest(secret),
                    "created_at": now,
                    "expires_at": now + timedelta(hours=hours),
                    "used_at": None,
                }
                for email, secret in secrets.items()
            ],
        )
        tokens += [{"email": email, "token": secret} for email, secret in secrets.items()]
        audit.record_many(
            [
                audit.PendingEvent(
                    "user.created",
                    "user",
                    ids[row["email"]],
                    {"email": row["email"], "role": row["role"], "source": "import"},
                )
                for row in rows
            ],
            actor=actor,
        )
        if progress is not None:
            progress(len(tokens))
    return tokens


def _account_row(values: dict, now) -> dict:
    return {
        **dict.fromkeys(PROFILE_FIELDS),
        "role": Role.TEACHER.value,
        **values,
        "is_active": True,
        "password_hash": None,
        "created_at": now,
        "updated_at": now,
    }


def _insert_accounts(rows: list[dict]) -> dict[str, int]:
    """Insert account rows; their ids by email (409 when one was created meanwhile)."""
    try:
        db.session.flush()
        db.session.execute(insert(User.__table__), rows)
    except IntegrityError as exc:  # a concurrent request created one of these emails
        raise EmailTaken(
            "An account in the file was created meanwhile; import again.",
            "文件中的某个账号刚被他人创建，请重新导入。",
        ) from exc
    emails = [row["email"] for row in rows]
    stmt = select(User.email, User.id).where(bulk.among(User.email, emails))
    return dict(db.session.execute(stmt).all())
