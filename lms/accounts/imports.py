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
    """What an import does: accounts to create, changes to existing accounts, and the
    per-row plan a dry run answers (``entries``, in file order) with the warnings."""

    new: list[dict] = field(default_factory=list)
    updates: list[tuple[User, dict]] = field(default_factory=list)
    unchanged: int = 0
    entries: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)


def import_users(
    file,
    *,
    dry_run: bool,
    actor: User,
    update_existing: bool | None = None,
    progress: Progress | None = None,
) -> dict:
    """Create or update the accounts of a CSV or XLSX upload; the ``ImportReport`` dict.

    With ``dry_run`` everything is validated and counted, but nothing is written and no
    activation token is issued. Existing accounts take the non-empty cells of their row
    unless ``update_existing`` is false (default true here). ``progress(done, total)``
    follows the accounts written.
    """
    table = people.read_people(file)
    rows, errors = people.validate_people(table)
    if errors and dry_run:
        bad = {e["row"] for e in errors}
        good = [row for row in rows if row.number not in bad]
        plan = plan_import(good, actor=actor, update_existing=update_existing is not False)
        raise_with_plan(table, errors, plan.entries)
    tabular.raise_if_errors(errors, headers=table.headers)
    plan = plan_import(
        rows, actor=actor, update_existing=update_existing is not False, headers=table.headers
    )
    tokens = [] if dry_run else apply_plan(plan, actor=actor, progress=progress)
    return {
        "rows": len(rows),
        "created": len(plan.new),
        "updated": len(plan.updates),
        "unchanged": plan.unchanged,
        "enrolled": 0,
        "dry_run": dry_run,
        "activation_tokens": tokens,
        "plan": plan.entries,
        "warnings": table.warnings + plan.warnings,
    }


def raise_with_plan(table: tabular.Table, errors: list[dict], entries: list[dict]) -> None:
    """The 422 of a dry run with bad rows: every error, and the plan of every row (a bad
    row is skipped, with its errors; the others as they would go once the file is fixed)."""
    by_row: dict[int, list[dict]] = {}
    for error in tabular.name_columns(errors, table.headers):
        by_row.setdefault(error["row"], []).append(error)
    planned = {entry["row"]: entry for entry in entries}
    plan = []
    for row in table.rows:
        if row.number in by_row:
            email = row.values.get("email")
            plan.append(
                {
                    "row": row.number,
                    "email": email.strip() if isinstance(email, str) else None,
                    "action": "skip",
                    "changes": {},
                    "errors": by_row[row.number],
                }
            )
        elif row.number in planned:
            plan.append(planned[row.number])
    tabular.raise_if_errors(errors, headers=table.headers, plan=plan)


def plan_import(
    rows: list[tabular.RowData],
    *,
    actor: User,
    existing: dict[str, User] | None = None,
    update_existing: bool = True,
    headers: dict[str, str] | None = None,
) -> ImportPlan:
    """Sort rows into new accounts, updates and unchanged accounts (no writes), with the
    per-row plan. ``existing``: the accounts of the rows by email, when the caller has
    loaded them. Without ``update_existing``, an existing account whose row differs is
    left as it is (a warning per field names what the file says).

    An admin cannot change their own role through a file: that is a row error (422).
    """
    if existing is None:
        existing = bulk.fetch_by(User.email, [row.values["email"] for row in rows])
    headers = headers or {}
    plan, errors = ImportPlan(), []
    for row in rows:
        email = row.values["email"]
        user = existing.get(email)
        if user is None:
            plan.new.append(row.values)
            plan.entries.append(plan_entry(row, "create", {k: (None, v) for k, v in _given(row)}))
            continue
        changes = changed_fields(user, row.values)
        old_new = {key: (getattr(user, key), value) for key, value in changes.items()}
        if changes and not update_existing:
            plan.unchanged += 1
            plan.entries.append(plan_entry(row, "skip", {}))
            plan.warnings += [
                kept_warning(row.number, key, old, new, headers.get(key, key))
                for key, (old, new) in old_new.items()
            ]
        elif "role" in changes and user.id == actor.id:
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
            plan.entries.append(plan_entry(row, "update", old_new))
        else:
            plan.unchanged += 1
            plan.entries.append(plan_entry(row, "skip", {}))
    tabular.raise_if_errors(errors, headers=headers)
    return plan


def _given(row: tabular.RowData):
    return ((k, v) for k, v in row.values.items() if k != "email")


def plan_entry(row: tabular.RowData, action: str, changes: dict[str, tuple]) -> dict:
    """One row of a dry run's plan: ``changes`` maps fields to (old, new)."""
    return {
        "row": row.number,
        "email": row.values["email"],
        "action": action,
        "changes": {key: {"old": old, "new": new} for key, (old, new) in changes.items()},
        "errors": [],
    }


def kept_warning(number: int, key: str, old, new, column: str) -> dict:
    """The warning that an existing account keeps ``old`` although the file says ``new``."""
    return {
        **tabular.row_error(
            number,
            key,
            f'The existing account keeps "{old or ""}"; the file says "{new}" '
            f"(send update_existing=true to change it). "
            f"已有账号保留“{old or ''}”，文件中为“{new}”（如需修改，请选择更新已有账号）。",
        ),
        "column": column,
    }


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
            if profile:
                events.append(updated_event(user, profile))
            for key, value in profile.items():
                setattr(user, key, value)
        db.session.flush()
        audit.record_many(events, actor=actor)
        done += len(batch)
        if progress is not None:
            progress(done)


def updated_event(user: User, changes: dict) -> audit.PendingEvent:
    """The ``user.updated`` event of an import's changes to ``user`` (before they are
    applied): the fields, and each one's old and new value."""
    data = {
        "fields": sorted(changes),
        "changes": {key: {"old": getattr(user, key), "new": changes[key]} for key in changes},
        "source": "import",
    }
    return audit.PendingEvent("user.updated", "user", user.id, data)


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
