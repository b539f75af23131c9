"""Bulk import of accounts from a spreadsheet (``POST /api/v1/users/import``).

All rows or none: the whole file is read and validated first, and any problem is one 422
listing every bad row before anything is written. New accounts get no password but an
activation token; existing ones (matched by email) take the non-empty cells of their row.
Like every service, this flushes but never commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from lms.accounts import services
from lms.accounts.models import Role, User
from lms.audit import services as audit
from lms.core import tabular
from lms.extensions import db

FLUSH_BATCH = 500


@dataclass
class ImportPlan:
    """What an import does: accounts to create, changes to existing accounts."""

    new: list[dict] = field(default_factory=list)
    updates: list[tuple[User, dict]] = field(default_factory=list)
    unchanged: int = 0


def import_users(file, *, dry_run: bool, actor: User) -> dict:
    """Create or update the accounts of a CSV or XLSX upload; the ``ImportReport`` dict.

    With ``dry_run`` everything is validated and counted, but nothing is written and no
    activation token is issued.
    """
    rows = read_people(file)
    plan = plan_import(rows, actor=actor)
    tokens = [] if dry_run else apply_plan(plan, actor=actor)
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
    rows, errors = tabular.validate_people(tabular.read_table(file))
    tabular.raise_if_errors(errors)
    return rows


def plan_import(rows: list[tabular.RowData], *, actor: User) -> ImportPlan:
    """Sort rows into new accounts, updates and unchanged accounts (no writes).

    An admin cannot change their own role through a file: that is a row error (422).
    """
    existing = tabular.fetch_by(User.email, [row.values["email"] for row in rows])
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


def apply_plan(plan: ImportPlan, *, actor: User) -> list[dict]:
    """Write the plan; returns the activation tokens of the new accounts."""
    for user, changes in plan.updates:
        services.update_user(user, changes, actor=actor)  # audits fields and role changes
    return create_accounts(plan.new, actor=actor)


def create_accounts(people: list[dict], *, actor: User) -> list[dict]:
    """Create accounts without password, in flushed batches; ``[{email, token}]``."""
    tokens = []
    for batch in tabular.chunked(people, FLUSH_BATCH):
        users = [User(**{"role": Role.TEACHER.value, **values}) for values in batch]
        db.session.add_all(users)
        _flush_new_accounts()
        tokens += [{"email": u.email, "token": services.issue_activation_token(u)} for u in users]
        audit.record_many(
            [
                audit.PendingEvent(
                    "user.created",
                    "user",
                    user.id,
                    {"email": user.email, "role": user.role, "source": "import"},
                )
                for user in users
            ],
            actor=actor,
        )
    return tokens


def _flush_new_accounts() -> None:
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent request created one of these emails
        raise services.EmailTaken(
            "An account in the file was created meanwhile; import again.",
            "文件中的某个账号刚被他人创建，请重新导入。",
        ) from exc
